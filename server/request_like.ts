/**
 * The part of a web `Request` that sockserve's own static-file handler reads, so that the
 * connection can hand that handler a lighter object than a full `Request` (whose construction
 * is most of the cost of a small response). A handler opts in by being marked with
 * {@linkcode markAcceptsRequestLike}; anything else, including the same handler wrapped in a
 * middleware, gets a real `Request`.
 *
 * @module
 */

import type { FieldList } from "./http1/fields.ts";

/** Header lookup, as `Headers` offers it. */
export interface HeadersLike {
  /** The field's value (repeated fields joined with `, `), or null when absent; case-insensitive. */
  get(name: string): string | null;
  /** Whether the field is present; case-insensitive. */
  has(name: string): boolean;
}

/** What a marked handler may read of its request: a web `Request` satisfies it. */
export interface RequestLike {
  /** The method as the client sent it (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The absolute URL, as `Request.url` gives it (parsed and serialized by the URL standard). */
  readonly url: string;
  /** The request's header fields. */
  readonly headers: HeadersLike;
}

const ACCEPTS_REQUEST_LIKE = Symbol("sockserve.acceptsRequestLike");

/**
 * Marks `handler` as reading only {@linkcode RequestLike} members of its request.
 *
 * @example
 * ```ts
 * import { acceptsRequestLike, markAcceptsRequestLike } from "./request_like.ts";
 * const handler = markAcceptsRequestLike((request: { method: string }) =>
 *   new Response(request.method)
 * );
 * console.log(acceptsRequestLike(handler)); // true
 * ```
 */
export function markAcceptsRequestLike<T extends object>(handler: T): T {
  Object.defineProperty(handler, ACCEPTS_REQUEST_LIKE, { value: true });
  return handler;
}

/** Whether `handler` was marked with {@linkcode markAcceptsRequestLike}. */
export function acceptsRequestLike(handler: object): boolean {
  return (handler as Record<symbol, unknown>)[ACCEPTS_REQUEST_LIKE] === true;
}

/** A request head as a {@linkcode RequestLike}: no URL parsing, no Headers object. */
export class ParsedRequest implements RequestLike, HeadersLike {
  readonly method: string;
  readonly url: string;
  readonly #fields: FieldList;
  readonly #minorVersion: 0 | 1;

  constructor(method: string, url: string, fields: FieldList, minorVersion: 0 | 1 = 1) {
    this.method = method;
    this.url = url;
    this.#fields = fields;
    this.#minorVersion = minorVersion;
  }

  /** The HTTP minor version of the request (an HTTP/1.0 WebSocket handshake is refused). */
  static minorVersionOf(request: ParsedRequest): 0 | 1 {
    return request.#minorVersion;
  }

  get headers(): HeadersLike {
    return this;
  }

  get(name: string): string | null {
    return this.#fields.get(name);
  }

  has(name: string): boolean {
    return this.#fields.has(name);
  }
}
