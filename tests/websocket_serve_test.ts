/**
 * upgradeWebSocket() through serve(), where the engine and the WebSocket meet
 * (server/connection/protocol_switch.ts): the engine writes the 101 and hands the connection
 * over; the connection stays counted (maxConnections) until the WebSocket closes it, a client
 * that leaves frees its slot, shutdown() ends it with Close 1001, and a handshake that is not
 * valid is the client's fault (400 or 426, never 500 or onError).
 */
import assert from "node:assert/strict";
import { join as joinPath } from "node:path";
import { markAcceptsRequestLike, serve, upgradeWebSocket } from "../server/mod.ts";
import { OPCODE } from "../server/http1/websocket_frames.ts";
import { deferred, startServer } from "./support/test_server.ts";
import {
  connectionCountReaches,
  denoClient,
  handshakeRequest,
  RawClient,
  serveWebSockets,
  watchSocket,
} from "./support/websocket_clients.ts";
import { join, rawFrame } from "./support/websocket_frames.ts";

function echoServer(options = {}) {
  return startServer((request) => {
    if (request.headers.get("upgrade") !== "websocket") return new Response("plain");
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  }, options);
}

Deno.test("a_websocket_upgraded_by_serve_echoes_and_the_connection_stays_counted", async () => {
  await using test = echoServer();
  const client = await denoClient(test.port);
  client.ws.send("hello");
  assert.equal(await client.messages.next(), "hello");
  assert.equal(test.server.connectionCount as number, 1);
  client.ws.close(1000, "bye");
  assert.equal((await client.closed).code, 1000);
  assert.equal(await connectionCountReaches(test, 0), 0);
});

Deno.test("shutdown_closes_an_open_websocket_with_1001", async () => {
  const test = echoServer({ gracePeriodMs: 2000 });
  const client = await denoClient(test.port);
  await test.server.shutdown();
  assert.equal((await client.closed).code, 1001);
});

Deno.test("a_bad_handshake_let_through_by_the_handler_gets_400_not_500", async () => {
  await using test = echoServer();
  const response = await fetch(`http://127.0.0.1:${test.port}/chat`, {
    headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-version": "13" },
  });
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("connection"), "close");
  await response.body?.cancel();
  assert.deepEqual(test.errors, []);
});

Deno.test("max_connections_counts_an_upgraded_connection_until_the_websocket_closes", async () => {
  await using test = echoServer({ maxConnections: 1 });
  const first = await denoClient(test.port);
  // Over the limit: accepted and closed at once, without a byte.
  const refused = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
  await refused.write(new TextEncoder().encode(handshakeRequest()));
  const buffer = new Uint8Array(1024);
  const read = await refused.read(buffer).catch(() => null);
  assert.equal(read, null, "the connection over maxConnections got no answer");
  refused.close();
  first.ws.send("still here");
  assert.equal(await first.messages.next(), "still here");

  first.ws.close();
  await first.closed;
  assert.equal(await connectionCountReaches(test, 0), 0);
  const second = await denoClient(test.port);
  second.ws.send("my turn");
  assert.equal(await second.messages.next(), "my turn");
  second.ws.close();
  await second.closed;
});

for (
  const [name, handler] of [
    ["a Request", (request: Request) => upgradeWebSocket(request).response],
    [
      "a parsed head (markAcceptsRequestLike)",
      markAcceptsRequestLike((request: Request) => upgradeWebSocket(request).response),
    ],
  ] as const
) {
  Deno.test(`an_http_1_0_handshake_is_refused_with_400: ${name}`, async () => {
    await using test = startServer(handler);
    const client = await RawClient.connect(test.port, handshakeRequest({}, "1.0"));
    const response = await client.readResponse();
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(response, /sec-websocket-accept/i);
    await client.readToEnd();
    client.close();
    assert.deepEqual(test.errors, []);
  });
}

Deno.test("a_client_that_leaves_without_a_close_frame_frees_its_slot", async () => {
  await using test = serveWebSockets();
  const client = await RawClient.open(test.port);
  const side = await test.sockets.next();
  assert.equal(test.server.connectionCount, 1);
  client.close();
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.equal(await connectionCountReaches(test, 0), 0);
});

Deno.test("a_client_that_resets_while_the_server_sends_frees_its_slot", async () => {
  await using test = serveWebSockets({ idleTimeout: 0 });
  const client = await RawClient.open(test.port);
  const side = await test.sockets.next();
  side.socket.send(new Uint8Array(256 * 1024));
  // Closing with unread bytes in its receive buffer makes the client's kernel send a reset.
  await new Promise((resolve) => setTimeout(resolve, 50));
  client.close();
  for (let i = 0; i < 64 && side.socket.readyState === WebSocket.OPEN; i++) {
    side.socket.send(new Uint8Array(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const event = await side.closed;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.equal(await connectionCountReaches(test, 0), 0);
});

Deno.test("frames_sent_while_an_async_handler_decides_are_delivered_in_order", async () => {
  const decide = deferred();
  const sides = Promise.withResolvers<ReturnType<typeof watchSocket>>();
  await using test = startServer(async (request) => {
    await decide.promise;
    const { socket, response } = upgradeWebSocket(request);
    sides.resolve(watchSocket(socket));
    return response;
  });
  const client = await RawClient.connect(test.port);
  // The server may read these while the handler runs (its read in flight to notice a departure)
  // or after the switch: either way they are the WebSocket's, in order.
  await client.write(join(rawFrame(OPCODE.TEXT, "one"), rawFrame(OPCODE.TEXT, "two")));
  decide.resolve();
  assert.match(await client.readHead(), /^HTTP\/1\.1 101 /);
  const side = await sides.promise;
  assert.equal(await side.messages.next(), "one");
  assert.equal(await side.messages.next(), "two");
  client.close();
  await side.closed;
});

Deno.test("an_upgrade_answered_while_the_server_shuts_down_is_closed_with_1001_at_once", async () => {
  const entered = deferred();
  const decide = deferred();
  const opened = deferred<WebSocket>();
  const test = startServer(async (request) => {
    entered.resolve();
    await decide.promise;
    const { socket, response } = upgradeWebSocket(request);
    socket.onopen = () => opened.resolve(socket);
    return response;
  }, { gracePeriodMs: 5000 });
  const client = await RawClient.connect(test.port);
  await entered.promise;
  const stopped = test.server.shutdown();
  decide.resolve();
  assert.match(await client.readHead(), /^HTTP\/1\.1 101 /);
  const close = await client.nextEvent();
  assert.ok(close?.type === "close" && close.code === 1001, JSON.stringify(close));
  await client.write(rawFrame(OPCODE.CLOSE, new Uint8Array([0x03, 0xe9])));
  assert.equal(await client.nextEvent(), null, "closed after the client's Close");
  await stopped;
  assert.equal((await opened.promise).readyState, WebSocket.CLOSED);
  client.close();
});

Deno.test("a_websocket_upgraded_over_a_unix_socket_echoes_and_closes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_ws_unix_" });
  try {
    const path = joinPath(dir, "ws.sock");
    const sides = Promise.withResolvers<ReturnType<typeof watchSocket>>();
    await using server = serve({ path, onListen() {} }, (request) => {
      const { socket, response } = upgradeWebSocket(request);
      sides.resolve(watchSocket(socket));
      socket.addEventListener("message", (event) => socket.send(event.data));
      return response;
    });
    const client = await RawClient.over(await Deno.connect({ transport: "unix", path }));
    await client.write(rawFrame(OPCODE.TEXT, "over unix"));
    assert.deepEqual(await client.nextEvent(), { type: "text", text: "over unix" });
    assert.equal(server.connectionCount, 1);
    await client.write(rawFrame(OPCODE.CLOSE, new Uint8Array([0x03, 0xe8])));
    const close = await client.nextEvent();
    assert.ok(close?.type === "close" && close.code === 1000, JSON.stringify(close));
    assert.equal(await client.nextEvent(), null, "the server closes after the closing handshake");
    assert.equal((await (await sides.promise).closed).wasClean, true);
    client.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
