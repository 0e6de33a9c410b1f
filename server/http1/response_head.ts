/**
 * The one response-head encoder: status line, the handler's fields, Date, the framing field and
 * the connection option (RFC 9112 §4, §5, §6; RFC 9110 §6.6.1). Every response the server writes
 * gets its head from {@linkcode encodeResponseHead}; a fast path may keep the bytes it returned
 * and reuse them for an identical input, never write other bytes. Pure: the caller passes the
 * current Date string.
 *
 * @module
 */

import { HttpError } from "./errors.ts";
import type { ConnectionField, ResponseFraming } from "./response_framing.ts";
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

/** Everything that goes into a response head. */
export interface ResponseHeadInit {
  /** Status code, 100–999. */
  readonly status: number;
  /** Reason phrase; the standard one when absent or empty. */
  readonly statusText?: string;
  /**
   * The handler's fields in the order to write them. Fields the server manages are skipped (see
   * {@linkcode isServerManagedField}); a Date is kept, and then the server adds none.
   */
  readonly fields: Iterable<readonly [string, string]>;
  /** The framing chosen by `decideResponseFraming`. */
  readonly framing: ResponseFraming;
  /** Content-Length to announce when `framing` is `none` (HEAD, 304), or null. */
  readonly announcedLength: number | null;
  /**
   * The connection option chosen by `decidePersistence`; `upgrade` is added to it when the
   * fields carry Upgrade.
   */
  readonly connection: ConnectionField;
  /** The current IMF-fixdate, written when the handler set no Date (RFC 9110 §6.6.1). */
  readonly date: string;
}

/**
 * Fields the server writes itself from its own decisions and never copies from a handler:
 * Content-Length and Transfer-Encoding (framing, RFC 9112 §6), Connection and Keep-Alive
 * (connection-specific, RFC 9110 §7.6.1: they describe this hop, which only the server knows).
 */
export function isServerManagedField(lowerName: string): boolean {
  return lowerName === "content-length" || lowerName === "transfer-encoding" ||
    lowerName === "connection" || lowerName === "keep-alive";
}

const statusLineCache = new Map<number, string>();

/**
 * The status line for a status code with its standard reason phrase (cached per code), or with
 * `statusText` when one is given (validated: `HttpError(500)` if it could split the head).
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
  if (!isFieldValueText(statusText)) throw new HttpError(500, "invalid reason phrase");
  return `HTTP/1.1 ${status} ${statusText}\r\n`;
}

/**
 * Encodes a response head as a string of ISO-8859-1 code units (one per byte).
 *
 * Every name must be a token and every value free of CR, LF, NUL and other CTLs; otherwise it
 * throws `HttpError(500)` and nothing is written, so a handler can never split a response.
 *
 * @example
 * ```ts
 * import { encodeResponseHead } from "./response_head.ts";
 * const head = encodeResponseHead({
 *   status: 200, fields: [["content-type", "text/plain"]],
 *   framing: { kind: "length", length: 2 }, announcedLength: null, connection: "none",
 *   date: "Sun, 06 Nov 1994 08:49:37 GMT",
 * });
 * console.log(head.startsWith("HTTP/1.1 200 OK\r\n")); // true
 * ```
 */
export function encodeResponseHead(init: ResponseHeadInit): string {
  const { status } = init;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new HttpError(500, "invalid status code");
  }
  let head = statusLine(status, init.statusText);
  let hasDate = false;
  let hasUpgrade = false;
  for (const [name, value] of init.fields) {
    const lower = name.toLowerCase();
    if (isServerManagedField(lower)) continue;
    if (!isFieldName(name) || !isFieldValueText(value)) {
      throw new HttpError(500, "invalid response header field");
    }
    if (lower === "date") hasDate = true;
    else if (lower === "upgrade") hasUpgrade = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasDate) head += `date: ${init.date}\r\n`;
  const framing = init.framing;
  if (framing.kind === "length") head += `content-length: ${framing.length}\r\n`;
  else if (framing.kind === "chunked") head += "transfer-encoding: chunked\r\n";
  else if (framing.kind === "none" && init.announcedLength !== null) {
    head += `content-length: ${init.announcedLength}\r\n`;
  }
  // RFC 9110 §7.8: a sender of Upgrade (a 101, or a 426 naming the protocol to switch to) MUST
  // also send the "upgrade" connection option.
  const option = init.connection === "none" ? "" : init.connection;
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

/** field-value and reason-phrase: HTAB, SP, VCHAR and obs-text only (RFC 9110 §5.5, 9112 §4). */
function isFieldValueText(value: string): boolean {
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
export function encodeLatin1(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  writeLatin1(text, bytes, 0);
  return bytes;
}

/** The interim response that tells a client to send its body (RFC 9110 §15.2.1). */
export const CONTINUE_RESPONSE: Uint8Array = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");

/** The short plain-text body of a response the server makes itself: status and reason only. */
export function errorBodyText(status: number): string {
  return `${status} ${STATUS_REASONS[status] ?? "Error"}\n`;
}

/**
 * A complete response the server makes itself (a request it could not parse or serve), through
 * the same encoder. The body is fixed text derived from the status only, never from an internal
 * error message.
 *
 * @example
 * ```ts
 * import { encodeErrorResponse } from "./response_head.ts";
 * const bytes = encodeErrorResponse(400, "Sun, 06 Nov 1994 08:49:37 GMT", "close");
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // "HTTP/1.1 400 Bad Request"
 * ```
 */
export function encodeErrorResponse(
  status: number,
  date: string,
  connection: ConnectionField,
): Uint8Array {
  const body = errorBodyText(status);
  const head = encodeResponseHead({
    status,
    fields: [["content-type", "text/plain; charset=utf-8"]],
    framing: { kind: "length", length: body.length },
    announcedLength: null,
    connection,
    date,
  });
  return encodeLatin1(head + body);
}
