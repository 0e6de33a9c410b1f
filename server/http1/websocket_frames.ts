/**
 * WebSocket frames (RFC 6455 §5): an incremental frame parser and the frame serializer. No I/O,
 * no clock, no `Deno`.
 *
 * Rules this file enforces on received frames (every violation is a
 * {@linkcode WebSocketProtocolError} carrying the close code to fail the connection with):
 * - RSV1–3 must be 0: no extension is ever negotiated (§5.2) → 1002.
 * - Opcodes 3–7 and 11–15 are reserved (§5.2) → 1002.
 * - Control frames (close, ping, pong) have FIN set and at most 125 payload bytes (§5.5) → 1002.
 * - A server receives only masked frames and a client only unmasked ones (§5.1) → 1002.
 * - Lengths use the minimal encoding (§5.2: "the minimal number of bytes MUST be used"; a
 *   receiver may accept more, we take the strict choice like a MUST on the sender) → 1002.
 * - A 64-bit length has its most significant bit clear (§5.2) → 1002; a length above 2^53 − 1
 *   cannot be counted exactly and no message limit admits it → 1009.
 *
 * Which frames may follow which (fragmentation, the close handshake) is decided one layer up, in
 * `websocket_messages.ts`.
 *
 * Buffer contract: {@linkcode FrameParser.feed} lends its buffer until `next()` returns
 * `NEED_FRAME_DATA`; masked payload bytes are unmasked in place in that buffer, and `payload`
 * events are views of it. Linear time: header bytes are copied once into a 14-byte buffer, payload
 * bytes are visited once.
 *
 * @module
 */

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const OPCODE: Readonly<{
  CONTINUATION: 0x0;
  TEXT: 0x1;
  BINARY: 0x2;
  CLOSE: 0x8;
  PING: 0x9;
  PONG: 0xa;
}> = Object.freeze({
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
});

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD_BYTES = 125;

/** Longest frame header: 2 bytes, a 64-bit extended length, a 4-byte masking key. */
export const MAX_FRAME_HEADER_BYTES = 14;

/**
 * A protocol violation by the peer, with the close code to fail the connection with (RFC 6455
 * §7.4.1): 1002 protocol error, 1007 invalid payload data (UTF-8), 1009 message too big. Its
 * `message` is for logs and tests, never sent on the wire.
 *
 * @example
 * ```ts
 * import { WebSocketProtocolError } from "./websocket_frames.ts";
 * const error = new WebSocketProtocolError(1009, "message too big");
 * console.log(error.closeCode); // 1009
 * ```
 */
export class WebSocketProtocolError extends Error {
  /** Close code to send in the Close frame that fails the connection. */
  readonly closeCode: 1002 | 1007 | 1009;

  /** An error to fail the connection with `closeCode`; `message` is for logs. */
  constructor(closeCode: 1002 | 1007 | 1009, message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
  }
}

/** Shorthand for the most common case: 1002 protocol error. */
export function protocolError(message: string): WebSocketProtocolError {
  return new WebSocketProtocolError(1002, message);
}

/** A control opcode (close, ping, pong): bit 3 set (RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

function isKnownOpcode(opcode: number): boolean {
  return opcode <= OPCODE.BINARY || (opcode >= OPCODE.CLOSE && opcode <= OPCODE.PONG);
}

/** Events returned by {@linkcode FrameParser.next}. */
export type FrameEvent =
  /** A complete, valid frame header. */
  | {
    readonly type: "header";
    readonly fin: boolean;
    readonly opcode: number;
    /** Payload length in bytes (a safe integer). */
    readonly length: number;
  }
  /**
   * Unmasked payload bytes of the current frame, a view valid until the next `feed()`. Every
   * frame yields at least one, and `end` is true on the last (a frame without payload yields one
   * empty `payload` with `end` true).
   */
  | { readonly type: "payload"; readonly data: Uint8Array; readonly end: boolean }
  | { readonly type: "need-data" };

/** The single "need more bytes" event. */
export const NEED_FRAME_DATA: FrameEvent = Object.freeze({ type: "need-data" });

const EMPTY = new Uint8Array(0);
const EMPTY_END: FrameEvent = Object.freeze({ type: "payload", data: EMPTY, end: true });

const enum State {
  Header,
  Payload,
  Failed,
}

/** Which side of the connection the parser reads for. */
export interface FrameParserOptions {
  /**
   * True on a server (client frames MUST be masked), false on a client (server frames MUST NOT
   * be). Default true.
   */
  readonly expectMasked?: boolean;
}

/**
 * Incremental frame parser: any split of the input gives the same events.
 *
 * @example
 * ```ts
 * import { FrameParser } from "./websocket_frames.ts";
 * // RFC 6455 §5.7: a single-frame masked text message "Hello".
 * const parser = new FrameParser();
 * parser.feed(new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
 * console.log(parser.next()); // { type: "header", fin: true, opcode: 1, length: 5 }
 * const payload = parser.next();
 * if (payload.type === "payload") console.log(new TextDecoder().decode(payload.data)); // Hello
 * ```
 */
export class FrameParser {
  readonly #expectMasked: boolean;
  #state = State.Header;
  #failure: WebSocketProtocolError | null = null;

  #input: Uint8Array = EMPTY;
  #offset = 0;

  readonly #head = new Uint8Array(MAX_FRAME_HEADER_BYTES);
  #headLength = 0;
  /** Header size once the second byte is known, else 2. */
  #headNeeded = 2;

  #remaining = 0;
  #masked = false;
  readonly #mask = new Uint8Array(4);
  /** Payload bytes of the current frame already unmasked (the mask index is this mod 4). */
  #maskOffset = 0;

  /** A parser for one direction of one connection (a server's, by default). */
  constructor(options: FrameParserOptions = {}) {
    this.#expectMasked = options.expectMasked ?? true;
  }

  /** Adds received bytes, lent until `next()` returns `NEED_FRAME_DATA`. */
  feed(chunk: Uint8Array): void {
    if (this.#failure !== null) return;
    if (this.#offset < this.#input.length) {
      throw new Error("FrameParser.feed() called before next() returned need-data");
    }
    this.#input = chunk;
    this.#offset = 0;
  }

  /** Returns the next event, or throws the {@linkcode WebSocketProtocolError} to close with. */
  next(): FrameEvent {
    if (this.#failure !== null) throw this.#failure;
    try {
      const event = this.#state === State.Header ? this.#readHeader() : this.#readPayload();
      if (event === NEED_FRAME_DATA) {
        this.#input = EMPTY;
        this.#offset = 0;
      }
      return event;
    } catch (error) {
      this.#state = State.Failed;
      this.#failure = error instanceof WebSocketProtocolError
        ? error
        : protocolError("internal parser fault");
      throw error;
    }
  }

  #readHeader(): FrameEvent {
    const input = this.#input;
    while (this.#headLength < this.#headNeeded) {
      if (this.#offset === input.length) return NEED_FRAME_DATA;
      const take = Math.min(this.#headNeeded - this.#headLength, input.length - this.#offset);
      this.#head.set(input.subarray(this.#offset, this.#offset + take), this.#headLength);
      this.#offset += take;
      this.#headLength += take;
      if (this.#headLength === 2 && this.#headNeeded === 2) this.#checkFirstTwoBytes();
    }
    return this.#finishHeader();
  }

  /** Everything decidable from the first two bytes, checked before reading further. */
  #checkFirstTwoBytes(): void {
    const b0 = this.#head[0]!;
    const b1 = this.#head[1]!;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) throw protocolError("reserved bits set without a negotiated extension");
    if (!isKnownOpcode(opcode)) throw protocolError(`reserved opcode ${opcode}`);
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#expectMasked) {
      throw protocolError(masked ? "masked frame from a server" : "unmasked frame from a client");
    }
    const length7 = b1 & 0x7f;
    if (isControlOpcode(opcode)) {
      if ((b0 & 0x80) === 0) throw protocolError("fragmented control frame");
      if (length7 > MAX_CONTROL_PAYLOAD_BYTES) throw protocolError("control frame over 125 bytes");
    }
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    this.#headNeeded = 2 + extended + (masked ? 4 : 0);
  }

  #finishHeader(): FrameEvent {
    const head = this.#head;
    const b0 = head[0]!;
    const b1 = head[1]!;
    const length7 = b1 & 0x7f;
    let length = length7;
    let at = 2;
    if (length7 === 126) {
      length = (head[2]! << 8) | head[3]!;
      if (length < 126) throw protocolError("non-minimal 16-bit payload length");
      at = 4;
    } else if (length7 === 127) {
      const high = ((head[2]! << 24) | (head[3]! << 16) | (head[4]! << 8) | head[5]!) >>> 0;
      const low = ((head[6]! << 24) | (head[7]! << 16) | (head[8]! << 8) | head[9]!) >>> 0;
      if (high >= 0x8000_0000) throw protocolError("64-bit payload length with the top bit set");
      // 2^53 − 1 is the largest length a number counts exactly: high < 2^21.
      if (high >= 0x20_0000) {
        throw new WebSocketProtocolError(1009, "frame length beyond 2^53 - 1 bytes");
      }
      length = high * 0x1_0000_0000 + low;
      if (length < 0x1_0000) throw protocolError("non-minimal 64-bit payload length");
      at = 10;
    }
    this.#masked = (b1 & 0x80) !== 0;
    if (this.#masked) this.#mask.set(head.subarray(at, at + 4));
    this.#remaining = length;
    this.#maskOffset = 0;
    this.#headLength = 0;
    this.#headNeeded = 2;
    this.#state = State.Payload;
    return { type: "header", fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, length };
  }

  #readPayload(): FrameEvent {
    if (this.#remaining === 0) {
      this.#state = State.Header;
      return EMPTY_END;
    }
    const available = this.#input.length - this.#offset;
    if (available === 0) return NEED_FRAME_DATA;
    const take = Math.min(available, this.#remaining);
    const data = this.#input.subarray(this.#offset, this.#offset + take);
    this.#offset += take;
    this.#remaining -= take;
    if (this.#masked) {
      applyMask(data, this.#mask, this.#maskOffset);
      this.#maskOffset += take;
    }
    const end = this.#remaining === 0;
    if (end) this.#state = State.Header;
    return { type: "payload", data, end };
  }
}

/**
 * XORs `data` in place with the 4-byte `mask`, starting at mask index `offset % 4` (RFC 6455
 * §5.3). Masking and unmasking are the same operation.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const m0 = mask[offset & 3]!;
  const m1 = mask[(offset + 1) & 3]!;
  const m2 = mask[(offset + 2) & 3]!;
  const m3 = mask[(offset + 3) & 3]!;
  const length = data.length;
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  if (i < length) data[i] = data[i]! ^ m0;
  if (i + 1 < length) data[i + 1] = data[i + 1]! ^ m1;
  if (i + 2 < length) data[i + 2] = data[i + 2]! ^ m2;
}

/** How to serialize one frame. */
export interface FrameInit {
  /** Frame opcode ({@linkcode OPCODE}). */
  readonly opcode: number;
  /** Final fragment of its message. Default true (control frames are always final). */
  readonly fin?: boolean;
  /**
   * Masking key, for a client's frames only (RFC 6455 §5.3 wants it unpredictable; the caller
   * draws it). A server's frames are never masked.
   */
  readonly mask?: Uint8Array;
}

/**
 * The header of a frame carrying `length` payload bytes: 2 to 14 bytes, with the minimal length
 * encoding (RFC 6455 §5.2). Throws a `RangeError` for a control frame over 125 bytes or a length
 * that is not a safe non-negative integer.
 *
 * @example
 * ```ts
 * import { encodeFrameHeader, OPCODE } from "./websocket_frames.ts";
 * console.log(encodeFrameHeader({ opcode: OPCODE.BINARY }, 256)); // Uint8Array [ 130, 126, 1, 0 ]
 * ```
 */
export function encodeFrameHeader(init: FrameInit, length: number): Uint8Array {
  const { opcode } = init;
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError("invalid frame length");
  if (!isKnownOpcode(opcode)) throw new RangeError(`invalid opcode ${opcode}`);
  const fin = init.fin ?? true;
  if (isControlOpcode(opcode) && (!fin || length > MAX_CONTROL_PAYLOAD_BYTES)) {
    throw new RangeError("a control frame is final and carries at most 125 bytes");
  }
  const mask = init.mask;
  const extended = length < 126 ? 0 : length < 0x1_0000 ? 2 : 8;
  const header = new Uint8Array(2 + extended + (mask === undefined ? 0 : 4));
  header[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  if (extended === 0) {
    header[1] = maskBit | length;
  } else if (extended === 2) {
    header[1] = maskBit | 126;
    header[2] = length >>> 8;
    header[3] = length & 0xff;
  } else {
    header[1] = maskBit | 127;
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    header[2] = high >>> 24;
    header[3] = (high >>> 16) & 0xff;
    header[4] = (high >>> 8) & 0xff;
    header[5] = high & 0xff;
    header[6] = low >>> 24;
    header[7] = (low >>> 16) & 0xff;
    header[8] = (low >>> 8) & 0xff;
    header[9] = low & 0xff;
  }
  if (mask !== undefined) {
    if (mask.length !== 4) throw new RangeError("a masking key has 4 bytes");
    header.set(mask, 2 + extended);
  }
  return header;
}

/**
 * A whole frame (header and payload) in one new buffer; with `init.mask` the payload copy is
 * masked, `payload` itself is never modified.
 *
 * @example
 * ```ts
 * import { encodeFrame, OPCODE } from "./websocket_frames.ts";
 * const frame = encodeFrame({ opcode: OPCODE.TEXT }, new TextEncoder().encode("Hello"));
 * console.log(frame); // Uint8Array [ 129, 5, 72, 101, 108, 108, 111 ] (RFC 6455 §5.7)
 * ```
 */
export function encodeFrame(init: FrameInit, payload: Uint8Array): Uint8Array {
  const header = encodeFrameHeader(init, payload.length);
  const frame = new Uint8Array(header.length + payload.length);
  frame.set(header, 0);
  frame.set(payload, header.length);
  if (init.mask !== undefined) applyMask(frame.subarray(header.length), init.mask);
  return frame;
}
