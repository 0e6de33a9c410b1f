/**
 * Request-line syntax (RFC 9112 §3): `method SP request-target SP HTTP-version`, with the method
 * (§3.1), the four request-target forms and the Host a request names its origin by (§3.2, RFC 9110
 * §7.2), and the HTTP-version (§2.3). Pure functions over the bytes the request parser has found
 * the line in; each error is the {@linkcode HttpError} to answer with.
 *
 * The same grammar also judges a line still arriving ({@linkcode RequestLinePrefix}): bytes that
 * no request line can begin with are refused as they come, not when the line ends, as nginx does.
 *
 * @module
 */

import { badRequest, HttpError } from "./errors.ts";
import { CR, latin1, SP, TARGET_BYTE, TCHAR } from "./syntax.ts";

/** The four request-target forms of RFC 9112 §3.2. */
export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

/** Methods returned as shared strings instead of decoded for each request. */
const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT"];

/** Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2), IP-literal or reg-name. */
const HOST_PATTERN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

/** authority-form for CONNECT: uri-host ":" port (RFC 9112 §3.2.3). */
const AUTHORITY_PATTERN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]+$/;

/** absolute-form: scheme "://" … ; only http and https are origin schemes we serve. */
const ABSOLUTE_PATTERN = /^https?:\/\/([^/?]+)/i;

/**
 * The end of the method that begins at `start` (§3.1: method = token, then SP), checking the
 * bytes from `from` on: the index of that SP, or `end` when the bytes stop before it. Throws 400
 * at a byte no method may hold, and at a SP that would leave the method empty.
 */
export function scanMethod(buffer: Uint8Array, start: number, from: number, end: number): number {
  let i = from;
  while (i < end && TCHAR[buffer[i]!] === 1) i++;
  if (i < end && (i === start || buffer[i] !== SP)) throw badRequest("invalid method");
  return i;
}

/**
 * The end of the request-target that begins at `start` (§3.2; its bytes are
 * {@linkcode TARGET_BYTE}), then SP, checking the bytes from `from` on: the index of that SP, or
 * `end` when the bytes stop before it. Throws 400 at any other byte, and at a SP that would leave
 * the target empty.
 */
export function scanTarget(buffer: Uint8Array, start: number, from: number, end: number): number {
  let i = from;
  while (i < end && TARGET_BYTE[buffer[i]!] === 1) i++;
  if (i < end && (i === start || buffer[i] !== SP)) throw badRequest("invalid request-target");
  return i;
}

/** HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3), one character per byte; `#` is a DIGIT. */
const HTTP_VERSION_SHAPE = "HTTP/#.#";

/** Whether `byte` may stand at `offset` of an HTTP-version ({@linkcode HTTP_VERSION_SHAPE}). */
function fitsHttpVersion(byte: number, offset: number): boolean {
  const shape = HTTP_VERSION_SHAPE.charCodeAt(offset);
  return shape === 0x23 ? byte >= 0x30 && byte <= 0x39 : byte === shape;
}

/**
 * The method token in `buffer[start, end)` (already checked to be a token), as a shared string
 * when it is a known method. Case is preserved: methods are case-sensitive (RFC 9110 §9.1).
 */
export function internMethod(buffer: Uint8Array, start: number, end: number): string {
  outer: for (const method of KNOWN_METHODS) {
    if (method.length !== end - start) continue;
    for (let i = 0; i < method.length; i++) {
      if (buffer[start + i] !== method.charCodeAt(i)) continue outer;
    }
    return method;
  }
  return latin1(buffer, start, end);
}

/**
 * The minor version of `HTTP-version` in `buffer[start, end)` (RFC 9112 §2.3): 400 when it is not
 * `HTTP/` DIGIT `.` DIGIT, 505 for a major version other than 1. A higher minor version (HTTP/1.2
 * to HTTP/1.9) is processed as HTTP/1.1, the highest this server conforms to, as RFC 9110 §2.5
 * says a recipient SHOULD.
 */
export function parseHttpVersion(buffer: Uint8Array, start: number, end: number): 0 | 1 {
  if (end - start !== HTTP_VERSION_SHAPE.length) throw badRequest("invalid HTTP version");
  for (let offset = 0; offset < HTTP_VERSION_SHAPE.length; offset++) {
    if (!fitsHttpVersion(buffer[start + offset]!, offset)) throw badRequest("invalid HTTP version");
  }
  if (buffer[start + 5] !== 0x31) throw new HttpError(505, "HTTP version not supported");
  return buffer[start + 7] === 0x30 ? 0 : 1;
}

/**
 * Judges a request line while it arrives: whether the bytes received so far can still begin a
 * valid line, by the grammar the whole line is parsed with ({@linkcode scanMethod},
 * {@linkcode scanTarget}, the HTTP-version's shape). A method byte that is not a tchar (the 0x16
 * that begins a TLS ClientHello), a control character or a byte ≥ 0x80 in the target, or a
 * version that can no longer be `HTTP/` DIGIT `.` DIGIT is refused with 400 as soon as it
 * arrives, as nginx does, instead of when the line ends — which may be never. Only a line that
 * would be refused whole is refused in part (with 400; whole, one over the length limit gets 414),
 * and what only a whole line shows (the target's form, the major version) is judged when it ends.
 *
 * Resumable: each call checks only the bytes that arrived since the last one, so a line fed byte
 * by byte costs linear time. One per parser, {@linkcode RequestLinePrefix.reset} for each line.
 *
 * @example
 * ```ts
 * import { RequestLinePrefix } from "./request_line.ts";
 * const prefix = new RequestLinePrefix();
 * const line = new TextEncoder().encode("GET / HTTP/1.1");
 * prefix.check(line, 0, 5); // "GET /": may still become a request line
 * prefix.check(line, 0, line.length); // checks " HTTP/1.1" only
 * try {
 *   new RequestLinePrefix().check(new Uint8Array([0x16, 0x03, 0x01]), 0, 3);
 * } catch (error) {
 *   console.log(error); // HttpError 400: invalid method
 * }
 * ```
 */
export class RequestLinePrefix {
  /** Bytes of the line checked so far. */
  #checked = 0;
  /** Offset of the request-target in the line once the SP after the method was seen, else -1. */
  #target = -1;
  /** Offset of the HTTP-version once the SP after the target was seen, else -1. */
  #version = -1;

  /** Forgets the line checked so far: the next call begins a new line. */
  reset(): void {
    this.#checked = 0;
    this.#target = -1;
    this.#version = -1;
  }

  /**
   * Checks `buffer[start, end)`, the bytes received so far of a line that begins at `start` and
   * has no LF yet (so its last byte may be the CR of its CRLF). Bytes checked by the earlier calls
   * since the last reset are not checked again; the line may have moved (offsets are kept relative
   * to its start). Throws the {@linkcode HttpError} (400) to answer a line that cannot become valid.
   */
  check(buffer: Uint8Array, start: number, end: number): void {
    let from = start + this.#checked;
    this.#checked = end - start;
    if (this.#target === -1) {
      const methodEnd = scanMethod(buffer, start, from, end);
      if (methodEnd === end) return;
      from = methodEnd + 1;
      this.#target = from - start;
    }
    if (this.#version === -1) {
      const targetEnd = scanTarget(buffer, start + this.#target, from, end);
      if (targetEnd === end) return;
      from = targetEnd + 1;
      this.#version = from - start;
    }
    // The version's bytes, then the CR that ends the line (its LF has not arrived).
    for (let i = from, offset = from - start - this.#version; i < end; i++, offset++) {
      const fits = offset < HTTP_VERSION_SHAPE.length
        ? fitsHttpVersion(buffer[i]!, offset)
        : offset === HTTP_VERSION_SHAPE.length && buffer[i] === CR;
      if (!fits) throw badRequest("invalid HTTP version");
    }
  }
}

/** Classifies the request-target (RFC 9112 §3.2) and rejects a form the method may not use. */
export function classifyTarget(method: string, target: string): TargetForm {
  if (method === "CONNECT") {
    if (!AUTHORITY_PATTERN.test(target)) throw badRequest("CONNECT needs authority-form");
    return "authority";
  }
  if (target.charCodeAt(0) === 0x2f) return "origin";
  if (target === "*") {
    if (method !== "OPTIONS") throw badRequest("asterisk-form is only for OPTIONS");
    return "asterisk";
  }
  const authority = ABSOLUTE_PATTERN.exec(target);
  if (authority !== null) {
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated and a recipient SHOULD treat it
    // as an error; it would put credentials into request.url. Refused like a Host with userinfo.
    if (authority[1]!.includes("@")) throw badRequest("userinfo in the request-target");
    return "absolute";
  }
  throw badRequest("invalid request-target");
}

/** Whether a Host field value is `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 9112 §3.2). */
export function isValidHost(value: string): boolean {
  return HOST_PATTERN.test(value);
}
