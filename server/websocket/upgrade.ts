/**
 * `upgradeWebSocket()`: turns a WebSocket handshake request into `{ socket, response }`, as
 * `Deno.upgradeWebSocket` does. The response carries a `ProtocolSwitch`
 * (server/connection/protocol_switch.ts, where the engine's steps are written): the engine writes
 * the 101 head it encodes, then attaches the socket to the connection, or aborts it (the socket
 * fires `error` and `close` with 1006) when the head could not be written.
 *
 * A handshake that is not valid (RFC 6455 §4.2.1) makes `upgradeWebSocket()` throw a
 * {@linkcode WebSocketHandshakeError} — a `TypeError` as Deno throws — carrying the 400 or 426
 * response to answer with instead of a 500.
 *
 * @module
 */

import { requestMinorVersion } from "../connection/dispatch.ts";
import { answerErrorWith, offerProtocolSwitch } from "../connection/protocol_switch.ts";
import { encodeLatin1, encodeResponseHead } from "../http1/response_head.ts";
import {
  acceptDigestInput,
  type HandshakeRejection,
  type HandshakeRequest,
  switchingProtocolsHeaders,
  validateHandshake,
} from "../http1/websocket_handshake.ts";
import { isToken } from "../http1/syntax.ts";
import {
  DEFAULT_WEBSOCKET_CLOSE_TIMEOUT_MS,
  DEFAULT_WEBSOCKET_IDLE_TIMEOUT_MS,
  DEFAULT_WEBSOCKET_MAX_BUFFERED_BYTES,
  DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES,
} from "../limits.ts";
import type { SessionLimits } from "./session.ts";
import { abortWebSocket, attachWebSocket, ServerWebSocket } from "./socket.ts";

/** Options of {@linkcode upgradeWebSocket}: Deno's, plus the limits a server needs. */
export interface UpgradeWebSocketOptions {
  /**
   * The subprotocol the server speaks (Deno's option), or several, most preferred first. The
   * first one the client offered in `Sec-WebSocket-Protocol` is selected and becomes
   * `socket.protocol`; when the client offered none of them the handshake fails with 400 (Deno
   * throws a TypeError). Without this option no subprotocol is selected.
   */
  protocol?: string | readonly string[];
  /**
   * Keep-alive in seconds, as in Deno: after half of it without a frame from the client a Ping
   * is sent, and after the other half without one the connection is closed (Close 1001, then an
   * `error` and a `close` event). 0 disables. Default 30.
   */
  idleTimeout?: number;
  /** Largest message accepted from the client, in bytes; larger closes with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Most bytes that may wait behind the message being written (messages given to `send()`, the
   * Pong and Close queued) while the client does not read, each frame counted as its bytes plus
   * 64 (so that many small messages are not nearly free); beyond it the connection is dropped
   * (`error`, then `close` with 1006). The message being written may be of any size. Default
   * 16 MiB.
   */
  maxBufferedAmount?: number;
  /** Seconds to wait for the client's Close after sending ours. Default 5. */
  closeTimeout?: number;
}

/** What {@linkcode upgradeWebSocket} returns. */
export interface WebSocketUpgrade {
  /** The WebSocket: CONNECTING until the 101 response is written, then OPEN. */
  socket: WebSocket;
  /** The 101 response to return from the handler, unchanged (headers may be added). */
  response: Response;
}

/**
 * A request that is not a valid WebSocket handshake. `status` is 400, or 426 for a
 * `Sec-WebSocket-Version` other than 13; {@linkcode WebSocketHandshakeError.toResponse} builds
 * the response (the engine sends it when the handler lets the error through).
 *
 * @example
 * ```ts
 * import { upgradeWebSocket, WebSocketHandshakeError } from "./upgrade.ts";
 * try {
 *   upgradeWebSocket(new Request("http://localhost/chat"));
 * } catch (error) {
 *   if (error instanceof WebSocketHandshakeError) console.log(error.status); // 400
 * }
 * ```
 */
export class WebSocketHandshakeError extends TypeError {
  /** Status to answer with. */
  readonly status: 400 | 426;
  /** Header fields the answer must carry (426: `Upgrade`, `Sec-WebSocket-Version`). */
  readonly headers: readonly [string, string][];

  /** An error for the rejection returned by `validateHandshake`. */
  constructor(rejection: HandshakeRejection) {
    super(`Invalid WebSocket handshake: ${rejection.reason}`);
    this.name = "WebSocketHandshakeError";
    this.status = rejection.status;
    this.headers = rejection.headers;
    // A handler that lets this error through gets this answer, not a 500 (it is the client's).
    answerErrorWith(this, () => this.toResponse());
  }

  /**
   * The response to send: the status, its fields, a short plain-text body, and
   * `connection: close`. A client that asked to switch protocols may already have sent WebSocket
   * frames behind its request; read as HTTP they would be a second, garbled request, so the
   * connection ends with this answer (as Node's ws does).
   */
  toResponse(): Response {
    const body = this.status === 426 ? "426 Upgrade Required\n" : "400 Bad Request\n";
    const headers = new Headers(this.headers as [string, string][]);
    headers.set("content-type", "text/plain; charset=utf-8");
    headers.set("connection", "close");
    return new Response(body, { status: this.status, headers });
  }
}

/** Handshake fields that the 101 head takes from the handshake, not from `response.headers`. */
const HANDSHAKE_FIELDS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * Upgrades a request to a WebSocket, as `Deno.upgradeWebSocket` does: returns the socket
 * (CONNECTING) and the 101 response to return from the handler.
 *
 * Throws {@linkcode WebSocketHandshakeError} (a `TypeError`) when the request is not a valid
 * handshake (RFC 6455 §4.2.1: GET, `Upgrade: websocket`, `Connection: upgrade`, a 16-byte
 * `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, no content), and `TypeError`/`RangeError`
 * for invalid options.
 *
 * @example
 * ```ts
 * import { upgradeWebSocket } from "./upgrade.ts";
 * const request = new Request("http://localhost/chat", {
 *   headers: {
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *   },
 * });
 * const { socket, response } = upgradeWebSocket(request, { idleTimeout: 60 });
 * socket.onmessage = (event) => socket.send(event.data); // echo
 * console.log(response.status, socket.readyState); // 101 0
 * ```
 */
export function upgradeWebSocket(
  request: { readonly method: string; readonly headers: { get(name: string): string | null } },
  options: UpgradeWebSocketOptions = {},
): WebSocketUpgrade {
  // A web Request does not say its HTTP version; the engine knows it for the requests it gives
  // to handlers (an HTTP/1.0 handshake gets 400: RFC 6455 §4.2.1 asks for HTTP/1.1 or later).
  return createWebSocketUpgrade(
    {
      method: request.method,
      minorVersion: requestMinorVersion(request) ?? 1,
      headers: request.headers,
    },
    options,
  );
}

/** {@linkcode upgradeWebSocket} for a request head whose HTTP version is known. */
export function createWebSocketUpgrade(
  request: HandshakeRequest,
  options: UpgradeWebSocketOptions = {},
): WebSocketUpgrade {
  const limits = resolveOptions(options);
  const supported = typeof options.protocol === "string"
    ? [options.protocol]
    : [...(options.protocol ?? [])];
  for (const protocol of supported) {
    if (typeof protocol !== "string" || !isToken(protocol)) {
      throw new TypeError(`invalid subprotocol ${JSON.stringify(protocol)}: not a token`);
    }
  }
  const result = validateHandshake(request, supported);
  if (!result.ok) throw new WebSocketHandshakeError(result);

  const socket = new ServerWebSocket(result.protocol ?? "", limits);
  const visible: [string, string][] = [["upgrade", "websocket"], ["connection", "Upgrade"]];
  if (result.protocol !== null) visible.push(["sec-websocket-protocol", result.protocol]);
  const response = new Response(null, { status: 200, headers: visible });
  // A web Response cannot be built with status 1xx; the handler sees 101 as with Deno.
  Object.defineProperties(response, {
    status: { value: 101 },
    statusText: { value: "Switching Protocols" },
    ok: { value: false },
  });
  const accept = computeAccept(result.key);
  accept.then((value) => response.headers.set("sec-websocket-accept", value), () => {});

  offerProtocolSwitch(response, {
    async responseHead(date: string): Promise<Uint8Array> {
      const fields = switchingProtocolsHeaders(await accept, result.protocol);
      for (const [name, value] of response.headers) {
        if (!HANDSHAKE_FIELDS.has(name)) fields.push([name, value]);
      }
      return encodeLatin1(encodeResponseHead({
        status: 101,
        fields,
        framing: { kind: "none" },
        announcedLength: null,
        connection: "none",
        date,
      }));
    },
    attach: (transport) => attachWebSocket(socket, transport),
    abort: (reason) => abortWebSocket(socket, reason),
  });
  return { socket, response };
}

/** `Sec-WebSocket-Accept`: base64 of SHA-1(key + GUID) (RFC 6455 §4.2.2), with WebCrypto. */
export async function computeAccept(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", acceptDigestInput(key)));
  return btoa(String.fromCharCode(...digest));
}

function resolveOptions(options: UpgradeWebSocketOptions): SessionLimits {
  return {
    idleTimeoutMs: seconds(options.idleTimeout, "idleTimeout", DEFAULT_WEBSOCKET_IDLE_TIMEOUT_MS),
    closeTimeoutMs: seconds(
      options.closeTimeout,
      "closeTimeout",
      DEFAULT_WEBSOCKET_CLOSE_TIMEOUT_MS,
    ),
    maxMessageBytes: bytes(
      options.maxMessageSize,
      "maxMessageSize",
      DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES,
    ),
    maxBufferedBytes: bytes(
      options.maxBufferedAmount,
      "maxBufferedAmount",
      DEFAULT_WEBSOCKET_MAX_BUFFERED_BYTES,
    ),
  };
}

function seconds(value: number | undefined, name: string, defaultMs: number): number {
  if (value === undefined) return defaultMs;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of seconds, got ${String(value)}`);
  }
  return Math.round(value * 1000);
}

function bytes(value: number | undefined, name: string, defaultBytes: number): number {
  if (value === undefined) return defaultBytes;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer of bytes, got ${String(value)}`);
  }
  return value;
}
