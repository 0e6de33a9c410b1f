/**
 * Start-up decisions of the command line: which directory to serve, whether it can be served,
 * what to say when the port or socket cannot be bound, and the line announcing where to reach
 * the server.
 *
 * The decisions are pure functions; {@linkcode checkRootDirectory} is the only one that touches
 * the file system.
 *
 * @module
 */

import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { unixSocketPermissionFlags } from "./permissions.ts";

/** Exit code for a start-up failure that is not a usage error (bad ROOT, port in use). */
export const EXIT_STARTUP_FAILURE = 1;

/**
 * Where `deno task compile:site` records which directory it embedded, relative to the directory
 * of `main.ts`. The executable carries this file too and reads it from its embedded file system.
 */
export const EMBEDDED_SITE_MANIFEST = "dist/embedded_site.json";

/**
 * The manifest's text for a site at `root`, a `/`-separated path relative to the directory of
 * `main.ts` (it may start with `../`: a site outside the repository keeps its relative place in
 * the executable's file system).
 *
 * @example
 * ```ts
 * import { embeddedSiteManifest } from "./startup.ts";
 * embeddedSiteManifest("site"); // '{"root":"site"}\n'
 * ```
 */
export function embeddedSiteManifest(root: string): string {
  return JSON.stringify({ root }) + "\n";
}

/**
 * The embedded site's absolute path from the manifest's text and the directory of `main.ts`, or
 * `undefined` when the text is not a manifest.
 *
 * @example
 * ```ts
 * import { embeddedSiteFromManifest } from "./startup.ts";
 * const dir = embeddedSiteFromManifest('{"root":"site"}', "/tmp/deno-compile-x");
 * // dir === "/tmp/deno-compile-x/site"
 * ```
 */
export function embeddedSiteFromManifest(text: string, mainDir: string): string | undefined {
  let root: unknown;
  try {
    root = (JSON.parse(text) as { root?: unknown } | null)?.root;
  } catch {
    return undefined;
  }
  if (typeof root !== "string" || root === "" || isAbsolute(root)) return undefined;
  return join(mainDir, root);
}

/** What {@linkcode chooseRoot} needs to know about how the program runs. */
export interface RootChoiceInput {
  /** The ROOT argument, if one was given. */
  rootArg: string | undefined;
  /** `Deno.build.standalone`: true inside a `deno compile` executable. */
  standalone: boolean;
  /**
   * Where an embedded site would be: the directory {@linkcode EMBEDDED_SITE_MANIFEST} names,
   * joined to the directory of `main.ts`. Inside an executable built by `deno task compile:site`
   * that path points into the executable's embedded file system; a relative path would read the
   * real disk instead.
   */
  embeddedSiteDir: string;
  /** Whether {@linkcode RootChoiceInput.embeddedSiteDir} exists (only asked when standalone). */
  embeddedSiteExists: boolean;
  /** The current working directory. */
  cwd: string;
}

/** The directory to serve and where it comes from. */
export interface RootChoice {
  /** Absolute path of the directory. */
  path: string;
  /** True when the site is the one embedded in the executable. */
  embedded: boolean;
}

/**
 * Decides which directory to serve:
 * 1. a ROOT argument always wins, resolved against the working directory;
 * 2. otherwise an executable that carries a site serves that embedded site;
 * 3. otherwise the working directory (also under `deno run`, even though the demo `site/` sits
 *    next to `main.ts` there: only an executable has a site of its own).
 *
 * @example
 * ```ts
 * import { chooseRoot } from "./startup.ts";
 * chooseRoot({
 *   rootArg: undefined,
 *   standalone: true,
 *   embeddedSiteDir: "/tmp/deno-compile-sockserve/site",
 *   embeddedSiteExists: true,
 *   cwd: "/home/me",
 * }); // { path: "/tmp/deno-compile-sockserve/site", embedded: true }
 * ```
 */
export function chooseRoot(input: RootChoiceInput): RootChoice {
  if (input.rootArg !== undefined) {
    return { path: resolve(input.cwd, input.rootArg), embedded: false };
  }
  if (input.standalone && input.embeddedSiteExists && isAbsolute(input.embeddedSiteDir)) {
    return { path: input.embeddedSiteDir, embedded: true };
  }
  return { path: resolve(input.cwd), embedded: false };
}

/**
 * Checks that `path` is a directory the process may read. Returns an error message for the
 * user, or `undefined` when the directory can be served.
 *
 * A ROOT reached through a symbolic link (a deployment's `current -> releases/42`, or any path
 * under macOS's `/tmp`) is resolved here, once: files are opened through ROOT as written, but
 * Deno checks the permission to read an open file's metadata against the file's real path, so
 * `--allow-read` must cover both ROOT as written and the directory it leads to. Without them
 * every request would fail; the message names every path the `--allow-read` needs instead.
 *
 * @example
 * ```ts
 * import { checkRootDirectory } from "./startup.ts";
 * const problem = await checkRootDirectory("/no/such/dir");
 * // "sockserve: ROOT /no/such/dir does not exist"
 * ```
 */
export async function checkRootDirectory(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `sockserve: ROOT ${path} does not exist`;
    if (error instanceof Deno.errors.NotCapable) {
      // Where a symbolic link leads cannot be read without this permission: say what it takes.
      return `sockserve: no permission to read ${path}: run deno with --allow-read=${path} ` +
        `(if it is a symbolic link, with where it leads too: --allow-read=${path},TARGET)`;
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return `sockserve: ROOT ${path} is not readable by this user`;
    }
    if (error instanceof Deno.errors.NotADirectory) {
      return `sockserve: ROOT ${path} is not a directory`;
    }
    return `sockserve: cannot open ROOT ${path}: ${errorText(error)}`;
  }
  if (!info.isDirectory) return `sockserve: ROOT ${path} is not a directory`;
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (error) {
    return `sockserve: cannot resolve ROOT ${path}: ${errorText(error)}`;
  }
  if (real !== path) {
    const permission = await Deno.permissions.query({ name: "read", path: real });
    if (permission.state !== "granted") {
      // Both: files are opened through ROOT as written, and checked where they lie.
      return `sockserve: ROOT ${path} leads to ${real} through a symbolic link, which ` +
        `--allow-read does not cover: run deno with --allow-read=${path},${real}`;
    }
  }
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `host:port` with brackets around IPv6 addresses, as in URLs.
 *
 * @example
 * ```ts
 * import { hostPort } from "./startup.ts";
 * hostPort("::1", 8000); // "[::1]:8000"
 * ```
 */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Where a server listens: a TCP address (HTTP, or HTTPS with `tls`) or a Unix socket. */
export type Listening =
  | {
    readonly transport: "tcp";
    readonly hostname: string;
    readonly port: number;
    readonly tls: boolean;
  }
  | { readonly transport: "unix"; readonly path: string };

/**
 * Where a server listens, from the address `serve()` bound.
 *
 * @example
 * ```ts
 * import { listeningAt } from "./startup.ts";
 * listeningAt({ transport: "tcp", hostname: "0.0.0.0", port: 8443 }, true);
 * // { transport: "tcp", hostname: "0.0.0.0", port: 8443, tls: true }
 * ```
 */
export function listeningAt(addr: Deno.NetAddr | Deno.UnixAddr, tls: boolean): Listening {
  return "path" in addr
    ? { transport: "unix", path: addr.path }
    : { transport: "tcp", hostname: addr.hostname, port: addr.port, tls };
}

/**
 * The one-line message for a failure to bind the listening socket: no stack trace, and a hint
 * at the usual fix.
 *
 * @example
 * ```ts
 * import { describeListenError } from "./startup.ts";
 * describeListenError(new Deno.errors.AddrInUse("Address already in use"), {
 *   transport: "tcp",
 *   hostname: "0.0.0.0",
 *   port: 8000,
 *   tls: false,
 * });
 * // "sockserve: cannot listen on 0.0.0.0:8000: the address is already in use ..."
 * ```
 */
export function describeListenError(error: unknown, where: Listening): string {
  if (where.transport === "unix") return describeSocketError(error, where.path);
  const { hostname, port } = where;
  const at = hostPort(hostname, port);
  if (error instanceof Deno.errors.AddrInUse) {
    return `sockserve: cannot listen on ${at}: the address is already in use ` +
      `(another server is running there; choose another port with --port)`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `sockserve: no permission to listen on ${at}: run deno with --allow-net=${at} ` +
      `(or --allow-net for any address)`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `sockserve: permission denied to listen on ${at}` +
      (port > 0 && port < 1024
        ? ": ports below 1024 need root or CAP_NET_BIND_SERVICE (or use --port 8080)"
        : "");
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `sockserve: cannot listen on ${at}: no such address on this machine (check --host)`;
  }
  return `sockserve: cannot listen on ${at}: ${errorText(error)}`;
}

/**
 * Where the executables may create a Unix socket (`deno task compile`'s one write permission
 * besides the state file): the directory systemd's `RuntimeDirectory=sockserve` makes.
 */
export const EXECUTABLE_SOCKET_DIR = "/run/sockserve";

function describeSocketError(error: unknown, path: string): string {
  const at = `unix:${path}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return `sockserve: cannot listen on ${at}: a server is already listening there`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `sockserve: no permission to listen on ${at}: run deno with ` +
      `${unixSocketPermissionFlags(path)} (the executables may listen under ` +
      `${EXECUTABLE_SOCKET_DIR}/ only)`;
  }
  if (error instanceof Deno.errors.NotFound) {
    return `sockserve: cannot listen on ${at}: its directory does not exist`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `sockserve: cannot listen on ${at}: this user may not create files in its directory`;
  }
  return `sockserve: cannot listen on ${at}: ${errorText(error)}`;
}

/** Addresses that mean "every interface": a browser cannot connect to them. */
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * The line printed once the server listens: version, directory and where to reach it. Bound to
 * a wildcard address (every interface), the URL says `localhost` and the address follows in
 * parentheses; on a Unix socket, the socket and a request that reaches it.
 *
 * @example
 * ```ts
 * import { startLine } from "./startup.ts";
 * const root = { path: "/srv/site", embedded: false };
 * startLine("0.1.0", root, { transport: "tcp", hostname: "127.0.0.1", port: 8000, tls: false });
 * // "sockserve 0.1.0 serving /srv/site at http://127.0.0.1:8000/"
 * startLine("0.1.0", root, { transport: "tcp", hostname: "0.0.0.0", port: 8443, tls: true });
 * // "sockserve 0.1.0 serving /srv/site at https://localhost:8443/ (bound to 0.0.0.0:8443)"
 * startLine("0.1.0", root, { transport: "unix", path: "/run/sockserve/site.sock" });
 * // "sockserve 0.1.0 serving /srv/site at unix:/run/sockserve/site.sock (curl --unix-socket ...)"
 * ```
 */
export function startLine(version: string, root: RootChoice, where: Listening): string {
  const what = root.embedded ? `the embedded site (${root.path})` : root.path;
  const line = `sockserve ${version} serving ${what} at `;
  if (where.transport === "unix") {
    return `${line}unix:${where.path} (curl --unix-socket ${where.path} http://localhost/)`;
  }
  const { hostname, port } = where;
  const scheme = where.tls ? "https" : "http";
  if (WILDCARD_HOSTS.has(hostname)) {
    return `${line}${scheme}://localhost:${port}/ (bound to ${hostPort(hostname, port)})`;
  }
  return `${line}${scheme}://${hostPort(hostname, port)}/`;
}

/** How the program was started, for {@linkcode helpCommand}. */
export interface Invocation {
  /** `Deno.build.standalone`. */
  readonly standalone: boolean;
  /** `Deno.execPath()`: the executable itself when standalone. */
  readonly execPath: string;
  /** `Deno.mainModule`: main.ts's URL under `deno run`. */
  readonly mainModule: string;
  /** The working directory. */
  readonly cwd: string;
}

/**
 * The command that prints the usage, as the user can type it here: the executable (by its path
 * from the working directory, `./dist/sockserve`, or its absolute path), or `deno run` with
 * main.ts (`deno run main.ts --help` needs no permission).
 *
 * @example
 * ```ts
 * import { helpCommand } from "./startup.ts";
 * helpCommand({
 *   standalone: false,
 *   execPath: "/usr/bin/deno",
 *   mainModule: "file:///home/me/sockserve/main.ts",
 *   cwd: "/home/me/sockserve",
 * }); // "deno run main.ts --help"
 * ```
 */
export function helpCommand(run: Invocation): string {
  const fromCwd = (path: string, prefix: string) => {
    const rel = relative(run.cwd, path);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? prefix + rel : path;
  };
  if (run.standalone) return `${fromCwd(run.execPath, "./")} --help`;
  const main = run.mainModule.startsWith("file:")
    ? fromCwd(fileURLToPath(run.mainModule), "")
    : run.mainModule;
  return `deno run ${main} --help`;
}

/**
 * The one line for `--workers` under `deno run` without read access to sockserve's own files,
 * which every worker loads at run time (checked before anything starts).
 *
 * @example
 * ```ts
 * import { describeWorkersReadProblem } from "./startup.ts";
 * describeWorkersReadProblem("/srv/site", "/opt/sockserve");
 * // "sockserve: --workers loads sockserve's files at run time: run deno with ..."
 * ```
 */
export function describeWorkersReadProblem(root: string, sockserveDir: string): string {
  return `sockserve: --workers loads sockserve's files at run time: run deno with ` +
    `--allow-read=${root},${sockserveDir} (a compiled executable needs nothing more)`;
}
