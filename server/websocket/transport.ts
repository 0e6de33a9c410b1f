/**
 * What a WebSocket needs from the connection it takes over after the 101 response: the contract
 * between the HTTP engine (which owns the TCP connection until the upgrade) and the WebSocket
 * (which owns it after). The engine implements {@linkcode WebSocketTransport}; the WebSocket
 * never sees a `Deno.Conn`.
 *
 * @module
 */

/**
 * Ticks for the WebSocket's timers (keep-alive pings, the closing handshake's timeout). The
 * server's coarse `Clock` (server/clock.ts) fits as it is: a timeout fires up to one tick late.
 */
export interface WebSocketClock {
  /** Current time in milliseconds, as of the last tick. */
  readonly now: number;
  /** Calls `callback` with the time on every tick until the returned function is called. */
  subscribe(callback: (now: number) => void): () => void;
}

/**
 * One upgraded connection, as the WebSocket uses it. The WebSocket calls `read` and `write` at
 * most once at a time each (a read and a write may be pending together), and `close()` exactly
 * once, last: from then on the connection is the engine's to account for (its slot is free).
 */
export interface WebSocketTransport {
  /**
   * Bytes the engine already read past the end of the upgrade request's head, in order (a client
   * may send frames right behind its request); usually empty. Handed over: the WebSocket reads
   * them before calling `read`, and may modify them (it unmasks payload in place).
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
  readonly clock: WebSocketClock;
}
