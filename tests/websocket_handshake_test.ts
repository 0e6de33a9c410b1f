/**
 * The opening handshake: the pure validation table (RFC 6455 §4.2.1), the accept value of RFC
 * 6455 §1.3, and what `upgradeWebSocket()` returns and hands the engine (the exact 101 head).
 */

import assert from "node:assert/strict";
import { encodeResponseHead } from "../server/http1/response_head.ts";
import {
  type HandshakeResult,
  switchingProtocolsHeaders,
  validateHandshake,
} from "../server/http1/websocket_handshake.ts";
import { takeProtocolSwitch } from "../server/connection/protocol_switch.ts";
import {
  computeAccept,
  createWebSocketUpgrade,
  upgradeWebSocket,
  WebSocketHandshakeError,
} from "../server/websocket/upgrade.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

function handshake(
  fields: Record<string, string | null>,
  method = "GET",
  minorVersion = 1,
  protocols: string[] = [],
): HandshakeResult {
  const headers = new Headers();
  const all: Record<string, string | null> = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": KEY,
    "sec-websocket-version": "13",
    ...fields,
  };
  for (const [name, value] of Object.entries(all)) if (value !== null) headers.append(name, value);
  return validateHandshake({ method, minorVersion, headers }, protocols);
}

interface Row {
  name: string;
  fields?: Record<string, string | null>;
  method?: string;
  minorVersion?: number;
  protocols?: string[];
  /** Expected: the selected protocol (null for none), or the rejection status. */
  protocol?: string | null;
  status?: 400 | 426;
}

const ROWS: Row[] = [
  { name: "RFC 6455 §1.3's example", protocol: null },
  {
    name: "Upgrade and Connection in any case",
    fields: { upgrade: "WebSocket", connection: "UPGRADE" },
    protocol: null,
  },
  {
    name: "Connection as a list (Firefox: keep-alive, Upgrade)",
    fields: { connection: "keep-alive, Upgrade" },
    protocol: null,
  },
  {
    name: "Upgrade as a list with whitespace",
    fields: { upgrade: "h2c ,\twebsocket" },
    protocol: null,
  },
  { name: "Content-Length: 0 is no content", fields: { "content-length": "0" }, protocol: null },
  {
    name: "a key with the other valid last characters",
    fields: { "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAAAw==" },
    protocol: null,
  },
  { name: "POST", method: "POST", status: 400 },
  { name: "HEAD", method: "HEAD", status: 400 },
  { name: "HTTP/1.0", minorVersion: 0, status: 400 },
  { name: "no Upgrade", fields: { upgrade: null }, status: 400 },
  { name: "Upgrade: websocket2", fields: { upgrade: "websocket2" }, status: 400 },
  {
    name: "Upgrade: websocket/13 (a version is not the token)",
    fields: { upgrade: "websocket/13" },
    status: 400,
  },
  { name: "no Connection", fields: { connection: null }, status: 400 },
  { name: "Connection: keep-alive only", fields: { connection: "keep-alive" }, status: 400 },
  {
    name: "Connection: upgraded (a prefix is not a token)",
    fields: { connection: "upgraded" },
    status: 400,
  },
  { name: "request content by length", fields: { "content-length": "5" }, status: 400 },
  { name: "request content chunked", fields: { "transfer-encoding": "chunked" }, status: 400 },
  { name: "no version", fields: { "sec-websocket-version": null }, status: 426 },
  { name: "version 8 (hybi draft)", fields: { "sec-websocket-version": "8" }, status: 426 },
  { name: "versions 13 and 8", fields: { "sec-websocket-version": "13, 8" }, status: 426 },
  {
    name: "version checked before the key (an old draft learns the version)",
    fields: { "sec-websocket-version": "0", "sec-websocket-key": null },
    status: 426,
  },
  { name: "no key", fields: { "sec-websocket-key": null }, status: 400 },
  {
    name: "a key of 15 bytes",
    fields: { "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAA" },
    status: 400,
  },
  {
    name: "a key of 17 bytes",
    fields: { "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAAAAA=" },
    status: 400,
  },
  {
    name: "a key without padding",
    fields: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ" },
    status: 400,
  },
  {
    name: "a key with non-zero pad bits",
    fields: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZR==" },
    status: 400,
  },
  {
    name: "a key in base64url",
    fields: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZ_==" },
    status: 400,
  },
  {
    name: "a key that is not base64",
    fields: { "sec-websocket-key": "not a key at all!!!!!!==" },
    status: 400,
  },
  {
    name: "two keys (joined with a comma)",
    fields: { "sec-websocket-key": `${KEY}, ${KEY}` },
    status: 400,
  },
  {
    name: "offered protocols, server speaks none: none selected",
    fields: { "sec-websocket-protocol": "chat" },
    protocol: null,
  },
  {
    name: "the server's preference wins",
    fields: { "sec-websocket-protocol": "chat, superchat" },
    protocols: ["superchat", "chat"],
    protocol: "superchat",
  },
  {
    name: "a protocol offered in a second field line",
    fields: { "sec-websocket-protocol": "a, b" },
    protocols: ["b"],
    protocol: "b",
  },
  {
    name: "protocols are case-sensitive",
    fields: { "sec-websocket-protocol": "Chat" },
    protocols: ["chat"],
    status: 400,
  },
  {
    name: "none of the server's protocols offered",
    fields: { "sec-websocket-protocol": "x" },
    protocols: ["chat"],
    status: 400,
  },
  { name: "no protocol offered to a server that needs one", protocols: ["chat"], status: 400 },
  {
    name: "empty list elements are ignored",
    fields: { "sec-websocket-protocol": ", chat ," },
    protocols: ["chat"],
    protocol: "chat",
  },
  {
    name: "a protocol that is not a token",
    fields: { "sec-websocket-protocol": "a b" },
    status: 400,
  },
];

for (const row of ROWS) {
  Deno.test(`handshake: ${row.name}`, () => {
    const result = handshake(row.fields ?? {}, row.method, row.minorVersion, row.protocols);
    if (row.status !== undefined) {
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.status, row.status);
      if (row.status === 426) {
        assert.deepEqual(result.headers, [["upgrade", "websocket"], [
          "sec-websocket-version",
          "13",
        ]]);
      }
    } else {
      assert.equal(result.ok, true, result.ok ? "" : result.reason);
      if (!result.ok) return;
      assert.equal(result.protocol, row.protocol);
    }
  });
}

Deno.test("handshake: RFC 6455 §1.3's accept value, with WebCrypto's SHA-1", async () => {
  assert.equal(await computeAccept(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("handshake: a sender of Upgrade sends the upgrade connection option (RFC 9110 §7.8)", () => {
  const head = (close: boolean, keepAliveHeader = false) =>
    encodeResponseHead({
      status: 426,
      fields: [["upgrade", "websocket"], ["connection", "whatever"]],
      framing: { kind: "length", length: 0 },
      announcedLength: null,
      connection: close ? "close" : keepAliveHeader ? "keep-alive" : "none",
      date: DATE,
    });
  assert.match(head(false), /\r\nconnection: upgrade\r\n\r\n$/);
  assert.match(head(true), /\r\nconnection: close, upgrade\r\n\r\n$/);
  assert.match(head(false, true), /\r\nconnection: keep-alive, upgrade\r\n\r\n$/);
  assert.doesNotMatch(head(false), /whatever/);
});

function handshakeRequest(fields: Record<string, string> = {}): Request {
  return new Request("http://localhost/chat", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": KEY,
      "sec-websocket-version": "13",
      ...fields,
    },
  });
}

Deno.test("upgradeWebSocket: a CONNECTING socket and a 101 response, as Deno.upgradeWebSocket", () => {
  const { socket, response } = upgradeWebSocket(
    handshakeRequest({ "sec-websocket-protocol": "chat, superchat" }),
    { protocol: "chat" },
  );
  assert.equal(socket.readyState, WebSocket.CONNECTING);
  assert.equal(socket.protocol, "chat");
  assert.equal(socket.binaryType, "arraybuffer");
  assert.equal(socket.bufferedAmount, 0);
  assert.equal(socket.url, "");
  assert.equal(socket.extensions, "");
  assert.equal(response.status, 101);
  assert.equal(response.statusText, "Switching Protocols");
  assert.equal(response.body, null);
  assert.equal(response.headers.get("upgrade"), "websocket");
  assert.equal(response.headers.get("sec-websocket-protocol"), "chat");
  assert.throws(
    () => socket.send("early"),
    (error) => (error as DOMException).name === "InvalidStateError",
  );
});

Deno.test("upgradeWebSocket: the engine gets the exact 101 head once, with headers the handler added", async () => {
  const { response } = upgradeWebSocket(
    handshakeRequest({ "sec-websocket-protocol": "superchat" }),
    { protocol: ["chat", "superchat"] },
  );
  response.headers.set("set-cookie", "session=1");
  response.headers.set("sec-websocket-accept", "forged");
  const pending = takeProtocolSwitch(response);
  assert.ok(pending !== null);
  assert.equal(takeProtocolSwitch(response), null, "a response upgrades one connection");
  assert.equal(takeProtocolSwitch(new Response("x")), null);
  const head = new TextDecoder().decode(await pending.responseHead(DATE));
  assert.equal(
    head,
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "upgrade: websocket\r\n" +
      "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
      "sec-websocket-protocol: superchat\r\n" +
      "set-cookie: session=1\r\n" +
      `date: ${DATE}\r\n` +
      "connection: upgrade\r\n\r\n",
  );
  assert.equal(response.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.deepEqual(switchingProtocolsHeaders("a", null), [["upgrade", "websocket"], [
    "sec-websocket-accept",
    "a",
  ]]);
});

Deno.test("upgradeWebSocket: an invalid handshake throws a TypeError carrying its 400 or 426 response", async () => {
  assert.throws(() => upgradeWebSocket(new Request("http://localhost/")), TypeError);
  try {
    upgradeWebSocket(handshakeRequest({ "sec-websocket-version": "8" }));
    assert.fail("no error");
  } catch (error) {
    assert.ok(error instanceof WebSocketHandshakeError);
    assert.ok(error instanceof TypeError);
    assert.equal(error.status, 426);
    const response = error.toResponse();
    assert.equal(response.status, 426);
    assert.equal(response.headers.get("sec-websocket-version"), "13");
    assert.equal(response.headers.get("upgrade"), "websocket");
    assert.equal(await response.text(), "426 Upgrade Required\n");
  }
  try {
    upgradeWebSocket(handshakeRequest({ "sec-websocket-key": "short" }));
    assert.fail("no error");
  } catch (error) {
    assert.ok(error instanceof WebSocketHandshakeError);
    assert.equal(error.status, 400);
    assert.equal(await error.toResponse().text(), "400 Bad Request\n");
  }
});

Deno.test("upgradeWebSocket: invalid options throw at once", () => {
  const request = () => handshakeRequest();
  assert.throws(() => upgradeWebSocket(request(), { idleTimeout: -1 }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { idleTimeout: Infinity }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { closeTimeout: NaN }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { maxMessageSize: 0 }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { maxMessageSize: 1.5 }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { maxBufferedAmount: -5 }), RangeError);
  assert.throws(() => upgradeWebSocket(request(), { protocol: "two words" }), TypeError);
  assert.throws(() => upgradeWebSocket(request(), { protocol: [""] }), TypeError);
  assert.doesNotThrow(() => upgradeWebSocket(request(), { idleTimeout: 0, closeTimeout: 0.5 }));
});

Deno.test("upgradeWebSocket: the HTTP version of a parsed head is checked", () => {
  assert.throws(
    () =>
      createWebSocketUpgrade({
        method: "GET",
        minorVersion: 0,
        headers: handshakeRequest().headers,
      }),
    (error) => error instanceof WebSocketHandshakeError && error.status === 400,
  );
});

Deno.test("upgradeWebSocket: close() validates like the web API before the connection opens", () => {
  const { socket } = upgradeWebSocket(handshakeRequest());
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 65535]) {
    assert.throws(
      () => socket.close(code),
      (error) => (error as DOMException).name === "InvalidAccessError",
      String(code),
    );
  }
  assert.throws(
    () => socket.close(1000, "x".repeat(124)),
    (error) => (error as DOMException).name === "SyntaxError",
  );
  assert.throws(
    () => socket.close(1000, "é".repeat(62)),
    (error) => (error as DOMException).name === "SyntaxError",
  );
  assert.throws(
    () => socket.close(70000),
    (error) => (error as DOMException).name === "InvalidAccessError",
    "clamped to 65535",
  );
  socket.close(1000.4, "é".repeat(61));
  assert.equal(socket.readyState, WebSocket.CLOSING);
  socket.close(4000);
  assert.equal(socket.readyState, WebSocket.CLOSING);
});

Deno.test("upgradeWebSocket: an upgrade the engine aborts fires error then close (1006)", async () => {
  const { socket, response } = upgradeWebSocket(handshakeRequest());
  const events: string[] = [];
  const closed = Promise.withResolvers<CloseEvent>();
  socket.onerror = (event) => events.push(`error: ${(event as ErrorEvent).message}`);
  socket.addEventListener("close", (event) => {
    events.push("close");
    closed.resolve(event);
  });
  takeProtocolSwitch(response)!.abort("client gone");
  const event = await closed.promise;
  assert.deepEqual(events, ["error: client gone", "close"]);
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.equal(socket.readyState, WebSocket.CLOSED);
});

Deno.test("upgradeWebSocket: event handler attributes keep their place and can be removed", () => {
  const { socket } = upgradeWebSocket(handshakeRequest());
  const seen: string[] = [];
  socket.onmessage = () => seen.push("first handler");
  socket.addEventListener("message", () => seen.push("listener"));
  socket.onmessage = () => seen.push("second handler");
  socket.dispatchEvent(new MessageEvent("message", { data: "x" }));
  assert.deepEqual(seen, ["second handler", "listener"]);
  socket.onmessage = null;
  assert.equal(socket.onmessage, null);
  socket.dispatchEvent(new MessageEvent("message", { data: "x" }));
  assert.deepEqual(seen, ["second handler", "listener", "listener"]);
  socket.binaryType = "blob";
  assert.equal(socket.binaryType, "blob");
  socket.binaryType = "nonsense" as BinaryType;
  assert.equal(socket.binaryType, "blob", "an unknown binaryType is ignored");
});
