/**
 * One exchange — a request and its response — from a complete request head to the decision
 * whether the connection carries another: the handler's answer within its deadline (or the
 * server's own: a malformed body in hand, a timeout, `onError`'s fallback), the response queued in
 * order, a protocol switch; then the request body settled by its pump (body_pump.ts).
 *
 * The connection ({@linkcode ExchangeHost}) owns what outlives an exchange: the socket, the
 * parser, the state and the deadlines. This file sets the `Handler` wait; the body pump sets the
 * exchange's other waits — `BodyStall`, `BodyRate`, `BodyOwner` — and nothing else.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { HttpError } from "../http1/errors.ts";
import type { RequestHead } from "../http1/request_head.ts";
import type { RequestParser } from "../http1/request_parser.ts";
import { CONTINUE_RESPONSE, encodeErrorResponse } from "../http1/response_head.ts";
import type { ServerLimits } from "../limits.ts";
import type { PreparedResponder, PreparedResult } from "../prepared_response.ts";
import type { ParsedRequest } from "../request_like.ts";
import type { ServeAddr } from "../types.ts";
import type { ConnectionContext } from "./connection.ts";
import { BodyPump } from "./body_pump.ts";
import { CloseReason, type ConnectionState, Writing } from "./connection_state.ts";
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
import { Owner, Receipt, type RequestBody } from "./request_body.ts";
import { requestRecord } from "./request_record.ts";
import { isStreamed } from "./response_source.ts";
import {
  bodyBytesSent,
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
export class Exchange {
  readonly #c: ExchangeHost;
  readonly head: RequestHead;
  readonly body: RequestBody | null;
  request: ServerRequest | null = null;
  info: HandlerInfo | null = null;
  /** The client sent `Expect: 100-continue` and has not been answered yet. */
  continueOwed: boolean;
  readonly progress: ResponseProgress = {
    headWritten: false,
    bodyBytesWritten: 0,
    pieceStart: 0,
    pieceBytes: 0,
    stop: null,
  };
  /** The status written (or about to be), for the access log. */
  status = 0;
  /** The client left: the request's signal is aborted. */
  aborted = false;
  /** Receives and settles the request body; null when the request has none. */
  readonly #bodyPump: BodyPump | null;
  /** The response could not be written and onError was asked for another. */
  #fellBack = false;
  /** When the exchange began (performance.now()), for the access log; 0 without one. */
  #startMs = 0;
  /** The handler missed its deadline and was answered for (503): nothing more is waited for. */
  #abandoned = false;
  /** Ends the wait for the handler early (timeout, close). */
  #handlerWaitEnded: (() => void) | null = null;

  constructor(host: ExchangeHost, head: RequestHead) {
    this.#c = host;
    this.head = head;
    const bodyPump = head.framing.kind === "none" ? null : new BodyPump(host, this);
    this.#bodyPump = bodyPump;
    this.body = bodyPump === null ? null : bodyPump.body;
    this.continueOwed = head.expectContinue;
  }

  /** The body pump is reading the connection. */
  get pumping(): boolean {
    return this.#bodyPump !== null && this.#bodyPump.pumping;
  }

  /** The handler missed its deadline and was answered for: its body is not waited for. */
  get abandoned(): boolean {
    return this.#abandoned;
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
   * complete — at once when the handler answered synchronously and the response went out without
   * waiting (no promise, no microtask hop), else a promise. Never rejects on the handler's
   * account; {@linkcode Exchange.#finish} settles `info.completed` and the access-log record
   * whatever happens.
   */
  run(): boolean | Promise<boolean> {
    const c = this.#c;
    this.#startMs = c.context.onRequestEnd === undefined ? 0 : performance.now();
    const bodyPump = this.#bodyPump;
    if (bodyPump === null) {
      c.parser.next(); // the end of a message without content
    } else if (!this.head.expectContinue) {
      // Content is received from the head on; what is already here is parsed before the
      // handler runs. A client waiting for 100 Continue is not asked until the handler reads.
      bodyPump.demand(bodyPump.body);
    }
    let answer: PreparedResult | Promise<PreparedResult>;
    let written: boolean | Promise<boolean> = false;
    try {
      answer = this.respond();
      if (answer instanceof Promise) return this.#runAsync(answer, false);
      if (c.isClosed()) {
        // Nobody will read it: its stream's cancel() runs now.
        if (answer instanceof Response) answer.body?.cancel().catch(() => {});
      } else {
        written = this.writeResponse(answer);
      }
    } catch (error) {
      this.#finish(false);
      throw error;
    }
    // Outside the try: #finish runs once, even if onRequestEnd throws.
    if (typeof written === "boolean" && (!written || bodyPump === null)) {
      this.#finish(written);
      return written;
    }
    return this.#runAsync(null, written);
  }

  /**
   * The rest of {@linkcode run} once something must be waited for: the handler's `answer`, else
   * the write begun (`written`) and the body's settling.
   */
  async #runAsync(
    answer: Promise<PreparedResult> | null,
    written: boolean | Promise<boolean>,
  ): Promise<boolean> {
    const c = this.#c;
    const bodyPump = this.#bodyPump;
    let completed = false;
    try {
      if (answer !== null) {
        const response = await answer;
        if (c.isClosed()) {
          // Nobody will read it: its stream's cancel() runs now.
          if (response instanceof Response) response.body?.cancel().catch(() => {});
          return false;
        }
        written = this.writeResponse(response);
      }
      completed = typeof written === "boolean" ? written : await written;
      if (completed && bodyPump !== null) await bodyPump.settle();
    } finally {
      this.#finish(completed);
    }
    return completed;
  }

  /** The exchange is over: the body, `info.completed` and the access-log record are settled. */
  #finish(completed: boolean): void {
    const c = this.#c;
    const body = this.body;
    // The exchange is over: whatever of the body the handler has not taken is no longer its.
    if (body !== null && body.owner === Owner.Handler && !body.settled) body.takeOver();
    this.info?.settle();
    const onRequestEnd = c.context.onRequestEnd;
    if (onRequestEnd !== undefined) {
      onRequestEnd(requestRecord(
        c.remoteAddr,
        this.head,
        this.status,
        bodyBytesSent(this.progress, c.io),
        performance.now() - this.#startMs,
        completed && !c.isClosed(),
      ));
    }
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
    const bodyPump = this.#bodyPump;
    if (
      body !== null && body.receipt === Receipt.Receiving && !body.heldByHandler &&
      bodyPump !== null && !bodyPump.discardable()
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
    this.progress.pieceBytes = 0;
    this.status = 500;
    this.#c.state.writing = Writing.Done;
    return true;
  }
}

/** Cancels the stream of an answer that will never be written, whenever it arrives. */
function discardWhenSettled(answer: unknown): void {
  if (!isThenable(answer)) return;
  Promise.resolve(answer).then((late) => {
    if (late instanceof Response) late.body?.cancel().catch(() => {});
  }, () => {});
}
