/**
 * What every answer of the file server shares: the header policy (the server's own headers, the
 * user's extra headers replacing ours by name — except `Vary`, whose tokens are added to ours,
 * RFC 9110 §12.5.5) and the short text answers for errors, redirects and OPTIONS.
 *
 * @module
 */

import type { RequestLike } from "../request_like.ts";
import type { HeaderList } from "./file_version.ts";

/** Methods the file server implements, as sent in `Allow`. */
export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";

/** How long browsers may cache a CORS preflight answer (`Access-Control-Max-Age`), in seconds. */
export const DEFAULT_CORS_MAX_AGE_SECONDS = 86_400;

/**
 * `Retry-After` of a 503 for a file that kept changing under every attempt, in seconds: a file
 * system settles within a second once the change is over.
 */
const BUSY_RETRY_AFTER_SECONDS = 1;

const REASONS: Readonly<Record<number, string>> = Object.freeze({
  301: "Moved Permanently",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  412: "Precondition Failed",
  416: "Range Not Satisfiable",
  500: "Internal Server Error",
  503: "Service Unavailable",
});

const encoder = new TextEncoder();

/**
 * `Vary` as both the server and the user ask: the union of their field names, in order, compared
 * without case; `*` if either says `*` (RFC 9110 §12.5.5: a list, and `*` varies on everything).
 *
 * @example
 * ```ts
 * import { mergeVary } from "./responses.ts";
 * mergeVary("Accept-Encoding", ["Cookie", "accept-encoding"]); // "Accept-Encoding, Cookie"
 * ```
 */
export function mergeVary(ours: string, theirs: readonly string[]): string {
  const names = [...ours.split(","), ...theirs].map((name) => name.trim()).filter((name) =>
    name !== ""
  );
  if (names.includes("*")) return "*";
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = name.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).join(", ");
}

/** The header policy and the text answers of one file server. */
export class Answers {
  readonly #cors: boolean;
  readonly #common: HeaderList;
  readonly #userNames: Set<string>;
  /** The field names of the user's `Vary` headers; null when none were given. */
  readonly #userVary: string[] | null;

  /**
   * @param cors Send `Access-Control-Allow-Origin: *` and answer CORS preflights.
   * @param headers Extra headers on every response; validated now, so that a bad `--header`
   *   fails at start and not per request (throws TypeError). Each replaces the server's own
   *   header of its name, except `Vary`, merged with the server's (a response that varies with
   *   `Accept-Encoding` must keep saying so, or a cache would give gzip to clients that did not
   *   ask for it).
   */
  constructor(cors: boolean, headers: readonly [string, string][]) {
    this.#cors = cors;
    const own: HeaderList = [["x-content-type-options", "nosniff"]];
    if (cors) {
      own.push(["access-control-allow-origin", "*"]);
      own.push([
        "access-control-expose-headers",
        "Content-Encoding, Content-Range, Accept-Ranges, ETag",
      ]);
    }
    const user: HeaderList = [];
    let userVary: string[] | null = null;
    for (const [name, value] of headers) {
      new Headers([[name, value]]);
      const lower = name.toLowerCase();
      if (lower === "vary") (userVary ??= []).push(...value.split(","));
      else user.push([lower, value]);
    }
    this.#userVary = userVary;
    this.#userNames = new Set(user.map(([name]) => name));
    this.#common = [...own.filter(([name]) => !this.#userNames.has(name)), ...user];
  }

  /**
   * Adds the common headers to `headers`, dropping ours that the user overrides and merging the
   * user's `Vary` into ours.
   */
  finish(headers: HeaderList): HeaderList {
    let kept = headers;
    if (this.#userNames.size > 0) kept = headers.filter(([name]) => !this.#userNames.has(name));
    for (const pair of this.#common) kept.push(pair);
    const userVary = this.#userVary;
    if (userVary !== null) {
      const at = kept.findIndex(([name]) => name === "vary");
      if (at === -1) kept.push(["vary", mergeVary("", userVary)]);
      else kept[at] = ["vary", mergeVary(kept[at]![1], userVary)];
    }
    return kept;
  }

  /** A short `text/plain` answer such as "404 Not Found\n" (no body for HEAD). */
  text(status: number, method: string, extra: HeaderList = []): Response {
    const body = encoder.encode(`${status} ${REASONS[status] ?? ""}\n`);
    const headers: HeaderList = [
      ["content-type", "text/plain; charset=utf-8"],
      ["content-length", String(body.length)],
      ...extra,
    ];
    return new Response(method === "HEAD" ? null : body, {
      status,
      headers: this.finish(headers),
    });
  }

  /** 503 for a file that kept changing while it was looked up. */
  busy(method: string): Response {
    return this.text(503, method, [["retry-after", String(BUSY_RETRY_AFTER_SECONDS)]]);
  }

  /** 204 to OPTIONS, with the CORS preflight headers when CORS is on. */
  options(request: RequestLike): Response {
    const headers: HeaderList = [["allow", ALLOWED_METHODS]];
    const isPreflight = request.headers.has("origin") &&
      request.headers.has("access-control-request-method");
    if (this.#cors && isPreflight) {
      headers.push(["access-control-allow-methods", ALLOWED_METHODS]);
      const requested = request.headers.get("access-control-request-headers");
      if (requested !== null) headers.push(["access-control-allow-headers", requested]);
      headers.push(["access-control-max-age", String(DEFAULT_CORS_MAX_AGE_SECONDS)]);
    }
    return new Response(null, { status: 204, headers: this.finish(headers) });
  }
}
