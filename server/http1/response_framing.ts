/**
 * The sending side of message framing: how a response's content is delimited on the wire and
 * whether the connection persists after it. RFC 9112 §6.1–§6.3 and §9.3, in numbered steps, in
 * two functions; every path that writes a response asks them, so no two paths can frame the same
 * response differently.
 *
 * @module
 */

/** How the response content is delimited on the wire. */
export type ResponseFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

/** What the handler's response holds as content, as far as the server can tell. */
export type ResponseContent =
  /** No content at all (`new Response(null)`). */
  | { readonly kind: "empty" }
  /** Content in memory: its exact length. */
  | { readonly kind: "sized"; readonly length: number }
  /** A stream: its length when something reliable says it (the handler's Content-Length). */
  | { readonly kind: "stream"; readonly length: number | null };

/** RFC 9110 §6.4.1 and RFC 9112 §6.3: HEAD, 1xx, 204 and 304 responses never carry content. */
export function responseHasBody(method: string, status: number): boolean {
  return method !== "HEAD" && status >= 200 && status !== 204 && status !== 304;
}

/** RFC 9110 §8.6: a 1xx or 204 response MUST NOT carry Content-Length (nor Transfer-Encoding). */
export function mayCarryContentLength(status: number): boolean {
  return status >= 200 && status !== 204;
}

/** Inputs of {@linkcode decideResponseFraming}. */
export interface ResponseFramingInput {
  /** The request's method (HEAD changes everything). */
  readonly method: string;
  /** The request's minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** The response's status code. */
  readonly status: number;
  /** The handler's content. */
  readonly content: ResponseContent;
  /**
   * The handler's own Content-Length, when it set exactly one valid value, else null. It frames a
   * stream and is what a HEAD or 304 announces when the content itself says nothing.
   */
  readonly declaredLength: number | null;
}

/** The outcome of {@linkcode decideResponseFraming}. */
export interface ResponseFramingDecision {
  /** How the content goes on the wire; `none` when no content is sent. */
  readonly framing: ResponseFraming;
  /** Content-Length to announce although no content is sent (HEAD, 304), or null for none. */
  readonly announcedLength: number | null;
}

const NONE: ResponseFraming = Object.freeze({ kind: "none" });
const CHUNKED: ResponseFraming = Object.freeze({ kind: "chunked" });
const CLOSE_DELIMITED: ResponseFraming = Object.freeze({ kind: "close" });

/**
 * Decides how a response is framed (RFC 9112 §6.3, read from the sender's side).
 *
 * @example
 * ```ts
 * import { decideResponseFraming } from "./response_framing.ts";
 * const decision = decideResponseFraming({
 *   method: "GET", minorVersion: 1, status: 200,
 *   content: { kind: "stream", length: null }, declaredLength: null,
 * });
 * console.log(decision.framing.kind); // "chunked"
 * ```
 */
export function decideResponseFraming(input: ResponseFramingInput): ResponseFramingDecision {
  const { status, content } = input;
  // What the content's length is, as the recipient of a 200 to GET would be told.
  const knownLength = content.kind === "empty"
    ? 0
    : content.kind === "sized"
    ? content.length
    : content.length ?? input.declaredLength;

  // Step 1: a response to HEAD, and any 1xx, 204 or 304 response, ends after its header section.
  if (!responseHasBody(input.method, status)) {
    let announced: number | null = null;
    if (mayCarryContentLength(status)) {
      // RFC 9110 §9.3.2: HEAD gets the Content-Length a GET would have had, when known.
      // RFC 9110 §8.6: a 304 may carry one only if it equals the 200's; only the handler knows
      // that, so only its own value is repeated. 1xx and 204 never carry one (above).
      // A HEAD answered with no content at all says nothing about the GET's length (handlers
      // commonly skip building the content for HEAD), so nothing is announced then.
      if (status === 304 || content.kind === "empty") announced = input.declaredLength;
      else announced = knownLength;
    }
    return { framing: NONE, announcedLength: announced };
  }

  // Step 2 (a 2xx to CONNECT becomes a tunnel) cannot happen: CONNECT is answered 501.

  // Steps 3–6 concern Transfer-Encoding and Content-Length as received; for the sender, RFC 9112
  // §6.1 and §6.2 say: a length known in advance is sent as Content-Length ...
  if (knownLength !== null) return { framing: lengthFraming(knownLength), announcedLength: null };

  // ... otherwise the content is chunked, which only an HTTP/1.1 recipient understands (§6.1:
  // a server MUST NOT send Transfer-Encoding to an HTTP/1.0 request) ...
  if (input.minorVersion === 1) return { framing: CHUNKED, announcedLength: null };

  // ... and to HTTP/1.0 it is delimited by closing the connection (step 8).
  return { framing: CLOSE_DELIMITED, announcedLength: null };
}

const LENGTH_ZERO: ResponseFraming = Object.freeze({ kind: "length", length: 0 });

function lengthFraming(length: number): ResponseFraming {
  return length === 0 ? LENGTH_ZERO : { kind: "length", length };
}

/** What the response head says about the connection. */
export type ConnectionField = "none" | "close" | "keep-alive";

/** Inputs of {@linkcode decidePersistence}. */
export interface PersistenceInput {
  /** The request's minor version. */
  readonly minorVersion: 0 | 1;
  /** The client allows persistence: no `close` option, and keep-alive asked for on HTTP/1.0. */
  readonly clientKeepAlive: boolean;
  /** The handler's response carries the `close` connection option. */
  readonly handlerClose: boolean;
  /** The framing chosen: close-delimited content ends only by closing. */
  readonly framing: ResponseFraming;
  /** The server will close for its own reasons (shutting down, an unread body, a failure). */
  readonly serverClose: boolean;
}

/**
 * Decides whether the connection persists after a response, and which connection option the
 * head carries (RFC 9112 §9.3, §9.6).
 *
 * @example
 * ```ts
 * import { decidePersistence } from "./response_framing.ts";
 * console.log(decidePersistence({
 *   minorVersion: 0, clientKeepAlive: true, handlerClose: false,
 *   framing: { kind: "length", length: 2 }, serverClose: false,
 * })); // "keep-alive"
 * ```
 */
export function decidePersistence(input: PersistenceInput): ConnectionField {
  // 1. A close option from either side, close-delimited content, or the server's own reason: the
  //    connection closes after this response and the head says so (§9.6: a server that will close
  //    SHOULD send the close option).
  if (
    !input.clientKeepAlive || input.handlerClose || input.framing.kind === "close" ||
    input.serverClose
  ) {
    return "close";
  }
  // 2. HTTP/1.0 with keep-alive: persistent only if the response says keep-alive (§9.3,
  //    RFC 7230 Appendix A.1.2).
  if (input.minorVersion === 0) return "keep-alive";
  // 3. HTTP/1.1: persistent by default.
  return "none";
}
