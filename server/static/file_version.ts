/**
 * One version of a file as the server describes it (validators, type, length) and, when small,
 * its bytes; and the cache of those versions.
 *
 * A version is made from an open descriptor only: identity, size and dates from its `fstat`, bytes
 * read from it (`open_file.ts`). The cache is keyed by the request's path and a hit must have the
 * same identity (device, inode, size, mtime, ctime, birth time: what its ETag is made of) as a
 * fresh `stat` of that path, so that the headers and the bytes of an answer always come from one
 * version. A hit needs no containment
 * proof: the version it holds was proven inside the root when it was read, and an unchanged
 * identity means those are still its bytes.
 *
 * @module
 */

import type { PreparedAnswer } from "../prepared_response.ts";
import { contentTypeFor, isCompressible } from "./content_type.ts";
import { CodedVariants, type Compress } from "./coded_variants.ts";
import {
  type BudgetEntry,
  ByteBudgetCache,
  CACHE_READ_WHOLE_MAX_BYTES,
  type FileIdentity,
  identityOf,
  sameContent,
  sameIdentity,
} from "./file_cache.ts";
import { readExactly, type StreamCopy } from "./file_stream.ts";
import type { StaticFile, StaticFileSystem } from "./file_system.ts";
import { ContentHashes, identityEtag, ShrankWhileRead } from "./entity_tag.ts";
import { formatHttpDate } from "./http_date.ts";
import { isLent, KeptContent, releaseBytes } from "./kept_content.ts";

/** Header pairs, names in lowercase. */
export type HeaderList = [string, string][];

/** One version of one file. */
export interface FileVersion {
  /** The request's path under the root (symlinks unresolved): the cache key. */
  readonly requestPath: string;
  readonly identity: FileIdentity;
  readonly size: number;
  readonly contentType: string;
  /** Whether the type is worth compressing (and compression is on). */
  readonly compressible: boolean;
  /** Strong ETag of the identity representation. */
  readonly etag: string;
  /** Last-Modified as whole-second ms, or null when the mtime is unknown (embedded files). */
  readonly lastModified: number | null;
  readonly lastModifiedText: string | null;
  /**
   * The content, when the file is small enough to be read whole (`CACHE_READ_WHOLE_MAX_BYTES`).
   * A larger file kept in memory has none here: it is lent to each response as a file of its own
   * (`kept_content.ts`).
   */
  readonly bytes: Uint8Array<ArrayBuffer> | null;
  /**
   * What identifies this version's content among all files (device, inode, size, times and
   * ETag): the key of its compressed variants (`coded_variants.ts`).
   */
  readonly contentKey: string;
  /**
   * The sidecars its path had when they were last looked for; null until then. A cached version
   * forgets them whenever it is validated again, so they are looked for again as often.
   */
  sidecars: SidecarSet | null;
  /** Headers of a 200 identity answer, built on first use. */
  okHeaders: HeaderList | null;
  /** The 200 answer of an in-memory file, its head encoded once (prepared_response.ts). */
  okAnswer: PreparedAnswer | null;
}

/**
 * A version and, when its bytes are not in memory, the open descriptor to read them from (owned
 * by whoever holds this; {@linkcode release} closes it).
 */
export interface OpenVersion {
  readonly version: FileVersion;
  file: StaticFile | null;
}

/** Which precompressed sidecars (`file.br`, `file.zst`, `file.gz`) a file has. */
export interface SidecarSet {
  br: boolean;
  zstd: boolean;
  gzip: boolean;
}

/** A version found: what a lookup returns. */
export interface FoundVersion {
  readonly kind: "file";
  readonly open: OpenVersion;
}

/**
 * A version in the cache. One read whole is its own lookup result, the same object every time
 * (no descriptor to release); one kept from a stream (`kept`) is lent anew to each lookup.
 */
export interface CachedHit extends BudgetEntry, FoundVersion {
  /** The content of a large version kept from a stream, else null (`open.version.bytes`). */
  readonly kept: KeptContent | null;
  /** When a `stat` last confirmed that the path still leads to this version (`performance.now()`). */
  validatedAt: number;
}

/** Closes the descriptor of `open`, if it still has one. */
export function release(open: OpenVersion | null): void {
  if (open !== null && open.file !== null) {
    const file = open.file;
    open.file = null;
    file.close();
  }
}

/** Takes the descriptor out of `open` (the caller now owns it). */
export function takeFile(open: OpenVersion): StaticFile | null {
  const file = open.file;
  open.file = null;
  return file;
}

/** Extra bytes counted per cached version besides its content (strings, headers, objects). */
const ENTRY_OVERHEAD_BYTES = 512;

/**
 * Last-Modified of a file whose mtime is `mtime` (ms), served at `now` (ms): whole seconds, and
 * never later than now. RFC 9110 §8.8.2.1: an origin server MUST NOT send a Last-Modified later
 * than the response's Date, and replaces a modification time in the future (a clock set wrong
 * where the file was made, `touch -d tomorrow`) with the message origination date. The `Date` of
 * the server is read from the clock when the head is written, after this (`server/clock.ts`).
 */
export function lastModifiedAt(mtime: number, now: number): number {
  return Math.floor(Math.min(mtime, now) / 1000) * 1000;
}

/** Settings of a {@linkcode VersionStore}. */
export interface VersionStoreOptions {
  fs: StaticFileSystem;
  /** Largest file kept in memory. */
  cacheMaxFileBytes: number;
  /** Total bytes of cached content. */
  cacheMaxTotalBytes: number;
  /** How old mtime and ctime must be before a file is cached (0: no guard). */
  cacheMinAgeMs: number;
  /** How long a cached entry is served before a `stat` confirms it again (0: every hit). */
  cacheRevalidateMs: number;
  /** Whether compressible types may be compressed. */
  compression: boolean;
}

/**
 * Makes versions from open descriptors and caches the small ones; their compressed variants share
 * the cache's byte budget.
 */
export class VersionStore {
  readonly #options: VersionStoreOptions;
  /** Files by request path ("/…"), variants by coding and content (`coded_variants.ts`). */
  readonly #cache: ByteBudgetCache<BudgetEntry & { kind: string }>;
  /** Paths whose file a response is streaming with a copy kept (`keepWhileStreaming`). */
  readonly #keeping = new Set<string>();
  /** Content hashes of files without mtime (embedded in an executable: they never change). */
  readonly #hashes = new ContentHashes();
  /** Compressed representations, counted in the same budget as the files. */
  readonly variants: CodedVariants;

  constructor(options: VersionStoreOptions, compressor: Compress) {
    this.#options = options;
    this.#cache = new ByteBudgetCache(options.cacheMaxTotalBytes);
    this.variants = new CodedVariants(this.#cache, compressor);
  }

  /**
   * The cached version of `requestPath`, if it is still the one the path leads to: confirmed by a
   * `stat` of the path (same identity) at most once per `cacheRevalidateMs`, and served as it is
   * in between. Null when there is none (a stale entry is dropped). Throws like `stat`; the caller
   * then opens the path, which tells what is (not) there. A file read whole is the same object
   * every time: it holds no descriptor, so there is nothing to release. A kept one comes with a
   * lent file, released like a descriptor.
   */
  cached(requestPath: string): FoundVersion | null {
    const entry = this.#cache.get(requestPath);
    if (entry === undefined) return null;
    const hit = entry as CachedHit;
    // A monotonic clock: a wall clock stepped back must not extend how long an entry is trusted.
    const now = performance.now();
    if (now - hit.validatedAt >= this.#options.cacheRevalidateMs) {
      if (!sameIdentity(hit.open.version.identity, this.#options.fs.stat(requestPath))) {
        this.#cache.delete(requestPath);
        return null;
      }
      hit.validatedAt = now;
      hit.open.version.sidecars = null;
    }
    if (hit.kept === null) return hit;
    return { kind: "file", open: { version: hit.open.version, file: hit.kept.lend() } };
  }

  /**
   * A copy to keep of `open`'s file while a response streams it whole (its descriptor's bytes,
   * checked unchanged before the last ones), or null when it is not to be kept: read whole already
   * or lent from memory, larger than `cacheMaxFileBytes`, changed too recently, being kept by
   * another response (one copy per path at a time), or no room in the budget (copies under way
   * reserve their size in it, at most half of it). A completed copy is cached under the version's
   * path and confirmed by a `stat` on its first hit (the path may lead elsewhere by then).
   */
  keepWhileStreaming(open: OpenVersion): StreamCopy | null {
    const version = open.version;
    const size = version.size;
    const path = version.requestPath;
    if (
      version.bytes !== null || open.file === null || isLent(open.file) || size === 0 ||
      size > this.#options.cacheMaxFileBytes || this.#keeping.has(path) ||
      !this.#oldEnoughToCache(version.identity)
    ) {
      return null;
    }
    const counted = size + ENTRY_OVERHEAD_BYTES;
    if (!this.#cache.reserve(counted)) return null;
    this.#keeping.add(path);
    const file = open.file!;
    const bytes = new Uint8Array(size);
    const cache = this.#cache;
    const keeping = this.#keeping;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      keeping.delete(path);
      cache.unhold(counted);
      return true;
    };
    return {
      bytes,
      complete() {
        if (!settle()) return;
        // What a lent file reports (`fstat` as the copy completes): the stream's last check
        // found it unchanged, so it describes these bytes.
        let info: Deno.FileInfo | null = null;
        try {
          info = file.statSync();
        } catch {
          // Not kept: no fstat to describe the bytes.
        }
        if (info === null || !sameContent(version.identity, info)) {
          releaseBytes(bytes);
          return;
        }
        const kept = new KeptContent(bytes, info, cache, counted);
        const hit: CachedHit = {
          kind: "file",
          open: { version, file: null },
          kept,
          cachedBytes: counted,
          recent: false,
          validatedAt: -Infinity,
          evicted: () => kept.evicted(),
          large: true,
          pinned: () => kept.lent > 0,
        };
        cache.set(path, hit);
      },
      abandon() {
        if (settle()) releaseBytes(bytes);
      },
    };
  }

  /**
   * Makes the version of the open `file` (whose `fstat` is `info`) served for `requestPath`.
   * A small file (up to `CACHE_READ_WHOLE_MAX_BYTES` and `cacheMaxFileBytes`) is read into memory
   * and closed; a larger one stays open in the result (and may be kept from the response that
   * streams it: {@linkcode keepWhileStreaming}). Resolves
   * to "changed" (with `file` closed) when the file changed while it was read: its size or mtime
   * moved, its ctime moved while it had one name (`sameContent`), or it ended early.
   *
   * @param names Names the file had at its path when it was proven there (`Opened.names`).
   */
  async load(
    requestPath: string,
    file: StaticFile,
    info: Deno.FileInfo,
    names = -1,
  ): Promise<OpenVersion | "changed"> {
    // The most names the file was seen with: one that had several is judged by size and mtime.
    const identity = identityOf(info);
    identity.nlink = Math.max(identity.nlink, names);
    let bytes: Uint8Array<ArrayBuffer> | null = null;
    let hash: string | null = null;
    try {
      if (info.size <= Math.min(this.#options.cacheMaxFileBytes, CACHE_READ_WHOLE_MAX_BYTES)) {
        bytes = await readExactly(file, info.size);
        if (bytes === null || !sameContent(identity, file.statSync())) {
          file.close();
          return "changed";
        }
      }
      if (info.mtime === null) {
        hash = await this.#hashes.of(requestPath, identity, bytes ?? file);
      }
    } catch (error) {
      file.close();
      if (error instanceof ShrankWhileRead) return "changed";
      throw error;
    }
    if (bytes !== null) file.close();
    const lastModified = info.mtime === null ? null : lastModifiedAt(identity.mtime, Date.now());
    const contentType = contentTypeFor(requestPath);
    const etag = identityEtag(identity, hash);
    const version: FileVersion = {
      requestPath,
      identity,
      size: info.size,
      contentType,
      compressible: this.#options.compression && isCompressible(contentType),
      etag,
      lastModified,
      lastModifiedText: lastModified === null ? null : formatHttpDate(lastModified),
      bytes,
      contentKey: `${identity.dev}/${identity.ino}/${identity.ctime}/${etag}`,
      sidecars: null,
      okHeaders: null,
      okAnswer: null,
    };
    if (bytes === null) return { version, file };
    const open: OpenVersion = { version, file: null };
    if (this.#oldEnoughToCache(identity)) {
      const hit: CachedHit = {
        kind: "file",
        open,
        kept: null,
        cachedBytes: bytes.length + ENTRY_OVERHEAD_BYTES,
        recent: false,
        validatedAt: performance.now(),
      };
      this.#cache.set(requestPath, hit);
    }
    return open;
  }

  /**
   * The "racily clean" guard of the cache (see `DEFAULT_CACHE_MIN_AGE_MS`): both mtime
   * (settable by tools such as `cp -p`, rsync, tar) and ctime (not settable, but reported by
   * Deno in whole seconds, hence the extra second) must be old enough that a later write is
   * bound to change one of them. 0 turns the guard off.
   */
  #oldEnoughToCache(identity: FileIdentity): boolean {
    const minAge = this.#options.cacheMinAgeMs;
    if (minAge === 0) return true;
    const now = Date.now();
    if (identity.mtime !== -1 && now - identity.mtime < minAge) return false;
    if (identity.ctime !== -1 && now - identity.ctime < minAge + 1000) return false;
    return true;
  }
}
