/**
 * WebSocket messages (RFC 6455 §5.4–§5.6): reassembles frames into messages, validates text as
 * UTF-8 and Close payloads, and enforces the message size limit. Bytes in, events out; no I/O, no
 * clock, no `Deno`.
 *
 * Rules this file enforces on top of `websocket_frames.ts` (violations throw
 * {@linkcode WebSocketProtocolError} with the close code to fail the connection with):
 * - A message is a text or binary frame followed by continuation frames up to one with FIN set.
 *   A continuation frame outside a message, or a new text/binary frame inside one → 1002 (§5.4).
 * - Control frames may come between the fragments of a message (§5.4) and are reported at once.
 * - Text messages are UTF-8 (§5.6, §8.1) → 1007. Validation is streaming, across fragments and
 *   reads: the connection fails on the first byte that cannot start or continue a valid sequence,
 *   not at the end of the message (the WHATWG decoder with `fatal` does exactly that; a byte
 *   order mark is kept as U+FEFF, it is message content).
 * - A message larger than `maxMessageBytes` → 1009 (§7.4.1), detected from frame headers before
 *   its payload is buffered.
 * - After the peer's Close frame nothing more is read (§5.5.1: it sends nothing after it).
 *
 * Memory: the message in progress is kept in one buffer whose capacity doubles as its bytes
 * arrive, so it holds at most about twice the bytes received, however many fragments carry them
 * (§5.4 sets no bound on their number: a million one-byte fragments cost what a 1 MB frame does).
 *
 * Buffer contract: as the frame parser's: `feed()` lends its buffer (payload bytes are unmasked
 * in place) until `next()` returns `NEED_MESSAGE_DATA`. Events own their data.
 *
 * @module
 */

import { DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES } from "../limits.ts";
import { parseClosePayload } from "./websocket_close.ts";
import {
  type FrameEvent,
  FrameParser,
  type FrameParserOptions,
  NEED_FRAME_DATA,
  OPCODE,
  protocolError,
  WebSocketProtocolError,
} from "./websocket_frames.ts";

/** Events returned by {@linkcode MessageReader.next}. */
export type WebSocketEvent =
  /** A complete text message. */
  | { readonly type: "text"; readonly text: string }
  /** A complete binary message, in its own buffer. */
  | { readonly type: "binary"; readonly data: Uint8Array }
  /** A Ping frame: answer with a Pong carrying the same `data` (§5.5.2). */
  | { readonly type: "ping"; readonly data: Uint8Array }
  /** A Pong frame (an answer to our Ping, or a unidirectional heartbeat, §5.5.3). */
  | { readonly type: "pong"; readonly data: Uint8Array }
  /** The peer's Close frame; `code` is 1005 when it carried no status. The last event. */
  | { readonly type: "close"; readonly code: number; readonly reason: string }
  | { readonly type: "need-data" };

/** The single "need more bytes" event. */
export const NEED_MESSAGE_DATA: WebSocketEvent = Object.freeze({ type: "need-data" });

/** Options of a {@linkcode MessageReader}. */
export interface MessageReaderOptions extends FrameParserOptions {
  /** Largest message in bytes (all fragments). Default {@linkcode DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
}

/** No message in progress. */
const NONE = -1;

const EMPTY = new Uint8Array(0);

/** Smallest buffer made for a message received in pieces (fragments or reads). */
const MIN_MESSAGE_BUFFER_BYTES = 256;

/**
 * Incremental message reader for one connection: any split of the input gives the same events.
 *
 * @example
 * ```ts
 * import { MessageReader } from "./websocket_messages.ts";
 * // RFC 6455 §5.7: a fragmented unmasked text message "Hel" + "lo", read as a client.
 * const reader = new MessageReader({ expectMasked: false });
 * reader.feed(new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]));
 * console.log(reader.next()); // { type: "text", text: "Hello" }
 * console.log(reader.next()); // { type: "need-data" }
 * ```
 */
export class MessageReader {
  readonly #frames: FrameParser;
  readonly #maxMessageBytes: number;
  #failure: WebSocketProtocolError | null = null;
  #closed = false;

  /** Opcode of the frame being read. */
  #frameOpcode = NONE;
  /** Payload of the control frame being read, filled up to #controlFilled. */
  #control: Uint8Array | null = null;
  #controlFilled = 0;

  /** Opcode of the message in progress (text or binary), or NONE. */
  #messageOpcode = NONE;
  /** Bytes of the message in progress announced by its frame headers so far. */
  #messageBytes = 0;
  /** Whether the data frame being read is the message's last. */
  #finalFrame = false;
  /**
   * The UTF-8 decoder, reused from message to message (a decode without `stream` leaves it
   * clean); dropped when a message ends in the middle of a streamed decode.
   */
  #decoder: TextDecoder | null = null;
  /** The text message in progress was validated in pieces: `#decoder` holds a partial state. */
  #streaming = false;
  /**
   * The payload of the message in progress, in one buffer filled up to `#filled`: its capacity
   * doubles as bytes arrive (never past `maxMessageBytes`), so a message costs at most about
   * twice its size whatever the number of its fragments.
   */
  #buffer: Uint8Array = EMPTY;
  #filled = 0;

  /** A reader for the frames a client sends (by default), up to the given message size. */
  constructor(options: MessageReaderOptions = {}) {
    this.#frames = new FrameParser(options);
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES;
  }

  /** True once the peer's Close frame was read: later input is ignored. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while a fragmented message has started and not ended. */
  get inMessage(): boolean {
    return this.#messageOpcode !== NONE;
  }

  /**
   * Bytes held for the message in progress: the capacity of its buffer (at most about twice the
   * bytes received so far, and never more than `maxMessageBytes`), 0 between messages.
   */
  get retainedBytes(): number {
    return this.#buffer.length;
  }

  /** Adds received bytes, lent until `next()` returns `NEED_MESSAGE_DATA`. */
  feed(chunk: Uint8Array): void {
    if (this.#closed || this.#failure !== null) return;
    this.#frames.feed(chunk);
  }

  /** Returns the next event, or throws the {@linkcode WebSocketProtocolError} to close with. */
  next(): WebSocketEvent {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) return NEED_MESSAGE_DATA;
    try {
      for (;;) {
        const event = this.#frames.next();
        if (event === NEED_FRAME_DATA) return NEED_MESSAGE_DATA;
        if (event.type === "header") this.#startFrame(event);
        else if (event.type === "payload") {
          const message = this.#takePayload(event.data, event.end);
          if (message !== null) return message;
        }
      }
    } catch (error) {
      this.#failure = error instanceof WebSocketProtocolError
        ? error
        : protocolError("internal reader fault");
      this.#release();
      throw error;
    }
  }

  #startFrame(header: Extract<FrameEvent, { type: "header" }>): void {
    const { opcode, length } = header;
    this.#frameOpcode = opcode;
    if (opcode >= OPCODE.CLOSE) {
      this.#control = new Uint8Array(length);
      this.#controlFilled = 0;
      return;
    }
    if (opcode === OPCODE.CONTINUATION) {
      if (this.#messageOpcode === NONE) throw protocolError("continuation frame outside a message");
    } else {
      if (this.#messageOpcode !== NONE) throw protocolError("new message inside a fragmented one");
      this.#messageOpcode = opcode;
      this.#messageBytes = 0;
    }
    if (length > this.#maxMessageBytes - this.#messageBytes) {
      throw new WebSocketProtocolError(1009, "message larger than maxMessageSize");
    }
    this.#messageBytes += length;
    this.#finalFrame = header.fin;
  }

  /** Takes payload bytes of the current frame; returns an event when a message or control frame is complete. */
  #takePayload(data: Uint8Array, end: boolean): WebSocketEvent | null {
    const opcode = this.#frameOpcode;
    if (opcode >= OPCODE.CLOSE) {
      const control = this.#control!;
      control.set(data, this.#controlFilled);
      this.#controlFilled += data.length;
      if (!end) return null;
      this.#control = null;
      if (opcode === OPCODE.PING) return { type: "ping", data: control };
      if (opcode === OPCODE.PONG) return { type: "pong", data: control };
      const { code, reason } = parseClosePayload(control);
      this.#closed = true;
      this.#release();
      return { type: "close", code, reason };
    }
    if (
      end && this.#finalFrame && this.#filled === 0 && !this.#streaming &&
      data.length === this.#messageBytes
    ) {
      // The whole message in one piece, the usual case: no copy for text (one decode that keeps
      // no state), one for binary (the event owns its data).
      const event: WebSocketEvent = this.#messageOpcode === OPCODE.TEXT
        ? { type: "text", text: this.#decode(data, false) }
        : { type: "binary", data: data.slice() };
      this.#release();
      return event;
    }
    if (data.length > 0) {
      // Text is validated as it arrives (a streaming decode whose output is dropped), so that the
      // connection fails at the first invalid byte, not at the end of the message.
      if (this.#messageOpcode === OPCODE.TEXT) {
        this.#decode(data, true);
        this.#streaming = true;
      }
      this.#append(data);
    }
    if (!end || !this.#finalFrame) return null;
    const bytes = this.#buffer.subarray(0, this.#filled);
    let event: WebSocketEvent;
    if (this.#messageOpcode === OPCODE.TEXT) {
      // The end of the streamed validation (an incomplete last sequence fails here), then one
      // decode of the whole message, which cannot fail and leaves the decoder clean.
      if (this.#streaming) this.#decode(undefined, false);
      this.#streaming = false;
      event = { type: "text", text: this.#decode(bytes, false) };
    } else {
      event = { type: "binary", data: bytes };
    }
    this.#release();
    return event;
  }

  /** Appends payload bytes of the message in progress, doubling the buffer when it is full. */
  #append(data: Uint8Array): void {
    const needed = this.#filled + data.length;
    if (needed > this.#buffer.length) {
      // Grown by the bytes received, not by what headers announce (a header alone commits no
      // memory), up to the message's size once its last frame is known, else up to the limit:
      // needed <= #messageBytes <= maxMessageBytes, as frame headers were checked against it.
      const capacity = Math.min(
        Math.max(needed, 2 * this.#buffer.length, MIN_MESSAGE_BUFFER_BYTES),
        this.#finalFrame ? this.#messageBytes : this.#maxMessageBytes,
      );
      const grown = new Uint8Array(capacity);
      grown.set(this.#buffer.subarray(0, this.#filled));
      this.#buffer = grown;
    }
    this.#buffer.set(data, this.#filled);
    this.#filled = needed;
  }

  #decode(data: Uint8Array | undefined, stream: boolean): string {
    this.#decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    try {
      return this.#decoder.decode(data, { stream });
    } catch {
      throw new WebSocketProtocolError(1007, "text message is not valid UTF-8");
    }
  }

  /** Ends the message in progress, dropping what it buffered. */
  #release(): void {
    this.#messageOpcode = NONE;
    this.#messageBytes = 0;
    if (this.#streaming) this.#decoder = null;
    this.#streaming = false;
    this.#buffer = EMPTY;
    this.#filled = 0;
    this.#control = null;
  }
}
