/**
 * The server socket end to end against Deno's own WebSocket client, through `serve()` over real
 * TCP on loopback: messages of every kind both ways, the web API's states and errors, the closing
 * handshake from either side, and shutdown.
 */

import assert from "node:assert/strict";
import { denoClient, serveWebSockets } from "./support/websocket_clients.ts";

const text = (value: unknown) => value as string;
const bytesOf = (value: unknown) => [...new Uint8Array(value as ArrayBuffer)];

Deno.test("socket: text and every binary kind reach Deno's client and come back, in order", async () => {
  await using server = serveWebSockets();
  const client = await denoClient(server.port);
  const side = await server.sockets.next();
  assert.deepEqual(side.events, ["open"]);
  assert.equal(side.socket.readyState, WebSocket.OPEN);

  const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
  side.socket.send("héllo ✓ 😀");
  side.socket.send(new Uint8Array([1, 2, 3]).buffer);
  side.socket.send(backing.subarray(2, 5));
  side.socket.send(new DataView(backing.buffer, 3, 2));
  side.socket.send(new Blob([new Uint8Array([7, 7])]));
  side.socket.send("after the blob");
  side.socket.send(new Uint16Array([0x0102]));
  backing.fill(0); // send() copied the bytes already
  assert.equal(text(await client.messages.next()), "héllo ✓ 😀");
  assert.deepEqual(bytesOf(await client.messages.next()), [1, 2, 3]);
  assert.deepEqual(bytesOf(await client.messages.next()), [1, 2, 3]);
  assert.deepEqual(bytesOf(await client.messages.next()), [2, 3]);
  assert.deepEqual(bytesOf(await client.messages.next()), [7, 7]);
  assert.equal(text(await client.messages.next()), "after the blob");
  assert.deepEqual(bytesOf(await client.messages.next()), [
    ...new Uint8Array(new Uint16Array([0x0102]).buffer),
  ]);

  client.ws.send("from the client");
  client.ws.send(new Uint8Array([4, 5, 6]));
  client.ws.send("");
  assert.equal(await side.messages.next(), "from the client");
  const binary = await side.messages.next();
  assert.ok(binary instanceof ArrayBuffer, "binaryType arraybuffer by default, as in Deno");
  assert.deepEqual(bytesOf(binary), [4, 5, 6]);
  assert.equal(await side.messages.next(), "");

  side.socket.binaryType = "blob";
  client.ws.send(new Uint8Array([8]));
  const blob = await side.messages.next();
  assert.ok(blob instanceof Blob);
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [8]);

  client.ws.close();
  await side.closed;
  await client.closed;
});

Deno.test("socket: large messages both ways (4 MiB binary, 1 MiB text) and a burst of 2000 small ones", async () => {
  await using server = serveWebSockets({}, (socket) => {
    socket.onmessage = (event) => socket.send(event.data);
  });
  const client = await denoClient(server.port);
  const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i * 31);
  client.ws.send(big);
  const echoed = new Uint8Array((await client.messages.next()) as ArrayBuffer);
  assert.equal(echoed.length, big.length);
  assert.ok(echoed.every((byte, i) => byte === big[i]));
  const long = "ü".repeat(512 * 1024);
  client.ws.send(long);
  assert.equal(await client.messages.next(), long);
  for (let i = 0; i < 2000; i++) client.ws.send(`m${i}`);
  for (let i = 0; i < 2000; i++) assert.equal(await client.messages.next(), `m${i}`);
  client.ws.close();
  await client.closed;
});

Deno.test("socket: the client closes: the server echoes its code, both sides close cleanly", async () => {
  await using server = serveWebSockets();
  const client = await denoClient(server.port);
  const side = await server.sockets.next();
  client.ws.close(4001, "client is done");
  const serverClose = await side.closed;
  assert.equal(serverClose.code, 4001);
  assert.equal(serverClose.reason, "client is done");
  assert.equal(serverClose.wasClean, true);
  assert.equal(side.socket.readyState, WebSocket.CLOSED);
  const clientClose = await client.closed;
  assert.equal(clientClose.code, 4001);
  assert.equal(clientClose.wasClean, true);
  assert.deepEqual(side.events, ["open", "close"]);
});

Deno.test("socket: the server closes with a code and reason; messages after close() are not delivered", async () => {
  await using server = serveWebSockets();
  const client = await denoClient(server.port);
  const side = await server.sockets.next();
  side.socket.send("last words");
  side.socket.close(1000, "server is done");
  assert.equal(side.socket.readyState, WebSocket.CLOSING);
  side.socket.send("ignored after close()");
  side.socket.close(4000, "a second close() does nothing");
  assert.equal(await client.messages.next(), "last words");
  const clientClose = await client.closed;
  assert.equal(clientClose.code, 1000);
  assert.equal(clientClose.reason, "server is done");
  assert.equal(clientClose.wasClean, true);
  const serverClose = await side.closed;
  assert.equal(serverClose.code, 1000, "the client's echo");
  assert.equal(serverClose.wasClean, true);
  assert.equal(client.messages.pending.length, 0);
  assert.deepEqual(side.events, ["open", "close"]);
});

Deno.test("socket: close() without a code sends a Close without status (1005); with only a reason, 1000", async () => {
  await using server = serveWebSockets();
  const first = await denoClient(server.port);
  (await server.sockets.next()).socket.close();
  assert.equal((await first.closed).code, 1005);
  const second = await denoClient(server.port);
  (await server.sockets.next()).socket.close(undefined, "just a reason");
  const event = await second.closed;
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "just a reason");
});

Deno.test("socket: a server may close with the registered codes a browser may not send (1001, 1011)", async () => {
  await using server = serveWebSockets();
  for (const code of [1001, 1011]) {
    const client = await denoClient(server.port);
    (await server.sockets.next()).socket.close(code);
    assert.equal((await client.closed).code, code);
  }
});

Deno.test("socket: close() in onopen and send() in onmessage behave as in the web API", async () => {
  await using server = serveWebSockets({}, (socket) => {
    socket.addEventListener("open", () => socket.send("welcome"));
    socket.addEventListener("message", (event) => {
      if (event.data === "bye") socket.close(4002, "as asked");
    });
  });
  const client = await denoClient(server.port);
  assert.equal(await client.messages.next(), "welcome");
  client.ws.send("bye");
  const event = await client.closed;
  assert.equal(event.code, 4002);
  assert.equal(event.reason, "as asked");
});

Deno.test("socket: a close() before the connection is handed over is sent once it is, without open", async () => {
  await using server = serveWebSockets({}, (socket) => socket.close(4003, "not now"));
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  const closed = Promise.withResolvers<CloseEvent>();
  ws.onclose = closed.resolve;
  const event = await closed.promise;
  const side = await server.sockets.next();
  await side.closed;
  assert.equal(event.code, 4003);
  assert.equal(event.reason, "not now");
  assert.ok(!side.events.includes("open"));
});

Deno.test("socket: bufferedAmount counts queued message bytes and returns to 0 once written", async () => {
  await using server = serveWebSockets();
  const client = await denoClient(server.port);
  const side = await server.sockets.next();
  side.socket.send("12345");
  side.socket.send(new Uint8Array(1000));
  side.socket.send(new Blob(["abc"]));
  assert.equal(
    side.socket.bufferedAmount,
    5 + 1000 + 3,
    "UTF-8 and binary bytes, no frame overhead",
  );
  await client.messages.next();
  await client.messages.next();
  await client.messages.next();
  // The client got every message, and the server then got one back: every write completed.
  client.ws.send("round trip");
  await side.messages.next();
  assert.equal(side.socket.bufferedAmount, 0);
  client.ws.close();
  await side.closed;
});

Deno.test("socket: the subprotocol is negotiated and shown on both sides", async () => {
  await using server = serveWebSockets({ protocol: ["v2.chat", "v1.chat"] });
  const client = await denoClient(server.port, ["v1.chat", "v2.chat"]);
  const side = await server.sockets.next();
  assert.equal(client.ws.protocol, "v2.chat", "the server's preference");
  assert.equal(side.socket.protocol, "v2.chat");
  client.ws.close();
  await side.closed;
});

Deno.test("socket: shutdown sends Close 1001 and the socket closes cleanly within the grace period", async () => {
  await using server = serveWebSockets({}, undefined, { gracePeriodMs: 10_000 });
  const clients = [await denoClient(server.port), await denoClient(server.port)];
  const sides = [await server.sockets.next(), await server.sockets.next()];
  await server.server.shutdown();
  for (const client of clients) {
    const event = await client.closed;
    assert.equal(event.code, 1001);
    assert.equal(event.reason, "server shutting down");
  }
  for (const side of sides) {
    const event = await side.closed;
    assert.equal(event.wasClean, true);
    assert.equal(event.code, 1001);
  }
});

Deno.test("socket: send() before open throws InvalidStateError, send() without data a TypeError", async () => {
  await using server = serveWebSockets({}, (socket) => {
    assert.throws(
      () => socket.send("x"),
      (error) => (error as DOMException).name === "InvalidStateError",
    );
    // deno-lint-ignore no-explicit-any
    assert.throws(() => (socket.send as any)(), TypeError);
  });
  const client = await denoClient(server.port);
  const side = await server.sockets.next();
  client.ws.close();
  await side.closed;
  side.socket.send("after close: silently dropped");
  assert.equal(side.socket.bufferedAmount, 0);
});
