/**
 * Test-side WebSocket wire tools, written independently of the codec under test: a raw frame
 * builder that can also produce what the codec must refuse (unmasked, reserved bits, non-minimal
 * lengths), and a driver that runs a {@linkcode MessageReader} over any split of the input.
 *
 * @module
 */

import { WebSocketProtocolError } from "../../server/http1/websocket_frames.ts";
import { MessageReader, type MessageReaderOptions } from "../../server/http1/websocket_messages.ts";

/** Options of {@linkcode rawFrame}. */
export interface RawFrameOptions {
  /** FIN bit. Default true. */
  fin?: boolean;
  /** RSV1–3 as a 3-bit number. Default 0. */
  rsv?: number;
  /** Masking key, or null for an unmasked frame. Default: a fixed key. */
  mask?: number[] | null;
  /** Force the length encoding: 7-bit, 16-bit or 64-bit. Default: minimal. */
  lengthBits?: 7 | 16 | 64;
  /** Announce this length instead of the payload's (for header-only probes). */
  announcedLength?: bigint | number;
}

/** The fixed masking key of RFC 6455 §5.7's examples. */
export const RFC_MASK = [0x37, 0xfa, 0x21, 0x3d];

/** Builds one frame byte by byte, exactly as told. */
export function rawFrame(
  opcode: number,
  payload: Uint8Array | string | number[],
  options: RawFrameOptions = {},
): Uint8Array {
  const data = typeof payload === "string"
    ? new TextEncoder().encode(payload)
    : payload instanceof Uint8Array
    ? payload
    : new Uint8Array(payload);
  const mask = options.mask === undefined ? RFC_MASK : options.mask;
  const length = BigInt(options.announcedLength ?? data.length);
  const bits = options.lengthBits ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const bytes: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (bits === 7) bytes.push(maskBit | Number(length));
  else if (bits === 16) {
    bytes.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  } else {
    bytes.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) bytes.push(Number((length >> shift) & 0xffn));
  }
  if (mask !== null) bytes.push(...mask);
  const frame = new Uint8Array(bytes.length + data.length);
  frame.set(bytes, 0);
  for (let i = 0; i < data.length; i++) {
    frame[bytes.length + i] = data[i]! ^ (mask === null ? 0 : mask[i & 3]!);
  }
  return frame;
}

/** Concatenates byte arrays. */
export function join(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** An event as a comparable tuple: binary payloads as latin1 strings. */
export type Seen =
  | ["text", string]
  | ["binary" | "ping" | "pong", string]
  | ["close", number, string];

/** What a reader made of some input. */
export interface ReadOutcome {
  events: Seen[];
  /** Close code of the protocol error it ended with, or null. */
  errorCode: number | null;
  /** Input bytes fed when the error was thrown. */
  errorAfter: number | null;
}

/** Thrown when the reader throws anything but a {@linkcode WebSocketProtocolError}. */
export class ContractViolation extends Error {
  override name = "ContractViolation";
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/**
 * Feeds a copy of `input` cut at `cuts` (sorted offsets), draining events after each piece. The
 * copy is zeroed after each piece's events are drained: the reader must keep nothing borrowed.
 */
export function readInPieces(
  input: Uint8Array,
  cuts: readonly number[],
  options: MessageReaderOptions = {},
): ReadOutcome {
  const reader = new MessageReader(options);
  const events: Seen[] = [];
  const bounds = [0, ...cuts, input.length];
  let steps = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const piece = input.slice(bounds[i], bounds[i + 1]);
    if (piece.length === 0) continue;
    reader.feed(piece);
    for (;;) {
      if (++steps > 4 * input.length + 16) throw new ContractViolation("no progress");
      let event;
      try {
        event = reader.next();
      } catch (error) {
        if (!(error instanceof WebSocketProtocolError)) {
          throw new ContractViolation(`foreign exception: ${error}`);
        }
        return { events, errorCode: error.closeCode, errorAfter: bounds[i + 1]! };
      }
      if (event.type === "need-data") break;
      if (event.type === "text") events.push(["text", event.text]);
      else if (event.type === "close") events.push(["close", event.code, event.reason]);
      else events.push([event.type, latin1(event.data)]);
    }
    piece.fill(0);
  }
  return { events, errorCode: null, errorAfter: null };
}

/** Whole, one byte at a time, and in two halves. */
export function splits(length: number): [string, number[]][] {
  const bytewise: number[] = [];
  for (let i = 1; i < length; i++) bytewise.push(i);
  return [["whole", []], ["byte by byte", bytewise], ["in two halves", [length >> 1]]];
}
