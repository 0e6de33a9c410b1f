/**
 * One connection: the loop over exchanges that ties the parts together. Data flows one way:
 * socket ({@linkcode SocketIO}) → parser (server/http1) → request body ({@linkcode RequestBody})
 * and dispatch (dispatch.ts) → handler → {@linkcode ResponseWriter} → socket.
 *
 * What this file owns:
 * - the exchange in progress and its order: one request at a time, its response queued behind the
 *   previous ones, and everything queued written before the connection waits for input;
 * - serving each exchange (exchange.ts), whose request content is received into the body's
 *   bounded queue from the head on (body_pump.ts) — so a malformed chunked body already in hand is
 *   answered 400 before the handler runs, and a client that leaves after sending its body is
 *   noticed while the handler works;
 * - noticing a client that leaves (a read kept in flight while the connection waits for anything
 *   else: the handler, a streamed response, the handler's reading of its body);
 * - its deadlines ({@linkcode Deadlines}) except the write and linger ones, which SocketIO owns;
 * - settling every exchange: `info.completed`, `onRequestEnd`, the request's signal, the response
 *   stream's cancel — on every exit path, including `close()` from outside.
 *
 * The decision to close is {@linkcode ConnectionState.disable}'s, and nothing else's.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { HttpError } from "../http1/errors.ts";
import type { RequestHead } from "../http1/request_head.ts";
import { type ParseEvent, RequestParser } from "../http1/request_parser.ts";
import { encodeErrorResponse, errorBodyText } from "../http1/response_head.ts";
import type { ServerLimits } from "../limits.ts";
import { preparedFaceOf, type PreparedResponder } from "../prepared_response.ts";
import { acceptsRequestLike } from "../request_like.ts";
import type { Handler, RequestRecord, ServeAddr } from "../types.ts";
import { CloseReason, ConnectionState, Reading, Writing } from "./connection_state.ts";
import { Deadlines, Wait } from "./deadlines.ts";
import { Exchange, type ExchangeHost } from "./exchange.ts";
import { type ProtocolSwitch, type SwitchedConnection, SwitchedSocket } from "./protocol_switch.ts";
import { Receipt } from "./request_body.ts";
import { MAX_RECORDED_REQUEST_LINE_BYTES, refusedRequestRecord } from "./request_record.ts";
import { type ByteSocket, SocketIO } from "./socket_io.ts";

/**
 * Most unparsed input (pipelined requests, an unread body) the connection holds while it reads
 * ahead to notice a client leaving: one read more is taken only below it.
 */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * Most response bytes queued for a client before the connection waits for them to be written
 * (then the write-stall deadline applies): responses to pipelined requests are batched up to it.
 */
const OUTPUT_BACKLOG_BYTES = 256 * 1024;

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly limits: ServerLimits;
  readonly handler: Handler<ServeAddr>;
  readonly onError: (error: unknown) => Response | Promise<Response>;
  readonly onRequestEnd: ((record: RequestRecord<ServeAddr>) => void) | undefined;
  readonly clock: Clock;
  /** The scheme of requests' URLs: `"https"` over TLS. */
  readonly scheme: "http" | "https";
  /** Authority used for the URL of an HTTP/1.0 request that has no Host. */
  readonly defaultAuthority: string;
  /** True once the server is shutting down: finish the current exchange, then close. */
  readonly draining: boolean;
}

/**
 * Serves one accepted connection until it closes.
 *
 * @example
 * ```ts ignore
 * const connection = new Connection(conn, conn.remoteAddr as Deno.NetAddr, context);
 * await connection.run();
 * ```
 */
export class Connection implements ExchangeHost {
  readonly context: ConnectionContext;
  readonly limits: ServerLimits;
  readonly clock: Clock;
  readonly parser: RequestParser;
  readonly state = new ConnectionState();
  readonly deadlines = new Deadlines();
  readonly io: SocketIO;
  /** The peer's address, as the handler's `info.remoteAddr` gives it. */
  readonly remoteAddr: ServeAddr;
  /** The handler reads only a RequestLike: it gets a ParsedRequest instead of a Request. */
  readonly lightRequests: boolean;
  #isClosed = false;
  #exchange: Exchange | null = null;
  readonly preparedFace: PreparedResponder | null;
  /** The new protocol, once the connection has switched (a 101). */
  #switched: SwitchedConnection | null = null;
  /** Closing in stages has begun: input is only drained now, never parsed. */
  #lingering = false;
  /**
   * When (performance.now()) the read that brought the first bytes of the head being received
   * completed, if the head did not arrive whole in that read; -1 otherwise.
   */
  #headBeganMs = -1;

  /**
   * @param socket The accepted connection (TCP, TLS or Unix).
   * @param remoteAddr The peer's address as the handler is told it.
   * @param context What the connection needs from its server.
   */
  constructor(socket: ByteSocket, remoteAddr: ServeAddr, context: ConnectionContext) {
    this.context = context;
    this.limits = context.limits;
    this.clock = context.clock;
    this.parser = new RequestParser(context.limits);
    this.io = new SocketIO(socket, context.limits, context.clock, this.deadlines, this);
    this.remoteAddr = remoteAddr;
    this.lightRequests = acceptsRequestLike(context.handler);
    this.preparedFace = preparedFaceOf(context.handler);
  }

  /** The socket is closed. */
  isClosed(): boolean {
    return this.#isClosed;
  }

  /** Closing in stages has begun: input is drained, never parsed. */
  lingering(): boolean {
    return this.#lingering;
  }

  /** The exchange in progress. */
  exchange(): Exchange | null {
    return this.#exchange;
  }

  /** True while waiting for a new request with nothing received: safe to close at shutdown. */
  get isIdle(): boolean {
    return this.#exchange === null && this.#switched === null && this.parser.isIdle &&
      this.io.outputIdle;
  }

  /** Serves requests until the connection ends. Never rejects. */
  async run(): Promise<void> {
    try {
      // A client that connects and sends nothing is closed silently after the header timeout
      // (a browser's preconnect, say); once bytes arrive the head has its own deadline, and a
      // head still incomplete when it passes gets 408.
      this.deadlines.arm(Wait.Idle, this.limits.headerTimeoutMs);
      await this.#serve();
    } catch {
      // A broken connection (reset, closed by a timeout) ends here; nothing to report.
    } finally {
      this.close();
      // Nothing reads into or from the buffers any more: the loop is over, and a body pump
      // still awaiting a read gets null from the closed socket without touching them.
      this.io.releaseBuffers();
    }
  }

  /**
   * Closes the socket now. Every wait of the connection ends: pending reads and writes fail, the
   * handler is no longer waited for (its request's signal aborts), a streamed response is
   * cancelled (its source's `cancel()` runs), and `run()` finishes.
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#switched?.abort();
    this.deadlines.clearAll();
    this.io.close();
    this.state.reading = Reading.Closed;
    this.state.writing = Writing.Closed;
    const exchange = this.#exchange;
    if (exchange !== null) {
      exchange.abort();
      exchange.body?.fail(new HttpError(400, "the connection closed"));
      exchange.progress.stop?.();
      exchange.endHandlerWait();
    }
  }

  /**
   * The server is shutting down: a connection switched to another protocol is asked to end
   * gracefully (a WebSocket sends Close 1001); an HTTP one finishes its exchange and closes.
   */
  drain(): void {
    this.#switched?.shutdown();
  }

  /** Hands the connection over to a new protocol; HTTP's deadlines and parsing end here. */
  switchTo(protocolSwitch: ProtocolSwitch): void {
    this.deadlines.clearAll();
    const initialBytes = this.parser.takeUnparsed();
    const { socket, pending } = this.io.detach();
    const transport = new SwitchedSocket(
      socket,
      initialBytes,
      pending,
      this.clock,
      () => this.close(),
    );
    this.#switched = protocolSwitch.attach(transport);
    if (this.context.draining) this.#switched.shutdown();
  }

  /** Called by the server on every clock tick. */
  checkDeadline(now: number): void {
    for (
      let wait = this.deadlines.takeDue(now);
      wait !== -1;
      wait = this.deadlines.takeDue(now)
    ) {
      switch (wait) {
        case Wait.Head:
          // RFC 9110 §15.5.9: 408 tells the client why; then close (slowloris defence).
          this.#answerAndClose(408);
          return;
        case Wait.Handler:
          this.#exchange?.endHandlerWait();
          break;
        case Wait.BodyStall:
        case Wait.BodyRate:
          // An incomplete request body is an incomplete request (RFC 9110 §15.5.9, nginx's
          // client_body_timeout): say 408 if no response has started, then close.
          this.#answerAndClose(408);
          return;
        default:
          // Idle, BodyOwner, WriteStall, HalfClose, LingerIdle, LingerTotal: nothing to say.
          this.close();
          return;
      }
    }
  }

  async #serve(): Promise<void> {
    const parser = this.parser;
    const state = this.state;
    for (;;) {
      let event: ParseEvent;
      try {
        event = parser.next();
      } catch (error) {
        await this.#failRequest(error instanceof HttpError ? error.status : 400);
        return;
      }
      if (event.type === "need-data") {
        if ((state.closing || this.context.draining) && parser.isIdle) {
          await this.io.flush();
          return;
        }
        if (!parser.isIdle && this.#headBeganMs < 0) {
          // Part of a head is here and the rest is not: from now on it has a deadline, instead
          // of the idle one. A head that arrives whole in one read never needs one, and empty
          // lines before a request line (ignored, RFC 9112 §2.2) do not begin one. A refusal's
          // record counts its time from here: the read that brought its first bytes.
          this.#headBeganMs = performance.now();
          this.deadlines.clear(Wait.Idle);
          this.deadlines.set(Wait.Head, this.clock.now, this.limits.headerTimeoutMs);
        }
        // As receive(), inline: one frame fewer waiting on every idle connection.
        await this.io.flush();
        const bytes = await this.io.read(false);
        if (bytes !== null && !this.#isClosed) parser.feed(bytes);
        if (this.#isClosed) return;
        if (bytes === null) {
          // EOF: no more requests. Bytes of an incomplete head get a 400 (RFC 9112 §8: an
          // incomplete message).
          state.disable(CloseReason.PeerClosed);
          if (!parser.isIdle) await this.#failRequest(400);
          else await this.io.flush();
          return;
        }
        if (state.reading === Reading.Init) state.reading = Reading.Head;
        continue;
      }
      if (event.type !== "head") continue; // Content is taken by the body pump.
      this.#headBeganMs = -1;
      this.deadlines.clear(Wait.Head);
      this.deadlines.clear(Wait.Idle);
      // Awaited even when the exchange completed at once: the hop lets the other connections
      // whose input arrived in the same turn run their exchanges before this one writes, so
      // their writes leave together. Serving on without it measured 11% slower in S1 and S5.
      const reuse = await this.#serveExchange(event.head);
      if (!reuse || this.#isClosed) return;
      // Pipelined requests already here are answered into the output queue without waiting for
      // the client to read; past a bound, the queue is written out first, so that a client that
      // floods requests and reads nothing holds at most this much of the server's memory.
      if (this.io.backlog > OUTPUT_BACKLOG_BYTES) {
        await this.io.flush();
        if (this.#isClosed) return;
      }
      state.endExchange();
      // Bytes already here begin the next head at once; until one is begun, the connection is
      // idle (a stray CRLF after a request is ignored, not answered 408).
      if (parser.hasBufferedBytes) state.reading = Reading.Head;
      this.deadlines.arm(Wait.Idle, this.limits.idleTimeoutMs);
    }
  }

  /**
   * Writes what is queued, then reads once and feeds the parser: a finished response always
   * leaves before the connection waits for input. Null at EOF.
   */
  async receive(large: boolean): Promise<Uint8Array | null> {
    const io = this.io;
    await io.flush();
    const bytes = await io.read(large);
    if (bytes === null || this.#isClosed) return null;
    this.parser.feed(bytes);
    return bytes;
  }

  /**
   * Keeps a read in flight while the connection waits for something else, so that a client
   * that leaves is noticed (and its read is the next request's otherwise) — also when pipelined
   * bytes or an unread body wait in the parser, whose bytes are first copied out of the read
   * buffer. Not while the body pump reads (it notices itself), and not past
   * {@linkcode READ_AHEAD_BYTES} of unparsed input.
   */
  watch(): void {
    if (this.#exchange?.pumping) return;
    const parser = this.parser;
    if (parser.hasBufferedBytes) {
      if (parser.bufferedBytes > READ_AHEAD_BYTES) return;
      parser.detachInput();
    }
    this.io.watch();
  }

  /**
   * Starts writing what is queued without waiting for it: called whenever the connection is
   * about to wait for something other than input (the handler, the body's owner), so that a
   * finished response never waits behind the next one. A failed write closes the connection.
   */
  flushSoon(): void {
    if (this.io.outputIdle) return;
    this.io.flush().catch(() => this.close());
  }

  /** The client sent EOF, reset, or the socket failed. */
  peerGone(): void {
    this.state.peerClosed();
    const exchange = this.#exchange;
    if (exchange === null) return;
    exchange.abort();
    exchange.body?.fail(
      new HttpError(400, "the connection closed in the middle of the request body"),
    );
    // A half-closing client still reads; one that left does not: the response must keep moving.
    this.deadlines.set(Wait.HalfClose, this.clock.now, this.limits.halfCloseTimeoutMs);
  }

  /**
   * Serves one exchange; returns whether the connection may carry another — at once when the
   * exchange completed without waiting, else a promise.
   */
  #serveExchange(head: RequestHead): boolean | Promise<boolean> {
    const state = this.state;
    state.beginExchange(head.framing.kind !== "none");
    if (this.context.draining) state.disable(CloseReason.Draining);
    const exchange = new Exchange(this, head);
    this.#exchange = exchange;
    let completed: boolean | Promise<boolean>;
    try {
      completed = exchange.run();
    } catch (error) {
      this.#exchange = null;
      throw error;
    }
    if (typeof completed !== "boolean") return this.#afterExchangeAsync(exchange, completed);
    this.#exchange = null;
    return this.#afterExchange(exchange, completed);
  }

  async #afterExchangeAsync(exchange: Exchange, pending: Promise<boolean>): Promise<boolean> {
    let completed = false;
    try {
      completed = await pending;
    } finally {
      this.#exchange = null;
    }
    return this.#afterExchange(exchange, completed);
  }

  /** Whether the connection carries another exchange after `exchange`; closes it if not. */
  #afterExchange(exchange: Exchange, completed: boolean): boolean | Promise<boolean> {
    const state = this.state;
    if (this.#switched !== null) {
      // The new protocol owns the connection until it closes it; the slot stays counted.
      return this.#switched.closed.then(() => false);
    }
    if (!completed) state.disable(CloseReason.ResponseIncomplete);
    if (state.mayReuse()) return true;
    return this.#closeAfter(exchange).then(() => false);
  }

  reportError(error: unknown): void {
    try {
      const result = this.context.onError(error);
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // onError must not break the connection.
    }
  }

  /**
   * Closes after an exchange: everything queued is written, then, if the client may still be
   * sending (an unread body, bytes after this request, a read in flight), the connection
   * lingers so that its response is read rather than reset (RFC 9112 §9.6).
   */
  async #closeAfter(exchange: Exchange): Promise<void> {
    const io = this.io;
    if (this.#isClosed) return;
    try {
      await io.flush();
    } catch {
      return;
    }
    if (io.eof) return;
    const body = exchange.body;
    if (
      io.reading || this.parser.hasBufferedBytes ||
      (body !== null && body.receipt !== Receipt.Complete)
    ) {
      this.#lingering = true;
      await io.linger();
    }
  }

  /** Answers a request that could not be parsed, in order behind earlier responses, then closes. */
  async #failRequest(status: number): Promise<void> {
    const record = this.#refusalRecorder(status);
    this.state.disable(CloseReason.BadRequest);
    this.io.append(encodeErrorResponse(status, this.clock.date, "close"));
    try {
      await this.io.flush();
    } catch {
      record?.(false);
      return;
    }
    this.#lingering = true;
    record?.(true);
    await this.io.linger();
  }

  /**
   * For `onRequestEnd`, what is known now of a request refused with `status` before its head was
   * complete (the parser's input is borrowed until the next read): a function that hands over
   * its record once the answer was written (or not). Its duration runs from the read that
   * brought the request's first bytes (as nginx's `$request_time` runs from the first bytes
   * read), so a 408 shows the time the client had; now, if its whole head came in one read.
   */
  #refusalRecorder(status: number): ((written: boolean) => void) | undefined {
    const onRequestEnd = this.context.onRequestEnd;
    if (onRequestEnd === undefined) return undefined;
    const startMs = this.#headBeganMs >= 0 ? this.#headBeganMs : performance.now();
    const line = this.parser.requestLineSoFar(MAX_RECORDED_REQUEST_LINE_BYTES);
    return (written) =>
      onRequestEnd(refusedRequestRecord(
        this.remoteAddr,
        line,
        status,
        errorBodyText(status).length,
        performance.now() - startMs,
        written,
      ));
  }

  /**
   * A deadline passed: answer `status` if no response of the exchange in progress has started
   * (after the responses already queued), then close.
   */
  #answerAndClose(status: number): void {
    const exchange = this.#exchange;
    this.state.disable(CloseReason.Timeout);
    if (exchange !== null && exchange.progress.headWritten) {
      this.close();
      return;
    }
    if (exchange !== null) {
      // Nothing else of this exchange may be written now.
      exchange.progress.headWritten = true;
      exchange.status = status;
    }
    // Without an exchange, a head was begun and not finished in time: logged as a refusal.
    const record = exchange === null ? this.#refusalRecorder(status) : undefined;
    this.io.append(encodeErrorResponse(status, this.clock.date, "close"));
    this.io.flush().then(() => record?.(true), () => record?.(false)).finally(() => this.close());
  }
}
