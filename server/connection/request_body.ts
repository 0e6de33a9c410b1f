/**
 * The request body between the wire and its owner.
 *
 * The connection receives content into a small bounded queue (it stops reading while the queue
 * is full) and the owner takes it from there. The owner is the handler until it is done with the
 * body — it read it to the end, cancelled it, or never touched it by the time its response was
 * complete — and then the server, which discards the rest to keep the connection (or closes).
 * The handler gets every byte or an error, never a normal end with a gap: a handler that still
 * holds the stream after its response keeps receiving, and one that reaches for the body after
 * the server took it gets an error.
 *
 * @module
 */

import { HttpError } from "../http1/errors.ts";

/**
 * Content queued but not yet taken before the connection stops reading (one read more may land
 * on top). Small: it is what a handler that is not reading lets the client send ahead, and it is
 * enough for the whole of a typical form or JSON body, so that a client leaving after sending it
 * is noticed while the handler runs.
 */
export const BODY_QUEUE_BYTES = 16 * 1024;

/** How far the content has arrived. */
export const enum Receipt {
  /** More content is expected. */
  Receiving,
  /** The whole content (and any trailer section) has arrived. */
  Complete,
  /** The content cannot be completed: malformed, or the connection ended. */
  Failed,
}

/** Who takes the content. */
export const enum Owner {
  /** The handler (it may never touch it). */
  Handler,
  /** The server, after the handler was done with it: content is dropped. */
  Server,
}

/** What the connection does for a body. */
export interface BodyFeed {
  /** The body wants content: send 100 Continue if owed, and receive. */
  demand(body: RequestBody): void;
}

const CHANGED = Symbol("changed");

/**
 * One request's content.
 *
 * @example
 * ```ts
 * import { RequestBody } from "./request_body.ts";
 * const body = new RequestBody({ demand() {} });
 * body.push(new TextEncoder().encode("hi"));
 * body.end();
 * console.log(await new Response(body.stream()).text()); // "hi"
 * ```
 */
export class RequestBody {
  readonly #feed: BodyFeed;
  receipt: Receipt = Receipt.Receiving;
  owner: Owner = Owner.Handler;
  /** Content bytes received so far (for the rate bound and discard accounting). */
  receivedBytes = 0;
  /** Content bytes dropped by the server after taking the body over. */
  discardedBytes = 0;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #error: Error | null = null;
  #stream: ReadableStream<Uint8Array> | null = null;
  #cancelled = false;
  #pulled = false;
  /** Settles when content arrives, the content ends or fails, or the owner changes. */
  #change: PromiseWithResolvers<typeof CHANGED> | null = null;

  constructor(feed: BodyFeed) {
    this.#feed = feed;
  }

  /** Receiving, and room in the queue (or the server is dropping content anyway). */
  get wantsContent(): boolean {
    return this.receipt === Receipt.Receiving &&
      (this.owner === Owner.Server || this.#queued < BODY_QUEUE_BYTES);
  }

  /** Content received that the handler has not taken: queued, or dropped by the server. */
  get untakenBytes(): number {
    return this.#queued + this.discardedBytes;
  }

  /** The failure, once the content cannot be completed. */
  get error(): Error | null {
    return this.#error;
  }

  /** Content from the parser: a view, copied here unless it is dropped. */
  push(data: Uint8Array): void {
    this.receivedBytes += data.length;
    if (this.owner === Owner.Server) {
      this.discardedBytes += data.length;
    } else {
      this.#chunks.push(data.slice());
      this.#queued += data.length;
    }
    this.#signal();
  }

  /** The content is complete. */
  end(): void {
    if (this.receipt !== Receipt.Receiving) return;
    this.receipt = Receipt.Complete;
    this.#signal();
  }

  /**
   * The content cannot be completed; the owner's next read gets `error`. On a body already
   * complete it only wakes whoever waits for a change (the connection closing).
   */
  fail(error: Error): void {
    if (this.receipt !== Receipt.Receiving) {
      this.#signal();
      return;
    }
    this.receipt = Receipt.Failed;
    this.#error = error;
    this.#signal();
  }

  /**
   * The handler still holds the body: it has the stream locked and has not cancelled it. Decides,
   * when the response is complete, whether the server waits for the handler or takes over.
   */
  get heldByHandler(): boolean {
    return this.owner === Owner.Handler && this.#stream !== null && this.#stream.locked &&
      !this.#cancelled;
  }

  /** The handler has read from the body at least once. */
  get pulled(): boolean {
    return this.#pulled;
  }

  /** The server takes the body over: queued content is dropped, and so is what follows. */
  takeOver(): void {
    if (this.owner === Owner.Server) return;
    this.owner = Owner.Server;
    this.discardedBytes += this.#queued;
    this.#chunks = [];
    this.#queued = 0;
    this.#signal();
  }

  /** Resolves at the next change (content, end, failure, owner), for the connection's waits. */
  changed(): Promise<unknown> {
    this.#change ??= Promise.withResolvers();
    return this.#change.promise;
  }

  #signal(): void {
    const change = this.#change;
    if (change === null) return;
    this.#change = null;
    change.resolve(CHANGED);
  }

  /** The content as a pull stream for the handler's Request: one queued piece per read. */
  stream(): ReadableStream<Uint8Array> {
    return this.#stream ??= new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        this.#cancelled = true;
        this.#signal();
      },
    }, { highWaterMark: 0 });
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    this.#pulled = true;
    for (;;) {
      if (this.owner === Owner.Server) {
        controller.error(
          new HttpError(
            400,
            "the request body was discarded: the response was complete before it was read",
          ),
        );
        return;
      }
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.length;
        controller.enqueue(chunk);
        // Room again: the connection resumes receiving if it had stopped; and a connection
        // waiting for the handler to finish with the body sees it is still reading.
        if (this.receipt === Receipt.Receiving) this.#feed.demand(this);
        this.#signal();
        return;
      }
      if (this.receipt === Receipt.Complete) {
        controller.close();
        this.#signal();
        return;
      }
      if (this.receipt === Receipt.Failed) {
        controller.error(this.#error);
        return;
      }
      this.#feed.demand(this);
      await this.changed();
    }
  }

  /** The handler has taken everything (or cancelled): nothing it holds is left to deliver. */
  get settled(): boolean {
    return this.receipt !== Receipt.Receiving && (this.#chunks.length === 0 || this.#cancelled);
  }
}
