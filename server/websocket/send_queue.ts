/**
 * The sending side of one WebSocket connection: the frames waiting to be written, in order, and
 * the loop that writes them, several small ones per system call. It counts what waits, for
 * `bufferedAmount` (message bytes, as the web API counts them) and for the limits (every frame
 * with {@linkcode FRAME_OVERHEAD_BYTES}), and keeps at most one Pong waiting (RFC 6455 §5.5.3).
 * The session (session.ts) decides what to send and when the connection ends; this file only
 * tells it what happened: too much waiting, a write that failed, frames written.
 *
 * @module
 */

import { encodeFrame, encodeFrameHeader, OPCODE } from "../http1/websocket_frames.ts";
import type { WebSocketTransport } from "./transport.ts";

/** Frames with payloads up to this size are copied into one buffer with their header. */
const WHOLE_FRAME_BYTES = 4 * 1024;

/** Queued frames are written together up to this many bytes (fewer system calls). */
const COALESCE_BYTES = 64 * 1024;

/**
 * What a queued frame costs beyond its bytes, as counted toward `maxBufferedBytes` and the
 * session's read pause: its header is counted with its bytes, this is the rough cost of the
 * objects that hold it in the queue, so that many small frames are not counted as nearly free.
 */
export const FRAME_OVERHEAD_BYTES = 64;

/** What the queue tells its session. */
export interface SendQueueEvents {
  /** More than `maxBufferedBytes` wait behind the frame being written: the client is not reading. */
  overflow(): void;
  /** A write failed (the connection was reset), or a Blob could not be read. */
  failed(reason: string): void;
  /** Frames were written: `waitingBytes` went down. */
  written(): void;
}

interface QueuedFrame {
  /** Header and payload (an owned copy), or null while a Blob is being read. */
  parts: Uint8Array[] | null;
  /** Settles with the parts of a frame whose payload is a Blob being read. */
  pending: Promise<Uint8Array[]> | null;
  /** Bytes on the wire (the Blob's size, for a pending one); counted with FRAME_OVERHEAD_BYTES. */
  size: number;
  /** Application bytes, the part of `bufferedAmount` this frame accounts for. */
  payload: number;
}

/** The frames one connection has to write, and their writer. */
export class SendQueue {
  readonly #transport: WebSocketTransport;
  readonly #maxBufferedBytes: number;
  readonly #events: SendQueueEvents;

  #queue: QueuedFrame[] = [];
  /** Bytes of the queued frames, each counted with FRAME_OVERHEAD_BYTES. */
  #queuedBytes = 0;
  #bufferedAmount = 0;
  #writing = false;
  #stopped = false;
  /** The Pong queued and not yet being written, whose payload a newer Ping replaces. */
  #waitingPong: QueuedFrame | null = null;
  #drainWaiters: (() => void)[] = [];

  constructor(transport: WebSocketTransport, maxBufferedBytes: number, events: SendQueueEvents) {
    this.#transport = transport;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#events = events;
  }

  /** Message bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /**
   * Bytes waiting behind the frame being written, each frame counted with
   * {@linkcode FRAME_OVERHEAD_BYTES}: what `maxBufferedBytes` bounds.
   */
  get waitingBytes(): number {
    const head = this.#queue[0];
    return head === undefined ? 0 : this.#queuedBytes - head.size - FRAME_OVERHEAD_BYTES;
  }

  /** Queues a frame; `isData`: its payload counts toward `bufferedAmount`. */
  enqueueFrame(opcode: number, payload: Uint8Array, isData: boolean): void {
    // A small frame is built whole at once (one buffer, written as is); a large one keeps its
    // payload as given, written after its header without a copy.
    const parts = payload.length <= WHOLE_FRAME_BYTES
      ? [encodeFrame({ opcode }, payload)]
      : [encodeFrameHeader({ opcode }, payload.length), payload];
    this.#enqueue({
      parts,
      pending: null,
      size: parts.length === 1 ? parts[0]!.length : parts[0]!.length + payload.length,
      payload: isData ? payload.length : 0,
    });
  }

  /** Queues a binary message whose bytes are a Blob's, read in order with the other frames. */
  enqueueBlob(blob: Blob): void {
    const pending = blob.arrayBuffer().then((buffer) => {
      const payload = new Uint8Array(buffer);
      return [encodeFrameHeader({ opcode: OPCODE.BINARY }, payload.length), payload];
    });
    this.#enqueue({ parts: null, pending, size: blob.size, payload: blob.size });
  }

  /** Queues a Pong with `data`, or gives it to the Pong already waiting (RFC 6455 §5.5.3). */
  answerPing(data: Uint8Array): void {
    const waiting = this.#waitingPong;
    if (waiting === null) {
      this.enqueueFrame(OPCODE.PONG, data, false);
      // Still queued (not taken by the write loop, which starts at once on an empty queue).
      const last = this.#queue.at(-1);
      if (last !== undefined && last !== this.#queue[0]) this.#waitingPong = last;
      return;
    }
    const frame = encodeFrame({ opcode: OPCODE.PONG }, data);
    this.#queuedBytes += frame.length - waiting.size;
    waiting.parts = [frame];
    waiting.size = frame.length;
  }

  /** Runs `callback` once everything queued so far is written (at once if nothing is queued). */
  whenWritten(callback: () => void): void {
    if (this.#queue.length === 0 && !this.#writing) callback();
    else this.#drainWaiters.push(callback);
  }

  /** Drops everything queued and writes nothing more (the connection is closing). */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#drainWaiters = [];
    this.#queuedBytes = 0;
    this.#bufferedAmount = 0;
    this.#waitingPong = null;
  }

  #enqueue(frame: QueuedFrame): void {
    if (this.#stopped) return;
    this.#queue.push(frame);
    this.#queuedBytes += frame.size + FRAME_OVERHEAD_BYTES;
    this.#bufferedAmount += frame.payload;
    // The frame at the head of the queue (being written) may be of any size: the application
    // made it and holds its bytes anyway. What waits behind it is bounded: more than the limit
    // there means the client is not reading.
    if (this.waitingBytes > this.#maxBufferedBytes) {
      this.#events.overflow();
      return;
    }
    if (!this.#writing) void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const first = this.#queue[0]!;
        if (first.parts === null) {
          try {
            first.parts = await first.pending!;
          } catch {
            if (!this.#stopped) this.#events.failed("a Blob given to send() could not be read");
            return;
          }
          if (this.#stopped) return;
          // Counted at the Blob's size until now; the frame adds its header.
          const size = first.parts.reduce((sum, part) => sum + part.length, 0);
          this.#queuedBytes += size - first.size;
          first.size = size;
        }
        let count = 0;
        let total = 0;
        const parts: Uint8Array[] = [];
        for (const frame of this.#queue) {
          if (frame.parts === null || (count > 0 && total + frame.size > COALESCE_BYTES)) break;
          parts.push(...frame.parts);
          total += frame.size;
          count++;
          // Being written now: a newer Ping gets a Pong of its own.
          if (frame === this.#waitingPong) this.#waitingPong = null;
        }
        const writes = parts.length === 1 || total > COALESCE_BYTES
          ? parts
          : [concat(parts, total)];
        try {
          for (const bytes of writes) await this.#transport.write(bytes);
        } catch {
          if (!this.#stopped) this.#events.failed("write failed: connection reset");
          return;
        }
        if (this.#stopped) return;
        for (const frame of this.#queue.splice(0, count)) {
          this.#queuedBytes -= frame.size + FRAME_OVERHEAD_BYTES;
          this.#bufferedAmount -= frame.payload;
        }
        this.#events.written();
      }
    } finally {
      this.#writing = false;
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
