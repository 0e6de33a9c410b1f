/**
 * Large byte-stream bodies (more than 256 KiB announced) are read into buffers lent from a bounded
 * pool and given back after each complete response: whatever the order, the number at once
 * (more than the pool holds) and the responses cut short in between, every client gets exactly
 * its own bytes.
 */

import assert from "node:assert/strict";
import { startServer } from "./support/test_server.ts";

/** Larger than the pool's 1 MiB buffers, so a body takes several reads and a partial last one. */
const SIZE = 1536 * 1024 + 123;

function byteAt(seed: number, index: number): number {
  return (index * 31 + seed * 7 + (index >> 16)) & 255;
}

/** A byte stream of SIZE bytes for `seed`, filled into whatever view the reader lends. */
function patternStream(seed: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    pull(controller) {
      const view = controller.byobRequest!.view!;
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const count = Math.min(target.length, SIZE - offset);
      for (let i = 0; i < count; i++) target[i] = byteAt(seed, offset + i);
      offset += count;
      controller.byobRequest!.respond(count);
      if (offset === SIZE) {
        controller.close();
        controller.byobRequest?.respond(0);
      }
    },
  });
}

function firstWrongByte(seed: number, body: Uint8Array): number {
  if (body.length !== SIZE) return Math.min(body.length, SIZE);
  for (let i = 0; i < body.length; i++) if (body[i] !== byteAt(seed, i)) return i;
  return -1;
}

Deno.test("large streamed bodies: 20 at once (more than the pool's 16 buffers), then again after responses cut short, each byte-exact", async () => {
  await using test = startServer((request) => {
    const seed = Number(new URL(request.url).searchParams.get("seed"));
    return new Response(patternStream(seed), {
      headers: { "content-length": String(SIZE), "content-type": "application/octet-stream" },
    });
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
});
