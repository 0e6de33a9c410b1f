/**
 * Error lines: one line per file problem (what, which file, which request), a stack trace only for
 * a bug, and a flood rate-limited. In-process for the rules, then the command line as users see
 * it: a response cut short because its file changed is one line on stderr.
 */
import { HandlerTimeoutError } from "../server/mod.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { describeError, ERROR_LINES_PER_WINDOW, ErrorLog } from "../server/error_log.ts";
import { createFileServer } from "../server/static/file_server.ts";
import { FileChangedError, StaticFileError } from "../server/static/file_errors.ts";
import { denoFileSystem, type StaticFileSystem } from "../server/static/file_system.ts";
import { makeSite, startSockserve } from "./cli_helpers.ts";

Deno.test("error log: a file problem is one line naming the file and the request", () => {
  const line = describeError(
    new FileChangedError("/srv/www/big.bin", "GET /big.bin?x=1", 65536, 1e6),
  );
  assert.equal(
    line,
    "sockserve: /srv/www/big.bin changed while it was sent (GET /big.bin?x=1): " +
      "response cut short after 65536 of 1000000 bytes",
  );
  // A file name cannot start a line of its own.
  const forged = describeError(
    new StaticFileError("could not be read", "/srv/a\nsockserve: forged", "GET /a", "EIO"),
  );
  assert.ok(!forged.includes("\n"), forged);
  assert.ok(forged.includes("/srv/a\\x0asockserve: forged"), forged);
});

Deno.test("error log: anything else is a bug, written with its stack trace", () => {
  const line = describeError(new TypeError("undefined is not a function"));
  assert.ok(line.startsWith("sockserve: request handler failed: TypeError: undefined is not"));
  assert.match(line, /\n\s+at /);
  assert.equal(describeError("thrown text"), "sockserve: request handler failed: thrown text");
  // A handler timeout is operational too: one line, no stack trace.
  assert.equal(
    describeError(new HandlerTimeoutError(2000)),
    "sockserve: handler did not respond within 2000 ms",
  );
});

Deno.test("error log: at most ten errors per ten seconds; the rest counted on the next line", () => {
  const lines: string[] = [];
  let now = 1_000_000;
  const log = new ErrorLog({ write: (line) => lines.push(line), now: () => now });
  const event = (i: number) => new StaticFileError("changed", `/f${i}`, "GET /");
  for (let i = 0; i < 25; i++) log.report(event(i));
  assert.equal(lines.length, ERROR_LINES_PER_WINDOW);
  assert.equal(lines[9], "sockserve: /f9 changed (GET /)");
  now += 9_999;
  log.report(event(25));
  assert.equal(lines.length, 10, "still the same window");
  now += 1;
  log.report(event(26));
  assert.equal(lines.length, 11);
  assert.equal(
    lines[10],
    "sockserve: /f26 changed (GET /) (and 16 more errors not written before this one)",
  );
  log.report(event(27));
  assert.equal(lines[11], "sockserve: /f27 changed (GET /)");
});

Deno.test("error log: a writer that throws does not break the caller", () => {
  const log = new ErrorLog({
    write: () => {
      throw new Error("EPIPE");
    },
  });
  log.report(new Error("x"));
});

Deno.test("file server: problems it answers for itself reach onError, one line each", async () => {
  const root = await Deno.makeTempDir({ prefix: "sockserve_errors_" });
  try {
    await Deno.writeTextFile(join(root, "io.txt"), "x");
    await Deno.writeTextFile(join(root, "bug.txt"), "x");
    const reported: unknown[] = [];
    const fileSystem: StaticFileSystem = {
      ...denoFileSystem,
      open: async (path) => {
        if (path.endsWith("io.txt")) {
          throw Object.assign(new Error("Input/output error (os error 5)"), { code: "EIO" });
        }
        const file = await denoFileSystem.open(path);
        if (!path.endsWith("bug.txt")) return file;
        return {
          ...file,
          statSync: () => file.statSync(),
          seek: (offset, whence) => file.seek(offset, whence),
          close: () => file.close(),
          read: () => {
            throw new TypeError("a bug in read");
          },
        };
      },
    };
    const handler = createFileServer({
      root,
      fileSystem,
      onError: (error) => reported.push(error),
    });
    const io = await handler(new Request("http://localhost/io.txt?v=2"));
    assert.equal(io.status, 500);
    assert.ok(!(await io.text()).includes("Input/output"), "no error text to the client");
    const bug = await handler(new Request("http://localhost/bug.txt"));
    assert.equal(bug.status, 500);
    await bug.body?.cancel();
    assert.equal(reported.length, 2);
    const [first, second] = reported;
    assert.ok(first instanceof StaticFileError);
    assert.equal(
      describeError(first),
      `sockserve: ${join(root, "io.txt")} could not be read (GET /io.txt?v=2): ` +
        "Input/output error (os error 5)",
    );
    assert.ok(second instanceof TypeError, String(second));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cli: a response cut short because its file changed is one line on stderr, and a flood is limited", async () => {
  const size = 8 * 1024 * 1024;
  const site = await makeSite({ "big.bin": new Uint8Array(size).fill(0x61) });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0", "--log", "off"]);
  const encoder = new TextEncoder();
  try {
    const EVENTS = ERROR_LINES_PER_WINDOW + 2;
    for (let i = 0; i < EVENTS; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await conn.write(encoder.encode(`GET /big.bin?n=${i} HTTP/1.1\r\nHost: x\r\n\r\n`));
        const buffer = new Uint8Array(64 * 1024);
        let received = 0;
        let changed = false;
        for (;;) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) break;
          received += n;
          if (!changed && received >= 64 * 1024) {
            changed = true; // written in place: same size, new bytes, a new mtime
            const file = await Deno.open(join(site, "big.bin"), { write: true });
            await file.write(new Uint8Array(1024).fill(0x62 + (i % 2)));
            file.close();
          }
        }
        assert.ok(received < size, "cut short");
      } finally {
        conn.close();
      }
    }
    server.child.kill("SIGTERM");
    const status = await server.status;
    assert.equal(status.code, 0);
    const lines = server.stderr.lines.filter((line) => line !== "");
    assert.equal(lines.length, ERROR_LINES_PER_WINDOW, server.stderr.text);
    lines.forEach((line, i) => {
      assert.equal(
        line,
        `sockserve: ${join(site, "big.bin")} changed while it was sent (GET /big.bin?n=${i}): ` +
          line.slice(line.indexOf("): ") + 3),
      );
      assert.match(line, /: response cut short after \d+ of 8388608 bytes$/);
    });
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});
