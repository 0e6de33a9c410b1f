/**
 * Encoding response content for the wire: chunked transfer coding (RFC 9112 §7.1). Content framed
 * by Content-Length or by closing the connection goes out as it is.
 *
 * @module
 */

import { writeLatin1 } from "./response_head.ts";

/** The last chunk and an empty trailer section (RFC 9112 §7.1). */
export const LAST_CHUNK: Uint8Array = Uint8Array.of(0x30, 0x0d, 0x0a, 0x0d, 0x0a);

/**
 * One chunk of a chunked body: size line, data, CRLF, in one buffer (one write). Empty data would
 * be the last chunk, so the caller never encodes it.
 *
 * @example
 * ```ts
 * import { encodeChunk } from "./body_encoding.ts";
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
