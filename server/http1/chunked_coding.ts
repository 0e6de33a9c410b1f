/**
 * Syntax of the chunked transfer coding's chunk-size line (RFC 9112 §7.1, §7.1.1):
 * `chunk-size [ chunk-ext ]`, with chunk-size 1*HEXDIG and chunk-ext
 * `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] )`, ext-value a token or quoted-string
 * (RFC 9110 §5.6.2, §5.6.4). Pure functions over `buffer[start, end)`, the line without its CRLF,
 * as the request parser has found it; each error is the {@linkcode HttpError} to answer with.
 *
 * The parser's state machine (chunk data, the CRLF after it, the trailer section) stays in
 * request_parser.ts; this is the grammar of one line.
 *
 * @module
 */

import { badRequest, HttpError } from "./errors.ts";
import {
  BACKSLASH,
  DQUOTE,
  EQUALS,
  HEX_VALUE,
  QDTEXT,
  QUOTED_PAIR_BYTE,
  SEMICOLON,
  skipOws,
  TCHAR,
} from "./syntax.ts";

/**
 * Most significant hex digits of a chunk-size: 16 digits is 64 bits; more can only be an overflow
 * probe. Leading zeros carry no value and are not counted (chunk-size is `1*HEXDIG`); the line's
 * own length limit bounds them.
 */
export const MAX_CHUNK_SIZE_DIGITS = 16;

/**
 * The end of the chunk-size's hex digits that start at `start`. 400 when there is none, or more
 * than {@linkcode MAX_CHUNK_SIZE_DIGITS} significant ones (malformed, not merely large).
 */
export function scanChunkSize(buffer: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && buffer[i] === 0x30) i++; // leading zeros
  const significant = i;
  while (i < end && HEX_VALUE[buffer[i]!]! >= 0) i++;
  if (i === start) throw badRequest("invalid chunk size");
  // More digits than 64 bits hold can only be an overflow probe: reject as malformed.
  if (i - significant > MAX_CHUNK_SIZE_DIGITS) throw badRequest("chunk size overflows");
  return i;
}

/** The value of the hex digits `buffer[start, end)`; 413 as soon as it exceeds `maxSize`. */
export function chunkSizeValue(
  buffer: Uint8Array,
  start: number,
  end: number,
  maxSize: number,
): number {
  let size = 0;
  for (let j = start; j < end; j++) {
    size = size * 16 + HEX_VALUE[buffer[j]!]!;
    if (size > maxSize) throw new HttpError(413, "chunk too large");
  }
  return size;
}

/**
 * Checks that `buffer[start, end)` is a well-formed chunk-ext (possibly empty). Extensions are
 * validated and ignored: none is defined that a server must understand (RFC 9112 §7.1.1).
 */
export function checkChunkExtensions(buffer: Uint8Array, start: number, end: number): void {
  // BWS is OWS by another name (RFC 9110 §5.6.3).
  let i = start;
  while (i < end) {
    i = skipOws(buffer, i, end);
    if (buffer[i] !== SEMICOLON) throw badRequest("invalid chunk extension");
    i = skipOws(buffer, i + 1, end);
    const nameStart = i;
    while (i < end && TCHAR[buffer[i]!] === 1) i++;
    if (i === nameStart) throw badRequest("invalid chunk extension name");
    i = skipOws(buffer, i, end);
    if (i < end && buffer[i] === EQUALS) {
      i = skipOws(buffer, i + 1, end);
      if (i < end && buffer[i] === DQUOTE) {
        i++;
        for (;;) {
          if (i >= end) throw badRequest("unterminated quoted chunk extension");
          const byte = buffer[i]!;
          if (byte === DQUOTE) {
            i++;
            break;
          }
          if (byte === BACKSLASH) {
            if (i + 1 >= end || QUOTED_PAIR_BYTE[buffer[i + 1]!] !== 1) {
              throw badRequest("invalid quoted-pair in chunk extension");
            }
            i += 2;
            continue;
          }
          if (QDTEXT[byte] !== 1) throw badRequest("invalid byte in chunk extension");
          i++;
        }
      } else {
        const valueStart = i;
        while (i < end && TCHAR[buffer[i]!] === 1) i++;
        if (i === valueStart) throw badRequest("invalid chunk extension value");
      }
    }
  }
}
