/**
 * Conditional requests (RFC 9110 §13): entity-tag comparison and the precedence of the
 * precondition header fields (§13.2.2), as pure functions.
 *
 * @module
 */

import { parseHttpDate } from "./http_date.ts";

/** The validators of the selected representation. */
export interface Validators {
  /** The entity-tag as sent in `ETag` (`"…"` or `W/"…"`), or null when there is none. */
  etag: string | null;
  /**
   * Last-Modified in milliseconds since the epoch, already truncated to whole seconds (the
   * resolution of HTTP-date), or null when the modification time is unknown.
   */
  lastModified: number | null;
}

/** Anything with a case-insensitive `get`, such as `Headers`. */
export interface HeaderSource {
  /** The field value, or null when the field is absent. */
  get(name: string): string | null;
}

/** Outcome of evaluating the preconditions of a request. */
export type PreconditionResult =
  /** Carry on with the request (Range evaluation comes next). */
  | "proceed"
  /** 304 Not Modified (GET and HEAD only). */
  | "not-modified"
  /** 412 Precondition Failed. */
  | "precondition-failed";

/**
 * Splits an entity-tag list (`"a", W/"b"`) into its tags, quotes included. Parsing follows the
 * grammar (an opaque tag may contain commas) rather than splitting on ",". A malformed member
 * ends the list: what came before still counts, nothing after it matches.
 */
export function parseEntityTagList(value: string): string[] {
  const tags: string[] = [];
  let i = 0;
  while (i < value.length) {
    const char = value[i];
    if (char === " " || char === "\t" || char === ",") {
      i++;
      continue;
    }
    const start = i;
    if (char === "W" && value[i + 1] === "/") i += 2;
    if (value[i] !== '"') break;
    const close = value.indexOf('"', i + 1);
    if (close === -1) break;
    tags.push(value.slice(start, close + 1));
    i = close + 1;
  }
  return tags;
}

function isWeak(tag: string): boolean {
  return tag.charCodeAt(0) === 0x57; /* W */
}

/** Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their opaque parts equal. */
export function strongMatch(a: string, b: string): boolean {
  return !isWeak(a) && !isWeak(b) && a === b;
}

/** Weak comparison (RFC 9110 §8.8.3.2): opaque parts equal, weakness ignored. */
export function weakMatch(a: string, b: string): boolean {
  return (isWeak(a) ? a.slice(2) : a) === (isWeak(b) ? b.slice(2) : b);
}

function listMatches(
  value: string,
  etag: string | null,
  compare: (a: string, b: string) => boolean,
): boolean {
  // "*" matches any current representation, and this function is only asked about existing ones.
  if (value.trim() === "*") return true;
  if (etag === null) return false;
  for (const tag of parseEntityTagList(value)) if (compare(tag, etag)) return true;
  return false;
}

/** An HTTP-date header as whole-second milliseconds, or NaN when absent, invalid or a list. */
function dateField(value: string | null): number {
  if (value === null) return NaN;
  return parseHttpDate(value.trim());
}

/**
 * Evaluates the preconditions of a request on an existing representation, in the order of
 * RFC 9110 §13.2.2 (steps 1–4; step 5, If-Range, is {@linkcode ifRangeAllowsRange}). The date
 * fields need no strong validator (§13.1.3, §13.1.4), so a Last-Modified date compares as it is:
 *
 * 1. If-Match present: false (no strong match, and not `*`) → 412.
 * 2. Else If-Unmodified-Since with a valid date and a known Last-Modified: modified after the
 *    date → 412.
 * 3. If-None-Match present: a weak match (or `*`) → 304 for GET/HEAD, 412 for other methods.
 * 4. Else, GET/HEAD with If-Modified-Since (valid date, known Last-Modified): not modified since
 *    the date → 304.
 *
 * @example
 * ```ts
 * import { evaluatePreconditions } from "./preconditions.ts";
 * const headers = new Headers({ "if-none-match": '"v1"' });
 * evaluatePreconditions("GET", headers, { etag: '"v1"', lastModified: null }); // "not-modified"
 * ```
 */
export function evaluatePreconditions(
  method: string,
  headers: HeaderSource,
  validators: Validators,
): PreconditionResult {
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    if (!listMatches(ifMatch, validators.etag, strongMatch)) return "precondition-failed";
  } else {
    const since = dateField(headers.get("if-unmodified-since"));
    if (!Number.isNaN(since) && validators.lastModified !== null) {
      if (validators.lastModified > since) return "precondition-failed";
    }
  }
  const ifNoneMatch = headers.get("if-none-match");
  const isGetOrHead = method === "GET" || method === "HEAD";
  if (ifNoneMatch !== null) {
    if (listMatches(ifNoneMatch, validators.etag, weakMatch)) {
      return isGetOrHead ? "not-modified" : "precondition-failed";
    }
  } else if (isGetOrHead) {
    const since = dateField(headers.get("if-modified-since"));
    if (!Number.isNaN(since) && validators.lastModified !== null) {
      if (validators.lastModified <= since) return "not-modified";
    }
  }
  return "proceed";
}

/**
 * RFC 9110 §13.1.5: whether a Range request may be honoured given its `If-Range` value (null
 * when absent). An entity-tag must match the current ETag by strong comparison (a weak tag never
 * does). A date never does: the whole representation is sent (200).
 *
 * A date in If-Range is a validator only when it is strong, and §8.8.2.2 lets an origin server
 * take a Last-Modified date as strong only when it "reliably knows that the associated
 * representation did not change twice during the second covered by the presented validator".
 * A file server does not know that: a file system keeps no record of how often a file changed
 * within a second (a same-size rewrite, or a replacement by rename, keeps every other field), and
 * mtimes can be set back or pinned (`touch -d`, `rsync -t`, builds with `SOURCE_DATE_EPOCH` give
 * every version the same date). The rule §8.8.2.2 gives caches and clients (a Date at least one
 * second after Last-Modified) tells that the *response* carried a strong date, not that the file
 * has not changed twice in that second since. So the strict reading is taken: a date selects no
 * range, and a resumed download whose client sent a date restarts from the first byte instead of
 * splicing two versions. Every file has a strong ETag, which clients send in If-Range when they
 * have one (browsers and curl do).
 *
 * @example
 * ```ts
 * import { ifRangeAllowsRange } from "./preconditions.ts";
 * ifRangeAllowsRange(null, { etag: '"v1"', lastModified: null }); // true: no If-Range
 * ifRangeAllowsRange('"v1"', { etag: '"v1"', lastModified: null }); // true
 * ifRangeAllowsRange('W/"v1"', { etag: 'W/"v1"', lastModified: null }); // false
 * const modified = Date.UTC(2024, 0, 15, 12, 0, 0);
 * const date = "Mon, 15 Jan 2024 12:00:00 GMT";
 * ifRangeAllowsRange(date, { etag: '"v1"', lastModified: modified }); // false: a date
 * ```
 */
export function ifRangeAllowsRange(ifRange: string | null, validators: Validators): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) {
    return validators.etag !== null && strongMatch(value, validators.etag);
  }
  return false; // an HTTP-date, or garbage: neither is a strong validator here
}
