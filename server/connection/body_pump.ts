/**
 * A request body between the wire and its owner, for one exchange: the pump that parses the
 * connection's input into the body's bounded queue (request_body.ts) whenever the body wants
 * content — sending the `100 Continue` owed first (RFC 9110 §10.1.1), in order behind earlier
 * responses — bounded by the stall and minimum-rate waits (RFC 9110 §15.5.9); and, once the
 * response is complete, the body settled: left to the handler while it still reads, then the
 * rest discarded to keep the connection (within `maxDiscardBytes`), or the connection closed.
 *
 * The exchange (exchange.ts) answers; this file owns the waits `BodyStall`, `BodyRate` and
 * `BodyOwner`, and nothing else.
 *
 * @module
 */

import { HttpError } from "../http1/errors.ts";
import type { ParseEvent } from "../http1/request_parser.ts";
import { CONTINUE_RESPONSE } from "../http1/response_head.ts";
import { CloseReason, Reading } from "./connection_state.ts";
import { Wait } from "./deadlines.ts";
import type { Exchange, ExchangeHost } from "./exchange.ts";
import { type BodyFeed, Receipt, RequestBody } from "./request_body.ts";

/**
 * Receives and settles the body of one exchange's request.
 *
 * @example
 * ```ts ignore
 * const pump = new BodyPump(host, exchange);
 * pump.demand(pump.body); // receive what the body wants
 * await pump.settle(); // after a complete response
 * ```
 */
export class BodyPump implements BodyFeed {
  readonly #c: ExchangeHost;
  readonly #exchange: Exchange;
  /** The request body this pump fills. */
  readonly body: RequestBody;
  /** The pump is running (set and cleared by the pump itself, synchronously). */
  #pumping = false;
  /** Milliseconds the server has spent waiting for body bytes (the rate bound's clock). */
  #bodyWaitMs = 0;

  constructor(host: ExchangeHost, exchange: Exchange) {
    this.#c = host;
    this.#exchange = exchange;
    this.body = new RequestBody(this);
  }

  /** The pump is reading the connection. */
  get pumping(): boolean {
    return this.#pumping;
  }

  /**
   * After a complete response: waits while the handler still reads its body, then discards what
   * is left (or decides to close when it cannot).
   */
  async settle(): Promise<void> {
    const body = this.body;
    const deadlines = this.#c.deadlines;
    // The body is the handler's while it holds the stream: it gets every byte — unless the
    // handler was abandoned at its deadline (the connection closes: its reads fail).
    while (
      !this.#exchange.abandoned && body.heldByHandler && !body.settled && !this.#c.isClosed()
    ) {
      this.#c.flushSoon();
      this.#c.watch();
      deadlines.set(Wait.BodyOwner, this.#c.clock.now, this.#c.limits.bodyTimeoutMs);
      await body.changed(); // the connection's close fails the body, which is a change
    }
    deadlines.clear(Wait.BodyOwner);
    if (body.receipt === Receipt.Receiving && !this.#c.isClosed()) {
      // Discarding the rest only serves to keep the connection: one that closes anyway goes
      // straight to its lingering close.
      if (this.#c.state.closing || !this.discardable()) {
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
  discardable(): boolean {
    // A client still waiting for 100 Continue sends nothing, or sends it late: close instead.
    if (this.#exchange.continueOwed) return false;
    const body = this.body;
    const framing = this.#exchange.head.framing;
    // A chunked body's size is unknown: it is discarded up to the same bound, and if it turns
    // out larger the connection is closed after the response after all.
    const left = framing.kind === "length" ? framing.length - body.receivedBytes : 0;
    return body.untakenBytes + left <= this.#c.limits.maxDiscardBytes;
  }

  /** The body wants content (BodyFeed): send 100 Continue if owed, and receive. */
  demand(body: RequestBody): void {
    if (
      this.#pumping || this.#c.isClosed() || this.#c.exchange() !== this.#exchange ||
      this.body !== body
    ) {
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
    const exchange = this.#exchange;
    if (exchange.continueOwed) {
      // RFC 9110 §10.1.1: the client waits for 100 before sending the body; it is sent now that
      // the body is wanted, in order behind any earlier response, unless a final response has
      // started (then the client learns from it).
      exchange.continueOwed = false;
      if (!exchange.progress.headWritten) {
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
