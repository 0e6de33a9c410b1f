/**
 * The server's side of the WebSocket opening handshake (RFC 6455 §4.2): validates the client's
 * upgrade request and produces the parts of the 101 response. No I/O, no `Deno`, no crypto: the
 * caller computes SHA-1 over {@linkcode acceptDigestInput} (WebCrypto is asynchronous) and passes
 * the base64 digest to {@linkcode switchingProtocolsHeaders}.
 *
 * Checks, in this order (RFC 6455 §4.2.1 unless noted); the first failure is the answer:
 * 1. Method GET, HTTP/1.1 → else 400.
 * 2. `Upgrade` lists `websocket` and `Connection` lists `upgrade`, both as case-insensitive
 *    tokens of comma-separated lists (RFC 9110 §7.6.1, §7.8) → else 400.
 * 3. No request content (`Content-Length` absent or 0, no `Transfer-Encoding`): the bytes after
 *    the head are WebSocket frames. RFC 9110 §7.8 would let a server read content before
 *    switching; we take the strict choice → else 400.
 * 4. `Sec-WebSocket-Version: 13` → else 426 with `Sec-WebSocket-Version: 13` (§4.2.2), checked
 *    before the key so that a client of another draft learns the version it must speak.
 * 5. `Sec-WebSocket-Key` is the base64 of exactly 16 bytes (§4.1: 24 characters, `==` padding;
 *    RFC 4648 §3.5 lets a decoder reject non-zero pad bits, and we do) → else 400. A repeated key
 *    arrives joined with ", " and fails too.
 * 6. `Sec-WebSocket-Protocol`, if present, is a list of tokens (§4.1) → else 400. When the server
 *    speaks subprotocols, the first of its list (its preference) that the client offered is
 *    selected; none offered → 400 (Deno throws for the same case). A server that speaks none
 *    selects none (§4.2.2: the response then has no `Sec-WebSocket-Protocol`).
 *
 * `Origin` is left to the application (§10.2), and no extension is negotiated
 * (`Sec-WebSocket-Extensions` is ignored, §9.1).
 *
 * @module
 */

import { isToken, trimOws } from "./syntax.ts";

/** The only protocol version defined (RFC 6455 §4.1, §11.6). */
export const WEBSOCKET_VERSION = "13";

/** Appended to the key before hashing (RFC 6455 §1.3, §4.2.2). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** What the handshake reads from a request: a web `Request`'s parts fit. */
export interface HandshakeRequest {
  /** Request method as received. */
  readonly method: string;
  /** HTTP minor version: 1 for HTTP/1.1. */
  readonly minorVersion: number;
  /** Header lookup returning the combined field value (RFC 9110 §5.3), as `Headers.get`. */
  readonly headers: { get(name: string): string | null };
}

/** A handshake the server refuses: the status, a short reason and header fields to answer with. */
export interface HandshakeRejection {
  /** Always false: the handshake is refused. */
  readonly ok: false;
  /** 400, or 426 for an unsupported `Sec-WebSocket-Version`. */
  readonly status: 400 | 426;
  /** Short text for logs and the error's message (the response body is the status's own). */
  readonly reason: string;
  /** Fields the rejection must carry (426: `Upgrade` and `Sec-WebSocket-Version`, RFC 9110 §15.5.22). */
  readonly headers: readonly [string, string][];
}

/** A valid handshake: the client's key and the selected subprotocol. */
export interface HandshakeAcceptance {
  /** Always true: the server may switch. */
  readonly ok: true;
  /** The `Sec-WebSocket-Key` value, to hash into `Sec-WebSocket-Accept`. */
  readonly key: string;
  /** The selected subprotocol, or null for none. */
  readonly protocol: string | null;
}

/** The result of {@linkcode validateHandshake}. */
export type HandshakeResult = HandshakeAcceptance | HandshakeRejection;

const KEY_PATTERN = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

function reject(reason: string): HandshakeRejection {
  return { ok: false, status: 400, reason, headers: [] };
}

/**
 * Validates an opening handshake (RFC 6455 §4.2.1). `supportedProtocols` lists the subprotocols
 * the server speaks, most preferred first.
 *
 * @example
 * ```ts
 * import { validateHandshake } from "./websocket_handshake.ts";
 * const result = validateHandshake({
 *   method: "GET",
 *   minorVersion: 1,
 *   headers: new Headers({
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *     "sec-websocket-protocol": "chat, superchat",
 *   }),
 * }, ["superchat"]);
 * console.log(result); // { ok: true, key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "superchat" }
 * ```
 */
export function validateHandshake(
  request: HandshakeRequest,
  supportedProtocols: readonly string[] = [],
): HandshakeResult {
  if (request.method !== "GET") return reject("a WebSocket handshake is a GET request");
  if (request.minorVersion !== 1) return reject("a WebSocket handshake needs HTTP/1.1");
  const headers = request.headers;
  if (!listHasToken(headers.get("upgrade"), "websocket")) {
    return reject("Upgrade does not list websocket");
  }
  if (!listHasToken(headers.get("connection"), "upgrade")) {
    return reject("Connection does not list upgrade");
  }
  const contentLength = headers.get("content-length");
  if (
    (contentLength !== null && contentLength !== "0") || headers.get("transfer-encoding") !== null
  ) {
    return reject("a WebSocket handshake has no content");
  }
  if (headers.get("sec-websocket-version") !== WEBSOCKET_VERSION) {
    return {
      ok: false,
      status: 426,
      reason: "unsupported Sec-WebSocket-Version",
      headers: [["upgrade", "websocket"], ["sec-websocket-version", WEBSOCKET_VERSION]],
    };
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY_PATTERN.test(key)) {
    return reject("Sec-WebSocket-Key is not the base64 of 16 bytes");
  }
  const offered = parseProtocolList(headers.get("sec-websocket-protocol"));
  if (offered === null) return reject("Sec-WebSocket-Protocol is not a list of tokens");
  let protocol: string | null = null;
  if (supportedProtocols.length > 0) {
    protocol = supportedProtocols.find((candidate) => offered.includes(candidate)) ?? null;
    if (protocol === null) return reject("none of the server's subprotocols was offered");
  }
  return { ok: true, key, protocol };
}

/** Whether a comma-separated list (RFC 9110 §5.6.1) has `token` as an element, any case. */
function listHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const element of value.split(",")) {
    if (trimOws(element).toLowerCase() === token) return true;
  }
  return false;
}

/** The offered subprotocols, empty elements dropped; null when one is not a token. */
function parseProtocolList(value: string | null): string[] | null {
  const protocols: string[] = [];
  if (value === null) return protocols;
  for (const element of value.split(",")) {
    const protocol = trimOws(element);
    if (protocol === "") continue;
    if (!isToken(protocol)) return null;
    protocols.push(protocol);
  }
  return protocols;
}

/**
 * The bytes whose SHA-1 digest, in base64, is `Sec-WebSocket-Accept` (RFC 6455 §4.2.2 item 5.4):
 * the key as received followed by {@linkcode WEBSOCKET_GUID}, in ASCII.
 *
 * @example
 * ```ts
 * import { acceptDigestInput } from "./websocket_handshake.ts";
 * const digest = await crypto.subtle.digest("SHA-1", acceptDigestInput("dGhlIHNhbXBsZSBub25jZQ=="));
 * console.log(btoa(String.fromCharCode(...new Uint8Array(digest)))); // s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export function acceptDigestInput(key: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(key + WEBSOCKET_GUID);
}

/**
 * The header fields of the 101 response (RFC 6455 §4.2.2 item 5), given the base64 SHA-1
 * `accept` value and the selected subprotocol. The head itself is written by
 * `serializeResponseHead`, which adds `Connection: upgrade` for the `Upgrade` field.
 *
 * @example
 * ```ts
 * import { switchingProtocolsHeaders } from "./websocket_handshake.ts";
 * console.log(switchingProtocolsHeaders("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", null));
 * // [ [ "upgrade", "websocket" ], [ "sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ] ]
 * ```
 */
export function switchingProtocolsHeaders(
  accept: string,
  protocol: string | null,
): [string, string][] {
  const headers: [string, string][] = [["upgrade", "websocket"], ["sec-websocket-accept", accept]];
  if (protocol !== null) headers.push(["sec-websocket-protocol", protocol]);
  return headers;
}
