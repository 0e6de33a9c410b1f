/**
 * Byte classes of RFC 9110 §5.6 and RFC 3986 as lookup tables, and small predicates on bytes.
 *
 * Tables, not regular expressions: the parser checks each byte once with an array index.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Named bytes, so the parser reads as the grammar. */
export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

function table(predicate: (byte: number) => boolean): Uint8Array {
  const result = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) result[byte] = predicate(byte) ? 1 : 0;
  return result;
}

const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** tchar (RFC 9110 §5.6.2): the characters of a token (method, field name, coding). */
export const TCHAR = table((b) =>
  isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b))
);

/**
 * Bytes allowed in a field value (RFC 9110 §5.5): field-vchar (VCHAR / obs-text), SP and HTAB.
 * Everything else (NUL, CR, LF, other CTLs, DEL) is rejected.
 */
export const FIELD_VALUE_BYTE = table((b) => b === SP || b === HTAB || (b >= 0x21 && b !== 0x7f));

/**
 * Bytes allowed in a request-target. RFC 3986 allows unreserved, reserved and "%"; we also accept
 * the printable characters that browsers send unescaped in paths and queries per the WHATWG URL
 * standard (`"`-free set: `[ ] { } | ^ \` and backquote are sent raw by real clients), because
 * rejecting them would break real traffic while adding no safety. Rejected: CTLs, SP, DEL, `#`
 * (a fragment is never sent), `<`, `>`, `"`, and every byte >= 0x80 (not URI characters).
 */
export const TARGET_BYTE = table((b) =>
  b > 0x20 && b < 0x7f && b !== 0x23 && b !== 0x3c && b !== 0x3e && b !== DQUOTE
);

/** HEXDIG value of a byte, or -1. */
export const HEX_VALUE = (() => {
  const result = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) result[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    result[0x41 + i] = 10 + i;
    result[0x61 + i] = 10 + i;
  }
  return result;
})();

/**
 * qdtext (RFC 9110 §5.6.4): what may stand unescaped inside a quoted-string.
 * HTAB / SP / "!" / %x23-5B / %x5D-7E / obs-text.
 */
export const QDTEXT = table((b) =>
  b === HTAB || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) ||
  (b >= 0x5d && b <= 0x7e) || b >= 0x80
);

/** Characters allowed after a backslash in a quoted-pair: HTAB / SP / VCHAR / obs-text. */
export const QUOTED_PAIR_BYTE = table((b) => b === HTAB || b === SP || (b >= 0x21 && b !== 0x7f));

/** ASCII lower-casing table for case-insensitive byte comparison. */
export const TO_LOWER = table(() => false).map((_, b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));

/**
 * Node's latin1 decoder (ISO-8859-1: each byte one code unit, the ByteString that Headers
 * accept), part of the runtime's `node:buffer` and free of I/O. Deno's TextDecoder has no
 * ISO-8859-1 (its "latin1" is windows-1252) and costs an op call per string; this is ~70 ns.
 */
const latin1Slice = (Buffer.prototype as unknown as {
  latin1Slice(this: Uint8Array, start: number, end: number): string;
}).latin1Slice;

/** Strings shorter than this are built in JavaScript, cheaper than a call into the runtime. */
const NATIVE_DECODE_MIN_BYTES = 16;

/** Decodes bytes as ISO-8859-1 (each byte one code unit), the ByteString that Headers accept. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start >= NATIVE_DECODE_MIN_BYTES) return latin1Slice.call(bytes, start, end);
  let result = "";
  for (let i = start; i < end; i++) result += String.fromCharCode(bytes[i]!);
  return result;
}

/** True when the string is a non-empty token (RFC 9110 §5.6.2). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || TCHAR[code] !== 1) return false;
  }
  return true;
}

/** True when the string may be sent as a field value: no CTL but HTAB, no DEL, no char > 0xFF. */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || FIELD_VALUE_BYTE[code] !== 1) return false;
  }
  return true;
}

/** Removes optional whitespace (SP and HTAB only, RFC 9110 §5.6.3) from both ends. */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === SP || text.charCodeAt(start) === HTAB)) start++;
  while (end > start && (text.charCodeAt(end - 1) === SP || text.charCodeAt(end - 1) === HTAB)) {
    end--;
  }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** The first index from `from` that is not OWS (SP / HTAB, RFC 9110 §5.6.3), at most `end`. */
export function skipOws(buffer: Uint8Array, from: number, end: number): number {
  while (from < end && (buffer[from] === SP || buffer[from] === HTAB)) from++;
  return from;
}

/** `end` moved back over trailing OWS (RFC 9110 §5.6.3), not before `start`. */
export function trimOwsEnd(buffer: Uint8Array, start: number, end: number): number {
  while (end > start && (buffer[end - 1] === SP || buffer[end - 1] === HTAB)) end--;
  return end;
}
