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
  /** The text message in progress was decoded in pieces: `#decoder` holds a partial state. */
  #streaming = false;
  #text = "";
  #chunks: Uint8Array[] = [];

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
      throw new WebSocketProtocolError(1009, "message larger than maxMessageBytes");
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
    if (this.#messageOpcode === OPCODE.TEXT) {
      if (end && this.#finalFrame && !this.#streaming) {
        // The whole message in one piece, the usual case: one decode that keeps no state.
        const text = this.#decode(data, false);
        this.#release();
        return { type: "text", text };
      }
      if (data.length > 0) {
        this.#text += this.#decode(data, true);
        this.#streaming = true;
      }
    } else if (data.length > 0) {
      this.#chunks.push(data.slice());
    }
    if (!end || !this.#finalFrame) return null;
    let event: WebSocketEvent;
    if (this.#messageOpcode === OPCODE.TEXT) {
      event = { type: "text", text: this.#text + this.#decode(undefined, false) };
      this.#streaming = false;
    } else {
      event = { type: "binary", data: concat(this.#chunks, this.#messageBytes) };
    }
    this.#release();
    return event;
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
    this.#text = "";
    this.#chunks = [];
    this.#control = null;
  }
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === length) return chunks[0]!;
  const result = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
