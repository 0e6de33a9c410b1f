// Lifecycle: SIGTERM/SIGINT handling. First in-process against a fake server (every branch of
// the state machine), then against the real server process (see the second half).
import assert from "node:assert/strict";
import {
  EXIT_FORCED,
  EXIT_GRACEFUL,
  EXIT_INTERRUPTED,
  handleStopSignals,
  SIGINT_ECHO_MS,
  type StopSignal,
} from "../server/cli/lifecycle.ts";

/** A server whose shutdown finishes when the test says so, and a signal source to drive it. */
function harness(gracePeriodMs: number, connections: number, clock = { now: 0 }) {
  let finishShutdown = () => {};
  let shutdownCalls = 0;
  let deadlineChecked = () => {};
  const deadlineCheckedPromise = new Promise<void>((resolve) => deadlineChecked = resolve);
  const state = { connections, shuttingDown: false };
  const server = {
    shutdown(): Promise<void> {
      shutdownCalls++;
      state.shuttingDown = true;
      return new Promise<void>((resolve) => finishShutdown = resolve);
    },
    get connectionCount(): number {
      // The deadline timer is the only reader after the first log line; tell the test.
      if (state.shuttingDown) queueMicrotask(deadlineChecked);
      return state.connections;
    },
  };
  const handlers = new Map<StopSignal, () => void>();
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  let exited = (_code: number) => {};
  const firstExit = new Promise<number>((resolve) => exited = resolve);
  const uninstall = handleStopSignals(server, {
    gracePeriodMs,
    log: (line) => out.push(line),
    logError: (line) => err.push(line),
    exit: (code) => {
      exits.push(code);
      exited(code);
    },
    onSignal: (signal, handler) => {
      handlers.set(signal, handler);
      return () => handlers.delete(signal);
    },
    now: () => clock.now,
  });
  return {
    state,
    out,
    err,
    exits,
    firstExit,
    handlers,
    uninstall,
    deadlineChecked: deadlineCheckedPromise,
    get shutdownCalls() {
      return shutdownCalls;
    },
    send(signal: StopSignal) {
      const handler = handlers.get(signal);
      assert.ok(handler, `no handler for ${signal}`);
      handler();
    },
    finishShutdown: () => finishShutdown(),
  };
}

Deno.test("lifecycle: SIGTERM shuts down gracefully and exits 0 when connections finish", async () => {
  const h = harness(60_000, 2);
  h.send("SIGTERM");
  assert.equal(h.shutdownCalls, 1);
  assert.deepEqual(h.exits, []);
  assert.match(
    h.out[0] ?? "",
    /SIGTERM received: shutting down gracefully \(2 open connections, grace period 60s\)/,
  );
  h.state.connections = 0;
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
  assert.match(h.out.at(-1) ?? "", /shutdown complete/);
  assert.deepEqual(h.err, []);
});

Deno.test("lifecycle: SIGINT also shuts down gracefully and mentions Ctrl-C", async () => {
  const h = harness(60_000, 1);
  h.send("SIGINT");
  assert.match(h.out[0] ?? "", /SIGINT received: .*1 open connection,.*Ctrl-C again/);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: grace period over with open connections exits 1 and counts them", async () => {
  const h = harness(10, 3);
  h.send("SIGTERM");
  assert.equal(await h.firstExit, EXIT_FORCED);
  assert.match(h.err[0] ?? "", /grace period of 10ms over: force-closing 3 connections/);
  h.finishShutdown(); // the process would be gone; settle the fake
});

Deno.test("lifecycle: grace period over with nothing open waits for shutdown to report", async () => {
  const h = harness(10, 0);
  h.send("SIGTERM");
  await h.deadlineChecked;
  await Promise.resolve();
  assert.deepEqual(h.exits, []);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: a second SIGINT exits 130 at once", async () => {
  const h = harness(60_000, 1);
  h.send("SIGTERM");
  h.send("SIGINT");
  assert.equal(await h.firstExit, EXIT_INTERRUPTED);
  assert.match(h.err[0] ?? "", /second SIGINT: exiting now with 1 connection open/);
  h.finishShutdown(); // clears the grace timer
});

Deno.test("lifecycle: a SIGINT within SIGINT_ECHO_MS of the first is the same Ctrl-C; a later one exits 130", async () => {
  const clock = { now: 1_000 };
  const h = harness(60_000, 1, clock);
  h.send("SIGINT");
  // deno task passes the terminal's Ctrl-C on to its child, which also gets it from the group.
  clock.now += 5;
  h.send("SIGINT");
  assert.deepEqual(h.exits, []);
  assert.match(h.out.at(-1) ?? "", /SIGINT again within 500ms: taken as the same Ctrl-C/);
  clock.now += SIGINT_ECHO_MS;
  h.send("SIGINT");
  assert.equal(await h.firstExit, EXIT_INTERRUPTED);
  assert.match(h.err[0] ?? "", /second SIGINT: exiting now with 1 connection open/);
  h.finishShutdown(); // clears the grace timer
});

Deno.test("lifecycle: a second SIGTERM is noted and changes nothing", async () => {
  const h = harness(60_000, 1);
  h.send("SIGTERM");
  h.send("SIGTERM");
  assert.equal(h.shutdownCalls, 1);
  assert.deepEqual(h.exits, []);
  assert.match(h.out[1] ?? "", /SIGTERM again: already shutting down/);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: the returned function removes both signal handlers", () => {
  const h = harness(60_000, 0);
  assert.equal(h.handlers.size, 2);
  h.uninstall();
  assert.equal(h.handlers.size, 0);
});

// ---------------------------------------------------------------------------------------------
// The real server process. A slow request is a large file downloaded by a client that stops
// reading after the first bytes: the kernel's socket buffers fill and the server's write waits,
// so the exchange stays in flight for as long as the test wants, with no test-only code in the
// server.

import { makeSite, startSockserve } from "./cli_helpers.ts";

/** Larger than loopback socket buffers on both sides (a few MiB each), so the writer blocks. */
const BIG_FILE_BYTES = 64 * 1024 * 1024;

const encoder = new TextEncoder();

async function makeBigSite(): Promise<string> {
  const site = await makeSite({ "index.html": "home" });
  using file = await Deno.open(`${site}/big.bin`, { write: true, create: true });
  await file.truncate(BIG_FILE_BYTES); // a sparse file: instant to create, real bytes to serve
  return site;
}

/** A GET whose response the client reads only when told to. */
async function startSlowDownload(port: number, path: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  // Read until the head is complete: the server has started answering.
  const buffer = new Uint8Array(64 * 1024);
  let received = new Uint8Array(0);
  let headEnd = -1;
  while (headEnd === -1) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("connection closed before the response head");
    const next = new Uint8Array(received.length + n);
    next.set(received);
    next.set(buffer.subarray(0, n), received.length);
    received = next;
    headEnd = new TextDecoder().decode(received).indexOf("\r\n\r\n");
  }
  const head = new TextDecoder().decode(received.subarray(0, headEnd));
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
  let bodyBytes = received.length - (headEnd + 4);
  return {
    conn,
    head,
    contentLength: length,
    /** Reads the rest of the body; resolves with the body byte count and whether EOF followed. */
    async finish(): Promise<{ bodyBytes: number; closedAfter: boolean }> {
      while (bodyBytes < length) {
        const n = await conn.read(buffer);
        if (n === null) return { bodyBytes, closedAfter: true };
        bodyBytes += n;
      }
      const after = await conn.read(buffer);
      return { bodyBytes, closedAfter: after === null };
    },
    /** Reads until the server closes or resets; resolves with the body byte count. */
    async drainUntilClosed(): Promise<number> {
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) return bodyBytes;
          bodyBytes += n;
        }
      } catch {
        return bodyBytes; // reset by the exiting process
      }
    },
  };
}

/**
 * Asserts that a new connection gets no HTTP answer once shutdown has begun: either the connect
 * is refused or reset, or (when it raced the listener's close and landed in the kernel's backlog) the
 * connection is closed or reset without a single byte.
 */
async function assertNotServed(port: number) {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    assert.ok(
      error instanceof Deno.errors.ConnectionRefused ||
        error instanceof Deno.errors.ConnectionReset,
      String(error),
    );
    return;
  }
  try {
    await conn.write(encoder.encode("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")).catch(
      () => 0,
    );
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer).catch(() => null);
    assert.equal(n, null, "a connection made after the shutdown began got an answer");
  } finally {
    conn.close();
  }
}

Deno.test("process: SIGTERM lets an in-flight download finish, serves no new connection, exits 0", async () => {
  const site = await makeBigSite();
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--grace-period=60s",
    "--log=json",
  ]);
  try {
    const download = await startSlowDownload(server.port, "/big.bin");
    assert.match(download.head, /^HTTP\/1\.1 200 /);
    assert.equal(download.contentLength, BIG_FILE_BYTES);

    server.child.kill("SIGTERM");
    await server.stdout.waitFor(/SIGTERM received: shutting down gracefully \(1 open connection/);
    await assertNotServed(server.port);

    const result = await download.finish();
    assert.deepEqual(result, { bodyBytes: BIG_FILE_BYTES, closedAfter: true });
    download.conn.close();

    const status = await server.status;
    assert.equal(status.code, 0, server.stderr.text);
    assert.ok(server.stdout.lines.some((line) => /shutdown complete/.test(line)));
    const logged = server.stdout.lines.filter((line) => line.startsWith("{")).map((line) =>
      JSON.parse(line)
    );
    assert.deepEqual(
      logged.map((r) => [r.target, r.status, r.bytes, r.completed]),
      [["/big.bin", 200, BIG_FILE_BYTES, true]],
    );
    assert.equal(server.stderr.text, "");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("process: SIGTERM closes idle keep-alive connections at once and exits 0", async () => {
  const site = await makeBigSite();
  // Timeouts far beyond the test's bound: only the shutdown itself can close the connection.
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--grace-period=1h",
    "--idle-timeout=1h",
  ]);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.endsWith("home")) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`closed early: ${text}`);
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    assert.match(text, /^HTTP\/1\.1 200 /);

    server.child.kill("SIGTERM");
    assert.equal(await conn.read(buffer), null, "the idle connection is closed by the server");
    conn.close();
    assert.equal((await server.status).code, 0, server.stderr.text);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("process: when the grace period ends first, the process says so and exits 1", async () => {
  const site = await makeBigSite();
  const server = await startSockserve([site, "--host=127.0.0.1", "--port=0", "--grace-period=1s"]);
  try {
    const download = await startSlowDownload(server.port, "/big.bin");
    server.child.kill("SIGTERM");
    await server.stdout.waitFor(/SIGTERM received/);
    await assertNotServed(server.port);
    // The client never reads: the download cannot finish within the grace period.
    const status = await server.status;
    assert.equal(status.code, 1);
    assert.match(
      server.stderr.text,
      /grace period of 1s over: force-closing 1 connection and exiting with code 1/,
    );
    const received = await download.drainUntilClosed();
    assert.ok(received < BIG_FILE_BYTES, "the download was cut");
    download.conn.close();
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("process: a download cut off when the grace period ends still gets its access-log line", async () => {
  const site = await makeBigSite();
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--grace-period=1s",
    "--log=json",
  ]);
  try {
    const download = await startSlowDownload(server.port, "/big.bin");
    server.child.kill("SIGTERM");
    assert.equal((await server.status).code, 1);
    const logged = server.stdout.lines.filter((line) => line.startsWith("{")).map((line) =>
      JSON.parse(line)
    );
    const cut = logged.find((record) => record.target === "/big.bin");
    assert.ok(cut !== undefined, `no access-log line for the cut download: ${server.stdout.text}`);
    assert.equal(cut.status, 200);
    assert.equal(cut.completed, false);
    assert.ok(cut.bytes < BIG_FILE_BYTES);
    await download.drainUntilClosed();
    download.conn.close();
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("process: a second SIGINT exits at once with 130", async () => {
  const site = await makeBigSite();
  const server = await startSockserve([site, "--host=127.0.0.1", "--port=0", "--grace-period=1h"]);
  try {
    const download = await startSlowDownload(server.port, "/big.bin");
    server.child.kill("SIGINT");
    await server.stdout.waitFor(/SIGINT received: .*Ctrl-C again/);
    // A second press, not the first one delivered twice (the in-process test above covers
    // that): only time tells them apart.
    await new Promise((resolve) => setTimeout(resolve, SIGINT_ECHO_MS + 100));
    server.child.kill("SIGINT");
    const status = await server.status;
    assert.equal(status.code, 130);
    assert.match(server.stderr.text, /second SIGINT: exiting now with 1 connection open/);
    await download.drainUntilClosed();
    download.conn.close();
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});
