/**
 * One exchange — a request and its response — from a complete request head to the decision
 * whether the connection carries another: the handler's answer within its deadline, the response
 * queued in order, and the request body received into its bounded queue (the body pump) and
 * settled: left to the handler while it reads, then discarded, or the connection closed.
 *
 * The connection ({@linkcode ExchangeHost}) owns what outlives an exchange: the socket, the
 * parser, the state and the deadlines. This file sets the waits an exchange owns — `Handler`,
 * `BodyStall`, `BodyRate`, `BodyOwner` — and nothing else.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { HttpError } from "../http1/errors.ts";
import type { RequestHead } from "../http1/request_head.ts";
import type { ParseEvent, RequestParser } from "../http1/request_parser.ts";
import { CONTINUE_RESPONSE, encodeErrorResponse } from "../http1/response_head.ts";
import type { ServerLimits } from "../limits.ts";
import type { PreparedResponder, PreparedResult } from "../prepared_response.ts";
import type { ParsedRequest } from "../request_like.ts";
import type { ServeAddr } from "../types.ts";
import type { ConnectionContext } from "./connection.ts";
import { CloseReason, type ConnectionState, Reading, Writing } from "./connection_state.ts";
import { type Deadlines, Wait } from "./deadlines.ts";
import {
  buildParsedRequest,
  buildRequest,
  HandlerInfo,
  HandlerTimeoutError,
  isThenable,
  plainResponse,
  requestUrl,
  serverAnswer,
  type ServerRequest,
  unusableAnswer,
} from "./dispatch.ts";
import { errorAnswer, type ProtocolSwitch, takeProtocolSwitch } from "./protocol_switch.ts";
import { type BodyFeed, Owner, Receipt, RequestBody } from "./request_body.ts";
import { isStreamed } from "./response_source.ts";
import {
  type ResponseProgress,
  writePrepared,
  writeResponse,
  type WriterHost,
} from "./response_writer.ts";
import type { SocketIO } from "./socket_io.ts";

/** What an exchange uses of its connection. */
export interface ExchangeHost extends WriterHost {
  readonly context: ConnectionContext;
  readonly limits: ServerLimits;
  readonly clock: Clock;
  readonly parser: RequestParser;
  readonly io: SocketIO;
  readonly state: ConnectionState;
  readonly deadlines: Deadlines;
  readonly remoteAddr: ServeAddr;
  /** The handler reads only a RequestLike: it gets a ParsedRequest instead of a Request. */
  readonly lightRequests: boolean;
  /** The handler's prepared face (prepared_response.ts), called instead of it when present. */
  readonly preparedFace: PreparedResponder | null;
  isClosed(): boolean;
  /** Closing in stages has begun: input is drained, never parsed. */
  lingering(): boolean;
  /** The exchange in progress. */
  exchange(): Exchange | null;
  receive(large: boolean): Promise<Uint8Array | null>;
  watch(): void;
  flushSoon(): void;
  reportError(error: unknown): void;
  close(): void;
  /** Hands the connection over to a new protocol, after its 101 was written. */
  switchTo(protocolSwitch: ProtocolSwitch): void;
}

const HANDLER_TIMEOUT = Symbol("handler timeout");

/**
 * One request and its response.
 *
 * @example
 * ```ts ignore
 * const exchange = new Exchange(host, head);
 * const reuse = await exchange.run();
 * ```
 */
export class Exchange implements BodyFeed {
  readonly #c: ExchangeHost;
  readonly head: RequestHead;
  readonly body: RequestBody | null;
  request: ServerRequest | null = null;
  info: HandlerInfo | null = null;
  /** The client sent `Expect: 100-continue` and has not been answered yet. */
  continueOwed: boolean;
  readonly progress: ResponseProgress = { headWritten: false, bodyBytesWritten: 0, stop: null };
  /** The status written (or about to be), for the access log. */
  status = 0;
  /** The client left: the request's signal is aborted. */
  aborted = false;
  /** The body pump is running (set and cleared by the pump itself, synchronously). */
  #pumping = false;
  /** Milliseconds the server has spent waiting for body bytes (the rate bound's clock). */
  #bodyWaitMs = 0;
  /** The response could not be written and onError was asked for another. */
  #fellBack = false;
  /** The handler missed its deadline and was answered for (503): nothing more is waited for. */
  #abandoned = false;
  /** Ends the wait for the handler early (timeout, close). */
  #handlerWaitEnded: (() => void) | null = null;

  constructor(host: ExchangeHost, head: RequestHead) {
    this.#c = host;
    this.head = head;
    this.body = head.framing.kind === "none" ? null : new RequestBody(this);
    this.continueOwed = head.expectContinue;
  }

  /** The body pump is reading the connection. */
  get pumping(): boolean {
    return this.#pumping;
  }

  /** The client left: the request's signal aborts. */
  abort(): void {
    this.aborted = true;
    this.request?.abortSignal();
  }

  /** Stops waiting for the handler (the connection closed, or its deadline passed). */
  endHandlerWait(): void {
    this.#handlerWaitEnded?.();
  }

  /**
   * Serves the exchange: answer, write, settle the body. Returns whether the response went out
   * complete. Never rejects on the handler's account; `finally` settles `info.completed` and the
   * access-log record whatever happens.
   */
  async run(): Promise<boolean> {
    const c = this.#c;
    const onRequestEnd = c.context.onRequestEnd;
    const startMs = onRequestEnd === undefined ? 0 : performance.now();
    if (this.body === null) {
      c.parser.next(); // the end of a message without content
    } else if (!this.head.expectContinue) {
      // Content is received from the head on; what is already here is parsed before the
      // handler runs. A client waiting for 100 Continue is not asked until the handler reads.
      this.demand(this.body);
    }
    let completed = false;
    try {
      const answer = this.respond();
      const response = answer instanceof Response ? answer : await answer;
      if (c.isClosed()) {
        // Nobody will read it: its stream's cancel() runs now.
        if (response instanceof Response) response.body?.cancel().catch(() => {});
        return false;
      }
      const written = this.writeResponse(response);
      completed = typeof written === "boolean" ? written : await written;
      if (completed && this.body !== null) await this.settleBody();
    } finally {
      const body = this.body;
      // The exchange is over: whatever of the body the handler has not taken is no longer its.
      if (body !== null && body.owner === Owner.Handler && !body.settled) body.takeOver();
      this.info?.settle();
      if (onRequestEnd !== undefined) {
        const head = this.head;
        const durationMs = performance.now() - startMs;
        onRequestEnd({
          remoteAddr: c.remoteAddr,
          method: head.method,
          target: head.target,
          httpVersion: head.minorVersion === 1 ? "HTTP/1.1" : "HTTP/1.0",
          status: this.status,
          bodyBytes: this.progress.bodyBytesWritten,
          durationMs,
          startTime: new Date(Date.now() - durationMs),
          requestHeaders: new Headers(head.fields.toPairs()),
          completed: completed && !c.isClosed(),
        });
      }
    }
    return completed;
  }

  /** The handler's answer, or the server's own: always a usable Response (never rejects). */
  respond(): PreparedResult | Promise<PreparedResult> {
    const head = this.head;
    const early = serverAnswer(head);
    if (early !== 0) {
      if (early >= 400) this.#c.state.disable(CloseReason.BadRequest);
      return plainResponse(early);
    }
    // A malformed body already in hand is answered before the handler runs (RFC 9112 §7.1).
    const failed = this.#bodyFailure();
    if (failed !== null) return failed;
    const face = this.#c.preparedFace;
    let request: Request | ParsedRequest;
    try {
      const url = requestUrl(head, this.#c.context.scheme, this.#c.context.defaultAuthority);
      if (face !== null || this.#c.lightRequests) {
        // The file server's prepared face, and handlers marked as reading only method, url and
        // headers (request_like.ts), get the parsed head instead of a web Request.
        request = buildParsedRequest(head, url);
      } else {
        request = this.request = buildRequest(head, url, this.body);
      }
    } catch {
      this.#c.state.disable(CloseReason.BadRequest);
      return plainResponse(400);
    }
    let answer: unknown;
    try {
      if (face !== null) {
        answer = face(request);
      } else {
        const info = this.info = new HandlerInfo(this.#c.remoteAddr);
        answer = this.#c.context.handler(request as Request, info);
      }
    } catch (error) {
      return this.#awaitAnswer(Promise.reject(error));
    }
    if (this.#usable(answer)) return answer;
    return this.#awaitAnswer(answer);
  }

  /** A Response that can be sent as it is, or a prepared answer from the prepared face. */
  #usable(answer: unknown): answer is PreparedResult {
    if (answer instanceof Response) return unusableAnswer(answer) === null;
    return this.#c.preparedFace !== null && typeof answer === "object" && answer !== null &&
      !isThenable(answer);
  }

  /** The answer of an asynchronous (or failed) handler, within the handler deadline. */
  async #awaitAnswer(answer: unknown): Promise<PreparedResult> {
    // While the handler works, earlier responses leave and a read in flight notices a client
    // that leaves.
    this.#c.flushSoon();
    this.#c.watch();
    const deadlines = this.#c.deadlines;
    deadlines.set(Wait.Handler, this.#c.clock.now, this.#c.limits.handlerTimeoutMs);
    const ended = new Promise<typeof HANDLER_TIMEOUT>((resolve) => {
      this.#handlerWaitEnded = () => resolve(HANDLER_TIMEOUT);
    });
    try {
      let result: unknown;
      let error: unknown = null;
      try {
        result = isThenable(answer) ? await Promise.race([answer, ended]) : answer;
        if (result !== HANDLER_TIMEOUT && !this.#usable(result)) error = unusableAnswer(result);
      } catch (thrown) {
        error = thrown;
      }
      if (result === HANDLER_TIMEOUT) {
        discardWhenSettled(answer); // its stream's cancel() must still run when it comes
        return this.#handlerTimedOut();
      }
      if (error === null) return result as PreparedResult;
      // An error that is the client's carries its own answer (a WebSocket handshake that is
      // not valid: 400 or 426); it is not the handler's failure.
      const clientFault = errorAnswer(error);
      if (clientFault !== null) return clientFault;
      // The handler threw, rejected or returned something unusable: onError decides (else 500),
      // within what is left of the same deadline.
      try {
        const pending = this.#c.context.onError(error);
        const fallback = await Promise.race([pending, ended]);
        if (fallback === HANDLER_TIMEOUT) {
          discardWhenSettled(pending);
          return this.#handlerTimedOut();
        }
        if (unusableAnswer(fallback) === null) return fallback;
      } catch (onErrorError) {
        this.#c.reportError(onErrorError);
      }
      return plainResponse(500);
    } finally {
      this.#handlerWaitEnded = null;
      deadlines.clear(Wait.Handler);
    }
  }

  #handlerTimedOut(): Response {
    this.#c.state.disable(CloseReason.HandlerFailed);
    if (this.#c.isClosed()) return plainResponse(503); // Closed under a handler still running.
    this.#c.reportError(
      new HandlerTimeoutError(this.#c.limits.handlerTimeoutMs),
    );
    // The handler still runs and may yet read the body: the connection cannot be reused, and
    // request.signal tells the handler that nobody will see its answer. Its body is not waited
    // for after the 503 either.
    this.#abandoned = true;
    this.abort();
    return plainResponse(503);
  }

  /** The answer to a request body that failed to parse, or null. */
  #bodyFailure(): Response | null {
    const body = this.body;
    if (body === null || body.receipt !== Receipt.Failed || this.#c.io.eof) return null;
    const error = body.error;
    if (!(error instanceof HttpError)) return null;
    this.#c.state.disable(CloseReason.BadRequest);
    return plainResponse(error.status);
  }

  /** Queues the response; true when it went out complete. */
  writeResponse(answer: PreparedResult): boolean | Promise<boolean> {
    const state = this.#c.state;
    const progress = this.progress;
    // The server has answered already (a deadline passed): the handler's answer comes too late.
    if (progress.headWritten) {
      if (answer instanceof Response) answer.body?.cancel().catch(() => {});
      return false;
    }
    // A request body that failed while the handler ran decides the answer if nothing is written.
    const failed = this.#bodyFailure();
    if (failed !== null) {
      if (answer instanceof Response) answer.body?.cancel().catch(() => {});
      answer = failed;
    }
    if (this.#c.context.draining) state.disable(CloseReason.Draining);
    const body = this.body;
    if (
      body !== null && body.receipt === Receipt.Receiving && !body.heldByHandler &&
      !this.#discardable()
    ) {
      // The rest of the body will not be read: say so in the head, and close after.
      state.disable(CloseReason.BodyUnread);
    }
    this.status = answer.status;
    if (!(answer instanceof Response)) {
      return writePrepared(this.#c, this.head, progress, answer);
    }
    const response = answer;
    if (
      this.continueOwed && body !== null && body.receipt === Receipt.Receiving &&
      response.status !== 101 && isStreamed(response)
    ) {
      // A streamed response may read the request body as it goes (an echo, a transform): the
      // client must get its 100 before the final head, or it never sends the body (RFC 9110
      // §10.1.1, §15.2.1). Sent even if the stream does not read it; the body is then handled
      // as any unread body.
      this.continueOwed = false;
      this.#c.io.append(CONTINUE_RESPONSE);
    }
    if (response.status === 101) {
      const protocolSwitch = takeProtocolSwitch(response);
      if (protocolSwitch !== null) return this.#switchProtocols(protocolSwitch);
    }
    let written: boolean | Promise<boolean>;
    try {
      written = writeResponse(this.#c, this.head, progress, response);
    } catch (error) {
      return this.#writeFailed(error);
    }
    if (typeof written === "boolean") return written;
    // A stream (or a large body) takes a while: notice a client that leaves meanwhile.
    this.#c.watch();
    return written.catch((error) => this.#writeFailed(error));
  }

  /**
   * Writes a 101 and hands the connection over to the new protocol (protocol_switch.ts): HTTP
   * ends on this connection, whatever happens.
   */
  async #switchProtocols(protocolSwitch: ProtocolSwitch): Promise<boolean> {
    const c = this.#c;
    this.progress.headWritten = true;
    this.status = 101;
    c.state.disable(CloseReason.Switched);
    try {
      c.io.append(await protocolSwitch.responseHead(c.clock.date));
      await c.io.flush();
    } catch (error) {
      protocolSwitch.abort(`the 101 response could not be written: ${String(error)}`);
      return false;
    }
    if (c.isClosed()) {
      protocolSwitch.abort("the connection closed before the switch");
      return false;
    }
    c.state.writing = Writing.Done;
    c.switchTo(protocolSwitch);
    return true;
  }

  /**
   * The response could not be written. Nothing of it on the wire yet: `onError` decides what is
   * sent instead (else a plain 500), as for a handler that threw.
   */
  #writeFailed(error: unknown): boolean | Promise<boolean> {
    const state = this.#c.state;
    if (this.progress.headWritten || this.#c.isClosed()) {
      state.disable(CloseReason.WriteFailed);
      return false;
    }
    state.disable(CloseReason.HandlerFailed);
    if (this.#fellBack) return this.#serverError(error); // onError's answer failed too
    this.#fellBack = true;
    return this.#awaitAnswer(Promise.reject(error)).then((fallback) => {
      try {
        const written = fallback instanceof Response
          ? writeResponse(this.#c, this.head, this.progress, fallback)
          : writePrepared(this.#c, this.head, this.progress, fallback);
        this.status = fallback.status;
        return written;
      } catch (again) {
        return this.progress.headWritten ? false : this.#serverError(again);
      }
    });
  }

  /** The server's own 500, which cannot fail (onError's answer could not be written either). */
  #serverError(error: unknown): boolean {
    this.#c.reportError(error);
    this.#c.io.append(encodeErrorResponse(500, this.#c.clock.date, "close"));
    this.progress.headWritten = true;
    this.progress.bodyBytesWritten = 0;
    this.status = 500;
    this.#c.state.writing = Writing.Done;
    return true;
  }

  /**
   * After a complete response: waits while the handler still reads its body, then discards what
   * is left (or decides to close when it cannot).
   */
  async settleBody(): Promise<void> {
    const body = this.body;
    if (body === null) return;
    const deadlines = this.#c.deadlines;
    // The body is the handler's while it holds the stream: it gets every byte — unless the
    // handler was abandoned at its deadline (the connection closes: its reads fail).
    while (!this.#abandoned && body.heldByHandler && !body.settled && !this.#c.isClosed()) {
      this.#c.flushSoon();
      this.#c.watch();
      deadlines.set(Wait.BodyOwner, this.#c.clock.now, this.#c.limits.bodyTimeoutMs);
      await body.changed(); // the connection's close fails the body, which is a change
    }
    deadlines.clear(Wait.BodyOwner);
    if (body.receipt === Receipt.Receiving && !this.#c.isClosed()) {
      // Discarding the rest only serves to keep the connection: one that closes anyway goes
      // straight to its lingering close.
      if (this.#c.state.closing || !this.#discardable()) {
        this.#c.state.disable(CloseReason.BodyUnread);
        body.takeOver();
        return;
      }
      body.takeOver();
      this.#c.flushSoon();
      this.demand(body);
      while (body.receipt === Receipt.Receiving && !this.#c.isClosed()) {
        if (body.discardedBytes > this.#c.limits.maxDiscardBytes) {
          this.#c.state.disable(CloseReason.BodyUnread);
          return;
        }
        await body.changed(); // the connection's close fails the body, which is a change
      }
    }
    if (body.receipt === Receipt.Failed) this.#c.state.disable(CloseReason.BadRequest);
  }

  /** Whether the unread rest of a body may be read and dropped to keep the connection. */
  #discardable(): boolean {
    // A client still waiting for 100 Continue sends nothing, or sends it late: close instead.
    if (this.continueOwed) return false;
    const body = this.body;
    if (body === null) return true;
    const framing = this.head.framing;
    // A chunked body's size is unknown: it is discarded up to the same bound, and if it turns
    // out larger the connection is closed after the response after all.
    const left = framing.kind === "length" ? framing.length - body.receivedBytes : 0;
    return body.untakenBytes + left <= this.#c.limits.maxDiscardBytes;
  }

  /** The body wants content (BodyFeed): send 100 Continue if owed, and receive. */
  demand(body: RequestBody): void {
    if (this.#pumping || this.#c.isClosed() || this.#c.exchange() !== this || this.body !== body) {
      return;
    }
    if (!body.wantsContent) return;
    this.#pump(body);
  }

  /** Runs until the body is complete, failed or its queue full; synchronously when it can. */
  async #pump(body: RequestBody): Promise<void> {
    const parser = this.#c.parser;
    const deadlines = this.#c.deadlines;
    const limits = this.#c.limits;
    const io = this.#c.io;
    this.#pumping = true;
    if (this.continueOwed) {
      // RFC 9110 §10.1.1: the client waits for 100 before sending the body; it is sent now that
      // the body is wanted, in order behind any earlier response, unless a final response has
      // started (then the client learns from it).
      this.continueOwed = false;
      if (!this.progress.headWritten) {
        io.append(CONTINUE_RESPONSE);
        try {
          await io.flush();
        } catch {
          this.#pumping = false;
          this.#c.close();
          return;
        }
      }
    }
    try {
      while (body.wantsContent && !this.#c.isClosed() && !this.#c.lingering()) {
        let event: ParseEvent;
        try {
          event = parser.next();
        } catch (error) {
          body.fail(error instanceof HttpError ? error : new HttpError(400, "bad request body"));
          this.#c.state.disable(CloseReason.BadRequest);
          return;
        }
        if (event.type === "data") {
          body.push(event.data);
          continue;
        }
        if (event.type === "end") {
          body.end();
          if (this.#c.state.reading === Reading.Body) this.#c.state.reading = Reading.Done;
          return;
        }
        if (event.type !== "need-data") {
          body.fail(new HttpError(400, "unexpected event in the request body"));
          return;
        }
        if (io.eof) {
          body.fail(new HttpError(400, "the connection closed in the middle of the request body"));
          return;
        }
        // Waiting for the client: the stall and rate bounds run (RFC 9110 §15.5.9).
        const now = this.#c.clock.now;
        deadlines.set(Wait.BodyStall, now, limits.bodyTimeoutMs);
        if (limits.bodyMinRate > 0) {
          const allowedMs = Math.max(
            limits.bodyMinRateGraceMs,
            (body.receivedBytes * 1000) / limits.bodyMinRate,
          );
          deadlines.setAt(Wait.BodyRate, now + Math.max(0, allowedMs - this.#bodyWaitMs));
        }
        const bytes = await this.#c.receive(true);
        this.#bodyWaitMs += this.#c.clock.now - now;
        if (bytes === null) {
          body.fail(new HttpError(400, "the connection closed in the middle of the request body"));
          return;
        }
      }
    } finally {
      deadlines.clear(Wait.BodyStall);
      deadlines.clear(Wait.BodyRate);
      this.#pumping = false;
      // The pump's reads noticed a departing client; from now on a watching read does (the
      // handler may still be at work, or the response streaming).
      if (!this.#c.isClosed() && !this.#c.lingering()) this.#c.watch();
    }
  }
}

/** Cancels the stream of an answer that will never be written, whenever it arrives. */
function discardWhenSettled(answer: unknown): void {
  if (!isThenable(answer)) return;
  Promise.resolve(answer).then((late) => {
    if (late instanceof Response) late.body?.cancel().catch(() => {});
  }, () => {});
}
