import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkRootDirectory,
  chooseRoot,
  describeListenError,
  embeddedSiteFromManifest,
  embeddedSiteManifest,
  helpCommand,
  hostPort,
  type Invocation,
  type Listening,
  listeningAt,
  type RootChoiceInput,
  startLine,
} from "../server/cli/startup.ts";

/** Plain HTTP on TCP at `hostname:port`. */
function tcp(hostname: string, port: number): Listening {
  return { transport: "tcp", hostname, port, tls: false };
}

const BASE: RootChoiceInput = {
  rootArg: undefined,
  standalone: false,
  embeddedSiteDir: "/tmp/deno-compile-sockserve/site",
  embeddedSiteExists: true,
  cwd: "/home/me/site",
};

Deno.test("chooseRoot: table of ROOT argument, standalone and embedded site", () => {
  const rows: [Partial<RootChoiceInput>, string, boolean][] = [
    // deno run without ROOT: the working directory, never the demo site/ next to main.ts.
    [{}, "/home/me/site", false],
    [{ rootArg: "public" }, "/home/me/site/public", false],
    [{ rootArg: "../other" }, "/home/me/other", false],
    [{ rootArg: "/srv/www" }, "/srv/www", false],
    // An executable that carries a site serves it when no ROOT is given…
    [{ standalone: true }, "/tmp/deno-compile-sockserve/site", true],
    // …and the directory on disk when one is.
    [{ standalone: true, rootArg: "dist" }, "/home/me/site/dist", false],
    [{ standalone: true, rootArg: "." }, "/home/me/site", false],
    // An executable built by `deno task compile` has no embedded site.
    [{ standalone: true, embeddedSiteExists: false }, "/home/me/site", false],
    // A relative embedded path would read the real disk: never used.
    [{ standalone: true, embeddedSiteDir: "site" }, "/home/me/site", false],
  ];
  for (const [input, path, embedded] of rows) {
    assert.deepEqual(chooseRoot({ ...BASE, ...input }), { path, embedded }, JSON.stringify(input));
  }
});

Deno.test("embedded site manifest: written by compile:site, read back by the executable", () => {
  const main = "/tmp/deno-compile-sockserve/work/repo";
  for (const root of ["site", "../../my site", "a/b"]) {
    const text = embeddedSiteManifest(root);
    assert.equal(embeddedSiteFromManifest(text, main), join(main, root), root);
  }
  // Anything else is no manifest: the executable then has no embedded site.
  for (const text of ["", "{", "null", "[]", '{"root":""}', '{"root":"/abs"}', '{"root":1}']) {
    assert.equal(embeddedSiteFromManifest(text, main), undefined, text);
  }
});

Deno.test("checkRootDirectory: a directory passes; missing paths and files are named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_root_" });
  try {
    const file = join(dir, "file.txt");
    await Deno.writeTextFile(file, "x");
    assert.equal(await checkRootDirectory(dir), undefined);
    assert.equal(
      await checkRootDirectory(join(dir, "missing")),
      `sockserve: ROOT ${join(dir, "missing")} does not exist`,
    );
    assert.equal(await checkRootDirectory(file), `sockserve: ROOT ${file} is not a directory`);
    const below = join(file, "below");
    const message = await checkRootDirectory(below);
    assert.ok(message?.includes(below), message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeListenError: one line with a hint, never a stack trace", () => {
  const rows: [unknown, string, number, string][] = [
    [new Deno.errors.AddrInUse("Address in use"), "0.0.0.0", 8000, "already in use"],
    [new Deno.errors.PermissionDenied("denied"), "0.0.0.0", 80, "CAP_NET_BIND_SERVICE"],
    [new Deno.errors.PermissionDenied("denied"), "0.0.0.0", 8080, "permission denied"],
    [new Deno.errors.NotCapable("Requires net access"), "0.0.0.0", 80, "--allow-net"],
    [new Deno.errors.AddrNotAvailable("nope"), "10.9.9.9", 80, "check --host"],
    [new Error("weird failure"), "::1", 80, "[::1]:80: weird failure"],
  ];
  for (const [error, host, port, text] of rows) {
    const message = describeListenError(error, tcp(host, port));
    assert.ok(message.startsWith("sockserve: "), message);
    assert.ok(message.includes(text), `${message} mentions ${text}`);
    assert.ok(!message.includes("\n") && !message.includes("    at "), message);
  }
});

Deno.test("startLine names the version, the directory and a URL with IPv6 brackets", () => {
  assert.equal(
    startLine("0.1.0", { path: "/srv/site", embedded: false }, tcp("127.0.0.1", 8000)),
    "sockserve 0.1.0 serving /srv/site at http://127.0.0.1:8000/",
  );
  assert.equal(
    startLine("0.1.0", { path: "/x/site", embedded: true }, tcp("::1", 80)),
    "sockserve 0.1.0 serving the embedded site (/x/site) at http://[::1]:80/",
  );
  assert.equal(hostPort("127.0.0.1", 1), "127.0.0.1:1");
});

Deno.test("startLine: a wildcard address becomes a URL a person can open", () => {
  const root = { path: "/srv/site", embedded: false };
  const rows: [string, string][] = [
    ["127.0.0.1", "at http://127.0.0.1:8000/"],
    ["::1", "at http://[::1]:8000/"],
    ["192.0.2.7", "at http://192.0.2.7:8000/"],
    ["0.0.0.0", "at http://localhost:8000/ (bound to 0.0.0.0:8000)"],
    ["::", "at http://localhost:8000/ (bound to [::]:8000)"],
  ];
  for (const [host, tail] of rows) {
    assert.equal(
      startLine("0.1.0", root, tcp(host, 8000)),
      `sockserve 0.1.0 serving /srv/site ${tail}`,
    );
  }
});

Deno.test("helpCommand: what to type for --help, however the program was started", () => {
  const base: Invocation = {
    standalone: false,
    execPath: "/usr/bin/deno",
    mainModule: "file:///home/me/sockserve/main.ts",
    cwd: "/home/me/sockserve",
  };
  const rows: [Partial<Invocation>, string][] = [
    // deno run / deno task start in the clone
    [{}, "deno run main.ts --help"],
    // an installed command or deno run from elsewhere: main.ts by its absolute path
    [{ cwd: "/tmp" }, "deno run /home/me/sockserve/main.ts --help"],
    [
      { mainModule: "https://example.com/sockserve/main.ts" },
      "deno run https://example.com/sockserve/main.ts --help",
    ],
    // compiled executables: as reached from the working directory, else by absolute path
    [
      { standalone: true, execPath: "/home/me/sockserve/dist/sockserve" },
      "./dist/sockserve --help",
    ],
    [
      { standalone: true, execPath: "/usr/local/bin/sockserve", cwd: "/srv" },
      "/usr/local/bin/sockserve --help",
    ],
  ];
  for (const [input, expected] of rows) {
    assert.equal(helpCommand({ ...base, ...input }), expected, JSON.stringify(input));
  }
});

Deno.test("describeListenError: a narrowed --allow-net names the address to allow", () => {
  const message = describeListenError(
    new Deno.errors.NotCapable("Requires net access"),
    tcp("0.0.0.0", 8000),
  );
  assert.equal(
    message,
    "sockserve: no permission to listen on 0.0.0.0:8000: run deno with --allow-net=0.0.0.0:8000 (or --allow-net for any address)",
  );
});

Deno.test("startLine: HTTPS shows an https:// URL, a Unix socket its path and a curl to reach it", () => {
  const root = { path: "/srv/site", embedded: false };
  assert.equal(
    startLine(
      "0.1.0",
      root,
      listeningAt({ transport: "tcp", hostname: "0.0.0.0", port: 8443 }, true),
    ),
    "sockserve 0.1.0 serving /srv/site at https://localhost:8443/ (bound to 0.0.0.0:8443)",
  );
  assert.equal(
    startLine("0.1.0", root, { transport: "tcp", hostname: "127.0.0.1", port: 8443, tls: true }),
    "sockserve 0.1.0 serving /srv/site at https://127.0.0.1:8443/",
  );
  assert.equal(
    startLine("0.1.0", root, listeningAt({ transport: "unix", path: "/run/s/app.sock" }, false)),
    "sockserve 0.1.0 serving /srv/site at unix:/run/s/app.sock " +
      "(curl --unix-socket /run/s/app.sock http://localhost/)",
  );
});

Deno.test("describeListenError: a Unix socket's failures name the socket and the fix", () => {
  const where: Listening = { transport: "unix", path: "/run/sockserve/app.sock" };
  const rows: [Error, string][] = [
    [new Deno.errors.AddrInUse("in use"), "a server is already listening there"],
    [new Deno.errors.NotFound("no dir"), "its directory does not exist"],
    [new Deno.errors.PermissionDenied("denied"), "may not create files in its directory"],
    [
      new Deno.errors.NotCapable("Requires write access"),
      "--allow-write=/run/sockserve/app.sock",
    ],
  ];
  for (const [error, text] of rows) {
    const message = describeListenError(error, where);
    assert.ok(message.startsWith("sockserve: "), message);
    assert.ok(message.includes("unix:/run/sockserve/app.sock"), message);
    assert.ok(message.includes(text), `${message} mentions ${text}`);
    assert.ok(!message.includes("\n"), message);
  }
});
