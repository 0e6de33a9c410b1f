/**
 * A field section (header or trailer fields) as received: order and repeated fields preserved,
 * names lower-cased (field names are case-insensitive, RFC 9110 §5.1), values with OWS trimmed.
 *
 * @module
 */

import { TO_LOWER } from "./syntax.ts";

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

  /** The combined value of a field (RFC 9110 §5.3: joined with ", "), or null. */
  get(name: string): string | null {
    const values = this.getAll(name);
    return values.length === 0 ? null : values.join(", ");
  }

  /** Whether a field is present (case-insensitive name). */
  has(name: string): boolean {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.entries.length; i += 2) if (this.entries[i] === lower) return true;
    return false;
  }

  /** Pairs for `new Headers(...)`. */
  toPairs(): [string, string][] {
    const pairs: [string, string][] = [];
    for (let i = 0; i < this.entries.length; i += 2) {
      pairs.push([this.entries[i]!, this.entries[i + 1]!]);
    }
    return pairs;
  }
}

/**
 * Field names that requests commonly carry, so that the parser can return one shared string
 * instead of allocating a new one per request. Looked up by length and bytes, no allocation.
 */
const KNOWN_NAMES = [
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "expect",
  "user-agent",
  "accept",
  "accept-encoding",
  "accept-language",
  "cache-control",
  "content-type",
  "cookie",
  "referer",
  "origin",
  "pragma",
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "upgrade-insecure-requests",
  "sec-fetch-site",
  "sec-fetch-mode",
  "sec-fetch-user",
  "sec-fetch-dest",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "priority",
  "dnt",
  "te",
  "authorization",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-request-id",
  "keep-alive",
  "upgrade",
];

/** Longest known name; longer names are never looked up. */
const MAX_KNOWN_LENGTH = 32;

interface KnownName {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Known names bucketed by length and lower-cased first byte: usually one candidate. */
const KNOWN_BUCKETS: (KnownName[] | undefined)[] = [];
for (const name of KNOWN_NAMES) {
  const key = name.length * 256 + name.charCodeAt(0);
  (KNOWN_BUCKETS[key] ??= []).push({ name, bytes: new TextEncoder().encode(name) });
}

/** The shared lower-case string when `bytes[start..end)` is a known field name, else null. */
export function knownFieldName(bytes: Uint8Array, start: number, end: number): string | null {
  const length = end - start;
  if (length === 0 || length > MAX_KNOWN_LENGTH) return null;
  const candidates = KNOWN_BUCKETS[length * 256 + TO_LOWER[bytes[start]!]!];
  if (candidates === undefined) return null;
  outer: for (const candidate of candidates) {
    const expected = candidate.bytes;
    for (let i = 1; i < length; i++) {
      if (TO_LOWER[bytes[start + i]!] !== expected[i]) continue outer;
    }
    return candidate.name;
  }
  return null;
}

/**
 * The lower-case name for `bytes[start..end)` (already validated as a token): a shared string
 * for known names, a new one otherwise.
 */
export function fieldName(bytes: Uint8Array, start: number, end: number): string {
  const known = knownFieldName(bytes, start, end);
  if (known !== null) return known;
  let name = "";
  for (let i = start; i < end; i++) name += String.fromCharCode(TO_LOWER[bytes[i]!]!);
  return name;
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
