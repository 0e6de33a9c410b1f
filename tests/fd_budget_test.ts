/**
 * The default connection limit follows the file-descriptor limit: Deno aborts when a process
 * runs out of descriptors, so a flood must be refused before that, never crash the server.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  defaultMaxConnections,
  FDS_PER_CONNECTION,
  RUNTIME_FD_RESERVE,
} from "../server/fd_budget.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../server/limits.ts";

Deno.test("defaultMaxConnections: the descriptor budget, split across isolates, capped", () => {
  const rows: [softLimit: number | null, isolates: number, expected: number][] = [
    [1_048_576, 1, DEFAULT_MAX_CONNECTIONS],
    [20_000, 1, (20_000 - RUNTIME_FD_RESERVE) / FDS_PER_CONNECTION],
    [1024, 1, (1024 - RUNTIME_FD_RESERVE) / FDS_PER_CONNECTION],
    [1024, 4, Math.floor((1024 - RUNTIME_FD_RESERVE) / FDS_PER_CONNECTION / 4)],
    [null, 1, DEFAULT_MAX_CONNECTIONS], // unknown (no --allow-all): the plain default
    [10, 1, 1],
  ];
  for (const [softLimit, isolates, expected] of rows) {
    assert.equal(defaultMaxConnections(isolates, softLimit), expected, `${softLimit}/${isolates}`);
  }
});

const PRLIMIT = "/usr/bin/prlimit";

/** A refused connection is closed at accept; one still open after this long was accepted. */
const REFUSAL_WINDOW_MS = 1_000;
const hasPrlimit = (() => {
  try {
    return Deno.statSync(PRLIMIT).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: `under a low descriptor limit, connections past the budget are refused${
    hasPrlimit ? "" : " (ignored: no prlimit here; apt-get install util-linux)"
  }`,
  ignore: !hasPrlimit || Deno.build.os !== "linux",
  fn: async () => {
    const site = await Deno.makeTempDir({ prefix: "sockserve_fd_" });
    await Deno.writeTextFile(`${site}/index.html`, "fd budget");
    const main = fileURLToPath(new URL("../main.ts", import.meta.url));
    // 300 descriptors: the default limit becomes (300 - 64) / 2 = 118 connections.
    const child = new Deno.Command(PRLIMIT, {
      args: [
        "--nofile=300:300",
        Deno.execPath(),
        "run",
        // Deno lets only --allow-all processes read /proc/self/limits.
        "--allow-all",
        main,
        site,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
        "off",
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const conns: Deno.TcpConn[] = [];
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let startLine = "";
      while (!startLine.includes("\n")) {
        const { done, value } = await reader.read();
        if (done) break;
        startLine += value;
      }
      const port = Number(/:(\d+)\//.exec(startLine)?.[1]);
      assert.ok(port > 0, `no start line: ${startLine}`);
      // 200 connections: fewer than the process's 300 descriptors, so without the budget the
      // server would hold them all; with it, those past 118 are closed at once.
      for (let i = 0; i < 200; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      const buffer = new Uint8Array(16);
      const held = await Promise.all(conns.map((conn) =>
        Promise.race([
          conn.read(buffer).then(() => false, () => false), // closed by the server: refused
          new Promise<true>((resolve) => setTimeout(() => resolve(true), REFUSAL_WINDOW_MS)),
        ])
      ));
      const open = held.filter(Boolean).length;
      const budget = (300 - RUNTIME_FD_RESERVE) / FDS_PER_CONNECTION;
      assert.ok(open <= budget, `${open} connections held, budget ${budget}`);
      assert.ok(open >= budget - 2, `${open} connections held, budget ${budget}`);
      for (const conn of conns) conn.close();
      conns.length = 0;
      // The server is still there and serves a fresh client once it has seen the flood leave
      // (it learns of each close asynchronously: poll, bounded, for the first answer).
      let status = 0;
      for (let attempt = 0; attempt < 50 && status === 0; attempt++) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`);
          assert.equal(await response.text(), "fd budget");
          status = response.status;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.equal(status, 200);
      reader.releaseLock();
    } finally {
      for (const conn of conns) conn.close();
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await stderr;
      await Deno.remove(site, { recursive: true });
    }
  },
});
