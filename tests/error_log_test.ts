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

Deno.test("error log: at most ten errors per ten seconds; the rest counted on a line of its own", () => {
  const lines: string[] = [];
  let now = 1_000_000;
  const scheduled: { callback: () => void; ms: number }[] = [];
  const log = new ErrorLog({
    write: (line) => lines.push(line),
    now: () => now,
    schedule: (callback, ms) => scheduled.push({ callback, ms }),
  });
  const event = (i: number) => new StaticFileError("changed", `/f${i}`, "GET /");
  for (let i = 0; i < 25; i++) log.report(event(i));
  assert.equal(lines.length, ERROR_LINES_PER_WINDOW);
  assert.equal(lines[9], "sockserve: /f9 changed (GET /)");
  assert.equal(scheduled.length, 1, "one timer for the window's count");
  assert.equal(scheduled[0]!.ms, 10_000);
  now += 9_999;
  log.report(event(25));
  assert.equal(lines.length, 10, "still the same window");
  // The next error comes first: the count is written before it.
  now += 1;
  log.report(event(26));
  assert.deepEqual(lines.slice(10), [
    "sockserve: 16 more errors not written (at most 10 are written per 10 s)",
    "sockserve: /f26 changed (GET /)",
  ]);
  scheduled[0]!.callback(); // late: the count was written already
  assert.equal(lines.length, 12);
});

Deno.test("error log: a flood that stops still has its count written when the window ends", () => {
  const lines: string[] = [];
  let now = 5_000;
  const scheduled: (() => void)[] = [];
  const log = new ErrorLog({
    write: (line) => lines.push(line),
    now: () => now,
    schedule: (callback) => scheduled.push(callback),
  });
  for (let i = 0; i < 11; i++) log.report(new StaticFileError("changed", `/f${i}`, "GET /"));
  assert.equal(lines.length, 10);
  now += 10_000;
  assert.equal(scheduled.length, 1);
  scheduled[0]!();
  assert.deepEqual(lines.slice(10), [
    "sockserve: 1 more error not written (at most 10 are written per 10 s)",
  ]);
  // A new flood in a later window arranges its own count.
  for (let i = 0; i < 12; i++) log.report(new StaticFileError("changed", `/g${i}`, "GET /"));
  assert.equal(scheduled.length, 2);
  scheduled[1]!();
  assert.equal(
    lines.at(-1),
    "sockserve: 2 more errors not written (at most 10 are written per 10 s)",
  );
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

Deno.test("cli: a response cut short because its file changed is one line on stderr, and a flood is limited and counted", async () => {
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
    assert.equal(lines.length, ERROR_LINES_PER_WINDOW + 1, server.stderr.text);
    // The two left out are counted when the process exits, before their window ended.
    assert.equal(
      lines.pop(),
      `sockserve: 2 more errors not written (at most 10 are written per 10 s)`,
    );
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

Deno.test("serve(): with its default onError, a file changed while it is sent is one line, a flood limited and counted at shutdown", async () => {
  const site = await makeSite({ "big.bin": new Uint8Array(8 * 1024 * 1024).fill(0x61) });
  try {
    const EVENTS = ERROR_LINES_PER_WINDOW + 3;
    const script = new URL("./fixtures/embedding/changed_file_flood.ts", import.meta.url);
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${site}`,
        `--allow-write=${site}`,
        script.pathname,
        site,
        String(EVENTS),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    assert.equal(stdout, `cut ${EVENTS}\n`, stderr);
    const lines = stderr.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, ERROR_LINES_PER_WINDOW + 1, stderr);
    lines.slice(0, -1).forEach((line, i) => {
      const start = `sockserve: ${
        join(site, "big.bin")
      } changed while it was sent (GET /big.bin?n=${i}): `;
      assert.ok(line.startsWith(start), line);
      assert.match(line.slice(start.length), /^response cut short after \d+ of 8388608 bytes$/);
    });
    assert.equal(
      lines.at(-1),
      "sockserve: 3 more errors not written (at most 10 are written per 10 s)",
    );
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});
