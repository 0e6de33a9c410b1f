/**
 * Slow reader: a client asks for a 100 MiB streamed response and reads nothing. The server must
 * not buffer the stream (backpressure keeps its memory flat) and must abandon the write and close
 * the connection once a write has stalled for `bodyTimeoutMs`.
 */

import assert from "node:assert/strict";
import { quickStatus, startServerProcess, waitFor } from "./support/server_process.ts";

const MIB = 1024 * 1024;
const RESPONSE_BYTES = 100 * MIB;
const WRITE_STALL_TIMEOUT_MS = 1000;
/** Kernel socket buffers hold a few MiB; anything near the 100 MiB body means no backpressure. */
const MAX_RSS_GROWTH_BYTES = 32 * MIB;

Deno.test("slow reader of a 100 MiB stream: server memory stays flat and the write is abandoned after the stall timeout", async () => {
  await using server = await startServerProcess({
    bodyTimeoutMs: WRITE_STALL_TIMEOUT_MS,
    idleTimeoutMs: 30_000,
  });
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const rssBefore = server.rssBytes();

  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(
      new TextEncoder().encode(`GET /bytes?n=${RESPONSE_BYTES} HTTP/1.1\r\nHost: a\r\n\r\n`),
    );
    let peakRss = rssBefore;
    // First the server accepts the connection (on a busy machine that can take a moment, and
    // the count below would otherwise already equal the baseline)...
    await waitFor(
      () => server.tcpSocketCount() > baselineTcp,
      "the server to accept the connection",
      20_000,
      10,
    );
    // ...then it closes its side once the stalled write times out; sample its memory meanwhile.
    await waitFor(
      () => {
        peakRss = Math.max(peakRss, server.rssBytes());
        return server.tcpSocketCount() === baselineTcp;
      },
      "the server to abandon the stalled write",
      20_000,
      50,
    );
    assert.ok(
      peakRss - rssBefore < MAX_RSS_GROWTH_BYTES,
      `server RSS grew by ${((peakRss - rssBefore) / MIB).toFixed(1)} MiB`,
    );

    // The client now drains what the kernel buffered: far less than the body, then the end.
    const buffer = new Uint8Array(256 * 1024);
    let received = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        n = null; // A reset is an acceptable end too.
      }
      if (n === null) break;
      received += n;
    }
    // deno-lint-ignore no-console -- the figures of the run
    console.log(
      `slow reader: RSS +${
        ((peakRss - rssBefore) / MIB).toFixed(1)
      } MiB, client got ${received} bytes`,
    );
    assert.ok(received > 0, "the response started");
    assert.ok(received < RESPONSE_BYTES / 2, `received ${received} bytes`);
  } finally {
    conn.close();
  }
  // The server is unharmed.
  assert.equal(await quickStatus(server.port), 200);
  assert.ok(server.alive);
});

Deno.test("a client that pipelines requests without reading the responses is throttled, then cut off", async () => {
  await using server = await startServerProcess({
    bodyTimeoutMs: WRITE_STALL_TIMEOUT_MS,
    idleTimeoutMs: 30_000,
  });
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const rssBefore = server.rssBytes();
  /** Bound of the writing loop; the server must cut the client off long before. */
  const WRITE_LOOP_MAX_MS = 15_000;
  const batch = new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n".repeat(1000));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  let sent = 0;
  let cutOff = false;
  let peakRss = rssBefore;
  const start = performance.now();
  try {
    while (performance.now() - start < WRITE_LOOP_MAX_MS) {
      const write = conn.write(batch);
      // Sample the server while the write is blocked on its backpressure.
      peakRss = Math.max(peakRss, server.rssBytes());
      try {
        sent += await write;
      } catch {
        cutOff = true; // The server gave up on the stalled connection and closed it.
        break;
      }
    }
  } finally {
    conn.close();
  }
  assert.ok(cutOff, `the server never closed the connection (${sent} bytes sent)`);
  // Without backpressure the server would read (and answer into memory) without end.
  assert.ok(sent < 64 * MIB, `the server read ${(sent / MIB).toFixed(1)} MiB of requests`);
  assert.ok(
    peakRss - rssBefore < 256 * MIB,
    `server RSS grew by ${((peakRss - rssBefore) / MIB).toFixed(1)} MiB`,
  );
  await waitFor(() => server.tcpSocketCount() === baselineTcp, "server sockets back to baseline");
  assert.equal(await quickStatus(server.port), 200);
});

Deno.test("pipelined requests for 60 KB in-memory answers, never read: the server's memory stays bounded", async () => {
  // Each 64 KiB write carries about a thousand requests; every answer is 60 KB in memory. The
  // output queue is written out once it passes its bound, so the server waits for the client
  // instead of answering all of them into memory (found in review: 500 MiB for four clients).
  await using server = await startServerProcess({ bodyTimeoutMs: WRITE_STALL_TIMEOUT_MS });
  assert.equal(await quickStatus(server.port), 200);
  const rssBefore = server.rssBytes();
  const batch = new TextEncoder().encode(
    "GET /blob?n=60000 HTTP/1.1\r\nHost: a\r\n\r\n".repeat(1500),
  );
  const conns = await Promise.all(
    Array.from({ length: 4 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
  );
  let peakRss = rssBefore;
  try {
    await Promise.all(conns.map((conn) => conn.write(batch).catch(() => 0)));
    const end = performance.now() + 2_000;
    while (performance.now() < end) {
      peakRss = Math.max(peakRss, server.rssBytes());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  assert.ok(
    peakRss - rssBefore < 128 * MIB,
    `server RSS grew by ${((peakRss - rssBefore) / MIB).toFixed(1)} MiB`,
  );
});

/** The write-stall limit of the pause tests: short, and long beside the pauses under it. */
const PAUSE_LIMIT_MS = 2000;

/** Reads from `conn` until `bytes` more have come or the server closed; returns what came. */
async function readAtLeast(conn: Deno.Conn, buffer: Uint8Array, bytes: number): Promise<number> {
  let received = 0;
  while (received < bytes) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      n = null; // A reset ends it too.
    }
    if (n === null) break;
    received += n;
  }
  return received;
}

Deno.test("write stall: pauses shorter than bodyTimeoutMs never cut a response, one longer cuts it about the limit after it began", async () => {
  await using server = await startServerProcess({
    bodyTimeoutMs: PAUSE_LIMIT_MS,
    idleTimeoutMs: 30_000,
  });
  assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const buffer = new Uint8Array(256 * 1024);
  const request = (bytes: number) =>
    new TextEncoder().encode(
      `GET /bytes?n=${bytes} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    );

  // A reader that stops for 0.4 × the limit after every 4 MiB, eight times (3.2 × the limit in
  // all): each burst empties more than the third of the server's send buffer (at most 4 MiB,
  // net.ipv4.tcp_wmem) after which Linux lets a blocked write go on, so no write waits longer
  // than a pause. The whole response arrives.
  const burst = 4 * MIB;
  const total = 8 * burst;
  const steady = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  let received = 0;
  try {
    await steady.write(request(total));
    for (;;) {
      const n = await readAtLeast(steady, buffer, burst);
      received += n;
      if (n < burst) break; // the server closed: the end of the response, or a cut
      await new Promise((resolve) => setTimeout(resolve, 0.4 * PAUSE_LIMIT_MS));
    }
  } finally {
    steady.close();
  }
  // The body, chunked in 64 KiB pieces, plus the head and the chunks' framing.
  assert.ok(received > total, `a reader pausing under the limit got ${received} of ${total}`);
  await waitFor(() => server.tcpSocketCount() === baselineTcp, "the finished connection's close");

  // A reader that stops after 1 MiB: the server's write stalls once the kernel's buffers are
  // full (milliseconds on loopback), and the connection is closed bodyTimeoutMs later (up to two
  // clock ticks late), never sooner.
  const paused = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await paused.write(request(total));
    assert.equal(await readAtLeast(paused, buffer, MIB) >= MIB, true);
    const pausedAt = performance.now();
    await waitFor(
      () => server.tcpSocketCount() === baselineTcp,
      "the stalled connection's close",
      10 * PAUSE_LIMIT_MS,
      20,
    );
    const cutAfterMs = performance.now() - pausedAt;
    // deno-lint-ignore no-console -- the figure of the run
    console.log(
      `write stall: limit ${PAUSE_LIMIT_MS} ms, cut ${
        cutAfterMs.toFixed(0)
      } ms after the pause began`,
    );
    assert.ok(cutAfterMs >= PAUSE_LIMIT_MS, `cut after ${cutAfterMs} ms, before the limit`);
    assert.ok(cutAfterMs < PAUSE_LIMIT_MS + 2500, `cut only ${cutAfterMs} ms after the pause`);
    const rest = await readAtLeast(paused, buffer, total);
    assert.ok(MIB + rest < total, "the response was cut short");
  } finally {
    paused.close();
  }
  assert.equal(await quickStatus(server.port), 200);
});
