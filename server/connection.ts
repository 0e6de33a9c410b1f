/**
 * One TCP connection: read, feed the parser, call the handler, write, keep alive.
 *
 * The connection is a loop over requests. For each request head it builds a web `Request`
 * (its body a stream read from the socket on demand), calls the handler, and writes the
 * `Response`, then decides from RFC 9112 §9.3 whether to go on. Timeouts are deadlines checked by
 * the server's {@linkcode Clock}; when one passes, the socket is closed, which ends any pending
 * read or write.
 *
 * Hot path: responses that are in memory are serialized into a pooled output buffer, so that a
 * response costs no allocation of its own and pipelined responses leave in one write; the
 * buffer is written when the parser needs more input (or fills up).
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { HttpError } from "./http1/errors.ts";
import type { RequestHead } from "./http1/request_parser.ts";
import { RequestParser } from "./http1/request_parser.ts";
import {
  CONTINUE_RESPONSE,
  encodeChunk,
  encodeLatin1,
  LAST_CHUNK,
  mayCarryContentLength,
  type ResponseFraming,
  responseHasBody,
  serializeErrorResponse,
  serializeResponseHead,
  STATUS_REASONS,
  statusLine,
  writeLatin1,
} from "./http1/response_writer.ts";
import { isFieldValue } from "./http1/syntax.ts";
import type { ServerLimits } from "./limits.ts";
import { PreparedResponse } from "./prepared_response.ts";
import { acceptsRequestLike, ParsedRequest } from "./request_like.ts";
import { bodySource, textResponseParts } from "./response_body.ts";
import type { Handler, RequestRecord, ServeHandlerInfo } from "./types.ts";

/** Size of a pooled output buffer; in-memory responses up to this size are sent in one write. */
const OUTPUT_BUFFER_BYTES = 64 * 1024;

/** Most idle output buffers kept for reuse (the rest are left to the garbage collector). */
const OUTPUT_POOL_MAX = 64;

/**
 * Buffer a byte-stream response body is read into, reused for every chunk. Larger chunks mean
 * fewer reads and writes per file; 256 KiB measured 1.45× faster than 64 KiB for a 10 MiB file.
 */
const STREAM_CHUNK_BYTES = 256 * 1024;

/**
 * Read buffer lent to a connection whose last read filled its own small buffer (a large head,
 * pipelined requests) or that is reading a request body: larger reads, fewer system calls. It
 * goes back to a shared pool after each read, so an idle connection holds only its small one.
 */
const LARGE_READ_BUFFER_BYTES = 64 * 1024;

/** Most idle large read buffers kept for reuse. */
const LARGE_READ_POOL_MAX = 64;

const largeReadPool: Uint8Array[] = [];

/** Most bytes read and dropped while lingering before close. */
const LINGER_MAX_BYTES = 256 * 1024;

/** Most idle per-connection read buffers kept for new connections (one size per pool). */
const READ_POOL_MAX = 1024;

const readBufferPools = new Map<number, Uint8Array[]>();

/** A per-connection read buffer: reused from a closed connection when one is free. */
function takeReadBuffer(size: number): Uint8Array {
  return readBufferPools.get(size)?.pop() ?? new Uint8Array(size);
}

function returnReadBuffer(buffer: Uint8Array): void {
  let pool = readBufferPools.get(buffer.length);
  if (pool === undefined) readBufferPools.set(buffer.length, pool = []);
  if (pool.length < READ_POOL_MAX) pool.push(buffer);
}

/** Output buffers not in use. Allocating typed arrays is costly in Deno; reuse is free. */
const outputPool: Uint8Array[] = [];

function takeOutputBuffer(): Uint8Array {
  return outputPool.pop() ?? new Uint8Array(OUTPUT_BUFFER_BYTES);
}

function returnOutputBuffer(buffer: Uint8Array): void {
  if (outputPool.length < OUTPUT_POOL_MAX) outputPool.push(buffer);
}

const encoder = new TextEncoder();

/**
 * Methods a web `Request` cannot carry: the fetch standard forbids CONNECT, TRACE and TRACK,
 * and normalizes the case of six standard methods, so `get` would reach the handler as `GET`
 * although methods are case-sensitive (RFC 9110 §9.1). All of these get 501 from the server.
 */
function isUnrepresentableMethod(method: string): boolean {
  switch (method) {
    case "GET":
    case "HEAD":
    case "POST":
    case "PUT":
    case "DELETE":
    case "OPTIONS":
    case "PATCH":
      return false;
  }
  const upper = method.toUpperCase();
  return upper === "CONNECT" || upper === "TRACE" || upper === "TRACK" || upper === "GET" ||
    upper === "HEAD" || upper === "POST" || upper === "PUT" || upper === "DELETE" ||
    upper === "OPTIONS";
}

/**
 * The `Request` given to handlers. Its `signal` is created on first use (an `AbortSignal`
 * passed to the `Request` constructor costs more than the rest of the request) and aborts when
 * the client goes away.
 */
class ServerRequest extends Request {
  #controller: AbortController | null = null;
  #aborted = false;

  override get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** Aborts `signal` (now, or when it is first read). */
  abortSignal(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}

/**
 * The handler's second argument, as `Deno.serve` gives it. Its `completed` promise is made only
 * if the handler asks for it (most never do).
 */
class HandlerInfo implements ServeHandlerInfo {
  readonly remoteAddr: Deno.NetAddr;
  #settled = false;
  #resolvers: PromiseWithResolvers<void> | null = null;

  constructor(remoteAddr: Deno.NetAddr) {
    this.remoteAddr = remoteAddr;
  }

  get completed(): Promise<void> {
    if (this.#resolvers === null) {
      this.#resolvers = Promise.withResolvers<void>();
      if (this.#settled) this.#resolvers.resolve();
    }
    return this.#resolvers.promise;
  }

  /** The exchange is over: `completed` settles (now, or as soon as it is made). */
  settle(): void {
    this.#settled = true;
    this.#resolvers?.resolve();
  }
}

/** What a connection needs from its server. */
export interface ConnectionContext {
  readonly limits: ServerLimits;
  readonly handler: Handler;
  readonly onError: (error: unknown) => Response | Promise<Response>;
  readonly onRequestEnd: ((record: RequestRecord) => void) | undefined;
  readonly clock: Clock;
  /** Authority used for the URL of an HTTP/1.0 request that has no Host. */
  readonly defaultAuthority: string;
  /** True once the server is shutting down: finish the current exchange, then close. */
  readonly draining: boolean;
}

/** Where the connection is; decides which timeout applies. */
const enum Phase {
  /** Waiting for the first byte of a request. */
  Idle,
  /** Receiving a request head. */
  Head,
  /** Handler running; the client may be sending a body. */
  Handler,
  /** Reading a request body for the handler or to discard it. */
  Body,
  /** Writing a response. */
  Write,
  /** Lingering before close. */
  Linger,
  Closed,
}

/** Per-request state shared between the body stream, the handler and the writer. */
interface Exchange {
  readonly head: RequestHead;
  request: ServerRequest | null;
  /** The request body has been read to its end (or there was none). */
  bodyDone: boolean;
  /** A parse error inside the body; answered instead of the handler's response when possible. */
  bodyError: HttpError | null;
  /** 100 Continue has been sent, or was not needed. */
  continueSent: boolean;
  /** A body read is in progress (the handler's pull or our discard). */
  bodyRead: Promise<Uint8Array | null> | null;
  /** Bytes of the response body written. */
  bodyBytesWritten: number;
  headWritten: boolean;
  /** Set when the client went away: the request's signal is aborted. */
  aborted: boolean;
  /** The response head said `connection: close` (the handler asked for it, or HTTP/1.0). */
  closeAfter: boolean;
}

function abortExchange(exchange: Exchange): void {
  exchange.aborted = true;
  exchange.request?.abortSignal();
}

/**
 * Serves one accepted TCP connection until it closes.
 *
 * @example
 * ```ts ignore
 * const connection = new Connection(conn, context);
 * await connection.run();
 * ```
 */
export class Connection {
  readonly #conn: Deno.TcpConn;
  readonly #context: ConnectionContext;
  readonly #limits: ServerLimits;
  readonly #parser: RequestParser;
  readonly #readBuffer: Uint8Array;
  /** A large read buffer borrowed from the pool for the read in progress, if any. */
  #largeBuffer: Uint8Array | null = null;
  /** The last read filled the buffer it was given: more is probably waiting. */
  #lastReadFilled = false;
  readonly #remoteAddr: Deno.NetAddr;
  /** The handler reads only a RequestLike: it gets a ParsedRequest instead of a Request. */
  readonly #lightRequests: boolean;

  #phase = Phase.Idle;
  /** Clock time at which the current phase times out; 0 for none. */
  #deadline = 0;
  #pendingRead: Promise<number | null> | null = null;
  #pendingReadBuffer: Uint8Array | null = null;
  /** The peer closed its sending side (EOF) or reset the connection. */
  #peerClosed = false;
  #exchange: Exchange | null = null;
  #handlerTimedOut: (() => void) | null = null;
  /** Serialized responses not yet written: bytes [0, #outputLength) of #output. */
  #output: Uint8Array | null = null;
  #outputLength = 0;
  #closed = false;

  constructor(conn: Deno.TcpConn, context: ConnectionContext) {
    this.#conn = conn;
    this.#context = context;
    this.#limits = context.limits;
    this.#parser = new RequestParser(context.limits);
    this.#readBuffer = takeReadBuffer(context.limits.readBufferBytes);
    this.#remoteAddr = conn.remoteAddr;
    this.#lightRequests = acceptsRequestLike(context.handler);
  }

  /** True while waiting for a new request with nothing received: safe to close at shutdown. */
  get isIdle(): boolean {
    return this.#phase === Phase.Idle && this.#parser.isIdle && this.#outputLength === 0;
  }

  /** Serves requests until the connection ends. Never rejects. */
  async run(): Promise<void> {
    try {
      // A client that connects and sends nothing is closed silently after the header timeout
      // (a browser's preconnect, say); once bytes arrive the head has its own deadline, and a
      // head still incomplete when it passes gets 408.
      this.#setDeadline(Phase.Idle, this.#limits.headerTimeoutMs);
      await this.#serve();
    } catch {
      // A broken connection (reset, closed by a timeout) ends here; nothing to report.
    } finally {
      if (this.#exchange !== null) abortExchange(this.#exchange);
      this.close();
    }
  }

  /** Closes the socket now. Pending reads and writes fail, and `run()` finishes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#phase = Phase.Closed;
    this.#deadline = 0;
    if (this.#output !== null && this.#outputLength === 0) returnOutputBuffer(this.#output);
    this.#output = null;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    // The read buffer goes back to the pool only when nothing can touch it again: no read in
    // flight into it, no request whose body could still be read from it.
    if (this.#exchange === null && this.#pendingReadBuffer !== this.#readBuffer) {
      returnReadBuffer(this.#readBuffer);
    }
    // A handler that never settles must not keep a closed connection (and so shutdown()) waiting
    // for it: stop waiting, and tell the handler through request.signal.
    if (this.#exchange !== null) abortExchange(this.#exchange);
    this.#handlerTimedOut?.();
  }

  /** Called by the server on every clock tick. */
  checkDeadline(now: number): void {
    if (this.#deadline === 0 || now < this.#deadline) return;
    this.#deadline = 0;
    switch (this.#phase) {
      case Phase.Head:
        // RFC 9110 §15.5.9: 408 tells the client why; then close (slowloris defence).
        this.#writeErrorAndClose(408);
        break;
      case Phase.Handler:
        this.#handlerTimedOut?.();
        break;
      case Phase.Body:
        // A stalled request body is an incomplete request too (RFC 9110 §15.5.9, nginx's
        // client_body_timeout): say 408 if no response has started, then close.
        if (this.#exchange !== null && !this.#exchange.headWritten) {
          this.#exchange.headWritten = true;
          this.#writeErrorAndClose(408);
        } else {
          this.close();
        }
        break;
      default:
        this.close();
    }
  }

  #setDeadline(phase: Phase, timeoutMs: number): void {
    this.#phase = phase;
    this.#deadline = timeoutMs > 0 ? this.#context.clock.now + timeoutMs : 0;
  }

  async #serve(): Promise<void> {
    for (;;) {
      let event;
      try {
        event = this.#parser.next();
      } catch (error) {
        await this.#flush();
        await this.#failRequest(error instanceof HttpError ? error.status : 400);
        return;
      }
      if (event.type === "need-data") {
        await this.#flush();
        if (this.#context.draining && this.#parser.isIdle) return;
        if (this.#phase === Phase.Idle && !this.#parser.isIdle) {
          this.#setDeadline(Phase.Head, this.#limits.headerTimeoutMs);
        }
        const n = await this.#read();
        if (n === null) {
          // EOF. Bytes of an incomplete head get a 400 (RFC 9112 §8: an incomplete message).
          if (!this.#parser.isIdle && !this.#closed) await this.#failRequest(400);
          return;
        }
        if (this.#phase === Phase.Idle) this.#setDeadline(Phase.Head, this.#limits.headerTimeoutMs);
        continue;
      }
      if (event.type !== "head") continue; // Body events are consumed by the exchange.
      const keepAlive = await this.#serveRequest(event.head);
      if (!keepAlive || this.#closed) {
        await this.#flush();
        return;
      }
      this.#setDeadline(Phase.Idle, this.#limits.idleTimeoutMs);
    }
  }

  /** Starts a socket read; resolves to the byte count, null at EOF or error. */
  #startRead(buffer: Uint8Array): Promise<number | null> {
    this.#pendingReadBuffer = buffer;
    this.#pendingRead = this.#conn.read(buffer).then(this.#onReadDone, this.#onReadFailed);
    return this.#pendingRead;
  }

  // Made once per connection rather than per read.
  readonly #onReadDone = (n: number | null): number | null => {
    if (n === null) this.#peerClosed = true;
    return n;
  };

  readonly #onReadFailed = (): null => {
    this.#peerClosed = true;
    return null;
  };

  /**
   * Reads once (finishing a read started earlier, if any) and feeds the parser. Called only when
   * the parser has returned NEED_DATA, so it no longer borrows the previous read's bytes.
   */
  async #read(large = false): Promise<number | null> {
    if (this.#peerClosed && this.#pendingRead === null) return null;
    let pending = this.#pendingRead;
    if (pending === null) {
      let buffer = this.#readBuffer;
      if (large || this.#lastReadFilled) {
        buffer = this.#largeBuffer ?? largeReadPool.pop() ??
          new Uint8Array(LARGE_READ_BUFFER_BYTES);
        this.#largeBuffer = buffer;
      } else {
        this.#returnLargeBuffer();
      }
      pending = this.#startRead(buffer);
    }
    const n = await pending;
    const used = this.#pendingReadBuffer!;
    this.#pendingRead = null;
    this.#pendingReadBuffer = null;
    if (n === null || this.#closed) return null;
    this.#lastReadFilled = n === used.length;
    this.#parser.feed(used.subarray(0, n));
    return n;
  }

  /**
   * Gives the large read buffer back to the pool. Only when the parser no longer borrows its
   * bytes: before the next read (the parser has said NEED_DATA) or once a request is complete
   * with nothing buffered after it.
   */
  #returnLargeBuffer(): void {
    const buffer = this.#largeBuffer;
    if (buffer === null) return;
    this.#largeBuffer = null;
    if (largeReadPool.length < LARGE_READ_POOL_MAX) largeReadPool.push(buffer);
  }

  /** Serves one request; returns whether the connection may be kept for another. */
  async #serveRequest(head: RequestHead): Promise<boolean> {
    const onRequestEnd = this.#context.onRequestEnd;
    const startMs = onRequestEnd === undefined ? 0 : performance.now();
    const exchange: Exchange = {
      head,
      request: null,
      bodyDone: head.framing.kind === "none",
      bodyError: null,
      continueSent: !head.expectContinue,
      bodyRead: null,
      bodyBytesWritten: 0,
      headWritten: false,
      aborted: false,
      closeAfter: false,
    };
    this.#exchange = exchange;
    let info: HandlerInfo | null = null;

    let response: Response;
    let close = !head.keepAlive;
    const earlyStatus = this.#serverAnswer(head);
    if (earlyStatus !== 0) {
      response = plainResponse(earlyStatus);
      if (earlyStatus >= 400) close = true;
    } else {
      let request: Request | ParsedRequest | null = null;
      try {
        if (this.#lightRequests) {
          // Our own static handler reads only method, url and headers (request_like.ts).
          const head = exchange.head;
          // Parsed as a Request's URL would be (dot segments resolved, host checked), so that
          // the handler sees the same path either way; an invalid one throws and gets 400.
          const url = new URL(this.#requestUrl(head)).href;
          request = new ParsedRequest(head.method, url, head.fields);
        } else {
          request = exchange.request = this.#buildRequest(exchange);
        }
      } catch {
        close = true;
      }
      if (request !== null) {
        info = new HandlerInfo(this.#remoteAddr);
        const answer = this.#invokeHandler(request, info);
        if (answer instanceof Response) {
          response = answer;
        } else {
          // While an asynchronous handler runs, a keep-alive connection reads ahead: the read
          // notices a client that leaves (request.signal) and is the next request's read
          // anyway. Not for a synchronous answer (nothing left to abort; reading after the
          // write is cheaper), not for a ParsedRequest (it has no signal), and not when the
          // connection closes after this request (the read would only add a half-close).
          if (exchange.bodyDone && head.keepAlive && exchange.request !== null) {
            this.#watchPeer(exchange);
          }
          response = await answer;
        }
        this.#setDeadline(Phase.Write, 0);
      } else {
        response = plainResponse(400);
      }
    }

    // A request body that failed to parse (bad chunk, too large) decides the answer if the
    // handler's response has not started.
    if (exchange.bodyError !== null) {
      response = plainResponse(exchange.bodyError.status);
      close = true;
    }
    if (!exchange.bodyDone && !this.#canDiscardBody(exchange)) close = true;
    if (this.#context.draining || this.#peerClosed) close = true;

    let wroteAll = false;
    try {
      const written = this.#writeResponse(exchange, response, close);
      wroteAll = typeof written === "boolean" ? written : await written;
    } catch (error) {
      if (!exchange.headWritten) {
        // The handler's response could not be serialized (a CR in a header, a body already
        // used, headers that are not Headers): nothing is on the wire yet, so answer 500.
        this.#reportError(error);
        this.#appendOutput(serializeErrorResponse(500, this.#context.clock.date, true));
        exchange.bodyBytesWritten = 0;
        response = plainResponse(500);
        wroteAll = true;
      }
      close = true;
      abortExchange(exchange);
    }
    if (!wroteAll || exchange.closeAfter || (exchange.aborted && this.#peerClosed)) close = true;

    if (!close && !exchange.bodyDone) {
      // The handler ignored (part of) the body: read and drop it to keep the connection.
      try {
        await this.#discardBody(exchange);
      } catch {
        close = true;
      }
    }
    this.#exchange = null;
    if (!exchange.bodyDone && exchange.bodyError === null) {
      // The exchange is over: a late read of its body must fail, not take the next request's
      // bytes (or a pooled buffer's).
      exchange.bodyError = new HttpError(400, "the exchange is over");
    }
    try {
      if (close) await this.#flush();
    } finally {
      info?.settle();
    }
    if (onRequestEnd !== undefined) {
      onRequestEnd({
        remoteAddr: this.#remoteAddr,
        method: head.method,
        target: head.target,
        httpVersion: head.minorVersion === 1 ? "HTTP/1.1" : "HTTP/1.0",
        status: response.status,
        bodyBytes: exchange.bodyBytesWritten,
        durationMs: performance.now() - startMs,
        startTime: new Date(Date.now() - (performance.now() - startMs)),
        requestHeaders: new Headers(head.fields.toPairs()),
        completed: wroteAll,
      });
    }
    if (close && wroteAll) await this.#lingerIfNeeded(exchange);
    return !close;
  }

  /** Requests the server answers itself (status), or 0 to call the handler. */
  #serverAnswer(head: RequestHead): number {
    // CONNECT is for proxies (RFC 9110 §9.3.6); TRACE/TRACK and case variants of standard
    // methods cannot be represented as a web Request.
    if (isUnrepresentableMethod(head.method)) return 501;
    // OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7): it is here and speaks HTTP.
    if (head.targetForm === "asterisk") return 200;
    return 0;
  }

  /** The request's absolute URL: its own for absolute-form, else from Host and the target. */
  #requestUrl(head: RequestHead): string {
    return head.targetForm === "absolute"
      ? head.target
      : `http://${head.host ?? this.#context.defaultAuthority}${head.target}`;
  }

  #buildRequest(exchange: Exchange): ServerRequest {
    const head = exchange.head;
    const url = this.#requestUrl(head);
    const method = head.method;
    if (method === "GET") {
      // The common case, built the cheapest way: a Request with no init dictionary (whose
      // conversion costs more than the appends), then the fields in received order. A body on
      // GET has no meaning (RFC 9110 §9.3.1) and a web Request cannot carry one; it is read
      // and dropped after the response like any unread body.
      const request = new ServerRequest(url);
      const headers = request.headers;
      const entries = head.fields.entries;
      for (let i = 0; i < entries.length; i += 2) headers.append(entries[i]!, entries[i + 1]!);
      return request;
    }
    const headers = head.fields.toPairs();
    if (method === "HEAD") return new ServerRequest(url, { method, headers });
    const body = exchange.bodyDone ? null : this.#bodyStream(exchange);
    return new ServerRequest(url, { method, headers, body });
  }

  /** The request body as a pull stream: each read by the handler is one socket read at most. */
  #bodyStream(exchange: Exchange): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const chunk = await this.#readBodyChunk(exchange);
          if (chunk === null) {
            controller.close();
            this.#watchPeer(exchange);
          } else {
            controller.enqueue(chunk);
          }
        } catch (error) {
          controller.error(error);
        }
      },
    }, { highWaterMark: 0 });
  }

  /** Reads the next piece of the request body; null at its end. Serialized per exchange. */
  #readBodyChunk(exchange: Exchange): Promise<Uint8Array | null> {
    const previous = exchange.bodyRead ?? Promise.resolve(null);
    const next = previous.then(() => this.#readBodyChunkNow(exchange));
    exchange.bodyRead = next.catch(() => null);
    return next;
  }

  async #readBodyChunkNow(exchange: Exchange): Promise<Uint8Array | null> {
    if (exchange.bodyDone) return null;
    if (exchange.bodyError !== null) throw exchange.bodyError;
    if (!exchange.continueSent) {
      // RFC 9110 §10.1.1: the client waits for 100 before sending the body; send it now that
      // the handler wants the body, unless a final response has started.
      exchange.continueSent = true;
      if (!exchange.headWritten) await this.#writeNow(CONTINUE_RESPONSE);
    }
    for (;;) {
      let event;
      try {
        event = this.#parser.next();
      } catch (error) {
        exchange.bodyError = error instanceof HttpError ? error : new HttpError(400, "bad body");
        throw exchange.bodyError;
      }
      if (event.type === "data") return event.data.slice();
      if (event.type === "end") {
        exchange.bodyDone = true;
        return null;
      }
      if (event.type === "need-data") {
        const phase = this.#phase;
        const deadline = this.#deadline;
        this.#setDeadline(Phase.Body, this.#limits.bodyTimeoutMs);
        const n = await this.#read(true);
        this.#phase = phase;
        this.#deadline = deadline;
        if (n === null) {
          abortExchange(exchange);
          throw new HttpError(400, "connection closed in the middle of the request body");
        }
        continue;
      }
      throw new HttpError(400, "unexpected event in body");
    }
  }

  /** Whether the unread rest of a body is small enough to read and drop after the response. */
  #canDiscardBody(exchange: Exchange): boolean {
    if (!exchange.continueSent) return false; // The client is waiting for 100; it sent nothing.
    const framing = exchange.head.framing;
    // A chunked body's size is unknown: it is discarded up to the same bound, and if it turns
    // out larger the connection is closed after the response after all (#discardBody throws).
    return framing.kind === "chunked" ||
      (framing.kind === "length" && framing.length <= this.#limits.maxDiscardBytes);
  }

  async #discardBody(exchange: Exchange): Promise<void> {
    let discarded = 0;
    while (!exchange.bodyDone) {
      const chunk = await this.#readBodyChunk(exchange);
      if (chunk === null) break;
      discarded += chunk.length;
      if (discarded > this.#limits.maxDiscardBytes) throw new Error("body too large to discard");
    }
  }

  /**
   * Once the request is fully received, a read is started at once: it notices a client that
   * goes away (aborting `request.signal`) and is the next request's read otherwise.
   */
  #watchPeer(exchange: Exchange): void {
    if (this.#peerClosed) {
      abortExchange(exchange);
      return;
    }
    if (this.#pendingRead !== null || this.#parser.hasBufferedBytes) return;
    this.#returnLargeBuffer();
    // The callback must not hold the exchange: this read usually outlives it (it becomes the
    // wait for the next request) and would keep the whole request alive on an idle connection.
    this.#startRead(this.#readBuffer).then(this.#onWatchedRead);
  }

  /** A watched read ended: at EOF, the request in progress (if any) loses its client. */
  readonly #onWatchedRead = (n: number | null): void => {
    if (n === null && this.#exchange !== null) abortExchange(this.#exchange);
  };

  /** Calls the handler; a synchronous handler's Response comes back without a promise. */
  #invokeHandler(
    request: Request | ParsedRequest,
    info: ServeHandlerInfo,
  ): Response | Promise<Response> {
    let result: unknown;
    try {
      // A ParsedRequest goes only to handlers marked as reading no more than it offers.
      result = this.#context.handler(request as Request, info);
    } catch (error) {
      return this.#handlerFailed(error);
    }
    if (result instanceof Response) return result;
    if (isThenable(result)) return this.#awaitHandler(result);
    return this.#handlerFailed(new TypeError("handler did not return a Response"));
  }

  async #awaitHandler(pending: PromiseLike<unknown>): Promise<Response> {
    this.#setDeadline(Phase.Handler, this.#limits.handlerTimeoutMs);
    const timedOut = new Promise<typeof HANDLER_TIMEOUT>((resolve) => {
      this.#handlerTimedOut = () => resolve(HANDLER_TIMEOUT);
    });
    let result: unknown;
    try {
      result = await Promise.race([pending, timedOut]);
    } catch (error) {
      return await this.#handlerFailed(error);
    } finally {
      this.#handlerTimedOut = null;
    }
    if (result === HANDLER_TIMEOUT) {
      if (this.#closed) return plainResponse(503); // Closed under a handler still running.
      this.#reportError(
        new Error(`handler did not respond within ${this.#limits.handlerTimeoutMs} ms`),
      );
      // The handler still runs and may yet read the body: the connection cannot be
      // reused, and request.signal tells the handler that nobody will see its answer.
      if (this.#exchange !== null) abortExchange(this.#exchange);
      const response = plainResponse(503);
      response.headers.set("connection", "close");
      return response;
    }
    if (result instanceof Response) return result;
    return await this.#handlerFailed(new TypeError("handler did not return a Response"));
  }

  /** The handler threw, rejected or returned something else: onError decides (else 500). */
  async #handlerFailed(error: unknown): Promise<Response> {
    try {
      const fallback = await this.#context.onError(error);
      if (fallback instanceof Response) return fallback;
    } catch (onErrorError) {
      this.#reportError(onErrorError);
    }
    return plainResponse(500);
  }

  #reportError(error: unknown): void {
    try {
      const result = this.#context.onError(error);
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // onError must not break the connection.
    }
  }

  /** Writes the response; returns false when it could not be written completely. */
  /**
   * Writes the response; returns false when it could not be written completely. Responses held
   * in memory are serialized into the output buffer without a promise; the rest go through
   * {@linkcode Connection.#writeResponseGeneral}.
   */
  #writeResponse(
    exchange: Exchange,
    response: Response,
    close: boolean,
  ): boolean | Promise<boolean> {
    const head = exchange.head;
    const status = response.status;
    const keepAliveHeader = head.minorVersion === 0 && !close;
    const date = this.#context.clock.date;

    // Fastest path: a status, a content type and a string; no Headers object is ever built.
    const text = response.statusText === "" ? textResponseParts(response) : null;
    if (text !== null) {
      const hasBody = responseHasBody(head.method, text.status);
      const body = text.body;
      const byteLength = asciiLength(body);
      const headBytes = byteLength === -1 || byteLength > OUTPUT_BUFFER_BYTES / 2
        ? null
        : textHeadCache.get(
          text.status,
          text.contentType,
          byteLength,
          close ? 1 : keepAliveHeader ? 2 : 0,
          date,
        );
      if (headBytes !== null) {
        exchange.headWritten = true;
        const output = this.#reserveOutput(headBytes.length + (hasBody ? byteLength : 0));
        output.set(headBytes, this.#outputLength);
        let offset = this.#outputLength + headBytes.length;
        if (hasBody) offset = writeLatin1(body, output, offset);
        this.#outputLength = offset;
        exchange.bodyBytesWritten = hasBody ? byteLength : 0;
        return true;
      }
    }

    // A response prepared by one of our handlers, unchanged since: its head is ready-made.
    if (
      response instanceof PreparedResponse && response.headersUntouched &&
      response.statusText === "" && !response.bodyUsed
    ) {
      const body = responseHasBody(head.method, status) ? response.preparedBody : null;
      const headBytes = response.preparedHead.serialize(
        status,
        mayCarryContentLength(status) ? body?.length ?? response.announcedLength : -1,
        close ? 1 : keepAliveHeader ? 2 : 0,
        date,
      );
      exchange.headWritten = true;
      exchange.bodyBytesWritten = body?.length ?? 0;
      const total = headBytes.length + (body?.length ?? 0);
      if (total <= OUTPUT_BUFFER_BYTES) {
        const output = this.#reserveOutput(total);
        output.set(headBytes, this.#outputLength);
        if (body !== null) output.set(body, this.#outputLength + headBytes.length);
        this.#outputLength += total;
        return true;
      }
      this.#appendOutput(headBytes);
      return body === null ? true : this.#flush().then(() => this.#writeNow(body)).then(() => true);
    }
    return this.#writeResponseGeneral(exchange, response, close);
  }

  /** The general path: any headers, in-memory or streamed bodies. */
  async #writeResponseGeneral(
    exchange: Exchange,
    response: Response,
    close: boolean,
  ): Promise<boolean> {
    const head = exchange.head;
    const status = response.status;
    const date = this.#context.clock.date;
    const hasBody = responseHasBody(head.method, status);
    const source = bodySource(response);
    const headers = response.headers;
    const handlerLength = parseLength(headers.get("content-length"));
    if (!close && headers.get("connection")?.toLowerCase().includes("close")) {
      // The handler asked to close (RFC 9112 §9.6): say so in the head, then close.
      close = true;
      exchange.closeAfter = true;
    }

    if (!hasBody || source.kind !== "stream") {
      // Everything is in memory: head and body in one buffer.
      if (source.kind === "stream") source.stream.cancel().catch(() => {});
      const bytes = source.kind === "bytes" ? source.bytes : null;
      let framing: ResponseFraming;
      let announcedLength: number | undefined;
      if (hasBody) {
        framing = { kind: "length", length: bytes?.length ?? 0 };
      } else {
        framing = { kind: "none" };
        if (mayCarryContentLength(status)) {
          announcedLength = head.method === "HEAD" && bytes !== null
            ? bytes.length
            : handlerLength ?? undefined;
        }
      }
      const headText = serializeResponseHead({
        status,
        statusText: response.statusText,
        headers,
        framing,
        ...(announcedLength === undefined ? {} : { announcedLength }),
        close,
        keepAliveHeader: head.minorVersion === 0 && !close,
        date,
      });
      const bodyBytes = hasBody && bytes !== null ? bytes : null;
      exchange.headWritten = true;
      const total = headText.length + (bodyBytes?.length ?? 0);
      if (total <= OUTPUT_BUFFER_BYTES) {
        const output = this.#reserveOutput(total);
        const offset = writeLatin1(headText, output, this.#outputLength);
        if (bodyBytes !== null) output.set(bodyBytes, offset);
        this.#outputLength += total;
      } else {
        this.#appendOutput(encoder.encode(headText));
        await this.#flush();
        if (bodyBytes !== null) await this.#writeNow(bodyBytes);
      }
      exchange.bodyBytesWritten = bodyBytes?.length ?? 0;
      return true;
    }

    // A stream: Content-Length when known, else chunked (HTTP/1.1) or close-delimited (1.0).
    const knownLength = handlerLength ?? source.length;
    let framing: ResponseFraming;
    if (knownLength !== null) framing = { kind: "length", length: knownLength };
    else if (head.minorVersion === 1) framing = { kind: "chunked" };
    else {
      framing = { kind: "close" };
      close = true;
      exchange.closeAfter = true;
    }
    const headText = serializeResponseHead({
      status,
      statusText: response.statusText,
      headers,
      framing,
      close,
      keepAliveHeader: head.minorVersion === 0 && !close,
      date,
    });
    // Marked before the flush so that a socket error there is not taken for a bad response.
    exchange.headWritten = true;
    const output = this.#reserveOutput(headText.length);
    this.#outputLength = writeLatin1(headText, output, this.#outputLength);
    // A stream can run for long (server-sent events sit idle between events, where no failed
    // write would reveal a client that left): watch the connection so request.signal can tell.
    if (exchange.bodyDone && exchange.request !== null) this.#watchPeer(exchange);
    // A byte stream (a file, for instance) is read into one buffer that is reused for every
    // chunk once it has been written: no garbage per chunk, and memory per response is bounded.
    let byobReader: ReadableStreamBYOBReader | null = null;
    let reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
    try {
      byobReader = source.stream.getReader({ mode: "byob" });
      reader = byobReader;
    } catch {
      reader = source.stream.getReader();
    }
    let chunkBuffer: Uint8Array<ArrayBuffer> | null = byobReader === null
      ? null
      : new Uint8Array(STREAM_CHUNK_BYTES);
    let written = 0;
    let writeFailed = false;
    const send = async (bytes: Uint8Array) => {
      try {
        await this.#send(bytes);
      } catch (error) {
        writeFailed = true;
        throw error;
      }
    };
    try {
      for (;;) {
        // The head waits in the output buffer for the first chunk, so that both go together;
        // but not if the stream is slow to start.
        const next = byobReader !== null && chunkBuffer !== null
          ? byobReader.read(chunkBuffer)
          : (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (this.#outputLength > 0) {
          const ready = await Promise.race([next, Promise.resolve(NOT_READY)]);
          if (ready === NOT_READY) await this.#flush();
        }
        const { done, value } = await next;
        if (done) break;
        if (!(value instanceof Uint8Array)) throw new TypeError("response body chunk is not bytes");
        if (value.length === 0) continue;
        if (framing.kind === "length") {
          const room = framing.length - written;
          if (value.length > room) {
            // More bytes than announced: send what was promised and close (never desync).
            if (room > 0) await send(value.subarray(0, room));
            written += room;
            exchange.bodyBytesWritten = written;
            reader.cancel().catch(() => {});
            return false;
          }
          await send(value);
        } else if (framing.kind === "chunked") {
          await send(encodeChunk(value));
        } else {
          await send(value);
        }
        written += value.length;
        exchange.bodyBytesWritten = written;
        // The chunk has been copied or written: its buffer can take the next one.
        if (chunkBuffer !== null) chunkBuffer = new Uint8Array(value.buffer as ArrayBuffer);
      }
    } catch (error) {
      reader.cancel(error).catch(() => {});
      abortExchange(exchange);
      // A client that went away is not the handler's failure: nothing to report.
      if (!this.#closed && !writeFailed) this.#reportError(error);
      return false;
    }
    if (framing.kind === "length" && written !== framing.length) {
      await this.#flush();
      return false;
    }
    if (framing.kind === "chunked") this.#appendOutput(LAST_CHUNK);
    return framing.kind !== "close";
  }

  /** Makes room for `size` more bytes in the output buffer (flushing is the caller's job). */
  #reserveOutput(size: number): Uint8Array {
    let output = this.#output;
    if (output === null) {
      output = takeOutputBuffer();
      this.#output = output;
    }
    if (this.#outputLength + size > output.length) {
      const grown = new Uint8Array(Math.max(output.length * 2, this.#outputLength + size));
      grown.set(output.subarray(0, this.#outputLength));
      output = grown;
      this.#output = output;
    }
    return output;
  }

  #appendOutput(bytes: Uint8Array): void {
    const output = this.#reserveOutput(bytes.length);
    output.set(bytes, this.#outputLength);
    this.#outputLength += bytes.length;
  }

  /** Writes a body piece: small ones join the output buffer, large ones go straight out. */
  async #send(bytes: Uint8Array): Promise<void> {
    if (this.#outputLength + bytes.length <= OUTPUT_BUFFER_BYTES) {
      this.#appendOutput(bytes);
      await this.#flush();
      return;
    }
    await this.#flush();
    await this.#writeNow(bytes);
  }

  /** Writes what the output buffer holds and gives the buffer back to the pool. */
  async #flush(): Promise<void> {
    const output = this.#output;
    if (output === null) return;
    const length = this.#outputLength;
    // Emptied first: after a failed write the connection is over and nothing is retried.
    this.#outputLength = 0;
    this.#output = null;
    if (length > 0) await this.#writeNow(output.subarray(0, length));
    if (output.length === OUTPUT_BUFFER_BYTES) returnOutputBuffer(output);
  }

  /** Writes all bytes, with the write-stall deadline. */
  async #writeNow(bytes: Uint8Array): Promise<void> {
    const phase = this.#phase;
    const deadline = this.#deadline;
    let offset = 0;
    while (offset < bytes.length) {
      this.#setDeadline(Phase.Write, this.#limits.bodyTimeoutMs);
      offset += await this.#conn.write(offset === 0 ? bytes : bytes.subarray(offset));
    }
    this.#phase = phase;
    this.#deadline = deadline;
  }

  /** Answers a request that could not be parsed, then closes. */
  async #failRequest(status: number): Promise<void> {
    const startMs = performance.now();
    try {
      await this.#writeNow(serializeErrorResponse(status, this.#context.clock.date, true));
    } catch {
      return;
    }
    this.#context.onRequestEnd?.({
      remoteAddr: this.#remoteAddr,
      method: "-",
      target: "-",
      httpVersion: "HTTP/1.1",
      status,
      bodyBytes: 0,
      durationMs: performance.now() - startMs,
      startTime: new Date(),
      requestHeaders: new Headers(),
      completed: true,
    });
    await this.#linger();
  }

  #writeErrorAndClose(status: number): void {
    const bytes = serializeErrorResponse(status, this.#context.clock.date, true);
    this.#phase = Phase.Linger;
    this.#conn.write(bytes).catch(() => 0).finally(() => this.close());
  }

  async #lingerIfNeeded(exchange: Exchange): Promise<void> {
    if (this.#peerClosed) return;
    // A read already waiting (started to notice the client leaving) would fail with an error
    // if the socket were closed under it; letting the client close first costs less and lets
    // it read the whole response.
    if (
      this.#pendingRead !== null || this.#parser.hasBufferedBytes || !exchange.bodyDone ||
      exchange.bodyError !== null
    ) {
      await this.#linger();
    }
  }

  /**
   * Half-closes, then reads and drops whatever the client still sends until it closes too, for
   * a bounded time and size: closing with unread input would make the kernel send a reset that
   * can destroy the response before the client reads it (RFC 9112 §9.6).
   */
  async #linger(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#conn.closeWrite();
    } catch {
      return;
    }
    this.#setDeadline(Phase.Linger, this.#limits.lingerTimeoutMs);
    let dropped = 0;
    const buffer = this.#readBuffer;
    while (dropped < LINGER_MAX_BYTES && !this.#closed) {
      const n = await (this.#pendingRead ?? this.#conn.read(buffer).catch(() => null));
      this.#pendingRead = null;
      if (n === null) return;
      dropped += n;
    }
  }
}

/**
 * The last serialized head of a text response. Servers answer the same way over and over (same
 * status, type and length within one second of Date), so the bytes are usually reused as they
 * are instead of being built and encoded again.
 */
class TextHeadCache {
  #status = 0;
  #contentType = "";
  #length = -1;
  #connectionMode = -1;
  #date = "";
  #bytes: Uint8Array = new Uint8Array(0);

  /**
   * `connectionMode`: 0 nothing to say, 1 `connection: close`, 2 `connection: keep-alive`.
   * Returns null for a content type that may not go on the wire (then the general path, which
   * answers 500, takes over); it is validated only when the head is built, not on a reuse.
   */
  get(
    status: number,
    contentType: string,
    length: number,
    connectionMode: number,
    date: string,
  ): Uint8Array | null {
    if (
      status === this.#status && length === this.#length && date === this.#date &&
      connectionMode === this.#connectionMode && contentType === this.#contentType
    ) {
      return this.#bytes;
    }
    if (!isFieldValue(contentType)) return null;
    let head = statusLine(status) + `content-type: ${contentType}\r\ndate: ${date}\r\n`;
    if (mayCarryContentLength(status)) head += `content-length: ${length}\r\n`;
    if (connectionMode === 1) head += "connection: close\r\n";
    else if (connectionMode === 2) head += "connection: keep-alive\r\n";
    head += "\r\n";
    this.#status = status;
    this.#contentType = contentType;
    this.#length = length;
    this.#connectionMode = connectionMode;
    this.#date = date;
    this.#bytes = encodeLatin1(head);
    return this.#bytes;
  }
}

const textHeadCache = new TextHeadCache();

const HANDLER_TIMEOUT = Symbol("handler timeout");
const NOT_READY = Symbol("not ready");

/** A promise or any other thenable (handlers may return either). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** UTF-8 length of a string if it is all ASCII (then it equals its length), else -1. */
function asciiLength(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return -1;
  return text.length;
}

/** A short fixed answer from the server itself: status and reason, never internal details. */
function plainResponse(status: number): Response {
  return new Response(status >= 400 ? `${status} ${STATUS_REASONS[status] ?? "Error"}\n` : null, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A Content-Length from the handler, if it is one valid decimal. */
function parseLength(value: string | null): number | null {
  if (value === null || value.length === 0 || value.length > 15) return null;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return null;
  }
  return Number(value);
}
