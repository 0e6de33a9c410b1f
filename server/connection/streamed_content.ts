/**
 * A response's content read from its `ReadableStream` and sent with the framing chosen for it
 * (RFC 9112 §6): as it is for a Content-Length or close-delimited response, in chunks of the
 * chunked transfer coding (§7.1) otherwise. A Content-Length response ends at its length: the
 * stream is cancelled there, whether or not it would have ended (never more bytes than announced;
 * a chunk that holds more closes the connection after the announced ones). A byte stream is read with a BYOB reader into one reused buffer, any other stream
 * chunk by chunk; the head and the first chunk leave together unless the stream is slow to start.
 *
 * The head, the framing decision and in-memory content are response_writer.ts's.
 *
 * @module
 */

import { encodeChunk, LAST_CHUNK } from "../http1/body_encoding.ts";
import { HttpError } from "../http1/errors.ts";
import type { ResponseFraming } from "../http1/response_framing.ts";
import { CloseReason, Writing } from "./connection_state.ts";
import {
  pieceQueued,
  pieceWritten,
  type ResponseProgress,
  type WriterHost,
} from "./response_writer.ts";

/**
 * Buffer a byte-stream response body is read into, reused for every chunk. Larger chunks mean
 * fewer reads and writes per file; 256 KiB measured 1.45× faster than 64 KiB for a 10 MiB file
 * (2026-11-26). On 2026-11-30, 64 KiB chunks gave 1.16× the req/s of 256 KiB on bench S4 but at
 * 1.35× the server CPU per response: the gain was the client's (smaller bursts), which socket
 * writes of at most 64 KiB (socket_io.ts) now give without the server's cost.
 */
const STREAM_CHUNK_BYTES = 256 * 1024;

/**
 * Buffer lent to a byte stream that announces more than {@linkcode STREAM_CHUNK_BYTES} of content
 * (a large file), while fewer than {@linkcode LARGE_STREAM_BUFFERS_MAX} are lent. Every chunk
 * costs a file read on Deno's blocking pool (a thread hop, with a descriptor `dup` and `close`
 * around it: `strace`) and a turn of the stream machinery. Four times fewer chunks: 0.89× the
 * server CPU per response of a 10 MiB file at the same req/s (bench S4, one run, 3 rounds,
 * 2026-11-30; the socket writes stay at most 64 KiB each, see socket_io.ts). A response that
 * finds none free reads 256 KiB at a time.
 */
const LARGE_STREAM_CHUNK_BYTES = 1024 * 1024;

/** Most large buffers lent at once (16 MiB). */
const LARGE_STREAM_BUFFERS_MAX = 16;

/**
 * Most large buffers kept for reuse once given back (8 MiB stays resident after a burst of
 * downloads). A buffer is given back only when its stream ended or its response reached its
 * Content-Length (then no read fills it and every write of it has finished, even if the stream fell
 * short of its Content-Length); one whose response was stopped
 * (an error, a failed or stalled write, a shutdown) is left to the garbage collector, as a write
 * of it may still be in flight.
 */
const LARGE_STREAM_POOL_MAX = 8;

const largeStreamPool: Uint8Array<ArrayBuffer>[] = [];
let largeStreamBuffersLent = 0;

/**
 * The large buffers lent and kept now (for tests: every response that ends gives its lend back).
 * Internal to the engine.
 */
export function largeStreamBufferCounts(): { lent: number; pooled: number } {
  return { lent: largeStreamBuffersLent, pooled: largeStreamPool.length };
}

/**
 * A large buffer from the pool, zeroed: a stream that claims more bytes than it wrote (a faulty
 * `respond(n)`) must never send bytes of another response. 1 MiB of zeroes costs about as much as
 * one of the file reads saved. Within one response the buffer is not zeroed between chunks (no
 * buffer is): such a source can only resend its own earlier bytes.
 */
function lendLargeBuffer(): Uint8Array<ArrayBuffer> {
  const pooled = largeStreamPool.pop();
  const buffer = pooled === undefined ? new Uint8Array(LARGE_STREAM_CHUNK_BYTES) : pooled.fill(0);
  largeStreamBuffersLent++;
  return buffer;
}

const NOT_READY = Symbol("not ready");
const NOT_READY_PROMISE = Promise.resolve(NOT_READY);

/**
 * Sends a stream's content with the chosen framing. A byte stream is read into one buffer that
 * is reused for every chunk (no garbage per chunk, bounded memory per response).
 */
export async function pumpContent(
  w: WriterHost,
  progress: ResponseProgress,
  chunks: StreamChunks,
  framing: ResponseFraming,
): Promise<boolean> {
  const io = w.io;
  progress.stop = () => chunks.stop();
  let written = 0;
  let complete = false;
  let writeFailed = false;
  try {
    for (;;) {
      if (framing.kind === "length" && written === framing.length) {
        // A length-framed response is complete once its length is written (RFC 9112 §6.3): the
        // stream is not read again, so one that never closes cannot hold the connection (and the
        // requests pipelined behind it); hyper drops a sized body at its length the same way.
        // Its source's cancel() runs; no read is in flight, so a lent buffer is free again.
        complete = true;
        chunks.stop();
        break;
      }
      const next = chunks.read();
      // The head waits in the output buffer for the first chunk, so that both go together;
      // but not if the stream is slow to start.
      if (io.outputLength > 0 && (await Promise.race([next, NOT_READY_PROMISE])) === NOT_READY) {
        try {
          await io.flush();
        } catch (error) {
          writeFailed = true;
          throw error;
        }
      }
      const result = await next;
      if (result.done) {
        complete = true;
        break;
      }
      const value = result.value;
      if (!(value instanceof Uint8Array)) throw new TypeError("response body chunk is not bytes");
      if (value.length === 0) continue;
      let piece = value;
      let last = false;
      if (framing.kind === "length") {
        const room = framing.length - written;
        if (value.length > room) {
          // More bytes than announced: send what was promised and close (never desync).
          piece = value.subarray(0, room);
          last = true;
        }
      }
      try {
        if (piece.length > 0) {
          // Counted as it leaves (bodyBytesSent): a cut download counts the part of this piece
          // the socket took. The chunk's size line goes out before its data.
          if (framing.kind === "chunked") {
            const chunk = encodeChunk(piece);
            pieceQueued(progress, io, chunk.length - piece.length - 2, piece.length);
            await io.send(chunk);
          } else {
            pieceQueued(progress, io, 0, piece.length);
            await io.send(piece);
          }
          pieceWritten(progress);
        }
      } catch (error) {
        writeFailed = true;
        throw error;
      }
      written += piece.length;
      if (last) {
        chunks.stop();
        w.state.disable(CloseReason.ResponseIncomplete);
        return false;
      }
    }
  } catch (error) {
    chunks.stop(error);
    // A client that went away (or whose own request body failed, an echo cut short), or a
    // connection closed under the stream, is not the handler's failure: nothing to report.
    if (!io.closed && !io.eof && !writeFailed && !(error instanceof HttpError)) {
      w.reportError(error);
    }
    w.state.disable(writeFailed ? CloseReason.WriteFailed : CloseReason.ResponseIncomplete);
    return false;
  } finally {
    progress.stop = null;
    chunks.release(complete);
  }
  if (io.closed || (framing.kind === "length" && written !== framing.length)) {
    w.state.disable(CloseReason.ResponseIncomplete);
    return false;
  }
  if (framing.kind === "chunked") io.append(LAST_CHUNK);
  w.state.writing = Writing.Done;
  return true;
}

const DONE_RESULT: ReadableStreamReadResult<Uint8Array> = Object.freeze({ done: true });

/**
 * Reads a response stream chunk by chunk. A byte stream is read with a BYOB reader into one
 * buffer that is reused for every chunk (no garbage per chunk, bounded memory per response).
 * Each read settles when the stream gives a chunk, ends or fails — including a byte stream whose
 * source closes while a BYOB read waits, which the Streams standard leaves pending until the
 * source responds to it (ReadableByteStreamControllerClose): the stream's `closed` ends it — and
 * when {@linkcode StreamChunks.stop} is called.
 */
export class StreamChunks {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  readonly #byob: boolean;
  #buffer: Uint8Array<ArrayBuffer> | null = null;
  #pending: PromiseWithResolvers<ReadableStreamReadResult<Uint8Array>> | null = null;

  /** The response announces more than STREAM_CHUNK_BYTES: its first read asks for a large buffer. */
  readonly #wantsLarge: boolean;
  /** A large buffer is lent to this response (given back once, by release()). */
  #large = false;

  /**
   * @param announcedLength The Content-Length the response announces, if any: more than
   *   {@linkcode STREAM_CHUNK_BYTES} lends a byte stream a large buffer (at its first read, so
   *   that the lend is inside the pump that gives it back) when one is free.
   */
  constructor(stream: ReadableStream<Uint8Array>, announcedLength: number | null = null) {
    let reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
    this.#wantsLarge = announcedLength !== null && announcedLength > STREAM_CHUNK_BYTES;
    try {
      reader = stream.getReader({ mode: "byob" });
      this.#byob = true;
    } catch {
      reader = stream.getReader();
      this.#byob = false;
    }
    this.#reader = reader;
    if (this.#byob) {
      // A read that gets the last chunk settles in the same turn as `closed`; one still pending
      // a task later is the one the standard leaves waiting. (Errors reject reads themselves.)
      reader.closed.then(() => setTimeout(() => this.#settle(DONE_RESULT), 0), () => {});
    }
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const pending = Promise.withResolvers<ReadableStreamReadResult<Uint8Array>>();
    this.#pending = pending;
    const read = this.#byob
      ? (this.#reader as ReadableStreamBYOBReader).read(this.#buffer ??= this.#firstBuffer())
      : (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
    read.then((result) => {
      if (this.#pending === pending) this.#pending = null;
      // A BYOB read gives its buffer back, the last one ("done") included: the next read (only
      // once this chunk has been written) fills it again.
      if (this.#byob && result.value !== undefined) {
        this.#buffer = new Uint8Array(result.value.buffer as ArrayBuffer);
      }
      pending.resolve(result);
    }, (error) => {
      if (this.#pending === pending) this.#pending = null;
      pending.reject(error);
    });
    return pending.promise;
  }

  #firstBuffer(): Uint8Array<ArrayBuffer> {
    if (this.#wantsLarge && largeStreamBuffersLent < LARGE_STREAM_BUFFERS_MAX) {
      const buffer = lendLargeBuffer();
      this.#large = true;
      return buffer;
    }
    return new Uint8Array(STREAM_CHUNK_BYTES);
  }

  /**
   * The response is over: a large buffer goes back to its pool — only when its stream ended or
   * the response reached its length (`complete`), when no read or write can still hold it (after an error or a stop, a write of
   * it may still be in flight, so it is left to the garbage collector). Idempotent.
   */
  release(complete: boolean): void {
    if (!this.#large) return;
    this.#large = false;
    largeStreamBuffersLent--;
    const buffer = this.#buffer;
    if (
      complete && buffer !== null && buffer.byteLength === LARGE_STREAM_CHUNK_BYTES &&
      largeStreamPool.length < LARGE_STREAM_POOL_MAX
    ) {
      largeStreamPool.push(buffer);
    }
    this.#buffer = null;
  }

  /** Cancels the stream (its source's `cancel()` runs) and ends a pending read. */
  stop(reason?: unknown): void {
    this.#reader.cancel(reason).catch(() => {});
    this.#settle(DONE_RESULT);
  }

  #settle(result: ReadableStreamReadResult<Uint8Array>): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve(result);
  }
}
