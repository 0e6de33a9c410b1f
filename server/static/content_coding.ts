/**
 * Content coding (RFC 9110 §8.4): which representation of a file to send for the request's
 * `Accept-Encoding` — a precompressed sidecar (`file.br`, `file.zst`, `file.gz`), a coding made on
 * the fly (br or gzip, once per version: `coded_variants.ts`), or the file as it is — and the ETag
 * of each.
 *
 * Which codings are made on the fly, and why: **br** (quality 5) for the clients that take it —
 * every current browser — because the result is made once per version, so its extra CPU time
 * buys 7–8% fewer bytes than gzip for every later response; **gzip** (level 6) for everyone else.
 * **zstd** is served only from `.zst` sidecars: its strength is speed, which matters little for a
 * representation made once, and every client that takes zstd also takes br or gzip (browsers,
 * curl).
 *
 * @module
 */

import type { RequestLike } from "../request_like.ts";
import {
  chooseCoding,
  type ChosenCoding,
  type CodingPreferences,
  type CodingSources,
  type ContentCoding,
  parseAcceptEncoding,
} from "./accept_encoding.ts";
import type { OnTheFlyCoding } from "./compressor.ts";
import { type OpenVersion, release, type SidecarSet } from "./file_version.ts";

/**
 * Files compressed on the fly must be larger than this. Up to about 1 KiB the coding's framing
 * and the CPU cost more than the bytes saved, and a small response fits one TCP segment anyway
 * (nginx `gzip_min_length` is 20 bytes; CDNs skip bodies under ~1 KiB; issue 3 asks for 1 KiB).
 */
export const DEFAULT_COMPRESS_MIN_BYTES = 1024;

/**
 * Largest file compressed on the fly. The whole file is read into memory to be compressed (one at
 * a time, on a worker thread) and its compressed form kept in the file cache's budget, so this
 * bounds the memory a compression takes; larger files are sent as they are unless they have a
 * sidecar. Brotli takes about 1 s per 8 MiB of text here. (nginx compresses any size, again on
 * every request.)
 */
export const DEFAULT_COMPRESS_MAX_FILE_BYTES = 8 * 1024 * 1024;

/** The file name extension of each coding's sidecar. */
export const SIDECAR_EXTENSIONS: Readonly<Record<ContentCoding, string>> = Object.freeze({
  br: ".br",
  zstd: ".zst",
  gzip: ".gz",
});

/** The representation chosen for a request other than the file as it is. */
export interface Selected {
  /** The file whose bytes are sent (the file itself, or its sidecar). */
  source: OpenVersion;
  coding: ContentCoding;
  /** The coding is made on the fly from `source` (the file itself); null for a sidecar. */
  onTheFly: OnTheFlyCoding | null;
  /** The ETag of this representation. */
  etag: string;
}

/** A tag derived from another, so that each content coding has its own ETag. */
export function variantEtag(etag: string, suffix: string, weak: boolean): string {
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return `${weak ? "W/" : ""}${opaque.slice(0, -1)}-${suffix}"`;
}

/**
 * Finds the file at `path` (a path under the root) as the server finds any file — from the cache
 * when it is there (synchronously), else opened — or null when there is none to serve.
 */
export type FindFile = (path: string) => OpenVersion | null | Promise<OpenVersion | null>;

/** What selecting a representation needs besides the request and the file. */
export interface CodingOptions {
  /** Finds a sidecar (`file.br`, `file.zst`, `file.gz`). */
  findFile: FindFile;
  /** Files up to this size are not compressed on the fly. */
  compressMinBytes: number;
  /** Files above this size are not compressed on the fly. */
  compressMaxFileBytes: number;
}

/**
 * Chooses the representation of `original` to send: null for the file as it is. Ranges are served
 * from the file as it is only (never compressed), and types that do not compress are never
 * encoded. A sidecar not chosen is closed; `original` stays the caller's. Synchronous when no
 * coding is wanted, and when the file's sidecars are known (a cached file) and the chosen one, if
 * any, is cached.
 *
 * @example
 * ```ts ignore
 * const selected = await selectRepresentation(request, open, options);
 * const coding = selected?.coding ?? null; // "br", "zstd", "gzip" or null
 * ```
 */
export function selectRepresentation(
  request: RequestLike,
  original: OpenVersion,
  options: CodingOptions,
): Selected | null | Promise<Selected | null> {
  const file = original.version;
  if (!file.compressible || request.headers.has("range")) return null;
  const preferences = parseAcceptEncoding(request.headers.get("accept-encoding"));
  if (preferences.br <= 0 && preferences.zstd <= 0 && preferences.gzip <= 0) return null;
  const sidecars = file.sidecars;
  if (sidecars === null) return lookForSidecars(original, preferences, options);
  return selectFrom(original, preferences, sidecars, options);
}

/** The sources of each coding, given which sidecars there are. */
function sourcesOf(original: OpenVersion, sidecars: SidecarSet, options: CodingOptions) {
  const size = original.version.size;
  const onTheFly = size > options.compressMinBytes && size <= options.compressMaxFileBytes
    ? "on-the-fly"
    : null;
  const sources: CodingSources = {
    br: sidecars.br ? "sidecar" : onTheFly,
    zstd: sidecars.zstd ? "sidecar" : null,
    gzip: sidecars.gzip ? "sidecar" : onTheFly,
  };
  return sources;
}

/** Chooses with the file's sidecars known; opens the chosen sidecar if it is not cached. */
function selectFrom(
  original: OpenVersion,
  preferences: Readonly<CodingPreferences>,
  sidecars: SidecarSet,
  options: CodingOptions,
): Selected | null | Promise<Selected | null> {
  const chosen = chooseCoding(preferences, sourcesOf(original, sidecars, options));
  if (chosen === null) return null;
  if (chosen.source === "on-the-fly") return madeOnTheFly(original, chosen);
  const found = options.findFile(original.version.requestPath + SIDECAR_EXTENSIONS[chosen.coding]);
  const settle = (sidecar: OpenVersion | null) => {
    if (sidecar !== null) return fromSidecar(sidecar, chosen.coding);
    // Gone since it was seen: choose again without it.
    const fewer = { ...sidecars, [chosen.coding]: false };
    original.version.sidecars = fewer;
    return selectFrom(original, preferences, fewer, options);
  };
  return found instanceof Promise ? found.then(settle) : settle(found);
}

/** Looks for every sidecar (so that the version remembers them all), then chooses. */
async function lookForSidecars(
  original: OpenVersion,
  preferences: Readonly<CodingPreferences>,
  options: CodingOptions,
): Promise<Selected | null> {
  const path = original.version.requestPath;
  const found: Partial<Record<ContentCoding, OpenVersion>> = {};
  try {
    for (const coding of ["br", "zstd", "gzip"] as const) {
      const sidecar = await options.findFile(path + SIDECAR_EXTENSIONS[coding]);
      if (sidecar !== null) found[coding] = sidecar;
    }
    const sidecars: SidecarSet = {
      br: found.br !== undefined,
      zstd: found.zstd !== undefined,
      gzip: found.gzip !== undefined,
    };
    original.version.sidecars = sidecars;
    const chosen = chooseCoding(preferences, sourcesOf(original, sidecars, options));
    if (chosen === null) return null;
    if (chosen.source === "on-the-fly") return madeOnTheFly(original, chosen);
    const sidecar = found[chosen.coding]!;
    delete found[chosen.coding];
    return fromSidecar(sidecar, chosen.coding);
  } finally {
    for (const unused of Object.values(found)) release(unused);
  }
}

function fromSidecar(sidecar: OpenVersion, coding: ContentCoding): Selected {
  return {
    source: sidecar,
    coding,
    onTheFly: null,
    etag: variantEtag(sidecar.version.etag, SIDECAR_EXTENSIONS[coding].slice(1), false),
  };
}

function madeOnTheFly(original: OpenVersion, chosen: ChosenCoding): Selected {
  const coding = chosen.coding as OnTheFlyCoding;
  return {
    source: original,
    coding,
    onTheFly: coding,
    // Weak: another implementation or setting would give other bytes for the same file.
    etag: variantEtag(original.version.etag, coding, true),
  };
}
