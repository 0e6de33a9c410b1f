/**
 * Interoperability with the `ws` package from npm (8.23.0, pinned in deno.lock through deno.json's
 * import map): the same conversation (support/ws_scenario.mjs) run by real Node, loading the
 * package from Deno's npm cache, and by Deno's own npm compatibility layer.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import WebSocketFromNpm from "ws";
import { serveWebSockets } from "./support/websocket_clients.ts";
import { scenario } from "./support/ws_scenario.mjs";

const NODE_CLIENT = fileURLToPath(new URL("./support/ws_node_client.mjs", import.meta.url));
/** The cached package's entry point (the static import above makes Deno fetch it). */
const WS_MODULE = import.meta.resolve("ws");

function nodeAvailable(): boolean {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const EXPECTED = {
  protocol: "chat",
  extensions: "",
  text: [false, "hello from ws"],
  binary: [true, [1, 2, 3]],
  fragmented: "fragment",
  pong: "keepalive",
  big: [1 << 20, 1, 0x5a],
  unicode: true,
  close: [4002, "bye from sockserve"],
  errors: [],
};

function echoServer() {
  return serveWebSockets({ protocol: "chat" }, (socket) => {
    socket.addEventListener("message", (event) => {
      if (event.data === "close-me") socket.close(4002, "bye from sockserve");
      else socket.send(event.data);
    });
  });
}

const ignoreWithoutNode = !nodeAvailable();

Deno.test({
  name: `interop: ws 8.23.0 under real Node${
    ignoreWithoutNode ? " (ignored: node is not installed)" : ""
  }`,
  ignore: ignoreWithoutNode,
  async fn() {
    await using server = echoServer();
    const output = await new Deno.Command("node", {
      args: [NODE_CLIENT, WS_MODULE, `ws://127.0.0.1:${server.port}/chat`],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, `node failed: ${stderr}`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), EXPECTED);
    const side = await server.sockets.next();
    const event = await side.closed;
    assert.equal(event.code, 4002, "ws echoed the server's code");
    assert.equal(event.wasClean, true);
    assert.equal(side.error, null);
  },
});

Deno.test("interop: ws 8.23.0 under Deno's npm compatibility layer", async () => {
  await using server = echoServer();
  const results = await scenario(WebSocketFromNpm, `ws://127.0.0.1:${server.port}/chat`);
  assert.deepEqual(results, EXPECTED);
  const side = await server.sockets.next();
  assert.equal((await side.closed).wasClean, true);
});
