/**
 * Hostile and broken clients against WebSockets upgraded through `serve()`, with a raw TCP client
 * that writes frames byte by byte as told: protocol violations get the right Close code and the
 * connection ends, a dead client is found by ping, a client that stops reading cannot grow the
 * server's memory past `maxBufferedAmount`, every way of leaving is reported to the application,
 * and each of them frees the connection's slot.
 */

import assert from "node:assert/strict";
import { OPCODE } from "../server/http1/websocket_frames.ts";
import {
  connectionCountReaches,
  handshakeRequest,
  RawClient,
  serveWebSockets,
} from "./support/websocket_clients.ts";
import { join, rawFrame } from "./support/websocket_frames.ts";

const { CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG } = OPCODE;
const closePayload = (code: number, reason = "") =>
  join(new Uint8Array([code >> 8, code & 0xff]), new TextEncoder().encode(reason));

/** Expects the server's Close with `code`, then the end of the connection. */
async function expectClose(client: RawClient, code: number): Promise<void> {
  const event = await client.nextEvent();
  assert.equal(event?.type, "close", `expected Close ${code}, got ${JSON.stringify(event)}`);
  if (event?.type === "close") assert.equal(event.code, code);
  assert.equal(await client.nextEvent(), null, "the server closes the connection after its Close");
}

for (
  const [name, frames, code, options] of [
    ["an unmasked frame", [rawFrame(TEXT, "hi", { mask: null })], 1002, {}],
    ["a reserved opcode", [rawFrame(0xb, "")], 1002, {}],
    ["RSV1 without permessage-deflate", [rawFrame(TEXT, "x", { rsv: 4 })], 1002, {}],
    ["a fragmented Ping", [rawFrame(PING, "", { fin: false })], 1002, {}],
    ["a Close with code 1005", [rawFrame(CLOSE, closePayload(1005))], 1002, {}],
    [
      "a Close whose reason is not UTF-8",
      [rawFrame(CLOSE, join(closePayload(1000), new Uint8Array([0xc3])))],
      1007,
      {},
    ],
    ["a continuation without a message", [rawFrame(CONTINUATION, "x")], 1002, {}],
    [
      "invalid UTF-8 in a first fragment (refused before the rest arrives)",
      [rawFrame(TEXT, [0x61, 0xed, 0xa0, 0x80], { fin: false })],
      1007,
      {},
    ],
    [
      "a frame over maxMessageSize (refused from its header, before its payload)",
      [rawFrame(BINARY, new Uint8Array(10), { announcedLength: 2048 })],
      1009,
      { maxMessageSize: 1024 },
    ],
    [
      "fragments adding up to more than maxMessageSize",
      [
        rawFrame(BINARY, new Uint8Array(600), { fin: false }),
        rawFrame(CONTINUATION, new Uint8Array(600)),
      ],
      1009,
      { maxMessageSize: 1024 },
    ],
  ] as const
) {
  Deno.test(`hostile: ${name} gets Close ${code}, an error event and the end of the connection`, async () => {
    await using server = serveWebSockets(options);
    const client = await RawClient.open(server.port);
    const side = await server.sockets.next();
    for (const frame of frames) await client.write(frame);
    await expectClose(client, code);
    client.close();
    const event = await side.closed;
    assert.equal(event.code, 1006, "no Close came back from the client (RFC 6455 §7.1.5)");
    assert.equal(event.wasClean, false);
    assert.ok(side.error !== null, "an error event fired");
    assert.deepEqual(side.events.slice(-2), [`error: ${side.error}`, "close"]);
    assert.ok(!side.events.includes("message"));
  });
}

Deno.test("hostile: a Ping is answered with its payload, also between the fragments of a message", async () => {
  await using server = serveWebSockets();
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  await client.write(rawFrame(PING, "abc"));
  assert.deepEqual(await client.nextEvent(), {
    type: "pong",
    data: new TextEncoder().encode("abc"),
  });
  await client.write(join(rawFrame(TEXT, "Hel", { fin: false }), rawFrame(PING, "p")));
  assert.deepEqual(await client.nextEvent(), { type: "pong", data: new TextEncoder().encode("p") });
  await client.write(join(rawFrame(PONG, "unsolicited"), rawFrame(CONTINUATION, "lo")));
  assert.equal(await side.messages.next(), "Hello");
  await client.write(rawFrame(CLOSE, closePayload(1000, "bye")));
  await expectClose(client, 1000);
  const event = await side.closed;
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "bye");
  assert.equal(event.wasClean, true);
  client.close();
});

Deno.test("hostile: frames sent right behind the handshake request are read", async () => {
  await using server = serveWebSockets();
  const client = await RawClient.open(
    server.port,
    join(rawFrame(TEXT, "early"), rawFrame(BINARY, [1])),
  );
  const side = await server.sockets.next();
  assert.equal(await side.messages.next(), "early");
  assert.deepEqual([...new Uint8Array((await side.messages.next()) as ArrayBuffer)], [1]);
  client.close();
  await side.closed;
});

Deno.test("hostile: a client that never answers pings is closed after idleTimeout", async () => {
  await using server = serveWebSockets({ idleTimeout: 1 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  const started = performance.now();
  assert.equal((await client.nextEvent())?.type, "ping");
  await expectClose(client, 1001);
  const event = await side.closed;
  const elapsed = performance.now() - started;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.match(side.error ?? "", /ping/);
  // Half the timeout to the Ping, half to the end; the clock ticks every 250 ms.
  assert.ok(elapsed >= 900, `closed after ${elapsed} ms`);
  assert.equal(await connectionCountReaches(server, 0), 0, "the slot is free");
  client.close();
});

Deno.test("hostile: a client that answers pings stays connected across many idle periods", async () => {
  await using server = serveWebSockets({ idleTimeout: 1 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  for (let i = 0; i < 3; i++) {
    const ping = await client.nextEvent();
    assert.equal(ping?.type, "ping");
    await client.write(rawFrame(PONG, ping?.type === "ping" ? ping.data : []));
  }
  assert.equal(side.socket.readyState, WebSocket.OPEN);
  await client.write(rawFrame(CLOSE, closePayload(1000)));
  await expectClose(client, 1000);
  assert.equal((await side.closed).wasClean, true);
  assert.equal(side.error, null);
  client.close();
});

Deno.test("hostile: a client that stops reading while the server sends cannot grow its memory past maxBufferedAmount", async () => {
  const limit = 1024 * 1024;
  await using server = serveWebSockets({ maxBufferedAmount: limit, idleTimeout: 0 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  const chunk = new Uint8Array(64 * 1024);
  let most = 0;
  let sent = 0;
  // The application ignores backpressure: it sends as fast as it can until the socket closes.
  while (side.socket.readyState === WebSocket.OPEN && sent < 100_000) {
    side.socket.send(chunk);
    sent++;
    most = Math.max(most, side.socket.bufferedAmount);
    if (sent % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.match(side.error ?? "", /maxBufferedAmount/);
  // The bound: maxBufferedAmount waiting behind the message being written.
  assert.ok(most <= limit + chunk.length, `bufferedAmount reached ${most}`);
  assert.ok(sent < 100_000, "the connection was dropped");
  assert.equal(await connectionCountReaches(server, 0), 0, "the slot is free");
  client.close();
});

Deno.test("hostile: a message larger than maxBufferedAmount reaches a slow client, with a Pong and a message queued behind it", async () => {
  const limit = 64 * 1024;
  await using server = serveWebSockets({ maxBufferedAmount: limit });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  const big = new Uint8Array(8 * 1024 * 1024).fill(7);
  side.socket.send(big);
  // 8 MiB is more than loopback's socket buffers hold for a client that does not read: the
  // message is still being written when the Ping and the next message queue up behind it.
  await client.write(join(rawFrame(PING, "behind"), rawFrame(TEXT, "pinged")));
  // Frames are handled in order: once "pinged" is delivered, the Pong is queued.
  const pinged = await Promise.race([
    side.messages.next(),
    side.closed.then((event) => `closed ${event.code}: ${side.error}`),
  ]);
  assert.equal(pinged, "pinged");
  assert.ok(side.socket.bufferedAmount > 0, "the large message is still being written");
  side.socket.send("after");
  const first = await client.nextEvent();
  assert.ok(first?.type === "binary" && first.data.length === big.length && first.data[9] === 7);
  assert.deepEqual(await client.nextEvent(), {
    type: "pong",
    data: new TextEncoder().encode("behind"),
  });
  assert.deepEqual(await client.nextEvent(), { type: "text", text: "after" });
  assert.equal(side.socket.readyState, WebSocket.OPEN);
  assert.equal(side.error, null);
  client.close();
  await side.closed;
});

Deno.test("hostile: a client that leaves without a Close frame is reported (1006, no error event)", async () => {
  await using server = serveWebSockets();
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  await client.write(rawFrame(TEXT, "partial", { fin: false }));
  await client.conn.closeWrite();
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.equal(side.error, null);
  client.close();
});

Deno.test("hostile: a client that never answers the server's Close is cut off after closeTimeout", async () => {
  await using server = serveWebSockets({ closeTimeout: 0.5 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  side.socket.close(4000, "go");
  const close = await client.nextEvent();
  assert.ok(close?.type === "close" && close.code === 4000);
  assert.equal(await client.nextEvent(), null, "the server closed the connection");
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  client.close();
});

Deno.test("hostile: on shutdown, a client that ignores Close 1001 is cut off when the grace period ends", async () => {
  await using server = serveWebSockets({ closeTimeout: 60 }, undefined, { gracePeriodMs: 300 });
  const client = await RawClient.open(server.port);
  const side = await server.sockets.next();
  await server.server.shutdown();
  const close = await client.nextEvent();
  assert.ok(close?.type === "close" && close.code === 1001);
  assert.equal(await client.nextEvent(), null);
  assert.equal((await side.closed).code, 1006);
  client.close();
});

for (
  const [name, fields, status] of [
    ["Sec-WebSocket-Version: 8", { "sec-websocket-version": "8" }, 426],
    ["a key of 10 bytes", { "sec-websocket-key": "AAAAAAAAAAAAAA==" }, 400],
    ["no Connection: upgrade", { connection: "keep-alive" }, 400],
  ] as const
) {
  Deno.test(`hostile: a handshake with ${name} is answered ${status} without switching`, async () => {
    await using server = serveWebSockets();
    const client = await RawClient.connect(server.port, handshakeRequest(fields));
    const response = await client.readResponse();
    assert.match(response, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.doesNotMatch(response, /sec-websocket-accept/i);
    if (status === 426) {
      assert.match(response, /\r\nsec-websocket-version: 13\r\n/);
      assert.match(response, /\r\nupgrade: websocket\r\n/);
      assert.match(response, /\r\nconnection: close, upgrade\r\n/);
    }
    await client.readToEnd();
    client.close();
    assert.equal(server.sockets.pending.length, 0, "no socket was made");
    assert.deepEqual(server.errors, [], "the client's fault: onError is not called");
  });
}
