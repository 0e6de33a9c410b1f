/**
 * A bounded in-memory cache of small files, validated by `stat` on every use.
 *
 * Serving a small file from memory saves an open, a read and a close per request (issue 5, S3).
 * It never serves stale content: each hit stats the path and compares the file's identity (device,
 * inode, size, mtime, ctime) with what was read. Millisecond timestamps could miss a rewrite of the
 * same size within the same tick (and Deno reports ctime in whole seconds), so a file is only
 * cached once its mtime and ctime are at least {@linkcode DEFAULT_CACHE_MIN_AGE_MS} in the past
 * (git's "racily clean" rule): any later write then necessarily moves the ctime.
 *
 * @module
 */

/** Largest file kept in memory; larger files are streamed from disk on every request. */
export const DEFAULT_CACHE_MAX_FILE_BYTES = 256 * 1024;

/**
 * Total bytes of cached content (compressed variants included). Small sites fit entirely; the
 * bound keeps a container's memory predictable (nginx's `open_file_cache` caches descriptors only,
 * Caddy and the standard library's file server cache nothing).
 */
export const DEFAULT_CACHE_MAX_TOTAL_BYTES = 32 * 1024 * 1024;

/**
 * How old (by mtime) a file must be before its content is cached. File systems with 1 s or 2 s
 * timestamp resolution (ext3, FAT) would otherwise let a same-size rewrite look unchanged.
 */
export const DEFAULT_CACHE_MIN_AGE_MS = 2_000;

/** What identifies one version of a file on disk. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
}

/** The identity of a stat result (null fields, as in embedded files, become -1). */
export function identityOf(info: Deno.FileInfo): FileIdentity {
  return {
    dev: info.dev,
    ino: info.ino ?? -1,
    size: info.size,
    mtime: info.mtime === null ? -1 : info.mtime.getTime(),
    ctime: info.ctime === null ? -1 : info.ctime.getTime(),
  };
}

/** Whether a fresh stat still describes the cached version. */
export function sameIdentity(identity: FileIdentity, info: Deno.FileInfo): boolean {
  return info.isFile && identity.size === info.size && identity.ino === (info.ino ?? -1) &&
    identity.dev === info.dev &&
    identity.mtime === (info.mtime === null ? -1 : info.mtime.getTime()) &&
    identity.ctime === (info.ctime === null ? -1 : info.ctime.getTime());
}

/**
 * Whether the content an open file's fresh `fstat` describes is still the one `identity` was
 * taken from: same size and mtime. ctime is left out on purpose: it also moves when the file only
 * loses a name (replaced by rename, deleted) or gains one (a hard link), which leaves its bytes as
 * they were; a write moves mtime.
 */
export function sameContent(identity: FileIdentity, info: Deno.FileInfo): boolean {
  return identity.size === info.size &&
    identity.mtime === (info.mtime === null ? -1 : info.mtime.getTime());
}

/** A least-recently-used map with a byte budget. */
export class ByteBudgetCache<V extends { cachedBytes: number }> {
  #entries = new Map<string, V>();
  #totalBytes = 0;
  readonly maxTotalBytes: number;

  constructor(maxTotalBytes: number) {
    this.maxTotalBytes = maxTotalBytes;
  }

  /** Bytes held now. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      // Move to the most-recent end of the Map's insertion order.
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    if (value.cachedBytes > this.maxTotalBytes) return;
    this.#entries.set(key, value);
    this.#totalBytes += value.cachedBytes;
    this.#evict();
  }

  /** Accounts for bytes added to an entry after it was stored (a compressed variant). */
  grow(key: string, value: V, bytes: number): void {
    if (this.#entries.get(key) !== value) return;
    value.cachedBytes += bytes;
    this.#totalBytes += bytes;
    this.#evict();
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#totalBytes -= old.cachedBytes;
    }
  }

  #evict(): void {
    for (const [key, value] of this.#entries) {
      if (this.#totalBytes <= this.maxTotalBytes) break;
      this.#entries.delete(key);
      this.#totalBytes -= value.cachedBytes;
    }
  }
}
