/**
 * The state of one connection, owned here and nowhere else: where the request side is, where
 * the response side is, and whether the connection may persist — three small enums in the manner
 * of hyper's `proto/h1/conn.rs` — plus the one place that decides to close.
 *
 * Rules:
 * - Reading: `Init` → `Head` (first byte of a head) → `Body` (head complete, content expected) or
 *   straight to `Done` → `Init` again at the next exchange. `Closed` from any state once the
 *   client has sent EOF, reset, or the server has stopped reading.
 * - Writing: `Init` → `Body` (head written, content flowing) → `Done`; `Closed` once a write has
 *   failed or the socket is closed.
 * - Persistence: `Busy` during an exchange, `Idle` between exchanges, `Disabled` once any part
 *   of the connection has given a reason to close — the first reason is kept, and the decision is
 *   never taken back. An exchange ends in reuse only if reading and writing are both `Done` and
 *   persistence is not `Disabled` ({@linkcode ConnectionState.mayReuse}).
 *
 * @module
 */

/** The request side. */
export const enum Reading {
  /** Nothing of the next request has arrived. */
  Init,
  /** Part of a request head has arrived. */
  Head,
  /** The head is complete and its content is still arriving. */
  Body,
  /** The current request has been received completely. */
  Done,
  /** No more input: the client sent EOF or reset, or the server stopped reading. */
  Closed,
}

/** The response side of the current exchange. */
export const enum Writing {
  /** No byte of the response has been written. */
  Init,
  /** The head is written and content is flowing. */
  Body,
  /** The response is complete on the wire (or queued in order to be). */
  Done,
  /** A write failed or the socket is closed. */
  Closed,
}

/** Whether the connection may carry another exchange. */
export const enum Persistence {
  /** Between exchanges. */
  Idle,
  /** An exchange is in progress. */
  Busy,
  /** The connection closes after the current exchange (or now, if there is none). */
  Disabled,
}

/** Why a connection closes: the first reason given wins; for tests, logs and the docs. */
export const enum CloseReason {
  None,
  /** The client asked (`Connection: close`, or HTTP/1.0 without keep-alive). */
  ClientClose,
  /** The handler's response carries `Connection: close`. */
  HandlerClose,
  /** The content is delimited by closing (a stream of unknown length to HTTP/1.0). */
  CloseDelimited,
  /** The server is shutting down. */
  Draining,
  /** The client sent EOF or reset. */
  PeerClosed,
  /** A request that could not be parsed, or a body that failed to parse. */
  BadRequest,
  /** A request body is left unread and cannot be discarded. */
  BodyUnread,
  /** The response could not be written completely (stream error, length mismatch). */
  ResponseIncomplete,
  /** A write failed. */
  WriteFailed,
  /** A deadline passed. */
  Timeout,
  /** The handler did not answer in time, or its response could not be used. */
  HandlerFailed,
  /** The connection switched to another protocol (a 101): HTTP is over on it. */
  Switched,
}

/**
 * The connection's state, with the close decision in {@linkcode ConnectionState.disable}.
 *
 * @example
 * ```ts
 * import { CloseReason, ConnectionState } from "./connection_state.ts";
 * const state = new ConnectionState();
 * state.beginExchange(false);
 * state.disable(CloseReason.HandlerClose);
 * console.log(state.mayReuse()); // false
 * ```
 */
export class ConnectionState {
  reading: Reading = Reading.Init;
  writing: Writing = Writing.Init;
  persistence: Persistence = Persistence.Idle;
  /** Why the connection closes; `None` while it may persist. */
  closeReason: CloseReason = CloseReason.None;

  /** A request head is complete: its content follows (`hasBody`) or it is complete already. */
  beginExchange(hasBody: boolean): void {
    if (this.reading !== Reading.Closed) this.reading = hasBody ? Reading.Body : Reading.Done;
    if (this.writing !== Writing.Closed) this.writing = Writing.Init;
    if (this.persistence !== Persistence.Disabled) this.persistence = Persistence.Busy;
  }

  /** The current exchange is over and the connection goes on: wait for the next request. */
  endExchange(): void {
    if (this.reading === Reading.Done) this.reading = Reading.Init;
    if (this.persistence === Persistence.Busy) this.persistence = Persistence.Idle;
  }

  /** The one place that decides to close: after the current exchange, or at once if idle. */
  disable(reason: CloseReason): void {
    if (this.closeReason === CloseReason.None) this.closeReason = reason;
    this.persistence = Persistence.Disabled;
  }

  /**
   * The client has sent EOF (or the connection broke): no more input will come. A request
   * already received completely is still answered, and so are pipelined ones already here (a
   * client that half-closes after sending them reads on); the connection ends when the parser
   * needs input that will not come.
   */
  peerClosed(): void {
    if (this.reading !== Reading.Done) this.reading = Reading.Closed;
  }

  get closing(): boolean {
    return this.persistence === Persistence.Disabled;
  }

  /** Whether the finished exchange leaves the connection usable for another. */
  mayReuse(): boolean {
    return this.persistence !== Persistence.Disabled && this.reading === Reading.Done &&
      this.writing === Writing.Done;
  }
}
