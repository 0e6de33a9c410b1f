/**
 * The engine's seam for switching protocols (RFC 9110 §7.8, §15.2.2): how a handler's 101
 * response tells the connection what to hand itself over to. The engine knows no protocol but
 * HTTP/1.1; the WebSocket module (server/websocket/) offers a {@linkcode ProtocolSwitch} with the
 * 101 it makes, and the connection, once it has written that head, gives the new protocol a
 * {@linkcode SwitchedTransport} and counts the connection until the new protocol closes it.
 *
 * Steps, as the connection takes them:
 * 1. The handler returns a 101 for which {@linkcode takeProtocolSwitch} gives a switch (any other
 *    1xx, or a 101 without one, is refused: 500 and `onError`).
 * 2. The connection writes `await responseHead(date)` — the whole 101 head — and stops reading
 *    requests: its HTTP timeouts no longer apply.
 * 3. Once the head is written: `attach(transport)`, with the bytes already read past the request
 *    head as `transport.initialBytes`. The switched connection keeps its slot (`maxConnections`)
 *    until `closed` settles; `shutdown()` starts a graceful end (the server is shutting down),
 *    `abort()` ends it now (the grace period is over).
 * 4. If the head cannot be written: `abort(reason)`, and the connection closes itself.
 *
 * @module
 */

/** What a 101 response carries so that the connection can switch protocols. */
export interface ProtocolSwitch {
  /** The complete 101 response head, with `date` as its Date field. */
  responseHead(date: string): Promise<Uint8Array>;
  /** Hands the connection over, after the head was written entirely. Once. */
  attach(transport: SwitchedTransport): SwitchedConnection;
  /** The connection will not be handed over (the head could not be written). */
  abort(reason: string): void;
}

/** The new protocol's handle on a switched connection. */
export interface SwitchedConnection {
  /** Settles when the new protocol has closed the transport: the connection's slot is free. */
  readonly closed: Promise<void>;
  /** The server is shutting down: end gracefully (a WebSocket sends Close 1001). */
  shutdown(): void;
  /** The grace period is over: close now. */
  abort(): void;
}

/**
 * Ticks for the new protocol's timers (a WebSocket's keep-alive pings and closing timeout). The
 * server's coarse `Clock` (server/clock.ts) fits as it is: a timeout fires up to one tick late.
 */
export interface SwitchClock {
  /** Current time in milliseconds, as of the last tick. */
  readonly now: number;
  /** Calls `callback` with the time on every tick until the returned function is called. */
  subscribe(callback: (now: number) => void): () => void;
}

/**
 * One switched connection, as the new protocol (a WebSocket) uses it. It calls `read` and `write` at
 * most once at a time each (a read and a write may be pending together), and `close()` exactly
 * once, last: from then on the connection is the engine's to account for (its slot is free).
 */
export interface SwitchedTransport {
  /**
   * Bytes the engine already read past the end of the upgrade request's head, in order (a client
   * may send frames right behind its request); usually empty. Handed over: the new protocol reads
   * them before calling `read`, and may modify them (a WebSocket unmasks payload in place).
   */
  readonly initialBytes: Uint8Array;
  /**
   * Reads into `buffer`, as `Deno.Conn.read`: resolves with the number of bytes read (> 0), or
   * null when the client closed its side. Rejects when the connection failed (reset) or was
   * closed by `close()`.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes all of `bytes`; resolves once the last byte was handed to the kernel. A client that
   * does not read makes it wait: this is the backpressure that `bufferedAmount` shows. Rejects
   * when the connection failed or was closed by `close()`. `bytes` is not kept after it settles.
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Half-closes: sends FIN after the bytes already written, reading goes on (used after failing
   * the connection, so that the client reads the Close frame before the socket closes). Never
   * rejects.
   */
  closeWrite(): Promise<void>;
  /** Closes the connection at once; pending `read` and `write` reject. Never throws. */
  close(): void;
  /** Ticks for the idle and closing timeouts. */
  readonly clock: SwitchClock;
}

const switches = new WeakMap<Response, ProtocolSwitch>();

/** Offers a protocol switch with a 101 response (the WebSocket module does, for its 101s). */
export function offerProtocolSwitch(response: Response, protocolSwitch: ProtocolSwitch): void {
  switches.set(response, protocolSwitch);
}

/** Whether `response` carries a switch, without taking it. */
export function hasProtocolSwitch(response: Response): boolean {
  return switches.has(response);
}

/** The switch `response` carries, once (a response switches one connection); null for none. */
export function takeProtocolSwitch(response: Response): ProtocolSwitch | null {
  const protocolSwitch = switches.get(response);
  if (protocolSwitch === undefined) return null;
  switches.delete(response);
  return protocolSwitch;
}

const errorAnswers = new WeakMap<object, () => Response>();

/**
 * Registers the response to send when `error` escapes a handler, instead of calling `onError`:
 * for errors that are the client's, such as a WebSocket handshake that is not valid (400, 426).
 */
export function answerErrorWith(error: object, answer: () => Response): void {
  errorAnswers.set(error, answer);
}

/** The response registered for an error that escaped the handler, or null. */
export function errorAnswer(error: unknown): Response | null {
  if (typeof error !== "object" || error === null) return null;
  return errorAnswers.get(error)?.() ?? null;
}

/** The socket operations a switched transport uses. */
interface RawSocket {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * The {@linkcode SwitchedTransport} the connection gives a new protocol: the socket itself, with
 * the bytes already read past the request head delivered first — those the parser held, then
 * those of a read that was in flight when the connection switched.
 */
export class SwitchedSocket implements SwitchedTransport {
  readonly initialBytes: Uint8Array;
  readonly clock: SwitchClock;
  readonly #socket: RawSocket;
  #pending: Promise<Uint8Array | null> | null;
  #leftover: Uint8Array | null = null;
  #closed = false;
  readonly #onClose: () => void;

  constructor(
    socket: RawSocket,
    initialBytes: Uint8Array,
    pending: Promise<Uint8Array | null> | null,
    clock: SwitchClock,
    onClose: () => void,
  ) {
    this.#socket = socket;
    this.initialBytes = initialBytes;
    this.#pending = pending;
    this.clock = clock;
    this.#onClose = onClose;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    // Once what the connection had read is delivered, a read is the socket's own, unwrapped.
    if (this.#pending === null && this.#leftover === null) return this.#socket.read(buffer);
    return this.#readHeld(buffer);
  }

  async #readHeld(buffer: Uint8Array): Promise<number | null> {
    if (this.#pending !== null) {
      const pending = this.#pending;
      this.#pending = null;
      const bytes = await pending;
      if (bytes === null) return null;
      this.#leftover = bytes.slice(); // the connection's read buffer is not ours to keep
    }
    const leftover = this.#leftover;
    if (leftover !== null) {
      const count = Math.min(buffer.length, leftover.length);
      buffer.set(leftover.subarray(0, count));
      this.#leftover = count === leftover.length ? null : leftover.subarray(count);
      return count;
    }
    return await this.#socket.read(buffer);
  }

  write(bytes: Uint8Array): Promise<void> {
    // Usually one write takes it all; the rest, if any, in a loop.
    return this.#socket.write(bytes).then((count) => {
      if (count < bytes.length) return this.#writeRest(bytes, count);
    });
  }

  async #writeRest(bytes: Uint8Array, offset: number): Promise<void> {
    while (offset < bytes.length) offset += await this.#socket.write(bytes.subarray(offset));
  }

  async closeWrite(): Promise<void> {
    try {
      await this.#socket.closeWrite();
    } catch {
      // Already closed or reset: nothing left to half-close.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // Already closed.
    }
    this.#onClose();
  }
}
