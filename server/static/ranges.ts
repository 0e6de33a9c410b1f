/**
 * Range requests (RFC 9110 §14): parsing the `Range` header against a representation's size, and
 * laying out a `multipart/byteranges` body.
 *
 * {@linkcode parseRange} is a pure function over (header value, size) so that every rule is a
 * row in a table test. The handler decides separately whether Range applies at all (GET only,
 * `If-Range`, not for compressed variants).
 *
 * @module
 */

/**
 * Most ranges honoured in one request; a request with more is answered with the whole file
 * (RFC 9110 §14.2 lets a server ignore "many small ranges"). Apache's `MaxRanges` is 200, Go has
 * no count limit but ignores ranges whose sum exceeds the size; 100 serves every real client
 * (PDF viewers ask for a few dozen) while bounding the work one request can cause.
 */
export const DEFAULT_MAX_RANGES = 100;

/** One satisfiable byte range, both ends inclusive, as in `Content-Range`. */
export interface ByteRange {
  /** First byte offset. */
  start: number;
  /** Last byte offset (inclusive). */
  end: number;
}

/** What to do with a `Range` header. */
export type RangeResult =
  /** Serve the whole representation with 200, as if there were no Range header. */
  | { kind: "ignore" }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { kind: "unsatisfiable" }
  /** 206 with these ranges (one: a single part; several: multipart/byteranges). */
  | { kind: "ranges"; ranges: ByteRange[] };

const IGNORE: RangeResult = Object.freeze({ kind: "ignore" });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: "unsatisfiable" });

/** A 1*DIGIT string as a number, or -1 when it is not one. Huge values stay huge (no overflow). */
function parseDigits(text: string): number {
  if (text.length === 0) return -1;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return -1;
  }
  return Number(text);
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === " " || text[start] === "\t")) start++;
  while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) end--;
  return text.slice(start, end);
}

/**
 * Interprets a `Range` header value for a representation of `size` bytes (RFC 9110 §14.1.2).
 *
 * - A unit other than `bytes`, or a syntax error anywhere, ignores the header (200): RFC 9110
 *   §14.2 requires ignoring unknown units and allows ignoring invalid specifiers.
 * - An empty representation ignores Range: no byte range of it can be expressed.
 * - `first-last` (last clamped to size-1), `first-` and `-suffix` (the last N bytes).
 * - Ranges whose first byte is past the end are dropped; if none is left, unsatisfiable (416).
 * - More than `maxRanges`, or ranges whose lengths add up to more than the size (overlaps),
 *   ignore the header: serving them would cost more than the whole file.
 *
 * @example
 * ```ts
 * import { parseRange } from "./ranges.ts";
 * parseRange("bytes=0-99", 1000); // { kind: "ranges", ranges: [{ start: 0, end: 99 }] }
 * parseRange("bytes=-100", 1000); // { kind: "ranges", ranges: [{ start: 900, end: 999 }] }
 * parseRange("bytes=5000-", 1000); // { kind: "unsatisfiable" }
 * ```
 */
export function parseRange(
  header: string,
  size: number,
  maxRanges: number = DEFAULT_MAX_RANGES,
): RangeResult {
  const equals = header.indexOf("=");
  if (equals === -1) return IGNORE;
  // The range unit is case-insensitive (RFC 9110 §14.1); no whitespace is allowed around "=".
  if (header.slice(0, equals).toLowerCase() !== "bytes") return IGNORE;
  if (size === 0) return IGNORE;
  const specs = header.slice(equals + 1).split(",");
  const ranges: ByteRange[] = [];
  let elements = 0;
  let total = 0;
  for (const rawSpec of specs) {
    const spec = trimOws(rawSpec);
    // The list syntax (RFC 9110 §5.6.1) allows empty elements; at least one must be present.
    if (spec.length === 0) continue;
    elements++;
    if (elements > maxRanges) return IGNORE;
    const dash = spec.indexOf("-");
    if (dash === -1) return IGNORE;
    const firstText = spec.slice(0, dash);
    const lastText = spec.slice(dash + 1);
    if (firstText.length === 0) {
      // suffix-range: the last N bytes; "-0" is valid syntax but selects nothing.
      const suffix = parseDigits(lastText);
      if (suffix < 0) return IGNORE;
      if (suffix === 0) continue;
      const start = suffix >= size ? 0 : size - suffix;
      ranges.push({ start, end: size - 1 });
      total += size - start;
    } else {
      const first = parseDigits(firstText);
      if (first < 0) return IGNORE;
      let last = size - 1;
      if (lastText.length > 0) {
        last = parseDigits(lastText);
        if (last < 0 || last < first) return IGNORE;
        if (last > size - 1) last = size - 1;
      }
      if (first >= size) continue; // unsatisfiable on its own; others may still be served
      ranges.push({ start: first, end: last });
      total += last - first + 1;
    }
  }
  if (elements === 0) return IGNORE;
  if (ranges.length === 0) return UNSATISFIABLE;
  if (ranges.length > 1 && total > size) return IGNORE;
  return { kind: "ranges", ranges };
}

/**
 * The `Content-Range` value of a satisfiable range.
 *
 * @example
 * ```ts
 * import { contentRange } from "./ranges.ts";
 * contentRange({ start: 0, end: 99 }, 1000); // "bytes 0-99/1000"
 * ```
 */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** One piece of a body: literal bytes (multipart headers) or a byte range of the file. */
export type BodyPart = Uint8Array<ArrayBuffer> | { start: number; length: number };

/** A `multipart/byteranges` body laid out: its parts, length and Content-Type. */
export interface MultipartLayout {
  /** Literal part headers and boundaries between the file ranges. */
  parts: BodyPart[];
  /** Total length in bytes (known in advance: no chunked encoding needed). */
  length: number;
  /** `multipart/byteranges; boundary=…`. */
  contentType: string;
}

const encoder = new TextEncoder();

/**
 * Lays out the body of a 206 with several ranges (RFC 9110 §14.6): each part with its own
 * Content-Type and Content-Range, between delimiters made of `boundary`.
 *
 * @example
 * ```ts
 * import { multipartLayout } from "./ranges.ts";
 * const layout = multipartLayout([{ start: 0, end: 1 }, { start: 5, end: 6 }], 10, "text/plain", "b");
 * layout.contentType; // "multipart/byteranges; boundary=b"
 * ```
 */
export function multipartLayout(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string,
  boundary: string,
): MultipartLayout {
  const parts: BodyPart[] = [];
  let length = 0;
  ranges.forEach((range, index) => {
    const head = encoder.encode(
      `${index === 0 ? "" : "\r\n"}--${boundary}\r\n` +
        `Content-Type: ${contentType}\r\n` +
        `Content-Range: ${contentRange(range, size)}\r\n\r\n`,
    );
    parts.push(head, { start: range.start, length: range.end - range.start + 1 });
    length += head.length + range.end - range.start + 1;
  });
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  parts.push(tail);
  length += tail.length;
  return { parts, length, contentType: `multipart/byteranges; boundary=${boundary}` };
}

/** The parts of `layout` with the file ranges copied out of `bytes` (a file held in memory). */
export function joinParts(
  parts: readonly BodyPart[],
  length: number,
  bytes: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    const piece = part instanceof Uint8Array
      ? part
      : bytes.subarray(part.start, part.start + part.length);
    whole.set(piece, offset);
    offset += piece.length;
  }
  return whole;
}
