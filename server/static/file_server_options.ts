/**
 * The static file server's options: their shape ({@linkcode FileServerOptions}), their defaults
 * (each constant is documented where its mechanism lives and re-exported here) and their
 * validation ({@linkcode resolveFileServerOptions}), done once when the handler is created so that
 * a bad option fails at start, never per request. The handler itself is `file_server.ts`.
 *
 * @module
 */

import { reportError } from "../error_log.ts";
import { DEFAULT_COMPRESS_MAX_FILE_BYTES, DEFAULT_COMPRESS_MIN_BYTES } from "./content_coding.ts";
import {
  DEFAULT_CACHE_MAX_FILE_BYTES,
  DEFAULT_CACHE_MAX_TOTAL_BYTES,
  DEFAULT_CACHE_MIN_AGE_MS,
  DEFAULT_CACHE_REVALIDATE_MS,
} from "./file_cache.ts";
import { DEFAULT_STREAM_CHUNK_BYTES } from "./file_stream.ts";
import { denoFileSystem, type StaticFileSystem } from "./file_system.ts";
import type { VersionStoreOptions } from "./file_version.ts";
import { DEFAULT_MAX_LISTING_ENTRIES } from "./listing.ts";
import { DEFAULT_MAX_RANGES } from "./ranges.ts";
import { Answers } from "./responses.ts";
import { ServedRoot } from "./served_root.ts";

export {
  DEFAULT_CACHE_MAX_FILE_BYTES,
  DEFAULT_CACHE_MAX_TOTAL_BYTES,
  DEFAULT_CACHE_MIN_AGE_MS,
  DEFAULT_CACHE_REVALIDATE_MS,
  DEFAULT_COMPRESS_MAX_FILE_BYTES,
  DEFAULT_COMPRESS_MIN_BYTES,
  DEFAULT_MAX_LISTING_ENTRIES,
  DEFAULT_MAX_RANGES,
  DEFAULT_STREAM_CHUNK_BYTES,
};
export { DEFAULT_CORS_MAX_AGE_SECONDS } from "./responses.ts";

/**
 * Options of {@linkcode createFileServer}. Only `root` is required.
 *
 * @example
 * ```ts
 * import type { FileServerOptions } from "@sockserve/sockserve";
 * const options: FileServerOptions = {
 *   root: "site",
 *   cacheControl: "max-age=60",
 *   dotfiles: "deny",
 *   headers: [["vary", "Cookie"]],
 * };
 * ```
 */
export interface FileServerOptions {
  /** Directory to serve (absolute or relative to the current directory). */
  root: string;
  /** Send `Access-Control-Allow-Origin: *` and answer CORS preflights. Default false. */
  cors?: boolean;
  /** `Cache-Control` value for files (and their 304s). None by default: no surprise caching. */
  cacheControl?: string;
  /**
   * Single-page-application mode: an unknown path requested with an `Accept` that includes
   * `text/html` gets the root's `index.html` with 200. Default false.
   */
  spa?: boolean;
  /** List directories without an `index.html`. Default true. */
  dirListing?: boolean;
  /**
   * What to do with paths that have a segment starting with ".": `"ignore"` (404, the default),
   * `"deny"` (403) or `"allow"` (serve them like any other file).
   */
  dotfiles?: "allow" | "deny" | "ignore";
  /**
   * Extra headers on every response; a name given here replaces the server's own value, except
   * `Vary`, whose field names are added to the server's (`Vary: Accept-Encoding, Cookie`). A
   * `Cache-Control` here together with `cacheControl` is refused (TypeError).
   */
  headers?: [string, string][];
  /**
   * Precompressed `.br`/`.zst`/`.gz` sidecars, and br or gzip made on the fly (once per file
   * version, kept in the cache). Default true.
   */
  compression?: boolean;
  /** See {@linkcode DEFAULT_CACHE_MAX_FILE_BYTES}; 0 disables the cache. */
  cacheMaxFileBytes?: number;
  /** See {@linkcode DEFAULT_CACHE_MAX_TOTAL_BYTES}. */
  cacheMaxTotalBytes?: number;
  /** See {@linkcode DEFAULT_CACHE_MIN_AGE_MS}; 0 caches files however recently they changed. */
  cacheMinAgeMs?: number;
  /**
   * See {@linkcode DEFAULT_CACHE_REVALIDATE_MS}: how long (ms) a cached file is served before a
   * `stat` checks it again, so how long a file replaced on disk may still be served; 0 checks on
   * every hit.
   */
  cacheRevalidateMs?: number;
  /** See {@linkcode DEFAULT_STREAM_CHUNK_BYTES}. */
  streamChunkBytes?: number;
  /** See {@linkcode DEFAULT_MAX_RANGES}. */
  maxRanges?: number;
  /** See {@linkcode DEFAULT_COMPRESS_MIN_BYTES}. */
  compressMinBytes?: number;
  /** See {@linkcode DEFAULT_COMPRESS_MAX_FILE_BYTES}. */
  compressMaxFileBytes?: number;
  /** See {@linkcode DEFAULT_MAX_LISTING_ENTRIES}. */
  maxListingEntries?: number;
  /** The file system to serve from; the real one (`Deno.*`) by default. */
  fileSystem?: StaticFileSystem;
  /**
   * Called with each problem the file server answered for itself: a path that kept changing
   * (503), a file that could not be read (500) — both as a {@linkcode StaticFileError}, one line
   * saying what, which file and which request — and an unexpected exception (500: a bug). A body
   * that fails while it is sent (a `FileChangedError`: the file changed meanwhile) errors the
   * response's stream instead, which the server reports (`serve()`'s `onError`). Default: one
   * line each on stderr, rate-limited (`server/error_log.ts`).
   */
  onError?: (error: unknown) => void;
}

/** {@linkcode FileServerOptions} validated, with every default filled in. */
export interface FileServerSettings {
  readonly fs: StaticFileSystem;
  /** The configured root (its real path is looked up per request). */
  readonly root: ServedRoot;
  /** The header policy (`cors`, `headers`) and the text answers. */
  readonly answers: Answers;
  readonly spa: boolean;
  readonly dirListing: boolean;
  readonly dotfiles: "allow" | "deny" | "ignore";
  readonly report: (error: unknown) => void;
  readonly maxListingEntries: number;
  /** The small-file cache's options, bytes and ms. */
  readonly store: VersionStoreOptions;
  /** `Cache-Control` of files and their 304s, or null. */
  readonly cacheControl: string | null;
  readonly compressMinBytes: number;
  readonly compressMaxFileBytes: number;
  readonly maxRanges: number;
  /** Never 0 (0 means the default). */
  readonly streamChunkBytes: number;
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Validates `options` and fills in the defaults.
 *
 * @throws {TypeError} `dotfiles` is not one of its three values; `cacheControl` is given together
 *   with a `Cache-Control` in `headers`; a header in `headers` is not a valid field.
 * @throws {RangeError} A size, count or duration is not a non-negative safe integer.
 *
 * @example
 * ```ts
 * import { resolveFileServerOptions } from "./file_server_options.ts";
 * const settings = resolveFileServerOptions({ root: ".", maxRanges: 10 });
 * console.log(settings.maxRanges, settings.dotfiles); // 10 "ignore"
 * ```
 */
export function resolveFileServerOptions(options: FileServerOptions): FileServerSettings {
  const fs = options.fileSystem ?? denoFileSystem;
  const dotfiles = options.dotfiles ?? "ignore";
  if (dotfiles !== "allow" && dotfiles !== "deny" && dotfiles !== "ignore") {
    throw new TypeError(`dotfiles must be "allow", "deny" or "ignore", got ${String(dotfiles)}`);
  }
  const maxListingEntries = nonNegativeInteger(
    "maxListingEntries",
    options.maxListingEntries,
    DEFAULT_MAX_LISTING_ENTRIES,
  );
  const root = new ServedRoot(options.root, fs);
  if (
    options.cacheControl !== undefined &&
    options.headers?.some(([name]) => name.toLowerCase() === "cache-control")
  ) {
    throw new TypeError(
      "cacheControl and a Cache-Control in headers: give Cache-Control once, as cacheControl",
    );
  }
  const answers = new Answers(options.cors ?? false, options.headers ?? []);
  const store: VersionStoreOptions = {
    fs,
    cacheMaxFileBytes: nonNegativeInteger(
      "cacheMaxFileBytes",
      options.cacheMaxFileBytes,
      DEFAULT_CACHE_MAX_FILE_BYTES,
    ),
    cacheMaxTotalBytes: nonNegativeInteger(
      "cacheMaxTotalBytes",
      options.cacheMaxTotalBytes,
      DEFAULT_CACHE_MAX_TOTAL_BYTES,
    ),
    cacheMinAgeMs: nonNegativeInteger(
      "cacheMinAgeMs",
      options.cacheMinAgeMs,
      DEFAULT_CACHE_MIN_AGE_MS,
    ),
    cacheRevalidateMs: nonNegativeInteger(
      "cacheRevalidateMs",
      options.cacheRevalidateMs,
      DEFAULT_CACHE_REVALIDATE_MS,
    ),
    compression: options.compression ?? true,
  };
  return {
    fs,
    root,
    answers,
    spa: options.spa ?? false,
    dirListing: options.dirListing ?? true,
    dotfiles,
    report: options.onError ?? reportError,
    maxListingEntries,
    store,
    cacheControl: options.cacheControl ?? null,
    compressMinBytes: nonNegativeInteger(
      "compressMinBytes",
      options.compressMinBytes,
      DEFAULT_COMPRESS_MIN_BYTES,
    ),
    compressMaxFileBytes: nonNegativeInteger(
      "compressMaxFileBytes",
      options.compressMaxFileBytes,
      DEFAULT_COMPRESS_MAX_FILE_BYTES,
    ),
    maxRanges: nonNegativeInteger("maxRanges", options.maxRanges, DEFAULT_MAX_RANGES),
    streamChunkBytes: nonNegativeInteger(
      "streamChunkBytes",
      options.streamChunkBytes,
      DEFAULT_STREAM_CHUNK_BYTES,
    ) || DEFAULT_STREAM_CHUNK_BYTES,
  };
}
