/**
 * How long is a request's body? RFC 9112 §6.3, followed step by step, in one function.
 *
 * @module
 */

import { badRequest, HttpError } from "./errors.ts";
import { trimOws } from "./syntax.ts";

/** The outcome of the body-length algorithm for a request. */
export type RequestFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

const NO_BODY: RequestFraming = Object.freeze({ kind: "none" });
const CHUNKED: RequestFraming = Object.freeze({ kind: "chunked" });

/** What the parser collected from the head that matters for framing. */
export interface FramingInput {
  /** Minor HTTP version: 0 or 1. */
  readonly minorVersion: number;
  /** Every Transfer-Encoding field value, in order. */
  readonly transferEncoding: readonly string[];
  /** Every Content-Length field value, in order. */
  readonly contentLength: readonly string[];
  /** Largest body accepted (413 above it). */
  readonly maxBodyBytes: number;
}

/**
 * Decides the framing of a request body, or throws the {@linkcode HttpError} to answer with.
 *
 * Steps 1 and 2 of RFC 9112 §6.3 concern responses only (HEAD, 1xx/204/304, CONNECT 2xx), so a
 * request starts at step 3. Each choice the RFC leaves open is taken the strict way.
 *
 * @example
 * ```ts
 * import { decideRequestFraming } from "./message_framing.ts";
 * const framing = decideRequestFraming({
 *   minorVersion: 1, transferEncoding: [], contentLength: ["5"], maxBodyBytes: 1024,
 * });
 * console.log(framing); // { kind: "length", length: 5 }
 * ```
 */
export function decideRequestFraming(input: FramingInput): RequestFraming {
  const hasTransferEncoding = input.transferEncoding.length > 0;
  const hasContentLength = input.contentLength.length > 0;

  if (hasTransferEncoding) {
    // RFC 9112 §6.1: Transfer-Encoding arrived in HTTP/1.1; an HTTP/1.0 message carrying it
    // MUST be treated as having faulty framing. We refuse it outright.
    if (input.minorVersion === 0) {
      throw badRequest("Transfer-Encoding in an HTTP/1.0 request");
    }
    // Step 3: both Transfer-Encoding and Content-Length. The RFC lets a server process by
    // Transfer-Encoding and then close; since this is the classic smuggling vector, we reject.
    if (hasContentLength) {
      throw badRequest("both Transfer-Encoding and Content-Length");
    }
    // Step 4: Transfer-Encoding present: chunked must be the final coding, exactly once.
    const codings = parseTransferCodings(input.transferEncoding);
    if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
      throw badRequest("chunked is not the final transfer coding");
    }
    if (codings.indexOf("chunked") !== codings.length - 1) {
      throw badRequest("chunked applied more than once");
    }
    // Any coding before chunked (gzip, deflate, …) is one we do not implement: RFC 9112 §6.1
    // says a server SHOULD answer 501 to a transfer coding it does not understand.
    if (codings.length > 1) {
      throw new HttpError(501, `unsupported transfer coding ${codings[0]}`);
    }
    return CHUNKED;
  }

  // Steps 5 and 6: Content-Length. Several lines or a list are acceptable only when every value
  // is the same valid number (RFC 9110 §8.6); anything else is unrecoverable framing.
  if (hasContentLength) {
    const length = parseContentLength(input.contentLength);
    if (length > input.maxBodyBytes) {
      throw new HttpError(413, `Content-Length ${length} exceeds ${input.maxBodyBytes}`);
    }
    return length === 0 ? NO_BODY : { kind: "length", length };
  }

  // Step 7: a request with neither has a body of length zero.
  return NO_BODY;
}

/** Largest Content-Length we can represent exactly (2^53 - 1 has 16 digits). */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * Parses Content-Length field values: `1*DIGIT`, possibly repeated or comma-listed with identical
 * values. No sign, no inner whitespace, no empty value, no overflow.
 */
export function parseContentLength(values: readonly string[]): number {
  let result = -1;
  for (const value of values) {
    for (const element of value.split(",")) {
      const text = trimOws(element);
      if (text.length === 0 || text.length > MAX_CONTENT_LENGTH_DIGITS) {
        throw badRequest("invalid Content-Length");
      }
      let parsed = 0;
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code < 0x30 || code > 0x39) throw badRequest("invalid Content-Length");
        parsed = parsed * 10 + (code - 0x30);
      }
      if (result !== -1 && parsed !== result) throw badRequest("differing Content-Length values");
      result = parsed;
    }
  }
  return result;
}

/**
 * Splits Transfer-Encoding values into lower-case coding names (RFC 9110 §5.6.1 lists: empty
 * elements ignored). Parameters on a coding (`;q=…`) are not allowed on chunked; any coding that
 * is not a plain token is invalid.
 */
export function parseTransferCodings(values: readonly string[]): string[] {
  const codings: string[] = [];
  for (const value of values) {
    for (const element of value.split(",")) {
      const text = trimOws(element);
      if (text.length === 0) continue;
      const semicolon = text.indexOf(";");
      const name = (semicolon === -1 ? text : trimOws(text.slice(0, semicolon))).toLowerCase();
      if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) {
        throw badRequest("invalid transfer coding");
      }
      if (name === "chunked" && semicolon !== -1) throw badRequest("parameters on chunked");
      codings.push(name);
    }
  }
  return codings;
}
