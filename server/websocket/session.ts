/**
 * The I/O loop of one WebSocket connection after the 101 response: reads frames through the pure
 * codec (server/http1/websocket_*.ts), writes with backpressure, keeps the connection alive with
 * pings, and runs the closing handshake. It owns the transport from `start()` to the one
 * `transport.close()` call, and tells its socket what happened through a {@linkcode SessionSink}.
 *
 * Closing, in the cases that end a session (RFC 6455 §7):
 * - The client sends Close: the session answers with a Close echoing its code, then closes the
 *   TCP connection once the answer is written (the server closes first, §7.1.1). Clean.
 * - The application (or shutdown) sends Close: incoming messages are dropped, and the TCP
 *   connection is closed when the client's Close arrives (clean), or after `closeTimeoutMs`.
 * - The client breaks the protocol: the session sends Close with the code of the violation,
 *   half-closes, reads and drops until the client closes or `closeTimeoutMs` passes (so that the
 *   client reads the Close frame instead of a reset), and reports an error.
 * - No frame for `idleTimeoutMs / 2` after a Ping: Close 1001, closed once written, error.
 * - More than `maxBufferedBytes` queued behind the frame being written (a client that does not
 *   read), a reset, or the client's FIN without Close: the connection is closed at once (1006,
 *   not clean).
 *
 * @module
 */

import { CLOSE_CODE, CloseHandshake, encodeClosePayload } from "../http1/websocket_close.ts";
import {
  encodeFrame,
  encodeFrameHeader,
  OPCODE,
  WebSocketProtocolError,
} from "../http1/websocket_frames.ts";
import { MessageReader, NEED_MESSAGE_DATA } from "../http1/websocket_messages.ts";
import type { WebSocketTransport } from "./transport.ts";

/** Limits of one session (sizes in bytes, times in milliseconds; 0 disables the idle timeout). */
export interface SessionLimits {
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly idleTimeoutMs: number;
  readonly closeTimeoutMs: number;
}

/** How the session ended, for the `close` (and `error`) events. */
export interface SessionEnd {
  /** The client's close code (1005 if its Close had none), or 1006 without a Close from it. */
  readonly code: number;
  readonly reason: string;
  /** True when both Close frames were exchanged before the TCP connection closed. */
  readonly wasClean: boolean;
  /** Why the connection was failed (an `error` event is due), or null. */
  readonly error: string | null;
}

/** What the session tells its socket. Calls come from the session's own tasks, never re-entrantly. */
export interface SessionSink {
  /** A complete message, delivered only before any Close frame was sent or received. */
  message(data: string | Uint8Array): void;
  /** The closing handshake started (a Close frame was sent or received). */
  closing(): void;
  /** The TCP connection is closed; called once, last. */
  closed(end: SessionEnd): void;
}

const utf8 = new TextEncoder();

/** Size of the session's read buffer: one read takes a few typical messages. */
const READ_BUFFER_BYTES = 16 * 1024;

/** Frames with payloads up to this size are copied into one buffer with their header. */
const WHOLE_FRAME_BYTES = 4 * 1024;

/** Queued frames are written together up to this many bytes (fewer system calls). */
const COALESCE_BYTES = 64 * 1024;

interface QueuedFrame {
  /** Header and payload (an owned copy), or null while a Blob is being read. */
  parts: Uint8Array[] | null;
  /** Settles with the parts of a frame whose payload is a Blob being read. */
  pending: Promise<Uint8Array[]> | null;
  /** Bytes on the wire (the Blob's size, for a pending one). */
  size: number;
  /** Application bytes, the part of `bufferedAmount` this frame accounts for. */
  payload: number;
}

/** Whether the session waits for the client after sending its Close frame. */
const enum Linger {
  /** Keep reading until the client's Close (or closeTimeoutMs). */
  AwaitClose,
  /** Half-close once written, read and drop until the client's FIN (or closeTimeoutMs). */
  AwaitEnd,
  /** Close as soon as the Close frame is written (or closeTimeoutMs). */
  None,
}

/** One WebSocket connection's I/O. */
export class WebSocketSession {
  readonly #transport: WebSocketTransport;
  readonly #sink: SessionSink;
  readonly #limits: SessionLimits;
  readonly #reader: MessageReader;
  readonly #handshake = new CloseHandshake();
  readonly #closed = Promise.withResolvers<void>();

  #finished = false;
  #unsubscribe: (() => void) | null = null;
  /** Why the session failed the connection, once it did. */
  #failure: string | null = null;
  #linger = Linger.AwaitClose;
  /** When the closing handshake gives up waiting (ms), or Infinity. */
  #closeDeadline = Infinity;
  #lastActivity = 0;
  #pingSentAt = -1;

  #queue: QueuedFrame[] = [];
  #queuedBytes = 0;
  #bufferedAmount = 0;
  #writing = false;

  constructor(transport: WebSocketTransport, sink: SessionSink, limits: SessionLimits) {
    this.#transport = transport;
    this.#sink = sink;
    this.#limits = limits;
    this.#reader = new MessageReader({ maxMessageBytes: limits.maxMessageBytes });
  }

  /** Settles when the transport is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Application bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** Whether data frames may still be sent (no Close frame sent, transport open). */
  get maySendData(): boolean {
    return !this.#finished && this.#handshake.maySendData;
  }

  /** Starts reading (the transport's initial bytes first) and the timers. */
  start(): void {
    if (this.#finished) return;
    const clock = this.#transport.clock;
    this.#lastActivity = clock.now;
    this.#unsubscribe = clock.subscribe((now) => this.#tick(now));
    void this.#readLoop();
  }

  /** Queues a text message (its UTF-8 encoding; lone surrogates become U+FFFD). */
  sendText(text: string): void {
    if (!this.maySendData) return;
    this.#enqueueFrame(OPCODE.TEXT, utf8.encode(text), true);
  }

  /** Queues a binary message from bytes the session may keep (the caller passes a copy). */
  sendBinary(bytes: Uint8Array): void {
    if (!this.maySendData) return;
    this.#enqueueFrame(OPCODE.BINARY, bytes, true);
  }

  /** Queues a binary message whose bytes are a Blob's, read in order with the other messages. */
  sendBlob(blob: Blob): void {
    if (!this.maySendData) return;
    const pending = blob.arrayBuffer().then((buffer) => {
      const payload = new Uint8Array(buffer);
      return [encodeFrameHeader({ opcode: OPCODE.BINARY }, payload.length), payload];
    });
    this.#enqueue({ parts: null, pending, size: blob.size, payload: blob.size });
  }

  /**
   * Starts the closing handshake with `code` (none: an empty Close payload) and `reason`, both
   * already validated. Does nothing once a Close frame was sent.
   */
  close(code?: number, reason?: string): void {
    if (this.#finished || !this.#handshake.maySendData) return;
    this.#sendClose(encodeClosePayload(code, reason), Linger.AwaitClose);
  }

  /** Server shutdown: Close 1001, then the usual wait for the client's Close. */
  shutdown(): void {
    this.close(CLOSE_CODE.GOING_AWAY, "server shutting down");
  }

  /** Closes the connection now (the shutdown's grace period is over, or the attach failed). */
  abort(): void {
    this.#finishUnclean(null);
  }

  async #readLoop(): Promise<void> {
    const initial = this.#transport.initialBytes;
    if (initial.length > 0) this.#receive(initial);
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    while (!this.#finished) {
      let count: number | null;
      try {
        count = await this.#transport.read(buffer);
      } catch {
        if (this.#finished) return;
        this.#finishUnclean(this.#failure ?? "connection reset by the client");
        return;
      }
      if (this.#finished) return;
      if (count === null) {
        // After the client's Close, the end comes once our answer is written; otherwise the
        // client is gone, or (after we failed the connection) done reading our Close.
        if (!this.#reader.closed) this.#finishUnclean(this.#failure);
        return;
      }
      // Any bytes prove the client alive: a long frame cannot carry a Pong in its middle.
      this.#lastActivity = this.#transport.clock.now;
      this.#pingSentAt = -1;
      if (this.#failure === null) this.#receive(buffer.subarray(0, count));
    }
  }

  #receive(bytes: Uint8Array): void {
    this.#reader.feed(bytes);
    for (;;) {
      let event;
      try {
        event = this.#reader.next();
      } catch (error) {
        const code = error instanceof WebSocketProtocolError
          ? error.closeCode
          : CLOSE_CODE.INTERNAL_ERROR;
        this.#fail(code, error instanceof Error ? error.message : String(error), Linger.AwaitEnd);
        return;
      }
      if (event === NEED_MESSAGE_DATA || this.#finished) return;
      switch (event.type) {
        case "text":
          if (this.#handshake.state === "open") this.#sink.message(event.text);
          break;
        case "binary":
          if (this.#handshake.state === "open") this.#sink.message(event.data);
          break;
        case "ping":
          if (this.#handshake.maySendData) this.#enqueueFrame(OPCODE.PONG, event.data, false);
          break;
        case "pong":
          break;
        case "close":
          this.#receiveClose(event.code, event.reason);
          return;
      }
    }
  }

  #receiveClose(code: number, reason: string): void {
    this.#handshake.receiveClose();
    const end: SessionEnd = { code, reason, wasClean: true, error: null };
    this.#closeDeadline = this.#transport.clock.now + this.#limits.closeTimeoutMs;
    if (this.#handshake.state === "close-received") {
      // Echo the client's code (§5.5.1), without a reason; none for a Close without a code.
      this.#sink.closing();
      this.#enqueueFrame(
        OPCODE.CLOSE,
        encodeClosePayload(code === CLOSE_CODE.NO_STATUS ? undefined : code),
        false,
      );
      this.#handshake.sendClose();
    }
    this.#whenWritten(() => this.#finish(end));
  }

  /** Fails the connection (§7.1.7): a Close frame with `code`, then the end after `linger`. */
  #fail(code: number, message: string, linger: Linger): void {
    if (this.#finished || this.#failure !== null) return;
    this.#failure = message;
    if (this.#handshake.maySendData) {
      this.#sendClose(encodeClosePayload(code), linger);
    } else {
      // Our Close is already out (the application closed first): just stop waiting politely.
      this.#linger = linger;
      this.#armLinger();
    }
  }

  #sendClose(payload: Uint8Array, linger: Linger): void {
    this.#handshake.sendClose();
    this.#sink.closing();
    this.#enqueueFrame(OPCODE.CLOSE, payload, false);
    this.#linger = linger;
    this.#closeDeadline = this.#transport.clock.now + this.#limits.closeTimeoutMs;
    this.#armLinger();
  }

  #armLinger(): void {
    if (this.#linger === Linger.AwaitEnd) {
      this.#whenWritten(() => void this.#transport.closeWrite());
    } else if (this.#linger === Linger.None) {
      this.#whenWritten(() => this.#finishUnclean(this.#failure));
    }
  }

  #tick(now: number): void {
    if (this.#finished) return;
    if (now >= this.#closeDeadline) {
      this.#finishUnclean(this.#failure);
      return;
    }
    const idle = this.#limits.idleTimeoutMs;
    if (idle === 0 || this.#handshake.state !== "open") return;
    if (this.#pingSentAt < 0) {
      if (now - this.#lastActivity >= idle / 2) {
        this.#pingSentAt = now;
        this.#enqueueFrame(OPCODE.PING, new Uint8Array(0), false);
      }
    } else if (now - this.#pingSentAt >= idle / 2) {
      this.#fail(CLOSE_CODE.GOING_AWAY, "no response to ping within idleTimeout", Linger.None);
    }
  }

  #enqueueFrame(opcode: number, payload: Uint8Array, isData: boolean): void {
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

  #enqueue(frame: QueuedFrame): void {
    if (this.#finished) return;
    this.#queue.push(frame);
    this.#queuedBytes += frame.size;
    this.#bufferedAmount += frame.payload;
    // The frame at the head of the queue (being written) may be of any size: the application
    // made it and holds its bytes anyway. What waits behind it is bounded: more than the limit
    // there means the client is not reading.
    if (this.#queuedBytes - this.#queue[0]!.size > this.#limits.maxBufferedBytes) {
      this.#finishUnclean("send buffer over maxBufferedAmount: the client is not reading");
      return;
    }
    if (!this.#writing) void this.#writeLoop();
  }

  #drainWaiters: (() => void)[] = [];

  /** Runs `callback` once everything queued so far is written (at once if nothing is queued). */
  #whenWritten(callback: () => void): void {
    if (this.#queue.length === 0 && !this.#writing) callback();
    else this.#drainWaiters.push(callback);
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#finished) {
        const first = this.#queue[0]!;
        if (first.parts === null) {
          try {
            first.parts = await first.pending!;
          } catch {
            this.#finishUnclean("a Blob given to send() could not be read");
            return;
          }
          if (this.#finished) return;
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
        }
        const writes = parts.length === 1 || total > COALESCE_BYTES
          ? parts
          : [concat(parts, total)];
        try {
          for (const bytes of writes) await this.#transport.write(bytes);
        } catch {
          if (!this.#finished) {
            this.#finishUnclean(this.#failure ?? "write failed: connection reset");
          }
          return;
        }
        if (this.#finished) return;
        for (const frame of this.#queue.splice(0, count)) {
          this.#queuedBytes -= frame.size;
          this.#bufferedAmount -= frame.payload;
        }
      }
    } finally {
      this.#writing = false;
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  #finishUnclean(error: string | null): void {
    this.#finish({ code: CLOSE_CODE.ABNORMAL, reason: "", wasClean: false, error });
  }

  #finish(end: SessionEnd): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#queue = [];
    this.#drainWaiters = [];
    this.#queuedBytes = 0;
    this.#bufferedAmount = 0;
    this.#transport.close();
    this.#closed.resolve();
    // The events come in their own task's turn, never inside a send()/close() call.
    queueMicrotask(() => this.#sink.closed(end));
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
