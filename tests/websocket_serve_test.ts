/**
 * upgradeWebSocket() through serve(): the engine writes the 101 and hands the connection over
 * (server/connection/protocol_switch.ts); the connection stays counted until the WebSocket
 * closes, and shutdown() ends it with Close 1001.
 */
import assert from "node:assert/strict";
import { upgradeWebSocket } from "../server/mod.ts";
import { startServer } from "./support/test_server.ts";

function echoServer(options = {}) {
  return startServer((request) => {
    if (request.headers.get("upgrade") !== "websocket") return new Response("plain");
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  }, options);
}

function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = (event) => reject(new Error(`websocket error: ${(event as ErrorEvent).message}`));
  });
}

function nextMessage(ws: WebSocket): Promise<unknown> {
  return new Promise((resolve) =>
    ws.addEventListener("message", (e) => resolve(e.data), { once: true })
  );
}

Deno.test("a_websocket_upgraded_by_serve_echoes_and_the_connection_stays_counted", async () => {
  await using test = echoServer();
  const ws = await open(test.port);
  ws.send("hello");
  assert.equal(await nextMessage(ws), "hello");
  assert.equal(test.server.connectionCount as number, 1);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.close(1000, "bye");
  assert.equal((await closed).code, 1000);
  // The slot is freed when the WebSocket has closed its connection (no event to wait on from
  // outside the server: poll, bounded).
  const deadline = Date.now() + 3000;
  while (test.server.connectionCount > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(test.server.connectionCount, 0);
});

Deno.test("shutdown_closes_an_open_websocket_with_1001", async () => {
  const test = echoServer({ gracePeriodMs: 2000 });
  const ws = await open(test.port);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  await test.server.shutdown();
  assert.equal((await closed).code, 1001);
});

Deno.test("a_bad_handshake_let_through_by_the_handler_gets_400_not_500", async () => {
  await using test = echoServer();
  const response = await fetch(`http://127.0.0.1:${test.port}/chat`, {
    headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-version": "13" },
  });
  assert.equal(response.status, 400);
  await response.body?.cancel();
  assert.deepEqual(test.errors, []);
});
