/**
 * Building the site server from a parsed configuration: root choice and check, the file handler,
 * the access log and `serve()`. Shared by the main thread and by every worker.
 *
 * @module
 */

import { join } from "node:path";
import { createAccessLogger, writeStdoutLine } from "../access_log.ts";
import { ErrorLog } from "../error_log.ts";
import { defaultMaxConnections } from "../fd_budget.ts";
import { serve } from "../listener.ts";
import { createFileServer } from "../static/file_server.ts";
import type { CertifiedKey } from "../tls/certificate.ts";
import type { TlsHandshakeError } from "../tls/tls_socket.ts";
import type { ServeAddr, Server } from "../types.ts";
import { describeCertificateError } from "./certificate_files.ts";
import type { ServeConfig } from "./serve_config.ts";
import { skipHealthRecords, withHealthPath } from "./health.ts";
import {
  checkRootDirectory,
  chooseRoot,
  describeListenError,
  EMBEDDED_SITE_MANIFEST,
  embeddedSiteFromManifest,
  EXIT_STARTUP_FAILURE,
  type Listening,
  listeningAt,
  type RootChoice,
} from "./startup.ts";

/** Whether a path exists (used only for the site embedded in an executable). */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a directory now (the health path's check that ROOT is still there). */
function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The site an executable built by `deno task compile:site` carries, from the manifest it carries
 * too; "" when there is none (`deno run`, or an executable built by `deno task compile`).
 */
function embeddedSite(): string {
  if (!Deno.build.standalone) return "";
  const mainDir = join(import.meta.dirname ?? ".", "..", "..");
  try {
    const text = Deno.readTextFileSync(join(mainDir, EMBEDDED_SITE_MANIFEST));
    return embeddedSiteFromManifest(text, mainDir) ?? "";
  } catch {
    return "";
  }
}

/** What the main thread tells every `--workers` isolate (structured-clonable). */
export interface WorkerData {
  readonly config: ServeConfig;
  readonly isolates: number;
  /** The certificate and key, read once by the main thread. */
  readonly certifiedKey?: CertifiedKey;
}

/** How to start: the port to bind (overrides the config's), reusePort, and what to say. */
export interface SiteStartOptions {
  /** Bind with SO_REUSEPORT (every isolate of a `--workers` group does). */
  readonly reusePort: boolean;
  /** Port to bind instead of `config.port` (workers bind the port the main thread got). */
  readonly port?: number;
  /** Isolates serving in this process; they share its file descriptors. */
  readonly isolates?: number;
  /**
   * The certificate and key of `--cert`/`--key`, read by the main thread (workers get the text,
   * so that the files are read once).
   */
  readonly certifiedKey?: CertifiedKey;
  /** Called once listening, with where and the root that is served. */
  readonly onListen?: (where: Listening, root: RootChoice) => void;
  /** Writes an error line. */
  readonly printError: (line: string) => void;
  /** Where errors while serving go; by default a rate-limited log written with `printError`. */
  readonly errorLog?: ErrorLog;
}

/**
 * Whether `path` is a Unix socket left by a server that is gone (its file is there, nothing
 * accepts on it), which may be removed before listening again.
 */
async function isStaleSocket(path: string): Promise<boolean> {
  try {
    if (Deno.lstatSync(path).isSocket !== true) return false;
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

/**
 * Chooses and checks the root, then serves it. Returns the running server, or the exit code
 * when it could not start (the reason has been printed).
 */
export async function startSite(
  config: ServeConfig,
  options: SiteStartOptions,
): Promise<number | Server<ServeAddr>> {
  const embeddedSiteDir = embeddedSite();
  const root = chooseRoot({
    rootArg: config.root,
    standalone: Deno.build.standalone,
    embeddedSiteDir,
    embeddedSiteExists: embeddedSiteDir !== "" && exists(embeddedSiteDir),
    cwd: Deno.cwd(),
  });
  const problem = await checkRootDirectory(root.path);
  if (problem !== undefined) {
    options.printError(problem);
    return EXIT_STARTUP_FAILURE;
  }

  // Errors: one line each on stderr (a stack trace for a bug), rate-limited; the file server's own
  // and those the server reports (a response cut short because its file changed) alike.
  const errors = options.errorLog ?? new ErrorLog({ write: options.printError });
  const files = createFileServer({
    root: root.path,
    onError: (error) => errors.report(error),
    cors: config.cors,
    spa: config.spa,
    dirListing: config.dirListing,
    dotfiles: config.dotfiles,
    headers: config.headers,
    compression: config.compression,
    ...(config.cacheRevalidateMs === undefined
      ? {}
      : { cacheRevalidateMs: config.cacheRevalidateMs }),
    ...(config.cacheControl === undefined ? {} : { cacheControl: config.cacheControl }),
  });
  const healthPath = config.healthPath;
  const handler = healthPath === undefined ? files : withHealthPath(files, {
    path: healthPath,
    rootAvailable: () => isDirectory(root.path),
  });
  const log = config.log === "off" ? undefined : createAccessLogger(config.log);
  const onRequestEnd = log === undefined || healthPath === undefined || config.logHealth
    ? log
    : skipHealthRecords(log, healthPath);
  const common = {
    // Isolates of one process share its file descriptors: each gets its part of the budget.
    maxConnections: defaultMaxConnections(options.isolates ?? 1),
    ...config.limits,
    gracePeriodMs: config.gracePeriodMs,
    onError: (error: unknown) => {
      errors.report(error);
      return new Response("500 Internal Server Error\n", {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    },
    ...(onRequestEnd === undefined ? {} : { onRequestEnd }),
  };

  const path = config.unixSocket;
  if (path !== undefined) {
    const where: Listening = { transport: "unix", path };
    const listen = () =>
      serve({ ...common, path, onListen: () => options.onListen?.(where, root) }, handler);
    try {
      return listen();
    } catch (error) {
      // A socket left by a server that died (a crash, a SIGKILL) is removed, once.
      if (error instanceof Deno.errors.AddrInUse && await isStaleSocket(path)) {
        try {
          Deno.removeSync(path);
          options.printError(`sockserve: removed ${path}, a socket left by a server that is gone`);
          return listen();
        } catch (retryError) {
          options.printError(describeListenError(retryError, where));
          return EXIT_STARTUP_FAILURE;
        }
      }
      if (error instanceof Deno.errors.AddrInUse && !isSocket(path)) {
        options.printError(
          `sockserve: cannot listen on unix:${path}: ${path} exists and is not a socket`,
        );
      } else {
        options.printError(describeListenError(error, where));
      }
      return EXIT_STARTUP_FAILURE;
    }
  }

  const port = options.port ?? config.port;
  const tls = options.certifiedKey;
  const where: Listening = { transport: "tcp", hostname: config.hostname, port, tls: !!tls };
  try {
    return serve({
      ...common,
      port,
      hostname: config.hostname,
      reusePort: options.reusePort,
      ...(tls === undefined ? {} : {
        cert: tls.cert,
        key: tls.key,
        // A failed handshake is one line, rate-limited with the other errors.
        onHandshakeError: (error: TlsHandshakeError) => errors.report(error),
      }),
      onListen: (addr) => options.onListen?.(listeningAt(addr, tls !== undefined), root),
    }, handler);
  } catch (error) {
    if (error instanceof TypeError && tls !== undefined && config.certFile !== undefined) {
      options.printError(
        describeCertificateError(error, {
          certFile: config.certFile,
          keyFile: config.keyFile ?? "",
        }),
      );
    } else {
      options.printError(describeListenError(error, where));
    }
    return EXIT_STARTUP_FAILURE;
  }
}

/** Whether `path` is a socket (or does not exist). */
function isSocket(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSocket === true;
  } catch {
    return true;
  }
}

/** Writes a line to stdout (re-exported for the worker entry). */
export { writeStdoutLine };
