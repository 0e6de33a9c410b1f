/**
 * The command line on a Unix socket (`--unix-socket PATH`): curl `--unix-socket` gets the site; a
 * second server refuses a socket a live server listens on; a socket left by a killed server is
 * removed and reused; a path that is not a socket is never removed; `healthcheck` through the
 * socket, by `--unix-socket` or by the state file; SIGTERM removes the socket.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeSite, runSockserve, startSockserve } from "./cli_helpers.ts";
import { findBinary, runProgram } from "./support/binaries.ts";

const curl = findBinary("curl", "/usr/bin/curl");
const noCurl = curl === null ? " (ignored: curl is not installed)" : "";

/**
 * Permissions for a Unix socket at `path`: Deno needs read, write and net (`unix:PATH`) access;
 * these are broader on read and net.
 */
function socketPermissions(path: string, ...more: string[]): string[] {
  return ["--allow-read", `--allow-write=${[path, ...more].join(",")}`, "--allow-net"];
}

async function socketSite(extra: string[] = []) {
  const site = await makeSite({ "index.html": "<h1>over a socket</h1>\n" });
  const dir = await Deno.makeTempDir({ prefix: "sockserve_unix_" });
  const path = join(dir, "site.sock");
  /** Starts the server; `cwd` for relative paths in `extra`. */
  const start = (cwd?: string) =>
    startSockserve([site, "--unix-socket", path, ...extra], {
      permissions: socketPermissions(path, join(dir, "state.json")),
      ...(cwd === undefined ? {} : { cwd }),
    });
  return { site, dir, path, start };
}

function isSocket(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSocket === true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "cli unix: curl --unix-socket gets the site; SIGTERM removes the socket" + noCurl,
  ignore: curl === null,
  async fn() {
    const { path, start } = await socketSite();
    const server = await start();
    try {
      assert.ok(
        server.startLine.endsWith(
          ` at unix:${path} (curl --unix-socket ${path} http://localhost/)`,
        ),
        server.startLine,
      );
      const result = await runProgram(curl!, [
        "-sS",
        "--unix-socket",
        path,
        "http://localhost/",
        "http://localhost/missing",
        "-w",
        "%{http_code}\n",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "<h1>over a socket</h1>\n200\n404 Not Found\n404\n");
      await server.stdout.waitFor(/"GET \/missing HTTP\/1\.1" 404 /, "the access-log line");
      server.child.kill("SIGTERM");
      assert.equal((await server.status).code, 0, server.stderr.text);
      assert.equal(isSocket(path), false, "the socket file is gone after a graceful shutdown");
    } finally {
      await server.close();
    }
  },
});

Deno.test("cli unix: a live server's socket is refused; a dead server's socket is reused", async () => {
  const { path, start } = await socketSite(["--log", "off"]);
  const first = await start();
  try {
    // A second server on the same path: one line, exit 1, and the first one still answers.
    const second = await runSockserve([".", "--unix-socket", path], {
      permissions: socketPermissions(path),
    });
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `sockserve: cannot listen on unix:${path}: a server is already listening there\n`,
    );
    const probe = await runSockserve(["healthcheck", "--unix-socket", path], {
      permissions: socketPermissions(path),
    });
    assert.equal(probe.code, 0, probe.stderr);
    // SIGKILL leaves the socket file behind, with nothing accepting on it.
    first.child.kill("SIGKILL");
    await first.status;
    assert.ok(isSocket(path), "a killed server leaves its socket file");
  } finally {
    await first.close();
  }
  const again = await start();
  try {
    await again.stderr.waitFor(/removed .* a socket left by a server that is gone/, "the note");
    const probe = await runSockserve(["healthcheck", "--unix-socket", path], {
      permissions: socketPermissions(path),
    });
    assert.equal(probe.code, 0, probe.stderr);
  } finally {
    await again.close();
  }
});

Deno.test("cli unix: a path that is not a socket is never removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_unix_" });
  const path = join(dir, "important.txt");
  await Deno.writeTextFile(path, "keep me\n");
  const result = await runSockserve([dir, "--unix-socket", path], {
    permissions: socketPermissions(path),
  });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `sockserve: cannot listen on unix:${path}: ${path} exists and is not a socket\n`,
  );
  assert.equal(await Deno.readTextFile(path), "keep me\n");
  const noDir = await runSockserve([dir, "--unix-socket", join(dir, "no", "s.sock")], {
    permissions: socketPermissions(join(dir, "no", "s.sock")),
  });
  assert.equal(noDir.code, 1);
  assert.match(
    noDir.stderr,
    /^sockserve: cannot listen on unix:.*: its directory does not exist\n$/,
  );
});

Deno.test("cli unix: healthcheck follows the state file through the socket", async () => {
  const { dir, path, start } = await socketSite(["--state-file", "state.json"]);
  const stateFile = join(dir, "state.json");
  const server = await start(dir);
  try {
    const state = JSON.parse(await Deno.readTextFile(stateFile));
    assert.deepEqual(state, {
      pid: state.pid,
      url: "http://localhost/",
      health: "http://localhost/healthz",
      socket: path,
    });
    const result = await runSockserve(["healthcheck", "--state-file", stateFile], {
      permissions: socketPermissions(path),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      `healthy: http://localhost/healthz (through unix:${path}) answered 200 OK\n`,
    );
    // Without the permissions Deno asks for a socket, the line names them, and they are enough.
    for (const given of [[], ["--allow-read", "--allow-write"], ["--allow-read", "--allow-net"]]) {
      const denied = await runSockserve(["healthcheck", "--unix-socket", path], {
        permissions: given,
      });
      assert.equal(denied.code, 1);
      const advised = denied.stderr.match(/no permission to connect: run deno with (.*)\n$/)?.[1];
      assert.equal(
        advised,
        `--allow-read=${path} --allow-write=${path} --allow-net=unix:${path}`,
        denied.stderr,
      );
      const allowed = await runSockserve(["healthcheck", "--unix-socket", path], {
        permissions: advised.split(" "),
      });
      assert.equal(allowed.code, 0, allowed.stderr);
    }
    server.child.kill("SIGTERM");
    await server.status;
    const gone = await runSockserve(["healthcheck", "--unix-socket", path, "--timeout", "2s"], {
      permissions: socketPermissions(path),
    });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^unhealthy: http:\/\/localhost\/healthz \(through unix:/);
  } finally {
    await server.close();
  }
});

Deno.test("cli unix: without the permissions to listen, the line names them, net access absolute", async () => {
  const site = await makeSite({ "index.html": "x\n" });
  const dir = await Deno.makeTempDir({ prefix: "sockserve_unix_" });
  // Deno takes `--allow-net=unix:` with an absolute path only: a relative PATH is resolved.
  const result = await runSockserve([site, "--unix-socket", "site.sock"], {
    permissions: ["--allow-read", "--allow-write"],
    cwd: dir,
  });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    "sockserve: no permission to listen on unix:site.sock: run deno with " +
      `--allow-read=site.sock --allow-write=site.sock --allow-net=unix:${join(dir, "site.sock")} ` +
      "(the executables may listen under /run/sockserve/ only)\n",
  );
});
