/**
 * Large byte-stream bodies (more than 256 KiB announced) are read into buffers lent from a bounded
 * pool and given back after each complete response: whatever the order, the number at once
 * (more than the pool holds) and the responses cut short in between, every client gets exactly
 * its own bytes.
 */

import assert from "node:assert/strict";
import { largeStreamBufferCounts } from "../server/connection/streamed_content.ts";
import { deferred, startServer } from "./support/test_server.ts";
import { within } from "./support/engine_support.ts";

/** Larger than the pool's 1 MiB buffers, so a body takes several reads and a partial last one. */
const SIZE = 1536 * 1024 + 123;

function byteAt(seed: number, index: number): number {
  return (index * 31 + seed * 7 + (index >> 16)) & 255;
}

/**
 * A byte stream of `size` bytes for `seed`, filled into whatever view the reader lends; `fault`
 * makes it misbehave after its first chunk.
 */
function patternStream(
  seed: number,
  { size = SIZE, fault, cancelled }: {
    size?: number;
    fault?: "error" | "overrun";
    cancelled?: () => void;
  } = {},
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    pull(controller) {
      if (offset > 0 && fault === "error") throw new Error("the source failed on purpose");
      const view = controller.byobRequest!.view!;
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const count = fault === "overrun" ? target.length : Math.min(target.length, size - offset);
      for (let i = 0; i < count; i++) target[i] = byteAt(seed, offset + i);
      offset += count;
      controller.byobRequest!.respond(count);
      if (offset >= size && fault !== "overrun") {
        controller.close();
        controller.byobRequest?.respond(0);
      }
    },
    cancel() {
      cancelled?.();
    },
  });
}

/** A byte stream of `size` bytes whose every lent view `fill` writes (or, faulty, does not). */
function byteSource(
  size: number,
  fill: (target: Uint8Array, offset: number) => void,
): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const view = controller.byobRequest!.view!;
      const count = Math.min(view.byteLength, size - sent);
      fill(new Uint8Array(view.buffer, view.byteOffset, count), sent);
      sent += count;
      controller.byobRequest!.respond(count);
      if (sent === size) {
        controller.close();
        controller.byobRequest?.respond(0);
      }
    },
  });
}

function octets(size: number): HeadersInit {
  return { "content-length": String(size), "content-type": "application/octet-stream" };
}

/** After the server has settled every connection, no large buffer is still counted as lent. */
async function assertAllGivenBack(server: { shutdown(): Promise<void> }): Promise<void> {
  await server.shutdown();
  assert.equal(largeStreamBufferCounts().lent, 0, "large buffers still lent after shutdown");
}

function firstWrongByte(seed: number, body: Uint8Array): number {
  if (body.length !== SIZE) return Math.min(body.length, SIZE);
  for (let i = 0; i < body.length; i++) if (body[i] !== byteAt(seed, i)) return i;
  return -1;
}

Deno.test("large streamed bodies: 20 at once (more than the pool's 16 buffers), then again after responses cut short, each byte-exact", async () => {
  await using test = startServer((request) => {
    const seed = Number(new URL(request.url).searchParams.get("seed"));
    return new Response(patternStream(seed), { headers: octets(SIZE) });
  });
  const fetchAll = (from: number) =>
    Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const seed = from + i;
      const response = await fetch(`http://127.0.0.1:${test.port}/?seed=${seed}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), String(SIZE));
      const body = new Uint8Array(await response.arrayBuffer());
      assert.equal(firstWrongByte(seed, body), -1, `seed ${seed}: first wrong byte`);
    }));
  await fetchAll(0);
  // The large buffers were used, and given back for reuse.
  assert.equal(largeStreamBufferCounts().lent, 0);
  assert.ok(largeStreamBufferCounts().pooled > 0, "large buffers kept for reuse");
  // Clients that leave after the first bytes: their buffers are not reused while a write of
  // them may still be in flight.
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const response = await fetch(`http://127.0.0.1:${test.port}/?seed=${100 + i}`);
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    assert.ok(value !== undefined && value.length > 0);
    await reader.cancel();
  }));
  await fetchAll(200);
  // One at a time, each on a buffer the one before gave back.
  for (let seed = 300; seed < 304; seed++) {
    const response = await fetch(`http://127.0.0.1:${test.port}/?seed=${seed}`);
    const body = new Uint8Array(await response.arrayBuffer());
    assert.equal(firstWrongByte(seed, body), -1, `seed ${seed}: first wrong byte`);
  }
  assert.deepEqual(test.errors, []);
  await assertAllGivenBack(test.server);
});

Deno.test("large streamed bodies: a reused buffer never carries another response's bytes, even to a stream that claims bytes it did not write", async () => {
  const secret = new TextEncoder().encode("SECRET-OF-CLIENT-A ");
  await using test = startServer((request) =>
    new Response(
      new URL(request.url).pathname === "/a"
        ? byteSource(SIZE, (target, offset) => {
          for (let i = 0; i < target.length; i++) target[i] = secret[(offset + i) % secret.length]!;
        })
        // A faulty source: it says it filled the view without writing a byte.
        : byteSource(SIZE, () => {}),
      { headers: octets(SIZE) },
    )
  );
  for (let round = 0; round < 3; round++) {
    const a = new Uint8Array(await (await fetch(`http://127.0.0.1:${test.port}/a`)).arrayBuffer());
    assert.equal(a.length, SIZE);
    assert.ok(largeStreamBufferCounts().pooled > 0, "A's buffer was kept for reuse");
    const b = new Uint8Array(await (await fetch(`http://127.0.0.1:${test.port}/b`)).arrayBuffer());
    assert.equal(b.length, SIZE);
    assert.equal(b.findIndex((byte) => byte !== 0), -1, "B's body holds no byte of A's");
  }
  await assertAllGivenBack(test.server);
});

Deno.test("large streamed bodies: a source that fails or overruns its Content-Length gives its buffer back; the client gets a short or exact body", async () => {
  await using test = startServer((request) => {
    const fault = new URL(request.url).searchParams.get("fault") as "error" | "overrun";
    return new Response(patternStream(7, { fault }), { headers: octets(SIZE) });
  });
  for (let i = 0; i < 3; i++) {
    // Failing after its first chunk: the response ends short, the connection closes.
    const failed = await fetch(`http://127.0.0.1:${test.port}/?fault=error`);
    await assert.rejects(failed.arrayBuffer());
    // More bytes than announced: exactly the announced ones are sent.
    const overrun = await fetch(`http://127.0.0.1:${test.port}/?fault=overrun`);
    const body = new Uint8Array(await overrun.arrayBuffer());
    assert.equal(firstWrongByte(7, body), -1);
  }
  await assertAllGivenBack(test.server);
});

Deno.test("large streamed bodies: a source that gives exactly its Content-Length and never closes is cancelled there and its buffer kept for reuse", async () => {
  let cancels = 0;
  await using test = startServer(() => {
    let offset = 0;
    return new Response(
      new ReadableStream({
        type: "bytes",
        pull(controller) {
          if (offset === SIZE) return; // all bytes given: neither close() nor respond() again
          const view = controller.byobRequest!.view!;
          const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
          const count = Math.min(target.length, SIZE - offset);
          for (let i = 0; i < count; i++) target[i] = byteAt(5, offset + i);
          offset += count;
          controller.byobRequest!.respond(count);
        },
        cancel() {
          cancels++;
        },
      }),
      { headers: octets(SIZE) },
    );
  });
  const pooledBefore = largeStreamBufferCounts().pooled;
  const bodies = [];
  for (let round = 0; round < 2; round++) {
    const response = await fetch(`http://127.0.0.1:${test.port}/`);
    bodies.push(new Uint8Array(await response.arrayBuffer()));
  }
  for (const body of bodies) assert.equal(firstWrongByte(5, body), -1);
  assert.equal(cancels, 2, "each stream cancelled at its length");
  // Given back at once (no shutdown needed), and kept: no read was left filling it.
  assert.equal(largeStreamBufferCounts().lent, 0);
  assert.equal(largeStreamBufferCounts().pooled, Math.max(pooledBefore, 1));
  await assertAllGivenBack(test.server);
});

Deno.test("large streamed bodies: a client that stops reading (write stall) and a shutdown during downloads give every buffer back", async () => {
  const cancelled = deferred();
  const big = 64 * 1024 * 1024; // far more than the socket buffers hold
  const pooledBefore = largeStreamBufferCounts().pooled;
  await using test = startServer(
    () =>
      new Response(patternStream(9, { size: big, cancelled: () => cancelled.resolve() }), {
        headers: octets(big),
      }),
    { bodyTimeoutMs: 300 },
  );
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  await stalled.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Never read: the server's write stalls, it gives up after bodyTimeoutMs and stops the stream.
  await within(cancelled.promise, 10_000, "the stalled response's stream cancelled");
  // Downloads still running (their clients read slowly) when the server shuts down.
  const slow = await Promise.all(Array.from({ length: 4 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
    return conn;
  }));
  assert.ok(largeStreamBufferCounts().lent > 0, "the running downloads hold large buffers");
  await assertAllGivenBack(test.server);
  // None of these 5 responses completed: a write of their buffers may have been in flight when
  // they ended, so none was kept for reuse. Each took a kept buffer while there were some.
  assert.equal(
    largeStreamBufferCounts().pooled,
    pooledBefore - Math.min(pooledBefore, 5),
    "no cut-short response's buffer kept",
  );
  stalled.close();
  for (const conn of slow) conn.close();
});
