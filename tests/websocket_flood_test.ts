/**
 * Clients that send many small frames: the server's memory stays bounded by its limits, not by
 * the number of frames. A Ping flood from a client that does not read gets at most one waiting
 * Pong (RFC 6455 §5.5.3); an echo flood stops the session reading while answers wait to be
 * written; empty messages count toward `maxBufferedAmount`; a message in a million one-byte
 * fragments is held in one buffer of about its size.
 */

import assert from "node:assert/strict";
import { OPCODE } from "../server/http1/websocket_frames.ts";
import { MessageReader, NEED_MESSAGE_DATA } from "../server/http1/websocket_messages.ts";
import { FRAME_OVERHEAD_BYTES } from "../server/websocket/send_queue.ts";
import {
  READ_PAUSE_BYTES,
  type SessionSink,
  WebSocketSession,
} from "../server/websocket/session.ts";
import type { WebSocketTransport } from "../server/websocket/transport.ts";
import { RawClient, serveWebSockets } from "./support/websocket_clients.ts";
import { join, rawFrame } from "./support/websocket_frames.ts";

const { CONTINUATION, TEXT, BINARY, CLOSE, PING } = OPCODE;

/** `count` copies of `frame`, back to back. */
function repeat(frame: Uint8Array, count: number): Uint8Array {
  const bytes = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) bytes.set(frame, i * frame.length);
  return bytes;
}

Deno.test("flood: a client that sends 200,000 Pings without reading gets at most one waiting Pong, the last for the last Ping", async () => {
  const pings = 200_000;
  await using server = serveWebSockets({ maxBufferedAmount: 4096, idleTimeout: 0 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  // Each Ping carries its number; the masking key 0 leaves the payload as written.
  const wire = new Uint8Array(pings * 10);
  for (let i = 0; i < pings; i++) {
    wire.set([
      0x80 | PING,
      0x84,
      0,
      0,
      0,
      0,
      i >>> 24,
      (i >>> 16) & 0xff,
      (i >>> 8) & 0xff,
      i & 0xff,
    ], i * 10);
  }
  // Not reading: every Pong the server made would wait in its queue or the kernel's buffers.
  await client.write(wire);
  await client.write(rawFrame(CLOSE, [0x03, 0xe8]));
  let pongs = 0;
  let last = -1;
  for (;;) {
    const event = await client.nextEvent();
    assert.ok(event !== null, "the connection ends after the Close handshake, not before");
    if (event.type === "close") {
      assert.equal(event.code, 1000);
      break;
    }
    assert.equal(event.type, "pong");
    if (event.type !== "pong") break;
    const number = new DataView(event.data.buffer, event.data.byteOffset).getUint32(0);
    assert.ok(number > last, `Pongs answer Pings in order (${number} after ${last})`);
    last = number;
    pongs++;
  }
  // One Pong being written and one waiting per read of the client's bytes (16 KiB), not one
  // per Ping: 2 MB of Pings take about 130 reads.
  assert.ok(pongs <= pings / 100, `${pongs} Pongs for ${pings} Pings`);
  assert.equal(last, pings - 1, "the last Pong answers the most recent Ping");
  const event = await side.closed;
  assert.equal(event.wasClean, true);
  assert.equal(side.error, null);
  client.close();
});

/**
 * A transport standing for a client that sends `wire` as fast as the session reads and reads
 * nothing until `startReading()`: each `read` returns at once while bytes remain, each `write`
 * waits. Real sockets cannot show that a server stopped reading without a timeout; here it shows
 * as reads that are no longer asked for once the microtask queue is empty.
 */
class FloodingClient implements WebSocketTransport {
  readonly initialBytes = new Uint8Array(0);
  readonly clock = { now: 0, subscribe: () => () => {} };
  /** Bytes the session has read. */
  offered = 0;
  /** Bytes the session has written. */
  written = 0;
  closed = false;
  readonly #wire: Uint8Array;
  readonly #gate = Promise.withResolvers<void>();
  readonly #end = Promise.withResolvers<never>();

  constructor(wire: Uint8Array) {
    this.#wire = wire;
    this.#end.promise.catch(() => {});
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.offered === this.#wire.length) return this.#end.promise;
    const count = Math.min(buffer.length, this.#wire.length - this.offered);
    buffer.set(this.#wire.subarray(this.offered, this.offered + count));
    this.offered += count;
    return Promise.resolve(count);
  }

  async write(bytes: Uint8Array): Promise<void> {
    await Promise.race([this.#gate.promise, this.#end.promise]);
    this.written += bytes.length;
  }

  startReading(): void {
    this.#gate.resolve();
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
    this.#end.reject(new Error("closed"));
  }
}

/** Lets every pending microtask (the session's read and write loops) run to a standstill. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("flood: an echo of 200,000 empty messages to a client that does not read stops the session reading, then completes", async () => {
  const messages = 200_000;
  const client = new FloodingClient(repeat(rawFrame(TEXT, ""), messages));
  let received = 0;
  const sink: SessionSink = {
    message: (data) => {
      received++;
      session.sendText(data as string);
    },
    closing: () => {},
    closed: () => {},
  };
  const session = new WebSocketSession(client, sink, {
    maxMessageBytes: 1024,
    maxBufferedBytes: 16 * 1024 * 1024,
    idleTimeoutMs: 0,
    closeTimeoutMs: 5_000,
  });
  session.start();
  await settled();
  // Stopped between frames once the answers waiting behind the one being written passed
  // READ_PAUSE_BYTES, each counted as its 2 bytes plus FRAME_OVERHEAD_BYTES.
  const most = Math.ceil(READ_PAUSE_BYTES / (2 + FRAME_OVERHEAD_BYTES)) + 2;
  assert.ok(received <= most, `${received} messages read (at most ${most})`);
  assert.ok(client.offered <= 16 * 1024 + received * 6, `${client.offered} bytes read`);
  assert.equal(session.bufferedAmount, 0, "empty messages: no application bytes");
  assert.equal(client.closed, false, "reading paused, the connection kept");
  // The client reads: the session reads on, and every message is echoed.
  client.startReading();
  for (let turn = 0; turn < 100_000 && client.written < messages * 2 && !client.closed; turn++) {
    await settled();
  }
  assert.equal(received, messages);
  assert.equal(client.written, messages * 2);
  session.abort();
});

Deno.test("flood: empty messages count toward maxBufferedAmount with their overhead", async () => {
  const limit = 64 * 1024;
  await using server = serveWebSockets({ maxBufferedAmount: limit, idleTimeout: 0 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  // 10,000 empty messages in one go, before any write completes: 20 KB on the wire, less than
  // the limit, but counted with their overhead (66 B each) they are ten times more.
  for (let i = 0; i < 10_000; i++) {
    side.socket.send("");
    assert.equal(
      side.socket.bufferedAmount,
      0,
      "bufferedAmount counts message bytes, as the web API",
    );
  }
  // Dropped during the burst; had it not been, the client leaving now would end it otherwise.
  client.close();
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.match(side.error ?? "", /maxBufferedAmount/);
});

Deno.test("flood: a message in 1,000,000 one-byte fragments is held in one buffer of at most twice its size", () => {
  for (const [opcode, byte] of [[BINARY, 7], [TEXT, 0x61]] as const) {
    const reader = new MessageReader({ maxMessageBytes: 16 * 1024 * 1024 });
    const fragments = 1_000_000;
    const block = repeat(rawFrame(CONTINUATION, [byte], { fin: false }), 10_000);
    reader.feed(rawFrame(opcode, [byte], { fin: false }));
    assert.equal(reader.next(), NEED_MESSAGE_DATA);
    let most = 0;
    for (let i = 0; i < fragments / 10_000; i++) {
      reader.feed(block.slice()); // fed buffers are unmasked in place: a fresh copy each time
      assert.equal(reader.next(), NEED_MESSAGE_DATA);
      most = Math.max(most, reader.retainedBytes);
      const received = 1 + (i + 1) * 10_000;
      assert.ok(
        reader.retainedBytes <= 2 * received,
        `${reader.retainedBytes} B for ${received} B`,
      );
    }
    reader.feed(rawFrame(CONTINUATION, [byte]));
    const event = reader.next();
    const size = fragments + 2;
    if (opcode === BINARY) {
      assert.ok(event.type === "binary");
      assert.equal(event.data.length, size);
      assert.ok(event.data.every((value) => value === byte));
    } else {
      assert.ok(event.type === "text");
      assert.equal(event.text, "a".repeat(size));
    }
    assert.ok(most <= 2 * size, `at most ${most} B held for a ${size} B message`);
    assert.equal(reader.retainedBytes, 0, "nothing held between messages");
  }
});

Deno.test("flood: invalid UTF-8 in the 10,001st fragment of a text message fails at that fragment", () => {
  const reader = new MessageReader();
  reader.feed(join(
    rawFrame(TEXT, "é", { fin: false }),
    repeat(rawFrame(CONTINUATION, "é", { fin: false }), 10_000),
  ));
  assert.equal(reader.next(), NEED_MESSAGE_DATA);
  reader.feed(rawFrame(CONTINUATION, [0xc3, 0x28], { fin: false }));
  assert.throws(
    () => reader.next(),
    (error) => (error as { closeCode: number }).closeCode === 1007,
  );
});

Deno.test("flood: messages in 100,000 one-byte fragments, and text split inside characters, arrive intact end to end", async () => {
  await using server = serveWebSockets({ idleTimeout: 0 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  const fragments = 100_000;
  const bytes = new Uint8Array(fragments).map((_, i) => i & 0xff);
  const wire = new Uint8Array(fragments * 7);
  for (let i = 0; i < fragments; i++) {
    const first = i === 0;
    const last = i === fragments - 1;
    wire.set(rawFrame(first ? BINARY : CONTINUATION, [bytes[i]!], { fin: last }), i * 7);
  }
  const text = "aé€😀".repeat(10_000);
  const encoded = new TextEncoder().encode(text);
  const pieces = [];
  for (let i = 0; i < encoded.length; i++) {
    const last = i === encoded.length - 1;
    pieces.push(rawFrame(i === 0 ? TEXT : CONTINUATION, [encoded[i]!], { fin: last }));
  }
  await client.write(join(wire, ...pieces));
  const binary = await side.messages.next();
  assert.ok(binary instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(binary), bytes);
  assert.equal(await side.messages.next(), text);
  client.close();
  await side.closed;
});
