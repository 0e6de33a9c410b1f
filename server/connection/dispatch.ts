/**
 * The bridge between a parsed request head and the user's handler, in the manner of hyper's
 * `proto/h1/dispatch.rs`: which requests the server answers itself, the `Request` (or the
 * lighter {@linkcode ParsedRequest}) the handler gets, the `info` argument, and what counts as a
 * usable answer. The connection owns the timing (the handler's deadline); this file owns the
 * shapes.
 *
 * @module
 */

import type { RequestHead } from "../http1/request_head.ts";
import { errorBodyText } from "../http1/response_head.ts";
import { ParsedRequest } from "../request_like.ts";
import type { ServeAddr, ServeHandlerInfo } from "../types.ts";
import {
  CAN_SEAL_HEADERS,
  ImmutableHeaders,
  ImmutableRequest,
  sealHeaders,
} from "./immutable_headers.ts";
import { hasProtocolSwitch } from "./protocol_switch.ts";
import {
  attachLazyRequest,
  authorityParses,
  LAZY_REQUEST_TOKEN,
  type LazyRequestToken,
} from "./lazy_request.ts";
import type { RequestBody } from "./request_body.ts";

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
 * What `onError` receives when a handler has not produced its Response within
 * `handlerTimeoutMs`: the client gets 503 and the connection closes (the handler's
 * `request.signal` aborts). An operational event, not a bug: logs write it as one line.
 *
 * @example
 * ```ts
 * import { HandlerTimeoutError, serve } from "../mod.ts";
 * const server = serve({
 *   port: 0,
 *   onListen() {},
 *   onError(error) {
 *     const status = error instanceof HandlerTimeoutError ? 503 : 500;
 *     return new Response(null, { status });
 *   },
 * }, () => new Response("hi"));
 * await server.shutdown();
 * ```
 */
export class HandlerTimeoutError extends Error {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;

  /** An error for a handler that did not answer within `timeoutMs` milliseconds. */
  constructor(timeoutMs: number) {
    super(`handler did not respond within ${timeoutMs} ms`);
    this.name = "HandlerTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** Requests the server answers itself (the status), or 0 to call the handler. */
export function serverAnswer(head: RequestHead): number {
  // CONNECT is for proxies (RFC 9110 §9.3.6); TRACE/TRACK and case variants of standard
  // methods cannot be represented as a web Request.
  if (isUnrepresentableMethod(head.method)) return 501;
  // OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7): it is here and speaks HTTP.
  if (head.targetForm === "asterisk") return 200;
  return 0;
}

/**
 * The `Request` given to handlers. Its `signal` is created on first use (an `AbortSignal`
 * passed to the `Request` constructor costs more than the rest of the request) and aborts when
 * the client goes away.
 */
export class ServerRequest extends Request {
  #controller: AbortController | null = null;
  #aborted = false;
  readonly #minorVersion: 0 | 1;

  /** `url` is the lazy request token when the request is made by lazy_request.ts. */
  constructor(url: string | LazyRequestToken, init: RequestInit | undefined, minorVersion: 0 | 1) {
    super(url as string, init);
    this.#minorVersion = minorVersion;
  }

  /** The HTTP minor version of the request this object stands for. */
  static minorVersionOf(request: ServerRequest): 0 | 1 {
    return request.#minorVersion;
  }

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
export class HandlerInfo implements ServeHandlerInfo<ServeAddr> {
  readonly remoteAddr: ServeAddr;
  #settled = false;
  #resolvers: PromiseWithResolvers<void> | null = null;

  constructor(remoteAddr: ServeAddr) {
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

/**
 * The request's absolute URL: its own for absolute-form, else the connection's scheme (`https`
 * over TLS), the Host and the target (RFC 9112 §3.3).
 */
export function requestUrl(
  head: RequestHead,
  scheme: "http" | "https",
  defaultAuthority: string,
): string {
  return head.targetForm === "absolute"
    ? head.target
    : `${scheme}://${head.host ?? defaultAuthority}${head.target}`;
}

/**
 * A {@linkcode ServerRequest} whose headers cannot be changed, made through the public API only
 * (immutable_headers.ts): what handlers get when Deno's private guard cannot be set.
 */
class PublicServerRequest extends ServerRequest {
  #headers: Headers | null = null;

  override get headers(): Headers {
    return this.#headers ??= new ImmutableHeaders(super.headers);
  }

  override clone(): Request {
    return new ImmutableRequest(super.clone());
  }
}

/**
 * The web `Request` for a head, with headers the handler cannot change, as `Deno.serve`'s
 * (immutable_headers.ts). Throws a TypeError when the URL is not one a `Request` accepts (the
 * connection answers 400).
 */
export function buildRequest(
  head: RequestHead,
  url: string,
  body: RequestBody | null,
): ServerRequest {
  const method = head.method;
  if (
    (method === "GET" || method === "HEAD") && LAZY_REQUEST_TOKEN !== null &&
    head.targetForm === "origin" && (head.host === null || authorityParses(head.host))
  ) {
    // Without a body, the request's URL and headers are made when first read (lazy_request.ts).
    const request = new ServerRequest(LAZY_REQUEST_TOKEN, undefined, head.minorVersion);
    attachLazyRequest(request, method, url, head.fields);
    return request;
  }
  if (!CAN_SEAL_HEADERS) return buildPublicRequest(head, url, body);
  const minor = head.minorVersion;
  let request: ServerRequest;
  if (method === "GET") {
    // The common case, built the cheapest way: a Request with no init dictionary (whose
    // conversion costs more than the appends), then the fields in received order. A body on
    // GET has no meaning (RFC 9110 §9.3.1) and a web Request cannot carry one; it is received
    // and dropped after the response like any unread body.
    request = new ServerRequest(url, undefined, minor);
    const headers = request.headers;
    const entries = head.fields.entries;
    let cookies = 0;
    for (let i = 0; i < entries.length; i += 2) {
      const name = entries[i]!;
      if (name === "cookie" && cookies++ > 0) continue; // joined below
      headers.append(name, entries[i + 1]!);
    }
    if (cookies > 1) headers.set("cookie", head.fields.get("cookie")!);
  } else {
    const headers = head.fields.toPairs();
    request = method === "HEAD"
      ? new ServerRequest(url, { method, headers }, minor)
      : new ServerRequest(url, { method, headers, body: body?.stream() ?? null }, minor);
  }
  sealHeaders(request.headers);
  return request;
}

/**
 * {@linkcode buildRequest}'s request made through the public API only, as when this Deno does
 * not have the private parts it uses (tests compare the two).
 */
export function buildPublicRequest(
  head: RequestHead,
  url: string,
  body: RequestBody | null,
): ServerRequest {
  const method = head.method;
  const headers = head.fields.toPairs();
  // A body on GET is dropped, as buildRequest's (a web Request cannot carry one).
  const stream = method === "GET" || method === "HEAD" ? null : body?.stream() ?? null;
  return new PublicServerRequest(url, { method, headers, body: stream }, head.minorVersion);
}

/** The {@linkcode ParsedRequest} for handlers marked as reading only method, url and headers. */
export function buildParsedRequest(head: RequestHead, url: string): ParsedRequest {
  // Parsed as a Request's URL would be (dot segments resolved, host checked), so that the
  // handler sees the same path either way; an invalid one throws and gets 400.
  return new ParsedRequest(head.method, new URL(url).href, head.fields, head.minorVersion);
}

/** A promise or any other thenable (handlers may return either). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** A short fixed answer from the server itself: status and reason, never internal details. */
export function plainResponse(status: number): Response {
  return new Response(status >= 400 ? errorBodyText(status) : null, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * Why a handler's answer cannot be sent as it is, or null when it can. A final response with a
 * 1xx status would be a protocol switch (101) or an interim response the client waits past
 * (RFC 9110 §15.2): the engine does not switch protocols for a plain Response — writing a 101
 * and then speaking HTTP on would corrupt the connection.
 */
export function unusableAnswer(answer: unknown): Error | null {
  if (!(answer instanceof Response)) return new TypeError("handler did not return a Response");
  const status = answer.status;
  if (status === 101 && hasProtocolSwitch(answer)) return null;
  if (status >= 100 && status < 200) {
    return new TypeError(
      `handler returned status ${status}: sockserve cannot switch protocols for this response ` +
        "(only a 101 made by sockserve's upgradeWebSocket() switches; Deno.upgradeWebSocket " +
        "works only on Deno.serve's own requests) and never sends a 1xx as the final response",
    );
  }
  return null;
}

/**
 * The HTTP minor version of a request the engine gave to a handler (0 or 1), a `Request` or a
 * `ParsedRequest`; null for any other request (one built by the caller, or a `Deno.serve` one).
 */
export function requestMinorVersion(request: unknown): 0 | 1 | null {
  if (request instanceof ServerRequest) return ServerRequest.minorVersionOf(request);
  if (request instanceof ParsedRequest) return ParsedRequest.minorVersionOf(request);
  return null;
}
