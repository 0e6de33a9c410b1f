/**
 * Response serialization: status line, header section, chunked framing, and the RFC rules on
 * which responses may carry a body. Pure: the caller passes in the current Date string.
 *
 * @module
 */

import { HttpError } from "./errors.ts";
import { FIELD_VALUE_BYTE, TCHAR } from "./syntax.ts";

/** Reason phrases of RFC 9110 §15 (and a few registered extensions). */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** RFC 9110 §6.4.1 and RFC 9112 §6.3: HEAD, 1xx, 204 and 304 responses never carry content. */
export function responseHasBody(method: string, status: number): boolean {
  return method !== "HEAD" && status >= 200 && status !== 204 && status !== 304;
}

/** RFC 9110 §8.6: a 1xx or 204 response MUST NOT carry Content-Length (nor Transfer-Encoding). */
export function mayCarryContentLength(status: number): boolean {
  return status >= 200 && status !== 204;
}

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

/**
 * IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
 *
 * @example
 * ```ts
 * import { formatHttpDate } from "./response_writer.ts";
 * console.log(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37))); // Sun, 06 Nov 1994 08:49:37 GMT
 * ```
 */
export function formatHttpDate(epochMs: number): string {
  const date = new Date(epochMs);
  return `${DAY_NAMES[date.getUTCDay()]}, ${twoDigits(date.getUTCDate())} ${
    MONTH_NAMES[date.getUTCMonth()]
  } ${date.getUTCFullYear()} ${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}:${
    twoDigits(date.getUTCSeconds())
  } GMT`;
}

/** How the response body is delimited on the wire. */
export type ResponseFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

/** Everything needed to write a response head. */
export interface ResponseHeadInit {
  /** Minor version of the request (the response says HTTP/1.1 either way, RFC 9112 §2.3). */
  readonly status: number;
  /** Reason phrase; the standard one when empty. */
  readonly statusText?: string;
  /** Header fields from the handler; framing fields in it are ignored (the server frames). */
  readonly headers: Iterable<[string, string]>;
  /** The body framing the connection chose. */
  readonly framing: ResponseFraming;
  /** Content-Length to announce without a body (HEAD, 304), if known. */
  readonly announcedLength?: number;
  /** Whether the connection closes after this response. */
  readonly close: boolean;
  /** Say `connection: keep-alive` (an HTTP/1.0 client needs it to keep the connection). */
  readonly keepAliveHeader?: boolean;
  /** The current IMF-fixdate, used when the handler set no Date. */
  readonly date: string;
}

const statusLineCache = new Map<number, string>();

/**
 * The status line for a status code with its standard reason phrase (cached per code), or with
 * `statusText` when one is given (validated).
 */
export function statusLine(status: number, statusText?: string): string {
  if (statusText === undefined || statusText === "" || statusText === STATUS_REASONS[status]) {
    let line = statusLineCache.get(status);
    if (line === undefined) {
      line = `HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? ""}\r\n`;
      statusLineCache.set(status, line);
    }
    return line;
  }
  if (!isReasonPhrase(statusText)) throw new HttpError(500, "invalid reason phrase");
  return `HTTP/1.1 ${status} ${statusText}\r\n`;
}

/** reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4). */
function isReasonPhrase(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || FIELD_VALUE_BYTE[code] !== 1) return false;
  }
  return true;
}

/** Returns true for a field name the handler cannot set because the server owns the framing. */
function isFramingField(lowerName: string): boolean {
  return lowerName === "content-length" || lowerName === "transfer-encoding" ||
    lowerName === "connection" || lowerName === "keep-alive";
}

/**
 * Serializes a response head to a string of ISO-8859-1 code units.
 *
 * Every name must be a token and every value free of CR, LF, NUL and other CTLs; otherwise it
 * throws `HttpError(500)` and nothing is written, so a handler can never split a response.
 *
 * @example
 * ```ts
 * import { serializeResponseHead } from "./response_writer.ts";
 * const head = serializeResponseHead({
 *   status: 200, headers: [["content-type", "text/plain"]],
 *   framing: { kind: "length", length: 2 }, close: false, date: "Sun, 06 Nov 1994 08:49:37 GMT",
 * });
 * console.log(head.startsWith("HTTP/1.1 200 OK\r\n")); // true
 * ```
 */
export function serializeResponseHead(init: ResponseHeadInit): string {
  const { status } = init;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new HttpError(500, "invalid status code");
  }
  let head = statusLine(status, init.statusText);
  let hasDate = false;
  let hasUpgrade = false;
  for (const [name, value] of init.headers) {
    const lower = name.toLowerCase();
    if (isFramingField(lower)) continue;
    if (!isFieldName(name) || !isSafeFieldValue(value)) {
      throw new HttpError(500, "invalid response header field");
    }
    if (lower === "date") hasDate = true;
    else if (lower === "upgrade") hasUpgrade = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasDate) head += `date: ${init.date}\r\n`;
  const framing = init.framing;
  if (framing.kind === "length") {
    head += `content-length: ${framing.length}\r\n`;
  } else if (framing.kind === "chunked") {
    head += "transfer-encoding: chunked\r\n";
  } else if (framing.kind === "none" && init.announcedLength !== undefined) {
    head += `content-length: ${init.announcedLength}\r\n`;
  }
  // RFC 9110 §7.8: a sender of Upgrade (a 101, or a 426 naming the protocol to switch to) MUST
  // also send the "upgrade" connection option.
  const option = init.close ? "close" : init.keepAliveHeader === true ? "keep-alive" : "";
  if (hasUpgrade) {
    head += option === "" ? "connection: upgrade\r\n" : `connection: ${option}, upgrade\r\n`;
  } else if (option !== "") head += `connection: ${option}\r\n`;
  return head + "\r\n";
}

function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code > 0x7f || TCHAR[code] !== 1) return false;
  }
  return true;
}

function isSafeFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff || FIELD_VALUE_BYTE[code] !== 1) return false;
  }
  return true;
}

/** Writes a string of code units 0..255 into `target` at `offset`; returns the new offset. */
export function writeLatin1(text: string, target: Uint8Array, offset: number): number {
  for (let i = 0; i < text.length; i++) target[offset + i] = text.charCodeAt(i);
  return offset + text.length;
}

/** Encodes a string of code units 0..255 as bytes. */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  writeLatin1(text, bytes, 0);
  return bytes;
}

/** The last chunk and an empty trailer section (RFC 9112 §7.1). */
export const LAST_CHUNK: Uint8Array = encodeLatin1("0\r\n\r\n");

/**
 * One chunk of a chunked body: size line, data, CRLF, in one buffer (one write).
 *
 * @example
 * ```ts
 * import { encodeChunk } from "./response_writer.ts";
 * console.log(new TextDecoder().decode(encodeChunk(new TextEncoder().encode("hi")))); // "2\r\nhi\r\n"
 * ```
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const sizeLine = `${data.length.toString(16)}\r\n`;
  const chunk = new Uint8Array(sizeLine.length + data.length + 2);
  let offset = writeLatin1(sizeLine, chunk, 0);
  chunk.set(data, offset);
  offset += data.length;
  chunk[offset] = 0x0d;
  chunk[offset + 1] = 0x0a;
  return chunk;
}

/** The interim response that tells a client to send its body (RFC 9110 §15.2.1). */
export const CONTINUE_RESPONSE: Uint8Array = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * A complete error response for a request the server could not parse or serve. The body is a
 * fixed short text derived from the status only, never from an internal error message.
 */
export function serializeErrorResponse(status: number, date: string, close: boolean): Uint8Array {
  const reason = STATUS_REASONS[status] ?? "Error";
  const body = `${status} ${reason}\n`;
  const head = serializeResponseHead({
    status,
    headers: [["content-type", "text/plain; charset=utf-8"]],
    framing: { kind: "length", length: body.length },
    close,
    date,
  });
  return encodeLatin1(head + body);
}
