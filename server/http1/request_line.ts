/**
 * Request-line syntax (RFC 9112 §3): the method (§3.1), the four request-target forms and the
 * Host a request names its origin by (§3.2, RFC 9110 §7.2), and the HTTP-version (§2.3). Pure
 * functions over the bytes the request parser has found the line in; each error is the
 * {@linkcode HttpError} to answer with.
 *
 * @module
 */

import { badRequest, HttpError } from "./errors.ts";
import { latin1 } from "./syntax.ts";

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
  if (
    end - start !== 8 || buffer[start] !== 0x48 ||
    buffer[start + 1] !== 0x54 ||
    buffer[start + 2] !== 0x54 || buffer[start + 3] !== 0x50 ||
    buffer[start + 4] !== 0x2f || buffer[start + 6] !== 0x2e
  ) {
    throw badRequest("invalid HTTP version");
  }
  const major = buffer[start + 5]! - 0x30;
  const minor = buffer[start + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw badRequest("invalid HTTP version");
  if (major !== 1) throw new HttpError(505, "HTTP version not supported");
  return minor === 0 ? 0 : 1;
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
