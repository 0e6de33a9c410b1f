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
