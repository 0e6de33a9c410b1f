/**
 * The WebSocket closing handshake (RFC 6455 §5.5.1, §7): close codes, the Close frame's payload,
 * and the states of the handshake. No I/O, no clock, no `Deno`.
 *
 * Rules:
 * - A Close payload is empty (no status: the code seen is 1005) or a 2-byte code followed by a
 *   UTF-8 reason; 1 byte is a protocol error (§5.5.1) → 1002, a reason that is not UTF-8 → 1007.
 * - Codes valid on the wire (§7.4): 1000–1003, 1007–1014 (1012–1014 registered with IANA since
 *   RFC 6455, sent by real servers), 3000–4999. 1004, 1005, 1006 and 1015 are never sent, other
 *   codes below 3000 are reserved, and 5000+ do not exist → 1002.
 * - Each side sends one Close frame, and no data frame after it (§5.5.1). The handshake is done
 *   when both were sent; then the server closes the TCP connection first (§7.1.1).
 *
 * @module
 */

import {
  MAX_CONTROL_PAYLOAD_BYTES,
  protocolError,
  WebSocketProtocolError,
} from "./websocket_frames.ts";

/** Close codes with a name in RFC 6455 §7.4.1 (and IANA's registry). */
export const CLOSE_CODE: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  PROTOCOL_ERROR: 1002;
  UNSUPPORTED_DATA: 1003;
  NO_STATUS: 1005;
  ABNORMAL: 1006;
  INVALID_PAYLOAD: 1007;
  POLICY_VIOLATION: 1008;
  MESSAGE_TOO_BIG: 1009;
  INTERNAL_ERROR: 1011;
}> = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Never on the wire: a Close frame without a status code was received. */
  NO_STATUS: 1005,
  /** Never on the wire: the connection closed without a Close frame. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
});

/** Longest close reason in UTF-8 bytes: a control payload minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD_BYTES - 2;

/**
 * Whether `code` may appear in a Close frame, sent or received (RFC 6455 §7.4).
 *
 * @example
 * ```ts
 * import { isWireCloseCode } from "./websocket_close.ts";
 * console.log(isWireCloseCode(1000), isWireCloseCode(1005), isWireCloseCode(4999)); // true false true
 * ```
 */
export function isWireCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999));
}

/** A received Close frame's status: `code` 1005 and an empty reason when it carried none. */
export interface CloseStatus {
  /** The status code, or 1005 when the Close frame had none. */
  readonly code: number;
  /** The UTF-8 reason, possibly empty. */
  readonly reason: string;
}

/**
 * Decodes a received Close frame's payload; throws {@linkcode WebSocketProtocolError} with 1002
 * for a 1-byte payload or a code not valid on the wire, 1007 for a reason that is not UTF-8.
 *
 * @example
 * ```ts
 * import { parseClosePayload } from "./websocket_close.ts";
 * console.log(parseClosePayload(new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]))); // { code: 1000, reason: "ok" }
 * ```
 */
export function parseClosePayload(payload: Uint8Array): CloseStatus {
  if (payload.length === 0) return { code: CLOSE_CODE.NO_STATUS, reason: "" };
  if (payload.length === 1) throw protocolError("close payload of 1 byte");
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isWireCloseCode(code)) throw protocolError(`invalid close code ${code}`);
  let reason: string;
  try {
    reason = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(payload.subarray(2));
  } catch {
    throw new WebSocketProtocolError(1007, "close reason is not UTF-8");
  }
  return { code, reason };
}

/**
 * A Close frame's payload: empty when `code` is undefined, else the code and the UTF-8 reason.
 * Throws `RangeError` for a code not valid on the wire or a reason over 123 bytes.
 *
 * @example
 * ```ts
 * import { encodeClosePayload } from "./websocket_close.ts";
 * console.log(encodeClosePayload(1001, "bye")); // Uint8Array [ 3, 233, 98, 121, 101 ]
 * ```
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new RangeError("a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!isWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
  const reasonBytes = new TextEncoder().encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError("close reason over 123 bytes");
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** States of the closing handshake. */
export type CloseState =
  /** No Close frame either way: data flows both ways. */
  | "open"
  /** We sent Close and wait for the peer's. */
  | "close-sent"
  /** The peer sent Close; ours (the reply) is still to be sent. */
  | "close-received"
  /** Both Close frames were exchanged: the TCP connection may be closed. */
  | "closed";

/**
 * The closing handshake's state, as a table: `sendClose()` and `receiveClose()` are the only
 * transitions, and each side's Close frame counts once.
 *
 * | state          | sendClose()    | receiveClose()   |
 * | -------------- | -------------- | ---------------- |
 * | open           | close-sent     | close-received   |
 * | close-sent     | (no-op, false) | closed           |
 * | close-received | closed         | (1002)           |
 * | closed         | (no-op, false) | (1002)           |
 *
 * @example
 * ```ts
 * import { CloseHandshake } from "./websocket_close.ts";
 * const handshake = new CloseHandshake();
 * handshake.receiveClose();
 * console.log(handshake.state, handshake.sendClose(), handshake.state); // close-received true closed
 * ```
 */
export class CloseHandshake {
  #state: CloseState = "open";

  /** The current state. */
  get state(): CloseState {
    return this.#state;
  }

  /** Whether data frames may still be sent: only before our Close frame (§5.5.1). */
  get maySendData(): boolean {
    return this.#state === "open" || this.#state === "close-received";
  }

  /**
   * Records that our Close frame is being sent. Returns false, changing nothing, when one was
   * already sent: the caller must not send a second.
   */
  sendClose(): boolean {
    if (this.#state === "open") this.#state = "close-sent";
    else if (this.#state === "close-received") this.#state = "closed";
    else return false;
    return true;
  }

  /** Records the peer's Close frame; a second one is a protocol error (the peer sent on). */
  receiveClose(): void {
    if (this.#state === "open") this.#state = "close-received";
    else if (this.#state === "close-sent") this.#state = "closed";
    else throw protocolError("frame after the peer's close frame");
  }
}
