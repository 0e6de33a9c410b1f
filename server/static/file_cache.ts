/**
 * A bounded in-memory cache of small files and of compressed representations, with one byte
 * budget for both.
 *
 * Serving a small file from memory saves an open, a read and a close per request (issue 5, S3).
 * A cached entry is validated by a `stat` of its path, comparing the file's identity (device,
 * inode, size, mtime, ctime) with what was read — at most once per
 * {@linkcode DEFAULT_CACHE_REVALIDATE_MS} (issue 12): in between, the entry is served as it is, so
 * a file replaced on disk may still be served, whole and with its own validators, for up to that
 * long. Millisecond timestamps could miss a rewrite of the same size within the same tick (and Deno
 * reports ctime in whole seconds), so a file is only cached once its mtime and ctime are at least
 * {@linkcode DEFAULT_CACHE_MIN_AGE_MS} in the past (git's "racily clean" rule): any later write then
 * necessarily moves the ctime.
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

/**
 * How long a cached entry is served without asking the file system whether the file changed
 * (0: a `stat` on every hit). Measured in S3 (1 KiB file, 64 connections, `bench/profile.ts`):
 * with a `stat` on every hit, `op_fs_stat_sync` was 16% of the server's busy time; revalidating at
 * most four times a second, the `stat` leaves the profile (one per ~6,000 requests of a hot file
 * at 25,000 req/s). 250 ms is below what a person notices between saving a file
 * and reloading a page, and the server's timeouts have the same resolution (`server/clock.ts`).
 * nginx's `open_file_cache_valid` is 60 s.
 */
export const DEFAULT_CACHE_REVALIDATE_MS = 250;

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

/** What a {@linkcode ByteBudgetCache} holds: values that know their size. */
export interface BudgetEntry {
  /** Bytes the entry holds (content and overhead). */
  cachedBytes: number;
  /** Used since the eviction scan last passed it (set by `get`, cleared by the scan). */
  recent: boolean;
  /** Called when the entry leaves the cache (evicted, replaced or deleted). */
  evicted?(): void;
}

/**
 * A map with a byte budget that evicts the least recently used entries, approximately: a hit only
 * sets a flag ("second chance", the CLOCK algorithm), and the eviction scan moves a flagged entry
 * to the young end instead of evicting it. A hit then costs a property write instead of a `Map`
 * delete and insert (measured in S3: the exact LRU's reordering was 2% of the server's CPU time).
 */
export class ByteBudgetCache<V extends BudgetEntry> {
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
    if (value !== undefined) value.recent = true;
    return value;
  }

  /** Stores `value` (replacing any entry of `key`); a value larger than the budget is not kept. */
  set(key: string, value: V): void {
    this.delete(key);
    if (value.cachedBytes > this.maxTotalBytes) {
      value.evicted?.();
      return;
    }
    value.recent = false;
    this.#entries.set(key, value);
    this.#totalBytes += value.cachedBytes;
    this.#evict(value);
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#totalBytes -= old.cachedBytes;
      old.evicted?.();
    }
  }

  /** Evicts from the old end until the budget holds, `added` (just stored) last. */
  #evict(added: V): void {
    while (this.#totalBytes > this.maxTotalBytes) {
      let victim: string | null = null;
      // A Map iterates in insertion order and also visits entries moved to its end meanwhile, so
      // once every entry has had its second chance the scan reaches the first of them again.
      for (const [key, value] of this.#entries) {
        if (value === added) continue;
        if (!value.recent) {
          victim = key;
          break;
        }
        value.recent = false;
        this.#entries.delete(key);
        this.#entries.set(key, value);
      }
      if (victim === null) return;
      this.delete(victim);
    }
  }
}
