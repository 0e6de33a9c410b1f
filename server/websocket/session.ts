/**
 * The I/O loop of one WebSocket connection after the 101 response: reads frames through the pure
 * codec (server/http1/websocket_*.ts), writes through its {@linkcode SendQueue} (send_queue.ts,
 * backpressure and the counting of what waits), keeps the connection alive with pings, and runs
 * the closing handshake. It owns the transport from `start()` to the one
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
 * A client that sends without reading cannot make the session queue answers without bound:
 * - Each queued frame counts as its bytes plus `FRAME_OVERHEAD_BYTES` (send_queue.ts) toward
 *   `maxBufferedBytes` (the memory a frame costs, not just its bytes: an empty frame is not free).
 * - At most one Pong waits to be written: a Ping that comes while one waits replaces its payload
 *   (RFC 6455 §5.5.3 allows answering only the most recent Ping).
 * - The session stops reading (between frames) while more than {@linkcode READ_PAUSE_BYTES} wait
 *   behind the frame being written, and reads again once they are written: TCP flow control then
 *   slows the client down, as `Deno.serve` does by awaiting each Pong's write before reading on.
 *
 * @module
 */

import { CLOSE_CODE, CloseHandshake, encodeClosePayload } from "../http1/websocket_close.ts";
import { OPCODE, WebSocketProtocolError } from "../http1/websocket_frames.ts";
import { MessageReader, NEED_MESSAGE_DATA } from "../http1/websocket_messages.ts";
import { SendQueue } from "./send_queue.ts";
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

/**
 * Reading stops while more than this many bytes wait behind the frame being written (each frame
 * counted with send_queue.ts's `FRAME_OVERHEAD_BYTES`): the answers and echoes a client's frames
 * cause are bounded by about this much plus what one of its messages causes.
 */
export const READ_PAUSE_BYTES = 64 * 1024;

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

  readonly #sending: SendQueue;
  /** Settles when frames were written (or the session ended) while reading is paused. */
  #readPaused: PromiseWithResolvers<void> | null = null;

  constructor(transport: WebSocketTransport, sink: SessionSink, limits: SessionLimits) {
    this.#transport = transport;
    this.#sink = sink;
    this.#limits = limits;
    this.#reader = new MessageReader({ maxMessageBytes: limits.maxMessageBytes });
    this.#sending = new SendQueue(transport, limits.maxBufferedBytes, {
      overflow: () =>
        this.#finishUnclean("send buffer over maxBufferedAmount: the client is not reading"),
      failed: (reason) => this.#finishUnclean(this.#failure ?? reason),
      written: () => {
        if (this.#readPaused === null) return;
        // The client reads what we write: it is alive even though we do not read it now.
        this.#noteActivity();
        if (this.#sending.waitingBytes <= READ_PAUSE_BYTES) this.#readPaused.resolve();
      },
    });
  }

  /** Settles when the transport is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Application bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#sending.bufferedAmount;
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
    this.#sending.enqueueFrame(OPCODE.TEXT, utf8.encode(text), true);
  }

  /** Queues a binary message from bytes the session may keep (the caller passes a copy). */
  sendBinary(bytes: Uint8Array): void {
    if (!this.maySendData) return;
    this.#sending.enqueueFrame(OPCODE.BINARY, bytes, true);
  }

  /** Queues a binary message whose bytes are a Blob's, read in order with the other messages. */
  sendBlob(blob: Blob): void {
    if (!this.maySendData) return;
    this.#sending.enqueueBlob(blob);
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
    if (initial.length > 0) this.#reader.feed(initial);
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    for (;;) {
      // Handle what was read; between frames, wait while too much waits to be written.
      while (!this.#finished && !this.#receive()) {
        this.#readPaused = Promise.withResolvers();
        await this.#readPaused.promise;
        this.#readPaused = null;
      }
      if (this.#finished) return;
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
      this.#noteActivity();
      if (this.#failure === null) this.#reader.feed(buffer.subarray(0, count));
    }
  }

  #noteActivity(): void {
    this.#lastActivity = this.#transport.clock.now;
    this.#pingSentAt = -1;
  }

  /**
   * Handles the events of the bytes fed so far. Returns true once they are all handled (or the
   * session failed or ended), false if it stopped between frames because more than
   * READ_PAUSE_BYTES wait to be written: the rest stays in the reader until called again.
   */
  #receive(): boolean {
    for (;;) {
      if (this.#finished || this.#failure !== null) return true;
      if (this.#sending.waitingBytes > READ_PAUSE_BYTES) return false;
      let event;
      try {
        event = this.#reader.next();
      } catch (error) {
        const code = error instanceof WebSocketProtocolError
          ? error.closeCode
          : CLOSE_CODE.INTERNAL_ERROR;
        this.#fail(code, error instanceof Error ? error.message : String(error), Linger.AwaitEnd);
        return true;
      }
      if (event === NEED_MESSAGE_DATA) return true;
      switch (event.type) {
        case "text":
          if (this.#handshake.state === "open") this.#sink.message(event.text);
          break;
        case "binary":
          if (this.#handshake.state === "open") this.#sink.message(event.data);
          break;
        case "ping":
          if (this.#handshake.maySendData) this.#sending.answerPing(event.data);
          break;
        case "pong":
          break;
        case "close":
          this.#receiveClose(event.code, event.reason);
          return true;
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
      this.#sending.enqueueFrame(
        OPCODE.CLOSE,
        encodeClosePayload(code === CLOSE_CODE.NO_STATUS ? undefined : code),
        false,
      );
      this.#handshake.sendClose();
    }
    this.#sending.whenWritten(() => this.#finish(end));
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
    this.#sending.enqueueFrame(OPCODE.CLOSE, payload, false);
    this.#linger = linger;
    this.#closeDeadline = this.#transport.clock.now + this.#limits.closeTimeoutMs;
    this.#armLinger();
  }

  #armLinger(): void {
    if (this.#linger === Linger.AwaitEnd) {
      this.#sending.whenWritten(() => void this.#transport.closeWrite());
    } else if (this.#linger === Linger.None) {
      this.#sending.whenWritten(() => this.#finishUnclean(this.#failure));
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
        this.#sending.enqueueFrame(OPCODE.PING, new Uint8Array(0), false);
      }
    } else if (now - this.#pingSentAt >= idle / 2) {
      this.#fail(CLOSE_CODE.GOING_AWAY, "no response to ping within idleTimeout", Linger.None);
    }
  }

  #finishUnclean(error: string | null): void {
    this.#finish({ code: CLOSE_CODE.ABNORMAL, reason: "", wasClean: false, error });
  }

  #finish(end: SessionEnd): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#sending.stop();
    this.#readPaused?.resolve();
    this.#transport.close();
    this.#closed.resolve();
    // The events come in their own task's turn, never inside a send()/close() call.
    queueMicrotask(() => this.#sink.closed(end));
  }
}
