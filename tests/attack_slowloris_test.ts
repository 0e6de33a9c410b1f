/**
 * Slowloris: 500 connections trickle header bytes. A fresh client is still answered promptly,
 * every trickling connection gets 408 and is closed when the header timeout expires, and the
 * server's file descriptors return to their baseline.
 */

import assert from "node:assert/strict";
import { quickStatus, startServerProcess, waitFor } from "./support/server_process.ts";

const TRICKLERS = 500;
const HEADER_TIMEOUT_MS = 1000;
/** Pause between two trickled bytes: the trickle alone would take far past the timeout. */
const TRICKLE_INTERVAL_MS = 100;
/** Bound on each trickle loop (bytes sent), so the loop ends even if the server never closes. */
const TRICKLE_MAX_BYTES = 100;
/** The requirement for the fresh client. */
const FRESH_CLIENT_MAX_MS = 1000;

interface Trickler {
  conn: Deno.TcpConn;
  /** Resolves with everything received when the server closes (or resets) the connection. */
  closed: Promise<{ text: string; closedAfterMs: number }>;
}

function watchClose(conn: Deno.TcpConn, start: number): Trickler["closed"] {
  return (async () => {
    const buffer = new Uint8Array(1024);
    let text = "";
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        n = null;
      }
      if (n === null) return { text, closedAfterMs: performance.now() - start };
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  })();
}

Deno.test("slowloris: 500 trickling connections do not starve a fresh client and are closed with 408 at the header timeout", async () => {
  await using server = await startServerProcess({
    headerTimeoutMs: HEADER_TIMEOUT_MS,
    idleTimeoutMs: 10_000,
    lingerTimeoutMs: 200,
  });
  // Warm up (the runtime opens a few files and unix sockets lazily on first use), then baseline.
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineFds = server.fdCount();
  const baselineTcp = server.tcpSocketCount();
  const encoder = new TextEncoder();
  const start = performance.now();
  const tricklers: Trickler[] = [];
  for (let i = 0; i < TRICKLERS; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.setNoDelay(true);
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n"));
    tricklers.push({ conn, closed: watchClose(conn, start) });
  }
  let stopTrickling = false;
  const trickling = tricklers.map(async ({ conn }) => {
    for (let i = 0; i < TRICKLE_MAX_BYTES && !stopTrickling; i++) {
      try {
        await conn.write(encoder.encode("X"));
      } catch {
        return; // Closed by the server.
      }
      await new Promise((resolve) => setTimeout(resolve, TRICKLE_INTERVAL_MS));
    }
  });

  // While all 500 are trickling, a fresh client is answered promptly.
  const freshStart = performance.now();
  const fresh = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await fresh.write(encoder.encode("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  const freshResult = await watchClose(fresh, freshStart);
  fresh.close();
  // deno-lint-ignore no-console -- the figure of the run
  console.log(`slowloris: fresh client answered in ${freshResult.closedAfterMs.toFixed(0)} ms`);
  assert.match(freshResult.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(freshResult.text, /\r\n\r\nhello\n$/);
  assert.ok(
    freshResult.closedAfterMs < FRESH_CLIENT_MAX_MS,
    `fresh client took ${freshResult.closedAfterMs.toFixed(0)} ms`,
  );

  // Every trickler gets 408 and is closed; none outlives the timeout by much (the bound is a
  // safety net: the clock ticks once per second, so closing takes up to timeout + 1 s).
  const results = await Promise.all(tricklers.map((t) => t.closed));
  stopTrickling = true;
  await Promise.all(trickling);
  for (const { conn } of tricklers) conn.close();
  const statuses = new Map<string, number>();
  for (const { text } of results) {
    const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "none";
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [["408", TRICKLERS]]);
  const latest = Math.max(...results.map((r) => r.closedAfterMs));
  const earliest = Math.min(...results.map((r) => r.closedAfterMs));
  // deno-lint-ignore no-console -- the figure of the run
  console.log(`slowloris: tricklers closed ${earliest.toFixed(0)}-${latest.toFixed(0)} ms in`);
  assert.ok(earliest >= HEADER_TIMEOUT_MS * 0.9, `closed too early: ${earliest} ms`);
  assert.ok(latest < HEADER_TIMEOUT_MS + 5000, `closed too late: ${latest} ms`);

  await waitFor(
    () => server.tcpSocketCount() === baselineTcp,
    "server TCP sockets back to baseline",
  );
  // A small margin for lazily opened runtime files; 500 leaked sockets would be far above it.
  assert.ok(server.fdCount() <= baselineFds + 4, `fds ${server.fdCount()} vs ${baselineFds}`);
  assert.ok(server.alive);
});

Deno.test("slowloris variants: silent connections and a trickled second request on a kept-alive connection are closed at the header timeout", async () => {
  const SILENT = 50;
  const KEPT_ALIVE = 50;
  await using server = await startServerProcess({
    headerTimeoutMs: HEADER_TIMEOUT_MS,
    // Much longer than the header timeout: the close must come from the header timeout.
    idleTimeoutMs: 30_000,
    lingerTimeoutMs: 200,
  });
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const encoder = new TextEncoder();
  const start = performance.now();

  const silent: Trickler[] = [];
  for (let i = 0; i < SILENT; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    silent.push({ conn, closed: watchClose(conn, start) });
  }
  const keptAlive: { conn: Deno.TcpConn; closed: Trickler["closed"] }[] = [];
  for (let i = 0; i < KEPT_ALIVE; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"));
    // Read the first response (small: one read holds it), then start a second head and stall.
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    assert.match(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 /);
    await conn.write(encoder.encode("GET /hello HTTP/1.1\r\nHo"));
    keptAlive.push({ conn, closed: watchClose(conn, performance.now()) });
  }

  const silentResults = await Promise.all(silent.map((t) => t.closed));
  const keptAliveResults = await Promise.all(keptAlive.map((t) => t.closed));
  for (const { conn } of [...silent, ...keptAlive]) conn.close();
  for (const result of [...silentResults, ...keptAliveResults]) {
    assert.ok(
      result.closedAfterMs < HEADER_TIMEOUT_MS + 5000,
      `closed after ${result.closedAfterMs}`,
    );
  }
  // A stalled head is told why (408); a connection that sent nothing may get it too.
  for (const { text } of keptAliveResults) assert.match(text, /^HTTP\/1\.1 408 /);
  for (const { text } of silentResults) assert.ok(text === "" || text.startsWith("HTTP/1.1 408 "));
  await waitFor(() => server.tcpSocketCount() === baselineTcp, "server sockets back to baseline");
});
