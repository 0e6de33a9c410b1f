/**
 * The static file server: an ordinary handler `(Request) => Promise<Response>` that serves a
 * directory (issue 3, "Semantics"; issue 9, "open once"). This file holds its routing; its options
 * (shape, defaults, validation) are `file_server_options.ts`, and each step of a request is a module
 * of its own, along the seams of Go's `fs.go`:
 *
 * | Step                                                      | Module                                              |
 * | --------------------------------------------------------- | --------------------------------------------------- |
 * | resolve: URL → safe path under the root                   | `request_path.ts`                                   |
 * | open: once, metadata from the descriptor, proven inside   | `open_file.ts`, `containment.ts`, `served_root.ts`  |
 * | version: validators, type, bytes; the file cache          | `file_version.ts`, `file_cache.ts`, `entity_tag.ts` |
 * | large files kept in memory from a response's stream       | `kept_content.ts`                                   |
 * | preconditions (RFC 9110 §13.2.2)                          | `preconditions.ts`                                  |
 * | content coding: sidecar, made on the fly (once), identity | `content_coding.ts`, `accept_encoding.ts`           |
 * | compressed variants: cached, single flight, off-thread    | `coded_variants.ts`, `compressor.ts`                |
 * | ranges (RFC 9110 §14)                                     | `ranges.ts`                                         |
 * | body, from memory or from the descriptor                  | `file_stream.ts`                                    |
 * | the answer assembled from one version                     | `serve_file.ts`                                     |
 * | directory listing                                         | `listing.ts`                                        |
 * | common headers, text answers                              | `responses.ts`                                      |
 *
 * What a client sees:
 *
 * | Request                                          | Answer                                                   |
 * | ------------------------------------------------ | -------------------------------------------------------- |
 * | GET/HEAD of a file                               | 200, Content-Type (charset=utf-8 for text), ETag, Last-Modified, Accept-Ranges, nosniff |
 * | other methods                                    | 405 with `Allow: GET, HEAD, OPTIONS`; OPTIONS → 204 (+ CORS preflight with `cors`) |
 * | `..` segments, `\` (resolved by the URL standard)  | as the resolved path: `/../b` is `/b`, `/a\b` is `/a/b` |
 * | `%2F`, `%5C`, `%00`, malformed escape, not UTF-8  | 400                                                      |
 * | outside the root after symlinks, missing, FIFO   | 404 (ROOT/404.html as body when present; SPA: index.html with 200) |
 * | dotfile segment (in the URL or the real path)    | 404 (`ignore`), 403 (`deny`) or served (`allow`)          |
 * | `/dir`                                           | 301 to `/dir/` (query kept)                               |
 * | `/dir/`                                          | index.html, else a listing (unless `dirListing: false` → 404) |
 * | If-Match/If-Unmodified-Since false               | 412                                                      |
 * | If-None-Match/If-Modified-Since not modified     | 304 with ETag/Last-Modified/Cache-Control/Vary only       |
 * | Range (GET, identity)                            | 206 single or multipart/byteranges; 416 `bytes *\/size` |
 * | If-Range: the current strong ETag / anything else | the range / the whole file with 200 (a date included)     |
 * | Accept-Encoding br/zstd/gzip, compressible type  | `.br`/`.zst`/`.gz` sidecar, else br or gzip made once (1 KiB–8 MiB); Vary |
 * | a path that keeps changing under every attempt   | 503 with `Retry-After: 1`                                 |
 *
 * @module
 */

import { preparedHandler, type PreparedResult } from "../prepared_response.ts";
import type { RequestLike } from "../request_like.ts";
import { Compressor } from "./compressor.ts";
import type { FindFile } from "./content_coding.ts";
import { describeRequest, StaticFileError } from "./file_errors.ts";
import { type FileServerOptions, resolveFileServerOptions } from "./file_server_options.ts";
import { type OpenVersion, VersionStore } from "./file_version.ts";
import { readListing, renderListing } from "./listing.ts";
import { type LookupFailure, openInRoot } from "./open_file.ts";
import { parseRequestPath, type RequestPath } from "./request_path.ts";
import { ALLOWED_METHODS } from "./responses.ts";
import { FileAnswers } from "./serve_file.ts";

export {
  DEFAULT_CACHE_MAX_FILE_BYTES,
  DEFAULT_CACHE_MAX_TOTAL_BYTES,
  DEFAULT_CACHE_MIN_AGE_MS,
  DEFAULT_CACHE_REVALIDATE_MS,
  DEFAULT_COMPRESS_MAX_FILE_BYTES,
  DEFAULT_COMPRESS_MIN_BYTES,
  DEFAULT_CORS_MAX_AGE_SECONDS,
  DEFAULT_MAX_LISTING_ENTRIES,
  DEFAULT_MAX_RANGES,
  DEFAULT_STREAM_CHUNK_BYTES,
  type FileServerOptions,
} from "./file_server_options.ts";
export { ALLOWED_METHODS } from "./responses.ts";
export type { StaticFile, StaticFileSystem } from "./file_system.ts";
export { FileChangedError, StaticFileError } from "./file_errors.ts";

/** What a request path led to: a version to answer with, a directory, or why not. */
type Found =
  | { kind: "file"; open: OpenVersion }
  | { kind: "directory"; relative: string }
  | { kind: "busy" }
  | LookupFailure;

const BUSY: Found = Object.freeze({ kind: "busy" });

/**
 * Times a small file is opened and read again when it changed while it was read (its size or
 * mtime moved), before the answer is 503.
 */
const MAX_LOADS = 3;

const encoder = new TextEncoder();

/** Encodes decoded path segments back into a URL path ("/a%20b/c"). */
function encodePath(segments: string[]): string {
  let path = "";
  for (const segment of segments) path += "/" + encodeURIComponent(segment);
  return path;
}

/**
 * Creates the static-file handler for a directory.
 *
 * @example
 * ```ts
 * import { createFileServer } from "./file_server.ts";
 * const handler = createFileServer({ root: ".", cacheControl: "max-age=60" });
 * const response = await handler(new Request("http://localhost/deno.json"));
 * await response.body?.cancel();
 * ```
 */
export function createFileServer(
  options: FileServerOptions,
): (request: Request) => Promise<Response> {
  const settings = resolveFileServerOptions(options);
  const { fs, root, answers, spa, dirListing, dotfiles, report, maxListingEntries } = settings;
  const allowDotfiles = dotfiles === "allow";
  const store = new VersionStore(settings.store, new Compressor(report));
  const findFile: FindFile = (path) => {
    const found = find(path);
    if (found instanceof Promise) return found.then((f) => f.kind === "file" ? f.open : null);
    return found.kind === "file" ? found.open : null;
  };
  const files = new FileAnswers({
    answers,
    variants: store.variants,
    coding: {
      findFile,
      compressMinBytes: settings.compressMinBytes,
      compressMaxFileBytes: settings.compressMaxFileBytes,
    },
    cacheControl: settings.cacheControl,
    maxRanges: settings.maxRanges,
    streamChunkBytes: settings.streamChunkBytes,
    keep: (open) => store.keepWhileStreaming(open),
  });

  /**
   * What `requestPath` (under the configured root) names: a cached version (synchronously; see
   * `VersionStore.cached` for how it is validated), or the file opened and proven inside the
   * root, read from its descriptor (again if it changed while it was read).
   */
  function find(requestPath: string): Found | Promise<Found> {
    try {
      const cached = store.cached(requestPath);
      if (cached !== null) return cached;
    } catch {
      // Gone or unreadable: opening it says which.
    }
    return open(requestPath);
  }

  async function open(requestPath: string): Promise<Found> {
    for (let i = 0; i < MAX_LOADS; i++) {
      const opened = await openInRoot(fs, root, requestPath, { allowDotfiles });
      if (opened.kind !== "file") return opened;
      const loaded = await store.load(requestPath, opened.file, opened.info, opened.names);
      if (loaded !== "changed") return { kind: "file", open: loaded };
    }
    return BUSY;
  }

  /** The answer for what could not be served at `path`; the server's own failures reported. */
  async function failure(
    request: RequestLike,
    found: { kind: "missing" | "forbidden" | "busy" } | { kind: "failed"; error: unknown },
    path: string,
  ): Promise<PreparedResult> {
    switch (found.kind) {
      case "missing":
        return await notFound(request);
      case "forbidden":
        return answers.text(403, request.method);
      case "busy":
        report(
          new StaticFileError(
            "could not be proven inside the root: its directories changed within the current second",
            path,
            describeRequest(request.method, request.url),
            "answered 503",
          ),
        );
        return answers.busy(request.method);
      case "failed": {
        const error = found.error;
        report(
          new StaticFileError(
            "could not be read",
            path,
            describeRequest(request.method, request.url),
            error instanceof Error ? error.message : String(error),
            { cause: error },
          ),
        );
        return answers.text(500, request.method);
      }
    }
  }

  /** 404, with ROOT/404.html as the body when it exists, or index.html with 200 in SPA mode. */
  async function notFound(request: RequestLike): Promise<PreparedResult> {
    if (spa && (request.headers.get("accept") ?? "").includes("text/html")) {
      const index = await find(root.pathOf("index.html"));
      if (index.kind === "file") return await files.answer(request, index.open, 200);
    }
    const page = await find(root.pathOf("404.html"));
    if (page.kind === "file") return await files.answer(request, page.open, 404);
    return answers.text(404, request.method);
  }

  async function listing(request: RequestLike, relative: string, display: string) {
    const listed = await readListing(
      { fs, root, allowDotfiles, maxEntries: maxListingEntries },
      relative,
    );
    if (listed.kind !== "listed") return await failure(request, listed, root.pathOf(relative));
    const html = encoder.encode(renderListing(display, listed.entries, listed.truncated));
    const headers: [string, string][] = [
      ["content-type", "text/html; charset=utf-8"],
      ["content-length", String(html.length)],
    ];
    return new Response(request.method === "HEAD" ? null : html, {
      status: 200,
      headers: answers.finish(headers),
    });
  }

  /**
   * The answer to a request: synchronous when the file is cached and everything the answer needs
   * is in memory (measured in S3, a 1 KiB file: the promise, closure and handler-deadline wait of
   * an asynchronous answer cost 6% of the server's CPU time per request).
   */
  function handle(request: RequestLike): PreparedResult | Promise<PreparedResult> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      if (method === "OPTIONS") return answers.options(request);
      return answers.text(405, method, [["allow", ALLOWED_METHODS]]);
    }
    const path = parseRequestPath(request.url);
    if (typeof path === "string") return answers.text(400, method);
    const segments = path.segments;
    if (!allowDotfiles) {
      for (const segment of segments) {
        if (segment.charCodeAt(0) === 0x2e /* . */) {
          return dotfiles === "deny" ? answers.text(403, method) : notFound(request);
        }
      }
    }
    const requestPath = root.pathOf(segments.join("/"));
    if (path.trailingSlash) {
      // A directory URL: its index.html, else a listing.
      const indexPath = root.pathOf([...segments, "index.html"].join("/"));
      const index = find(indexPath);
      if (!(index instanceof Promise) && index.kind === "file") {
        return files.answer(request, index.open, 200);
      }
      return directory(request, index, indexPath, requestPath, segments);
    }
    const found = find(requestPath);
    if (found instanceof Promise) {
      return found.then((settled) => answerFound(request, settled, requestPath, path));
    }
    return answerFound(request, found, requestPath, path);
  }

  function answerFound(
    request: RequestLike,
    found: Found,
    requestPath: string,
    path: RequestPath,
  ): PreparedResult | Promise<PreparedResult> {
    switch (found.kind) {
      case "file":
        return files.answer(request, found.open, 200);
      case "directory":
        // The URL of a directory ends with "/" so that relative links in its page resolve.
        return answers.text(301, request.method, [[
          "location",
          encodePath(path.segments) + "/" + path.query,
        ]]);
      default:
        return failure(request, found, requestPath);
    }
  }

  /** A directory URL whose index.html is not cached: the index, else a listing. */
  async function directory(
    request: RequestLike,
    lookup: Found | Promise<Found>,
    indexPath: string,
    requestPath: string,
    segments: string[],
  ): Promise<PreparedResult> {
    const index = await lookup;
    if (index.kind === "file") return await files.answer(request, index.open, 200);
    if (index.kind === "forbidden" || index.kind === "busy" || index.kind === "failed") {
      return await failure(request, index, indexPath); // not a listing in its place
    }
    const found = await openInRoot(fs, root, requestPath, { allowDotfiles });
    if (found.kind === "file") found.file.close();
    if (found.kind === "file" || (found.kind === "directory" && !dirListing)) {
      return await notFound(request);
    }
    if (found.kind !== "directory") return await failure(request, found, requestPath);
    const display = segments.length === 0 ? "/" : `/${segments.join("/")}/`;
    return await listing(request, found.relative, display);
  }

  /** A bug: reported with its stack trace; the client gets a generic 500, never the text. */
  function bug(request: RequestLike, error: unknown): PreparedResult {
    report(error);
    return answers.text(500, request.method);
  }

  // Reads only method, url and headers.get/has (a RequestLike).
  return preparedHandler((request: RequestLike): PreparedResult | Promise<PreparedResult> => {
    let answer: PreparedResult | Promise<PreparedResult>;
    try {
      answer = handle(request);
    } catch (error) {
      return bug(request, error);
    }
    return answer instanceof Promise ? answer.catch((error) => bug(request, error)) : answer;
  });
}
