/**
 * The health path: a path the command-line server answers itself (`/healthz` by default), so
 * that container and Kubernetes probes do not depend on what the site holds — a site without
 * `index.html` served with `--no-dir-listing` answers `/` with 404, and a site may be replaced at
 * any time.
 *
 * - `GET` or `HEAD` of exactly that path (any query) answers 200 `ok` while the served directory
 *   is there, and 503 when it is gone (a volume unmounted, a directory deleted): the server cannot
 *   serve the site then, whatever is in it. `Cache-Control: no-store`, so no cache answers for it.
 * - Any other method on it gets 405 with `Allow: GET, HEAD`.
 * - Every other request goes to the file server unchanged.
 * - Its requests are left out of the access log unless `--log-health` (probes every few seconds
 *   would drown the log).
 *
 * A wrapper around the handler, in the command line: the engine and the file server know nothing
 * of it.
 *
 * @module
 */

import { answerBefore } from "../prepared_response.ts";
import type { RequestRecord, ServeAddr } from "../types.ts";

/** The handler the command line serves: the file server's shape. */
export type SiteHandler = (request: Request) => Promise<Response>;

/** What {@linkcode withHealthPath} needs. */
export interface HealthPathOptions {
  /** The path answered, starting with `/`. */
  readonly path: string;
  /** Whether the served directory is there; called for each health request. */
  readonly rootAvailable: () => boolean;
}

/**
 * The path of an absolute URL (`Request.url`), without the query: no URL parsing, since it runs
 * for every request.
 *
 * @example
 * ```ts
 * import { urlPath } from "./health.ts";
 * urlPath("http://example.com:8000/healthz?x=1"); // "/healthz"
 * ```
 */
export function urlPath(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  const hash = url.indexOf("#", start);
  const stop = end < 0 ? hash : hash < 0 ? end : Math.min(end, hash);
  return stop < 0 ? url.slice(start) : url.slice(start, stop);
}

/**
 * The path of a request-target as sent (origin-form `/a?b`, or absolute-form `http://h/a?b`).
 *
 * @example
 * ```ts
 * import { targetPath } from "./health.ts";
 * targetPath("/healthz?probe=1"); // "/healthz"
 * targetPath("http://h/healthz"); // "/healthz"
 * ```
 */
export function targetPath(target: string): string {
  if (target.startsWith("/")) {
    const query = target.indexOf("?");
    return query < 0 ? target : target.slice(0, query);
  }
  return urlPath(target);
}

function plain(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...extra,
    },
  });
}

/**
 * Wraps the site's handler so that `options.path` is answered by the server itself. The wrapper
 * reads only the method and URL, and keeps whatever makes the file server fast
 * ({@linkcode answerBefore}).
 *
 * @example
 * ```ts
 * import { withHealthPath } from "./health.ts";
 * const site = (_request: Request) => Promise.resolve(new Response("a file"));
 * const handler = withHealthPath(site, { path: "/healthz", rootAvailable: () => true });
 * const response = await handler(new Request("http://localhost/healthz"));
 * response.status; // 200
 * ```
 */
export function withHealthPath(site: SiteHandler, options: HealthPathOptions): SiteHandler {
  const { path, rootAvailable } = options;
  return answerBefore((request) => {
    if (urlPath(request.url) !== path) return null;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "Method Not Allowed\n", { allow: "GET, HEAD" });
    }
    return rootAvailable()
      ? plain(200, "ok\n")
      : plain(503, "unavailable: the served directory is gone\n");
  }, site);
}

/**
 * An `onRequestEnd` callback that passes every record to `log` except those of the health path.
 *
 * @example
 * ```ts
 * import { skipHealthRecords } from "./health.ts";
 * const onRequestEnd = skipHealthRecords((record) => console.log(record.target), "/healthz");
 * ```
 */
export function skipHealthRecords(
  log: (record: RequestRecord<ServeAddr>) => void,
  path: string,
): (record: RequestRecord<ServeAddr>) => void {
  return (record) => {
    if (targetPath(record.target) !== path) log(record);
  };
}
