/**
 * What every answer of the file server shares: the header policy (the server's own headers, the
 * user's extra headers replacing ours by name) and the short text answers for errors, redirects
 * and OPTIONS.
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

/** The header policy and the text answers of one file server. */
export class Answers {
  readonly #cors: boolean;
  readonly #common: HeaderList;
  readonly #userNames: Set<string>;

  /**
   * @param cors Send `Access-Control-Allow-Origin: *` and answer CORS preflights.
   * @param headers Extra headers on every response; validated now, so that a bad `--header`
   *   fails at start and not per request (throws TypeError).
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
    for (const [name, value] of headers) {
      new Headers([[name, value]]);
      user.push([name.toLowerCase(), value]);
    }
    this.#userNames = new Set(user.map(([name]) => name));
    this.#common = [...own.filter(([name]) => !this.#userNames.has(name)), ...user];
  }

  /** Adds the common headers to `headers`, dropping ours that the user overrides. */
  finish(headers: HeaderList): HeaderList {
    if (this.#userNames.size === 0) {
      for (const pair of this.#common) headers.push(pair);
      return headers;
    }
    const kept = headers.filter(([name]) => !this.#userNames.has(name));
    for (const pair of this.#common) kept.push(pair);
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
