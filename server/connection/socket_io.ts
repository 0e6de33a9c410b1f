/**
 * Socket I/O of one connection and its buffers, in the manner of hyper's `proto/h1/io.rs`: one
 * read in flight at most, into a small per-connection buffer (or a large one lent from a pool),
 * and one ordered output buffer. Everything written goes through the output buffer in the order
 * it was queued — responses, interim responses, content — so nothing can overtake what was
 * queued before it.
 *
 * This file owns two waits of the connection's {@linkcode Deadlines}: a write the client does not
 * take (`WriteStall`) and lingering before close (`LingerIdle`, `LingerTotal`); and it keeps the
 * `HalfClose` wait fresh while writes make progress after the client's EOF.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ServerLimits } from "../limits.ts";
import { type Deadlines, Wait } from "./deadlines.ts";
import { type DirectRead, directReader } from "./direct_read.ts";
import { writeLatin1 } from "../http1/response_head.ts";

/** Size of a pooled output buffer; in-memory responses up to this size go out in one write. */
export const OUTPUT_BUFFER_BYTES = 64 * 1024;

/**
 * Most bytes handed to the socket in one write; larger content goes out in several. Measured on
 * bench S4 (a 10 MiB file, 8 connections over loopback; 2026-11-30, one run, 3 rounds): 64 KiB
 * writes instead of 256 KiB gave 1.06–1.49× the req/s at 0.85× the server CPU per response.
 * Probably the client's side: one that receives in small reads (wrk's are 8 KiB) copies what a
 * smaller write queued while it is still in the CPU's cache, where a large write leaves megabytes
 * queued to go cold. Responses under 64 KiB are not affected.
 */
const MAX_SOCKET_WRITE_BYTES = 64 * 1024;

/** Most idle output buffers kept for reuse (the rest are left to the garbage collector). */
const OUTPUT_POOL_MAX = 64;

/**
 * Read buffer lent to a connection whose last read filled its own small buffer (a large head,
 * pipelined requests) or that is reading a request body: larger reads, fewer system calls. It
 * goes back to a shared pool when the reader has no more use for it, so an idle connection holds
 * only its small one.
 */
const LARGE_READ_BUFFER_BYTES = 64 * 1024;

/** Most idle large read buffers kept for reuse. */
const LARGE_READ_POOL_MAX = 64;

/** Most idle per-connection read buffers kept for new connections (one pool per size). */
const READ_POOL_MAX = 1024;

const largeReadPool: Uint8Array[] = [];
const readBufferPools = new Map<number, Uint8Array[]>();
/** Output buffers not in use. Allocating typed arrays is costly in Deno; reuse is free. */
const outputPool: Uint8Array[] = [];

/** The pooled output buffers' memory, told apart from content buffers handed to `send()`. */
const ownOutputBuffers = new WeakMap<ArrayBufferLike, Uint8Array>();

function newOutputBuffer(): Uint8Array {
  const buffer = new Uint8Array(OUTPUT_BUFFER_BYTES);
  ownOutputBuffers.set(buffer.buffer, buffer);
  return buffer;
}

const RESOLVED = Promise.resolve();

function takeReadBuffer(size: number): Uint8Array {
  return readBufferPools.get(size)?.pop() ?? new Uint8Array(size);
}

function returnReadBuffer(buffer: Uint8Array): void {
  let pool = readBufferPools.get(buffer.length);
  if (pool === undefined) readBufferPools.set(buffer.length, pool = []);
  if (pool.length < READ_POOL_MAX) pool.push(buffer);
}

/** The socket operations the connection uses (a `Deno.Conn`: TCP, TLS or Unix). */
export interface ByteSocket {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  /**
   * Settles once the socket is really closed, when that can come after `close()` (TLS sends its
   * close_notify first): the server counts the connection until then. Never rejects.
   */
  readonly released?: Promise<void>;
}

/**
 * The I/O of one connection.
 *
 * @example
 * ```ts ignore
 * const io = new SocketIO(conn, limits, clock, deadlines);
 * const bytes = await io.read(false); // null at EOF
 * io.append(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
 * await io.flush();
 * ```
 */
export class SocketIO {
  readonly #socket: ByteSocket;
  /** Reads the socket's resource without `read()`'s wrapper, when it is Deno's own (direct_read.ts). */
  readonly #directRead: DirectRead | null;
  readonly #limits: ServerLimits;
  readonly #clock: Clock;
  readonly #deadlines: Deadlines;
  readonly #smallBuffer: Uint8Array;
  #largeBuffer: Uint8Array | null = null;
  /** The last read filled the buffer it was given: more is probably waiting. */
  #lastReadFilled = false;
  /** A started read whose result nobody has taken yet. */
  #pending: Promise<Uint8Array | null> | null = null;
  /** The read in flight, if any. */
  #inFlight: Promise<Uint8Array | null> | null = null;
  /** The buffer a read in flight fills. */
  #inFlightBuffer: Uint8Array | null = null;
  /** The client sent EOF, or reading failed: every later read returns null at once. */
  #eof = false;
  #output: Uint8Array | null = null;
  #outputLength = 0;
  /**
   * Pieces to write before the output buffer, in order (large content and the bytes queued before
   * it); made only when large content is sent.
   */
  #earlier: Uint8Array[] | null = null;
  /** The write loop, while it runs. */
  #writeLoop: Promise<void> | null = null;
  #looping = false;
  /** Bytes queued on this connection so far, written or not ({@linkcode SocketIO.bytesQueued}). */
  #queued = 0;
  /** Bytes the socket has taken so far ({@linkcode SocketIO.bytesWritten}). */
  #written = 0;
  #closed = false;
  /** The socket was given up to a new protocol ({@linkcode SocketIO.detach}). */
  #detached = false;
  /** Told once when the client's EOF (or a read error) is seen; null after a detach. */
  #owner: { peerGone(): void } | null;

  constructor(
    socket: ByteSocket,
    limits: ServerLimits,
    clock: Clock,
    deadlines: Deadlines,
    owner: { peerGone(): void },
  ) {
    this.#owner = owner;
    this.#socket = socket;
    this.#directRead = directReader(socket);
    this.#limits = limits;
    this.#clock = clock;
    this.#deadlines = deadlines;
    this.#smallBuffer = takeReadBuffer(limits.readBufferBytes);
  }

  /** True once the client's EOF or a read error has been seen. */
  get eof(): boolean {
    return this.#eof;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A read has been started and its result not yet taken with {@linkcode read}. */
  get reading(): boolean {
    return this.#pending !== null;
  }

  /** Bytes in the output buffer, not yet handed to the write loop. */
  get outputLength(): number {
    return this.#outputLength;
  }

  /** Bytes queued and not yet handed to the socket (the output buffer and pieces before it). */
  get backlog(): number {
    let bytes = this.#outputLength;
    const earlier = this.#earlier;
    if (earlier !== null) { for (const piece of earlier) bytes += piece.length; }
    return bytes;
  }

  /**
   * Bytes queued on this connection since it opened, whether written yet or not: the position in
   * the connection's output at which the next byte queued will go out. With
   * {@linkcode SocketIO.bytesWritten}, it tells how much of something queued has left.
   */
  get bytesQueued(): number {
    return this.#queued;
  }

  /**
   * Bytes the socket has taken since the connection opened, partial writes included (what
   * nginx's `$bytes_sent` counts): every byte before this position of the output has been
   * written, none after it.
   */
  get bytesWritten(): number {
    return this.#written;
  }

  /** Nothing queued and nothing being written. */
  get outputIdle(): boolean {
    return this.#outputLength === 0 && this.#writeLoop === null &&
      (this.#earlier === null || this.#earlier.length === 0);
  }

  /**
   * Starts a read now, whose result the next {@linkcode read} takes: it notices a client that
   * leaves (its owner hears of an EOF) and is the next request's read otherwise. Only when the
   * reader holds none of the previous read's bytes.
   */
  watch(): void {
    if (this.#pending !== null || this.#eof || this.#closed) return;
    this.#pending = this.#start(false);
  }

  /**
   * Reads once — or takes the read {@linkcode watch} started. Resolves to a view of the bytes
   * read, lent until the next read (which may reuse its buffer), or null at EOF or on error.
   * `large` asks for the pooled large buffer (request content).
   */
  read(large: boolean): Promise<Uint8Array | null> {
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      return pending;
    }
    if (this.#eof || this.#closed) return Promise.resolve(null);
    // Never two reads at once: a second reader (lingering, while the body pump still waits)
    // shares the read in flight.
    return this.#inFlight ?? this.#start(large);
  }

  #start(large: boolean): Promise<Uint8Array | null> {
    let buffer = this.#smallBuffer;
    if (large || this.#lastReadFilled) {
      buffer = this.#largeBuffer ??= largeReadPool.pop() ?? new Uint8Array(LARGE_READ_BUFFER_BYTES);
    } else {
      this.releaseLargeBuffer();
    }
    this.#inFlightBuffer = buffer;
    const direct = this.#directRead;
    return this.#inFlight = direct === null
      ? this.#socket.read(buffer).then(this.#onRead, this.#onReadFailed)
      : direct(buffer).then(this.#onDirectRead, this.#onReadFailed);
  }

  // Made once per connection rather than per read.
  readonly #onRead = (n: number | null): Uint8Array | null => {
    const buffer = this.#inFlightBuffer!;
    this.#inFlightBuffer = null;
    this.#inFlight = null;
    if (n === null || this.#closed) return this.#sawEof();
    this.#lastReadFilled = n === buffer.length;
    return buffer.subarray(0, n);
  };

  /** A direct read's count: 0 at EOF, where `read()` gives null. */
  readonly #onDirectRead = (n: number): Uint8Array | null => this.#onRead(n === 0 ? null : n);

  readonly #onReadFailed = (): null => {
    this.#inFlightBuffer = null;
    this.#inFlight = null;
    return this.#sawEof();
  };

  #sawEof(): null {
    if (!this.#eof) {
      this.#eof = true;
      if (!this.#closed) this.#owner?.peerGone();
    }
    return null;
  }

  /** Gives the large read buffer back to the pool; only when nothing borrows its bytes. */
  releaseLargeBuffer(): void {
    const buffer = this.#largeBuffer;
    if (buffer === null || buffer === this.#inFlightBuffer) return;
    this.#largeBuffer = null;
    if (largeReadPool.length < LARGE_READ_POOL_MAX) largeReadPool.push(buffer);
  }

  /** Makes room for `size` more output bytes; returns the buffer to write them into. */
  reserve(size: number): Uint8Array {
    let output = this.#output;
    if (output === null) {
      output = outputPool.pop() ?? newOutputBuffer();
      this.#output = output;
    }
    if (this.#outputLength + size > output.length) {
      const grown = new Uint8Array(Math.max(output.length * 2, this.#outputLength + size));
      grown.set(output.subarray(0, this.#outputLength));
      output = grown;
      this.#output = output;
    }
    return output;
  }

  /** Where the next output byte goes in the buffer {@linkcode reserve} returned. */
  get outputEnd(): number {
    return this.#outputLength;
  }

  /** Marks bytes written into the reserved buffer as queued, up to `end`. */
  commit(end: number): void {
    this.#queued += end - this.#outputLength;
    this.#outputLength = end;
  }

  append(bytes: Uint8Array): void {
    const output = this.reserve(bytes.length);
    output.set(bytes, this.#outputLength);
    this.#outputLength += bytes.length;
    this.#queued += bytes.length;
  }

  /** Queues a string of code units 0..255 (a head). */
  appendLatin1(text: string): void {
    const output = this.reserve(text.length);
    const end = writeLatin1(text, output, this.#outputLength);
    this.#queued += end - this.#outputLength;
    this.#outputLength = end;
  }

  /**
   * Writes everything queued, in order. One write loop at a time: what is queued while it
   * writes joins its next write (responses finished during a slow write go out together), and
   * every caller gets the same promise, which settles when the queue is empty — or rejects when
   * the socket fails.
   */
  flush(): Promise<void> {
    if (this.#writeLoop !== null) return this.#writeLoop;
    if (this.#outputLength === 0 && (this.#earlier === null || this.#earlier.length === 0)) {
      return RESOLVED;
    }
    const loop = this.#runWriteLoop();
    // Kept only while it runs (a loop that found nothing to write has already ended).
    if (this.#looping) this.#writeLoop = loop;
    return loop;
  }

  /** Content bytes: small pieces join the queue, large ones go out without a copy. */
  send(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return this.flush();
    if (this.#outputLength + bytes.length <= OUTPUT_BUFFER_BYTES) {
      this.append(bytes);
    } else {
      // Written after what is queued: the queued bytes move ahead of it.
      const earlier = this.#earlier ??= [];
      if (this.#outputLength > 0) earlier.push(this.#output!.subarray(0, this.#outputLength));
      this.#output = null;
      this.#outputLength = 0;
      earlier.push(bytes);
      this.#queued += bytes.length;
    }
    return this.flush();
  }

  /**
   * Writes what is queued until nothing is left — pieces queued ahead first, then the output
   * buffer, which the loop takes whole — each write bounded by the write-stall deadline; after
   * the client's EOF, every write that makes progress keeps the half-close wait fresh.
   */
  async #runWriteLoop(): Promise<void> {
    const deadlines = this.#deadlines;
    const socket = this.#socket;
    this.#looping = true;
    try {
      for (;;) {
        let piece: Uint8Array;
        const earlier = this.#earlier;
        if (earlier !== null && earlier.length > 0) {
          piece = earlier.shift()!;
        } else if (this.#outputLength > 0) {
          piece = this.#output!.subarray(0, this.#outputLength);
          this.#output = null;
          this.#outputLength = 0;
        } else {
          return;
        }
        let offset = 0;
        while (offset < piece.length) {
          deadlines.arm(Wait.WriteStall, this.#limits.bodyTimeoutMs);
          const end = Math.min(piece.length, offset + MAX_SOCKET_WRITE_BYTES);
          const n = await socket.write(
            offset === 0 && end === piece.length ? piece : piece.subarray(offset, end),
          );
          offset += n;
          this.#written += n;
          if (this.#eof && deadlines.isSet(Wait.HalfClose)) {
            deadlines.set(Wait.HalfClose, this.#clock.now, this.#limits.halfCloseTimeoutMs);
          }
        }
        // An output buffer of ours is free again once its bytes are written (never a buffer
        // of the handler's, which it may still hold).
        const own = ownOutputBuffers.get(piece.buffer);
        if (own !== undefined && outputPool.length < OUTPUT_POOL_MAX) outputPool.push(own);
      }
    } catch (error) {
      this.#earlier = null;
      // A write that fails (reset, broken pipe) says the client is gone as surely as a read
      // that does: the exchange learns it the same way (its request's signal aborts).
      if (!this.#closed) this.#sawEof();
      throw error;
    } finally {
      deadlines.clear(Wait.WriteStall);
      this.#looping = false;
      this.#writeLoop = null;
    }
  }

  /**
   * Gives the socket up to a new protocol (after a 101): what is queued must have been written.
   * Returns the socket and the read {@linkcode watch} started, if its result was not taken yet.
   */
  detach(): { socket: ByteSocket; pending: Promise<Uint8Array | null> | null } {
    const pending = this.#pending;
    this.#pending = null;
    this.#detached = true; // closing is the new protocol's business now
    this.#owner = null;
    return { socket: this.#socket, pending };
  }

  /**
   * Closes in stages (RFC 9112 §9.6): half-close, then read and drop what the client still sends
   * until it closes too, for at most `lingerTimeMs` in all and `lingerTimeoutMs` between reads.
   * Closing with unread input would make the kernel send a reset that can destroy the response
   * before the client reads it. Bounded by time, not by bytes, like nginx's `lingering_time`: a
   * client still uploading a large body gets to finish sending, then reads its answer.
   */
  async linger(): Promise<void> {
    if (this.#closed || this.#eof) return;
    try {
      await this.flush();
      await this.#socket.closeWrite();
    } catch {
      return;
    }
    const deadlines = this.#deadlines;
    deadlines.set(Wait.LingerTotal, this.#clock.now, this.#limits.lingerTimeMs);
    while (!this.#closed) {
      deadlines.set(Wait.LingerIdle, this.#clock.now, this.#limits.lingerTimeoutMs);
      if ((await this.read(true)) === null) break;
    }
    deadlines.clear(Wait.LingerIdle);
    deadlines.clear(Wait.LingerTotal);
  }

  /** Closes the socket now: pending reads and writes fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#detached) return;
    try {
      this.#socket.close();
    } catch {
      // Already closed.
    }
    const output = this.#output;
    if (output !== null && ownOutputBuffers.has(output.buffer)) {
      if (outputPool.length < OUTPUT_POOL_MAX) outputPool.push(output);
    }
    this.#output = null;
    this.#outputLength = 0;
    this.#earlier = null;
  }

  /**
   * Gives the read buffers back to their pools. Only once nothing can touch them again: the
   * socket is closed, no read is in flight into them, and the parser holds none of their bytes.
   */
  releaseBuffers(): void {
    if (this.#inFlightBuffer !== null) return;
    returnReadBuffer(this.#smallBuffer);
    this.releaseLargeBuffer();
  }
}
