/**
 * A field section (header or trailer fields) as received: order and repeated fields preserved,
 * names lower-cased (field names are case-insensitive, RFC 9110 §5.1), values with OWS trimmed.
 *
 * @module
 */

import { badRequest } from "./errors.ts";
import {
  COLON,
  FIELD_VALUE_BYTE,
  HTAB,
  latin1,
  skipOws,
  SP,
  TCHAR,
  TO_LOWER,
  trimOwsEnd,
} from "./syntax.ts";

/**
 * Field lines in received order.
 *
 * @example
 * ```ts
 * import { FieldList } from "./fields.ts";
 * const fields = new FieldList();
 * fields.add("accept", "text/html");
 * fields.add("accept", "*\/*");
 * console.log(fields.get("Accept")); // "text/html, *\/*"
 * ```
 */
export class FieldList {
  /** Flat list: name, value, name, value, … (names lower-case). */
  readonly entries: string[] = [];

  /** Appends one field line. `name` must already be lower-case. */
  add(name: string, value: string): void {
    this.entries.push(name, value);
  }

  /** Number of field lines. */
  get size(): number {
    return this.entries.length >> 1;
  }

  /** All values of a field, in order (case-insensitive name). */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const result: string[] = [];
    for (let i = 0; i < this.entries.length; i += 2) {
      if (this.entries[i] === lower) result.push(this.entries[i + 1]!);
    }
    return result;
  }

  /**
   * The combined value of a field, or null: joined with ", " (RFC 9110 §5.3), except Cookie,
   * whose lines are joined with "; " (RFC 6265 §5.4, as HTTP/2 does, RFC 9113 §8.2.3): a cookie
   * value may itself contain a comma.
   */
  get(name: string): string | null {
    const lower = name.toLowerCase();
    const values = this.getAll(lower);
    if (values.length === 0) return null;
    return values.join(lower === "cookie" ? "; " : ", ");
  }

  /** Whether a field is present (case-insensitive name). */
  has(name: string): boolean {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.entries.length; i += 2) if (this.entries[i] === lower) return true;
    return false;
  }

  /**
   * Pairs for `new Headers(...)`, in received order, with several Cookie lines made one (see
   * {@linkcode FieldList.get}): `Headers` would join them with ", ".
   */
  toPairs(): [string, string][] {
    const pairs: [string, string][] = [];
    let cookie: [string, string] | null = null;
    for (let i = 0; i < this.entries.length; i += 2) {
      const name = this.entries[i]!;
      const value = this.entries[i + 1]!;
      if (name === "cookie") {
        if (cookie !== null) {
          cookie[1] += `; ${value}`;
          continue;
        }
        cookie = [name, value];
        pairs.push(cookie);
        continue;
      }
      pairs.push([name, value]);
    }
    return pairs;
  }
}

/**
 * The lower-case name for `bytes[start..end)` (already validated as a token). Used for trailer
 * fields; header names are sliced from the decoded head instead.
 */
export function fieldName(bytes: Uint8Array, start: number, end: number): string {
  let name = "";
  for (let i = start; i < end; i++) name += String.fromCharCode(TO_LOWER[bytes[i]!]!);
  return name;
}

interface KnownName {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Field names that change how the server reads the request (framing, Host, Expect). */
const SPECIAL_BY_LENGTH: (KnownName | undefined)[] = [];
for (const name of ["host", "expect", "connection", "content-length", "transfer-encoding"]) {
  SPECIAL_BY_LENGTH[name.length] = { name, bytes: new TextEncoder().encode(name) };
}

/**
 * The shared string when `bytes[start..end)` names one of the fields the parser itself acts on
 * (Host, Expect, Connection, Content-Length, Transfer-Encoding), else null. Other names are
 * lower-cased from the decoded head, which costs less than matching a long list of names.
 */
export function specialFieldName(bytes: Uint8Array, start: number, end: number): string | null {
  const candidate = SPECIAL_BY_LENGTH[end - start];
  if (candidate === undefined) return null;
  const expected = candidate.bytes;
  for (let i = 0; i < expected.length; i++) {
    if (TO_LOWER[bytes[start + i]!] !== expected[i]) return null;
  }
  return candidate.name;
}

/**
 * Parses one field line, `field-name ":" OWS field-value OWS` (RFC 9112 §5, RFC 9110 §5.5), in
 * `buffer[start, end)` (the line without its CRLF) and adds it to `into`. 400 for obs-fold or
 * whitespace at the start of the line (RFC 9112 §5.2, §2.2), whitespace before the colon (§5.1),
 * an invalid name, or a byte not allowed in a field value. For the rare trailer section; header
 * fields are validated and decoded in bulk by the request parser.
 */
export function parseFieldLine(
  buffer: Uint8Array,
  start: number,
  end: number,
  into: FieldList,
): void {
  const first = buffer[start]!;
  if (first === SP || first === HTAB) {
    // obs-fold, or whitespace before the first field line (RFC 9112 §5.2, §2.2).
    throw badRequest("obsolete line folding");
  }
  let i = start;
  while (i < end && TCHAR[buffer[i]!] === 1) i++;
  if (i === start || i === end || buffer[i] !== COLON) {
    throw badRequest(
      i < end && (buffer[i] === SP || buffer[i] === HTAB)
        ? "whitespace before colon"
        : "invalid field name",
    );
  }
  const nameEnd = i;
  const valueStart = skipOws(buffer, nameEnd + 1, end);
  const valueEnd = trimOwsEnd(buffer, valueStart, end);
  for (let j = valueStart; j < valueEnd; j++) {
    if (FIELD_VALUE_BYTE[buffer[j]!] !== 1) throw badRequest("invalid byte in field value");
  }
  into.add(fieldName(buffer, start, nameEnd), latin1(buffer, valueStart, valueEnd));
}
