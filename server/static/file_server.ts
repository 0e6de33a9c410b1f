/**
 * The static file server: an ordinary handler `(Request) => Promise<Response>` that serves a
 * directory (issue 3, "Semantics").
 *
 * Request path: method check → path decoding and normalization (`request_path.ts`) → dotfile
 * policy → small-file cache hit validated by one `stat`, or `realPath` + containment check +
 * `stat` → representation selection (sidecar, on-the-fly gzip or identity) → preconditions
 * (`preconditions.ts`) → Range (`ranges.ts`) → body from memory or streamed from disk
 * (`file_stream.ts`).
 *
 * What a client sees:
 *
 * | Request                                          | Answer                                                   |
 * | ------------------------------------------------ | -------------------------------------------------------- |
 * | GET/HEAD of a file                               | 200, Content-Type (charset=utf-8 for text), ETag, Last-Modified, Accept-Ranges, nosniff |
 * | other methods                                    | 405 with `Allow: GET, HEAD, OPTIONS`; OPTIONS → 204 (+ CORS preflight with `cors`) |
 * | encoded `/` or `\`, NUL, bad UTF-8, `..` above root | 400                                                   |
 * | outside the root after symlinks, missing, FIFO   | 404 (ROOT/404.html as body when present; SPA: index.html with 200) |
 * | dotfile segment                                  | 404 (`ignore`), 403 (`deny`) or served (`allow`)          |
 * | `/dir`                                           | 301 to `/dir/` (query kept)                               |
 * | `/dir/`                                          | index.html, else a listing (unless `dirListing: false` → 404) |
 * | If-Match/If-Unmodified-Since false               | 412                                                      |
 * | If-None-Match/If-Modified-Since not modified     | 304 with ETag/Last-Modified/Cache-Control/Vary only       |
 * | Range (GET, identity)                            | 206 single or multipart/byteranges; 416 `bytes *\/size` |
 * | Accept-Encoding br/gzip, compressible type       | `.br`/`.gz` sidecar, else gzip on the fly above 1 KiB; Vary |
 *
 * @module
 */

import { PreparedHead, PreparedResponse } from "../prepared_response.ts";
import { markAcceptsRequestLike, ParsedRequest, type RequestLike } from "../request_like.ts";
import { isAbsolute, join, resolve } from "node:path";
import { chooseCoding, type ContentCoding, parseAcceptEncoding } from "./accept_encoding.ts";
import { contentTypeFor, isCompressible } from "./content_type.ts";
import {
  ByteBudgetCache,
  DEFAULT_CACHE_MAX_FILE_BYTES,
  DEFAULT_CACHE_MAX_TOTAL_BYTES,
  DEFAULT_CACHE_MIN_AGE_MS,
  type FileIdentity,
  identityOf,
  sameIdentity,
} from "./file_cache.ts";
import {
  type BodyPart,
  DEFAULT_STREAM_CHUNK_BYTES,
  fileStream,
  readExactly,
} from "./file_stream.ts";
import { denoFileSystem, type StaticFile, type StaticFileSystem } from "./file_system.ts";
import { formatHttpDate } from "./http_date.ts";
import { type ListingEntry, renderListing } from "./listing.ts";
import { evaluatePreconditions, ifRangeAllowsRange, type Validators } from "./preconditions.ts";
import { type ByteRange, contentRange, DEFAULT_MAX_RANGES, parseRange } from "./ranges.ts";
import { parseRequestPath, type RequestPath } from "./request_path.ts";

export { DEFAULT_CACHE_MAX_FILE_BYTES, DEFAULT_CACHE_MAX_TOTAL_BYTES, DEFAULT_CACHE_MIN_AGE_MS };
export { DEFAULT_STREAM_CHUNK_BYTES } from "./file_stream.ts";
export { DEFAULT_MAX_RANGES } from "./ranges.ts";
export type { StaticFile, StaticFileSystem } from "./file_system.ts";

/**
 * Files compressed on the fly must be larger than this. Up to about 1 KiB the gzip framing and
 * the CPU cost more than the bytes saved, and a small response fits one TCP segment anyway
 * (nginx `gzip_min_length` is 20 bytes; CDNs skip bodies under ~1 KiB; issue 3 asks for 1 KiB).
 */
export const DEFAULT_GZIP_MIN_BYTES = 1024;

/**
 * Most entries shown in a directory listing; the rest is omitted with a note. Each entry costs a
 * `stat`, so an enormous directory must not turn one request into a million system calls.
 */
export const DEFAULT_MAX_LISTING_ENTRIES = 10_000;

/**
 * Most content hashes remembered for files without mtime (an embedded site has a fixed, usually
 * small set of files; the bound only matters if something else reports null mtimes). About
 * 150 bytes each.
 */
const MAX_CONTENT_HASHES = 10_000;

/**
 * How long the root's resolved real path is reused (a system call saved per request). A root that
 * is a symlink swapped by a deployment is still followed at once (see `insideRoot`).
 */
const ROOT_RECHECK_MS = 1000;

/** How long browsers may cache a CORS preflight answer (`Access-Control-Max-Age`), in seconds. */
export const DEFAULT_CORS_MAX_AGE_SECONDS = 86_400;

/** Methods the file server implements, as sent in `Allow`. */
export const ALLOWED_METHODS = "GET, HEAD, OPTIONS";

/** Options of {@linkcode createFileServer}. Only `root` is required. */
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
  /** Extra headers on every response; a name given here replaces the server's own value. */
  headers?: [string, string][];
  /** Precompressed `.br`/`.gz` sidecars and on-the-fly gzip. Default true. */
  compression?: boolean;
  /** See {@linkcode DEFAULT_CACHE_MAX_FILE_BYTES}; 0 disables the cache. */
  cacheMaxFileBytes?: number;
  /** See {@linkcode DEFAULT_CACHE_MAX_TOTAL_BYTES}. */
  cacheMaxTotalBytes?: number;
  /** See {@linkcode DEFAULT_CACHE_MIN_AGE_MS}; 0 caches files however recently they changed. */
  cacheMinAgeMs?: number;
  /** See {@linkcode DEFAULT_STREAM_CHUNK_BYTES}. */
  streamChunkBytes?: number;
  /** See {@linkcode DEFAULT_MAX_RANGES}. */
  maxRanges?: number;
  /** See {@linkcode DEFAULT_GZIP_MIN_BYTES}. */
  gzipMinBytes?: number;
  /** See {@linkcode DEFAULT_MAX_LISTING_ENTRIES}. */
  maxListingEntries?: number;
  /** The file system to serve from; the real one (`Deno.*`) by default. */
  fileSystem?: StaticFileSystem;
}

type HeaderList = [string, string][];

/** One file on disk as the server will describe it. */
interface FileRepresentation {
  /** The path as requested under the root (symlinks unresolved): what `stat` validates. */
  statPath: string;
  /** The resolved path, inside the root. */
  realPath: string;
  identity: FileIdentity;
  size: number;
  contentType: string;
  compressible: boolean;
  /** Strong ETag of the identity representation. */
  etag: string;
  /** Last-Modified as whole-second ms, or null when the mtime is unknown (embedded files). */
  lastModified: number | null;
  lastModifiedText: string | null;
  /** The content when the file is small enough to keep in memory. */
  bytes: Uint8Array<ArrayBuffer> | null;
  /** gzip of `bytes`, made on first demand. */
  gzipBytes: Promise<Uint8Array<ArrayBuffer>> | null;
  /** Headers of a 200 identity answer, built on first use (the Response copies them). */
  okHeaders: HeaderList | null;
  /** The same, serialized once for in-memory files. */
  okHead: PreparedHead | null;
  /** Bytes this entry holds in the cache. */
  cachedBytes: number;
}

type Lookup =
  | { kind: "file"; file: FileRepresentation }
  | { kind: "directory"; realPath: string }
  | { kind: "missing" }
  | { kind: "forbidden" };

const MISSING: Lookup = Object.freeze({ kind: "missing" });
const FORBIDDEN: Lookup = Object.freeze({ kind: "forbidden" });

const REASONS: Readonly<Record<number, string>> = Object.freeze({
  301: "Moved Permanently",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  412: "Precondition Failed",
  416: "Range Not Satisfiable",
  500: "Internal Server Error",
});

const encoder = new TextEncoder();

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** The strong ETag of a file version: size, mtime and inode, or size and a content hash. */
function identityEtag(identity: FileIdentity, contentHash: string | null): string {
  const size = identity.size.toString(36);
  if (contentHash !== null) return `"${size}-h${contentHash}"`;
  return `"${size}-${identity.mtime.toString(36)}-${Math.max(0, identity.ino).toString(36)}"`;
}

/** A tag derived from another, so that each content coding has its own ETag. */
function variantEtag(etag: string, suffix: string, weak: boolean): string {
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return `${weak ? "W/" : ""}${opaque.slice(0, -1)}-${suffix}"`;
}

/** Hash of content read in chunks: SHA-256 over the SHA-256 of each 1 MiB chunk. */
async function contentHash(
  chunks: AsyncIterable<Uint8Array<ArrayBuffer>> | Iterable<Uint8Array<ArrayBuffer>>,
) {
  const digests: Uint8Array[] = [];
  for await (const chunk of chunks) {
    digests.push(new Uint8Array(await crypto.subtle.digest("SHA-256", chunk)));
  }
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((digest, i) => all.set(digest, i * 32));
  const final = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  let hex = "";
  for (let i = 0; i < 12; i++) hex += final[i]!.toString(16).padStart(2, "0");
  return hex;
}

const HASH_CHUNK_BYTES = 1024 * 1024;

function* bytesInChunks(bytes: Uint8Array<ArrayBuffer>): Iterable<Uint8Array<ArrayBuffer>> {
  for (let offset = 0; offset < bytes.length || offset === 0; offset += HASH_CHUNK_BYTES) {
    yield bytes.subarray(offset, offset + HASH_CHUNK_BYTES);
    if (bytes.length === 0) break;
  }
}

async function* fileInChunks(
  file: StaticFile,
  size: number,
): AsyncIterable<Uint8Array<ArrayBuffer>> {
  let offset = 0;
  if (size === 0) yield new Uint8Array(0);
  while (offset < size) {
    const buffer = new Uint8Array(Math.min(HASH_CHUNK_BYTES, size - offset));
    let filled = 0;
    while (filled < buffer.length) {
      const read = await file.read(buffer.subarray(filled));
      if (read === null || read === 0) throw new Error("file changed while hashing");
      filled += read;
    }
    offset += filled;
    yield buffer;
  }
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return await new Response(stream).bytes();
}

function isInside(path: string, root: string): boolean {
  return path === root || (path.startsWith(root) && path[root.length] === "/") ||
    (root.endsWith("/") && path.startsWith(root));
}

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
  const fs = options.fileSystem ?? denoFileSystem;
  const cors = options.cors ?? false;
  const cacheControl = options.cacheControl ?? null;
  const spa = options.spa ?? false;
  const dirListing = options.dirListing ?? true;
  const dotfiles = options.dotfiles ?? "ignore";
  if (dotfiles !== "allow" && dotfiles !== "deny" && dotfiles !== "ignore") {
    throw new TypeError(`dotfiles must be "allow", "deny" or "ignore", got ${String(dotfiles)}`);
  }
  const compression = options.compression ?? true;
  const cacheMaxFileBytes = nonNegativeInteger(
    "cacheMaxFileBytes",
    options.cacheMaxFileBytes,
    DEFAULT_CACHE_MAX_FILE_BYTES,
  );
  const cacheMaxTotalBytes = nonNegativeInteger(
    "cacheMaxTotalBytes",
    options.cacheMaxTotalBytes,
    DEFAULT_CACHE_MAX_TOTAL_BYTES,
  );
  const cacheMinAgeMs = nonNegativeInteger(
    "cacheMinAgeMs",
    options.cacheMinAgeMs,
    DEFAULT_CACHE_MIN_AGE_MS,
  );
  const streamChunkBytes = nonNegativeInteger(
    "streamChunkBytes",
    options.streamChunkBytes,
    DEFAULT_STREAM_CHUNK_BYTES,
  ) || DEFAULT_STREAM_CHUNK_BYTES;
  const maxRanges = nonNegativeInteger("maxRanges", options.maxRanges, DEFAULT_MAX_RANGES);
  const gzipMinBytes = nonNegativeInteger(
    "gzipMinBytes",
    options.gzipMinBytes,
    DEFAULT_GZIP_MIN_BYTES,
  );
  const maxListingEntries = nonNegativeInteger(
    "maxListingEntries",
    options.maxListingEntries,
    DEFAULT_MAX_LISTING_ENTRIES,
  );
  const rootPath = isAbsolute(options.root) ? options.root : resolve(options.root);

  // Headers on every response, computed once. A name the user sets replaces ours.
  const ownCommon: HeaderList = [["x-content-type-options", "nosniff"]];
  if (cors) {
    ownCommon.push(["access-control-allow-origin", "*"]);
    ownCommon.push([
      "access-control-expose-headers",
      "Content-Encoding, Content-Range, Accept-Ranges, ETag",
    ]);
  }
  const userHeaders: HeaderList = [];
  for (const [name, value] of options.headers ?? []) {
    // Validates name and value now, so a bad --header fails at start and not per request.
    new Headers([[name, value]]);
    userHeaders.push([name.toLowerCase(), value]);
  }
  const userNames = new Set(userHeaders.map(([name]) => name));
  const commonHeaders: HeaderList = [
    ...ownCommon.filter(([name]) => !userNames.has(name)),
    ...userHeaders,
  ];
  /** Adds the common headers, dropping ours that the user overrides. */
  const finish = userNames.size === 0
    ? (headers: HeaderList): HeaderList => {
      for (const pair of commonHeaders) headers.push(pair);
      return headers;
    }
    : (headers: HeaderList): HeaderList => {
      const kept = headers.filter(([name]) => !userNames.has(name));
      for (const pair of commonHeaders) kept.push(pair);
      return kept;
    };
  const multipartBoundary = "sockserve-" + crypto.randomUUID().replaceAll("-", "");

  const cache = new ByteBudgetCache<FileRepresentation>(cacheMaxTotalBytes);
  // Content hashes of files without mtime (embedded in a compiled binary: they never change).
  const hashes = new Map<string, string>();

  /**
   * The "racily clean" guard of the cache (see {@linkcode DEFAULT_CACHE_MIN_AGE_MS}): both mtime
   * (settable by tools such as `cp -p`, rsync, tar) and ctime (not settable, but reported by
   * Deno in whole seconds, hence the extra second) must be old enough that a later write is
   * bound to change one of them. 0 turns the guard off.
   */
  function oldEnoughToCache(info: Deno.FileInfo): boolean {
    if (cacheMinAgeMs === 0) return true;
    const now = Date.now();
    if (info.mtime !== null && now - info.mtime.getTime() < cacheMinAgeMs) return false;
    if (info.ctime !== null && now - info.ctime.getTime() < cacheMinAgeMs + 1000) return false;
    return true;
  }

  // Paths are built under the root as configured, symlinks unresolved, so that a deployment that
  // swaps a `current -> releases/N` symlink is followed: the cache validates by stat-ing these
  // paths, and the root's real path (for containment checks) is resolved again at most every
  // ROOT_RECHECK_MS, and at once when a path seems to lie outside it (insideRoot).
  const base = rootPath.endsWith("/") ? rootPath.slice(0, -1) : rootPath;
  let rootReal: string | null = null;
  let rootCheckedAt = -Infinity;
  function currentRootReal(): string | null {
    const now = Date.now();
    if (rootReal !== null && now - rootCheckedAt < ROOT_RECHECK_MS) return rootReal;
    try {
      rootReal = fs.realPath(rootPath);
      rootCheckedAt = now;
    } catch {
      rootReal = null; // not there (yet): 404 until it is
    }
    return rootReal;
  }

  /**
   * Containment check against the root's real path; when it fails, the root may just have been
   * swapped (a deployment's symlink), so it is resolved again and checked once more. Paths are
   * always reached through the configured root, so after a swap they resolve into the new
   * release: it is served at once, and the old one never.
   */
  function insideRoot(realPath: string, root: string): boolean {
    if (isInside(realPath, root)) return true;
    rootCheckedAt = -Infinity;
    const fresh = currentRootReal();
    return fresh !== null && fresh !== root && isInside(realPath, fresh);
  }

  function textResponse(
    status: number,
    method: string,
    extra: HeaderList = [],
  ): Response {
    const body = encoder.encode(`${status} ${REASONS[status] ?? ""}\n`);
    const headers: HeaderList = [
      ["content-type", "text/plain; charset=utf-8"],
      ["content-length", String(body.length)],
      ...extra,
    ];
    return new Response(method === "HEAD" ? null : body, { status, headers: finish(headers) });
  }

  /** Maps a file-system failure to what the client may learn: never the error text. */
  function lookupFailure(error: unknown): Lookup {
    if (error instanceof Deno.errors.PermissionDenied) return FORBIDDEN;
    // NotFound, NotADirectory, FilesystemLoop, ENAMETOOLONG, NotCapable (outside --allow-read)
    // and anything else: the file cannot be served, and saying why would leak information.
    return MISSING;
  }

  async function validators(
    info: Deno.FileInfo,
    realPath: string,
    bytes: Uint8Array<ArrayBuffer> | null,
  ): Promise<{ etag: string; lastModified: number | null }> {
    const identity = identityOf(info);
    if (info.mtime !== null) {
      return {
        etag: identityEtag(identity, null),
        lastModified: Math.floor(info.mtime.getTime() / 1000) * 1000,
      };
    }
    // No mtime (embedded file): hash the content once; such files never change.
    const key = `${realPath}\0${identity.size}\0${identity.ino}`;
    let hash = hashes.get(key);
    if (hash === undefined) {
      if (bytes !== null) hash = await contentHash(bytesInChunks(bytes));
      else {
        const file = fs.open(realPath);
        try {
          hash = await contentHash(fileInChunks(file, identity.size));
        } finally {
          file.close();
        }
      }
      if (hashes.size >= MAX_CONTENT_HASHES) hashes.clear();
      hashes.set(key, hash);
    }
    return { etag: identityEtag(identity, hash), lastModified: null };
  }

  /**
   * Finds what `statPath` (a path under the root, symlinks unresolved) names: a cached file
   * validated by one stat, or after realPath, the containment check and a stat.
   */
  async function lookup(statPath: string, root: string): Promise<Lookup> {
    // Keyed by the unresolved path: a hit is then validated by stat-ing that same path.
    const cached = cache.get(statPath);
    if (cached !== undefined) {
      try {
        const info = fs.stat(statPath);
        if (sameIdentity(cached.identity, info)) return { kind: "file", file: cached };
      } catch {
        // Gone or unreadable: the full lookup below says which.
      }
      cache.delete(statPath);
    }
    let realPath: string;
    let info: Deno.FileInfo;
    try {
      realPath = fs.realPath(statPath);
      if (!insideRoot(realPath, root)) return MISSING;
      info = fs.stat(realPath);
    } catch (error) {
      return lookupFailure(error);
    }
    if (info.isDirectory) return { kind: "directory", realPath };
    // Sockets, FIFOs and devices are not files: opening a FIFO would block forever.
    if (!info.isFile) return MISSING;
    let bytes: Uint8Array<ArrayBuffer> | null = null;
    if (info.size <= cacheMaxFileBytes) {
      try {
        const file = fs.open(realPath);
        try {
          bytes = await readExactly(file, info.size);
        } finally {
          file.close();
        }
      } catch (error) {
        return lookupFailure(error);
      }
      if (bytes === null) {
        // Changed between stat and read: serve it streamed this time, cache it next time.
      }
    }
    const contentType = contentTypeFor(statPath);
    let fileValidators;
    try {
      fileValidators = await validators(info, realPath, bytes);
    } catch (error) {
      return lookupFailure(error);
    }
    const lastModified = fileValidators.lastModified;
    const file: FileRepresentation = {
      statPath,
      realPath,
      identity: identityOf(info),
      size: info.size,
      contentType,
      compressible: compression && isCompressible(contentType),
      etag: fileValidators.etag,
      lastModified,
      lastModifiedText: lastModified === null ? null : formatHttpDate(lastModified),
      bytes,
      gzipBytes: null,
      okHeaders: null,
      okHead: null,
      cachedBytes: bytes === null ? 0 : bytes.length + 512,
    };
    if (bytes !== null && oldEnoughToCache(info)) cache.set(statPath, file);
    return { kind: "file", file };
  }

  /** A precompressed sidecar (`file.br`, `file.gz`) of a file, if one exists under the root. */
  async function sidecar(
    file: FileRepresentation,
    extension: ".br" | ".gz",
    root: string,
  ): Promise<FileRepresentation | null> {
    const found = await lookup(file.statPath + extension, root);
    return found.kind === "file" ? found.file : null;
  }

  interface Selected {
    file: FileRepresentation;
    coding: ContentCoding | null;
    /** gzip made on the fly from `file`. */
    onTheFly: boolean;
    etag: string;
    vary: boolean;
  }

  async function selectRepresentation(
    request: RequestLike,
    file: FileRepresentation,
    root: string,
  ): Promise<Selected> {
    const identity: Selected = {
      file,
      coding: null,
      onTheFly: false,
      etag: file.etag,
      vary: file.compressible,
    };
    // Ranges are served from the identity representation only (issue 3: never compressed).
    if (!file.compressible || request.headers.has("range")) return identity;
    const preferences = parseAcceptEncoding(request.headers.get("accept-encoding"));
    if (preferences.br <= 0 && preferences.gzip <= 0) return identity;
    const br = preferences.br > 0 ? await sidecar(file, ".br", root) : null;
    // A br sidecar the client likes at least as much as gzip wins without looking for .gz.
    const gz = preferences.gzip > 0 && (br === null || preferences.gzip > preferences.br)
      ? await sidecar(file, ".gz", root)
      : null;
    const onTheFly = gz === null && file.size > gzipMinBytes;
    const coding = chooseCoding(preferences, { br: br !== null, gzip: gz !== null || onTheFly });
    if (coding === "br" && br !== null) {
      return {
        file: br,
        coding,
        onTheFly: false,
        etag: variantEtag(br.etag, "br", false),
        vary: true,
      };
    }
    if (coding === "gzip" && gz !== null) {
      return {
        file: gz,
        coding,
        onTheFly: false,
        etag: variantEtag(gz.etag, "gz", false),
        vary: true,
      };
    }
    if (coding === "gzip") {
      // Weak: another gzip implementation or level would give other bytes for the same file.
      return {
        file,
        coding,
        onTheFly: true,
        etag: variantEtag(file.etag, "gzip", true),
        vary: true,
      };
    }
    return identity;
  }

  /** Headers shared by 200, 206 and 304 answers for a representation. */
  function validatorHeaders(selected: Selected): HeaderList {
    const headers: HeaderList = [["etag", selected.etag]];
    if (selected.file.lastModifiedText !== null) {
      headers.push(["last-modified", selected.file.lastModifiedText]);
    }
    if (cacheControl !== null) headers.push(["cache-control", cacheControl]);
    if (selected.vary) headers.push(["vary", "Accept-Encoding"]);
    return headers;
  }

  function openBody(
    file: FileRepresentation,
    parts: BodyPart[],
  ): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    let handle: StaticFile;
    try {
      handle = fs.open(file.realPath);
    } catch {
      return null;
    }
    return fileStream(handle, parts, streamChunkBytes);
  }

  /** Answers with a file: preconditions, Range, coding, body. `status` is 200 or 404. */
  async function respondWithFile(
    request: RequestLike,
    original: FileRepresentation,
    root: string,
    status: 200 | 404,
  ): Promise<Response> {
    const method = request.method;
    const isGet = method === "GET";
    if (status === 404) {
      // A custom 404 page: its bytes with its type, no validators or ranges (the status says the
      // requested resource does not exist; the page is not a representation of it).
      const headers: HeaderList = [
        ["content-type", original.contentType],
        ["content-length", String(original.size)],
      ];
      let body: BodyInit | null = null;
      if (isGet) {
        body = original.bytes ?? openBody(original, [{ start: 0, length: original.size }]);
        if (body === null) return textResponse(404, method);
      }
      return new Response(body, { status, headers: finish(headers) });
    }
    const selected = await selectRepresentation(request, original, root);
    const file = selected.file;
    const fileValidators: Validators = { etag: selected.etag, lastModified: file.lastModified };
    const headers = request.headers;
    if (
      headers.has("if-match") || headers.has("if-none-match") ||
      headers.has("if-modified-since") || headers.has("if-unmodified-since")
    ) {
      const outcome = evaluatePreconditions(method, headers, fileValidators);
      if (outcome === "not-modified") {
        return new Response(null, { status: 304, headers: finish(validatorHeaders(selected)) });
      }
      if (outcome === "precondition-failed") return textResponse(412, method);
    }

    if (selected.coding !== null) {
      const responseHeaders = validatorHeaders(selected);
      responseHeaders.push(["content-type", original.contentType]);
      responseHeaders.push(["content-encoding", selected.coding]);
      let body: BodyInit | null = null;
      if (!selected.onTheFly) {
        responseHeaders.push(["content-length", String(file.size)]);
        if (isGet) {
          body = file.bytes ?? openBody(file, [{ start: 0, length: file.size }]);
          if (body === null) return textResponse(404, method);
        }
      } else if (file.bytes !== null) {
        // Small file: compress once and keep the result next to the content.
        if (file.gzipBytes === null) {
          const pending = gzip(file.bytes);
          file.gzipBytes = pending;
          pending.then((bytes) => cache.grow(file.statPath, file, bytes.length), () => {
            file.gzipBytes = null;
          });
        }
        const compressed = await file.gzipBytes;
        responseHeaders.push(["content-length", String(compressed.length)]);
        if (isGet) body = compressed;
      } else if (isGet) {
        // Large file: compressed while streaming, so its length is unknown (chunked).
        const stream = openBody(file, [{ start: 0, length: file.size }]);
        if (stream === null) return textResponse(404, method);
        body = stream.pipeThrough(new CompressionStream("gzip"));
      }
      return new Response(body, { status: 200, headers: finish(responseHeaders) });
    }

    // Identity: Range applies to GET only (RFC 9110 §14.2), and only if If-Range allows it.
    const rangeHeader = isGet ? headers.get("range") : null;
    if (
      rangeHeader !== null &&
      ifRangeAllowsRange(headers.get("if-range"), fileValidators, Date.now())
    ) {
      const range = parseRange(rangeHeader, file.size, maxRanges);
      if (range.kind === "unsatisfiable") {
        return textResponse(416, method, [
          ["content-range", `bytes */${file.size}`],
          ["accept-ranges", "bytes"],
        ]);
      }
      if (range.kind === "ranges") {
        const responseHeaders = validatorHeaders(selected);
        responseHeaders.push(["accept-ranges", "bytes"]);
        return partialResponse(file, range.ranges, responseHeaders);
      }
    }
    // The common answer (200, identity, whole file): its headers are computed once per file.
    if (file.okHeaders === null) {
      const responseHeaders = validatorHeaders(selected);
      responseHeaders.push(["accept-ranges", "bytes"]);
      responseHeaders.push(["content-type", file.contentType]);
      responseHeaders.push(["content-length", String(file.size)]);
      file.okHeaders = finish(responseHeaders);
    }
    if (file.bytes !== null) {
      // In memory: the head is serialized once per file and written as is (PreparedResponse).
      file.okHead ??= new PreparedHead(file.okHeaders);
      return new PreparedResponse(
        file.bytes,
        200,
        file.okHead,
        !isGet,
        request instanceof ParsedRequest, // only sockserve's connection sees this response
      );
    }
    let body: BodyInit | null = null;
    if (isGet) {
      body = openBody(file, [{ start: 0, length: file.size }]);
      if (body === null) return textResponse(404, method);
    }
    return new Response(body, { status: 200, headers: file.okHeaders });
  }

  function partialResponse(
    file: FileRepresentation,
    ranges: ByteRange[],
    headers: HeaderList,
  ): Response {
    if (ranges.length === 1) {
      const range = ranges[0]!;
      const length = range.end - range.start + 1;
      headers.push(["content-type", file.contentType]);
      headers.push(["content-range", contentRange(range, file.size)]);
      headers.push(["content-length", String(length)]);
      const body = file.bytes !== null
        ? file.bytes.subarray(range.start, range.end + 1)
        : openBody(file, [{ start: range.start, length }]);
      if (body === null) return textResponse(404, "GET");
      return new Response(body, { status: 206, headers: finish(headers) });
    }
    // multipart/byteranges (RFC 9110 §14.6): each part with its own Content-Type and
    // Content-Range; the total length is known in advance, so no chunked encoding is needed.
    const parts: BodyPart[] = [];
    let length = 0;
    ranges.forEach((range, index) => {
      const head = encoder.encode(
        `${index === 0 ? "" : "\r\n"}--${multipartBoundary}\r\n` +
          `Content-Type: ${file.contentType}\r\n` +
          `Content-Range: ${contentRange(range, file.size)}\r\n\r\n`,
      );
      parts.push(head, { start: range.start, length: range.end - range.start + 1 });
      length += head.length + range.end - range.start + 1;
    });
    const tail = encoder.encode(`\r\n--${multipartBoundary}--\r\n`);
    parts.push(tail);
    length += tail.length;
    headers.push(["content-type", `multipart/byteranges; boundary=${multipartBoundary}`]);
    headers.push(["content-length", String(length)]);
    let body: BodyInit | null;
    if (file.bytes !== null) {
      const whole = new Uint8Array(length);
      let offset = 0;
      for (const part of parts) {
        const bytes = part instanceof Uint8Array
          ? part
          : file.bytes.subarray(part.start, part.start + part.length);
        whole.set(bytes, offset);
        offset += bytes.length;
      }
      body = whole;
    } else {
      body = openBody(file, parts);
      if (body === null) return textResponse(404, "GET");
    }
    return new Response(body, { status: 206, headers: finish(headers) });
  }

  async function listDirectory(
    request: RequestLike,
    realPath: string,
    path: RequestPath,
    root: string,
  ): Promise<Response> {
    const names: string[] = [];
    let truncated = false;
    try {
      for await (const entry of fs.readDir(realPath)) {
        if (dotfiles !== "allow" && entry.name.startsWith(".")) continue;
        if (names.length >= maxListingEntries) {
          truncated = true;
          break;
        }
        names.push(entry.name);
      }
    } catch (error) {
      return lookupFailure(error).kind === "forbidden"
        ? textResponse(403, request.method)
        : await notFound(request, root);
    }
    const entries: ListingEntry[] = [];
    for (const name of names) {
      try {
        // A symlink that leads outside the root is not shown (its target is not served).
        const entryReal = fs.realPath(join(realPath, name));
        if (!insideRoot(entryReal, root)) continue;
        const info = fs.stat(entryReal);
        encodeURIComponent(name); // names that cannot be linked (lone surrogates) are skipped
        entries.push({
          name,
          isDirectory: info.isDirectory,
          size: info.isFile ? info.size : null,
          mtime: info.mtime === null ? null : info.mtime.getTime(),
        });
      } catch {
        // Vanished or unreadable since readDir: leave it out.
      }
    }
    const html = encoder.encode(
      renderListing(
        path.segments.length === 0 ? "/" : `/${path.segments.join("/")}/`,
        entries,
        truncated,
      ),
    );
    const headers: HeaderList = [
      ["content-type", "text/html; charset=utf-8"],
      ["content-length", String(html.length)],
    ];
    return new Response(request.method === "HEAD" ? null : html, {
      status: 200,
      headers: finish(headers),
    });
  }

  /** 404, with ROOT/404.html as the body when it exists, or index.html with 200 in SPA mode. */
  async function notFound(request: RequestLike, root: string | null): Promise<Response> {
    if (root !== null) {
      if (spa && (request.headers.get("accept") ?? "").includes("text/html")) {
        const index = await lookup(base + "/index.html", root);
        if (index.kind === "file") return await respondWithFile(request, index.file, root, 200);
      }
      const page = await lookup(base + "/404.html", root);
      if (page.kind === "file") return await respondWithFile(request, page.file, root, 404);
    }
    return textResponse(404, request.method);
  }

  async function denied(request: RequestLike, root: string | null): Promise<Response> {
    return dotfiles === "deny" ? textResponse(403, request.method) : await notFound(request, root);
  }

  function answerOptions(request: RequestLike): Response {
    const headers: HeaderList = [["allow", ALLOWED_METHODS]];
    const isPreflight = request.headers.has("origin") &&
      request.headers.has("access-control-request-method");
    if (cors && isPreflight) {
      headers.push(["access-control-allow-methods", ALLOWED_METHODS]);
      const requested = request.headers.get("access-control-request-headers");
      if (requested !== null) headers.push(["access-control-allow-headers", requested]);
      headers.push(["access-control-max-age", String(DEFAULT_CORS_MAX_AGE_SECONDS)]);
    }
    return new Response(null, { status: 204, headers: finish(headers) });
  }

  async function handle(request: RequestLike): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      if (method === "OPTIONS") return answerOptions(request);
      return textResponse(405, method, [["allow", ALLOWED_METHODS]]);
    }
    const path = parseRequestPath(request.url);
    if (typeof path === "string") return textResponse(400, method);
    const root = currentRootReal();
    if (root === null) return textResponse(404, method);
    const segments = path.segments;
    if (dotfiles !== "allow") {
      for (const segment of segments) {
        if (segment.charCodeAt(0) === 0x2e /* . */) return await denied(request, root);
      }
    }
    const relative = segments.join("/");
    const statPath = segments.length === 0 ? rootPath : base + "/" + relative;
    if (path.trailingSlash) {
      // A directory URL: its index.html, else a listing.
      const index = await lookup(statPath + "/index.html", root);
      if (index.kind === "file") return await respondWithFile(request, index.file, root, 200);
      if (index.kind === "forbidden") return textResponse(403, method);
      let directory: Lookup;
      try {
        const realPath = fs.realPath(statPath);
        if (!insideRoot(realPath, root)) return await notFound(request, root);
        const info = fs.stat(realPath);
        directory = info.isDirectory ? { kind: "directory", realPath } : MISSING;
      } catch (error) {
        directory = lookupFailure(error);
      }
      if (directory.kind === "forbidden") return textResponse(403, method);
      if (directory.kind !== "directory" || !dirListing) return await notFound(request, root);
      return await listDirectory(request, directory.realPath, path, root);
    }
    const found = await lookup(statPath, root);
    switch (found.kind) {
      case "file":
        return await respondWithFile(request, found.file, root, 200);
      case "directory":
        // The URL of a directory ends with "/" so that relative links in its page resolve.
        return textResponse(301, method, [["location", encodePath(segments) + "/" + path.query]]);
      case "forbidden":
        return textResponse(403, method);
      case "missing":
        return await notFound(request, root);
    }
  }

  // Reads only method, url and headers.get/has: the connection may pass a RequestLike.
  return markAcceptsRequestLike(async (request: RequestLike): Promise<Response> => {
    try {
      return await handle(request);
    } catch {
      // An unexpected failure (I/O error, bug): a generic 500, never the error text.
      return textResponse(500, request.method);
    }
  });
}
