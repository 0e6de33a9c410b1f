/**
 * A bounded in-memory cache of small files and of compressed representations, with one byte
 * budget for both.
 *
 * Serving a small file from memory saves an open, a read and a close per request (issue 5, S3).
 * A cached entry is validated by a `stat` of its path, comparing the file's identity (device,
 * inode, size, mtime, ctime, birth time: the fields its ETag is made of) with what was read — at
 * most once per {@linkcode DEFAULT_CACHE_REVALIDATE_MS} (issue 12): in between, the entry is served
 * as it is, so a file replaced on disk may still be served, whole and with its own validators, for
 * up to that long. Entries are keyed by request path. Millisecond timestamps could miss a rewrite
 * of the same size within the same tick (and Deno reports ctime in whole seconds), so a file is
 * only cached once its mtime and ctime are at least {@linkcode DEFAULT_CACHE_MIN_AGE_MS} in the
 * past (git's "racily clean" rule): any later write then necessarily moves the ctime.
 *
 * @module
 */

/**
 * Largest file kept in memory; larger files are streamed from disk on every request. Half the
 * default budget, so that one file never takes the room of everything else; a file is kept only
 * if it also fits in half the budget with its 512 bytes of bookkeeping, so with the default budget
 * the largest kept is 16 MiB − 512 bytes. Files up to
 * {@linkcode CACHE_READ_WHOLE_MAX_BYTES} are read whole when first asked for; larger ones are kept
 * from the first response that streams them whole (`kept_content.ts`).
 */
export const DEFAULT_CACHE_MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Largest file read whole into memory on a cache miss. Above this, a miss streams the file and a
 * copy is kept as it goes (`kept_content.ts`): reading whole on every miss would let N concurrent
 * misses of a large file hold N copies of it.
 */
export const CACHE_READ_WHOLE_MAX_BYTES = 256 * 1024;

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

/**
 * What identifies one version of a file on disk: where it is (device, inode), what it holds (size,
 * mtime) and when its inode last changed and was made (ctime, birth time). mtime alone can be set
 * to anything (`cp -p`, `touch -d`, `rsync -t`); ctime and birth time cannot, so a file deleted and
 * made again under a reused inode number, with the same size and a copied mtime, still differs.
 * Fields a file system does not report are -1.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  /** ms since the epoch. */
  mtime: number;
  /** ms since the epoch (Deno reports whole seconds). */
  ctime: number;
  /** ms since the epoch (Linux `statx`, macOS, Windows; -1 where not reported). */
  birthtime: number;
  /**
   * Names it had (`nlink`) when the identity was taken (the most seen, by the `lstat` that found it
   * at its path and by its `fstat`). Not part of what identifies a version
   * (a new name leaves the bytes as they were; ctime records the change): {@linkcode sameContent}
   * uses it to tell a content change from a name change.
   */
  nlink: number;
}

function time(date: Date | null | undefined): number {
  return date === null || date === undefined ? -1 : date.getTime();
}

/** The identity of a stat result (null fields, as in embedded files, become -1). */
export function identityOf(info: Deno.FileInfo): FileIdentity {
  return {
    dev: info.dev,
    ino: info.ino ?? -1,
    size: info.size,
    mtime: time(info.mtime),
    ctime: time(info.ctime),
    birthtime: time(info.birthtime),
    nlink: info.nlink ?? -1,
  };
}

/** Whether a fresh stat still describes the cached version (every field of its identity). */
export function sameIdentity(identity: FileIdentity, info: Deno.FileInfo): boolean {
  return info.isFile && identity.size === info.size && identity.ino === (info.ino ?? -1) &&
    identity.dev === info.dev && identity.mtime === time(info.mtime) &&
    identity.ctime === time(info.ctime) && identity.birthtime === time(info.birthtime);
}

/**
 * Whether the content an open file's fresh `fstat` describes is still the one `identity` was
 * taken from: same size and mtime, and, for a file with exactly one name then and now, same ctime.
 *
 * A write moves mtime, but a writer can set it back (`cp -p` or `install -p` onto an existing
 * file, `rsync --inplace -t`, reproducible builds whose every file has the same mtime); ctime then
 * moves, and cannot be set back. ctime also moves when the file only gains or loses a name, which
 * leaves its bytes as they were: a file replaced by rename or deleted (no name left), or one with
 * several names (hard links, which deploys juggle) is judged by size and mtime only. A file
 * with one name whose ctime moved otherwise (renamed to another name, its mode changed) counts as
 * changed: rare, and the safe side.
 *
 * What stays invisible: a rewrite keeping size and mtime within the same second as the file's
 * previous inode change (Deno reports ctime in whole seconds), or of a file with several names.
 */
export function sameContent(identity: FileIdentity, info: Deno.FileInfo): boolean {
  if (identity.size !== info.size || identity.mtime !== time(info.mtime)) return false;
  return identity.ctime === time(info.ctime) || identity.nlink !== 1 || info.nlink !== 1;
}

/** What a {@linkcode ByteBudgetCache} holds: values that know their size. */
export interface BudgetEntry {
  /** Bytes the entry holds (content and overhead). */
  cachedBytes: number;
  /** Used since the eviction scan last passed it (set by `get`, cleared by the scan). */
  recent: boolean;
  /** Called when the entry leaves the cache (evicted, replaced or deleted). */
  evicted?(): void;
  /**
   * Large content kept from a stream (`kept_content.ts`): such entries, together with what is
   * held beside the entries, stay within half the budget ({@linkcode ByteBudgetCache.reserve}).
   */
  large?: boolean;
  /** Whether evicting it now would free nothing (its content is still being sent). */
  pinned?(): boolean;
}

/**
 * A map with a byte budget that evicts the least recently used entries, approximately: a hit only
 * sets a flag ("second chance", the CLOCK algorithm), and the eviction scan moves a flagged entry
 * to the young end instead of evicting it. A hit then costs a property write instead of a `Map`
 * delete and insert (measured in S3: the exact LRU's reordering was 2% of the server's CPU time).
 */
export class ByteBudgetCache<V extends BudgetEntry> {
  #entries = new Map<string, V>();
  /** Bytes of the entries and of what is held beside them. */
  #totalBytes = 0;
  /** Bytes held beside the entries: copies under way and evicted content still being sent. */
  #heldBytes = 0;
  /** Bytes of large entries and of what is held (all of it large content): at most half. */
  #largeBytes = 0;
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

  /** Bytes held beside the entries ({@linkcode hold}, {@linkcode reserve}). */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /**
   * Counts `bytes` that live outside the entries but in this budget, now and without evicting
   * (the next {@linkcode set} or {@linkcode reserve} makes room): content evicted while responses
   * still send it. Given back with {@linkcode unhold}.
   */
  hold(bytes: number): void {
    this.#heldBytes += bytes;
    this.#largeBytes += bytes;
    this.#totalBytes += bytes;
  }

  /** Stops counting bytes counted by {@linkcode hold} or {@linkcode reserve}. */
  unhold(bytes: number): void {
    this.#heldBytes -= bytes;
    this.#largeBytes -= bytes;
    this.#totalBytes -= bytes;
  }

  /** Bytes of large content: large entries, copies under way, evicted content being sent. */
  get largeBytes(): number {
    return this.#largeBytes;
  }

  /**
   * Counts `bytes` of large content about to be allocated outside the entries (a copy under way),
   * evicting entries to make room: first large entries, oldest first, none whose content is still
   * being sent and none used since the last time a copy needed room (their second chance, as in
   * the rest of the cache), until large content in all (large entries, copies under way and
   * evicted content still being sent) fits in half the budget with `bytes`. Refused (false), with
   * nothing evicted, when that cannot be done: the other half is always the small files', so that
   * a few slow clients holding large files can never push every small file out of memory, and two
   * large files asked for in turn do not evict each other on every request.
   */
  reserve(bytes: number): boolean {
    const half = this.maxTotalBytes / 2;
    if (this.#heldBytes + bytes > half) return false;
    if (!this.#evictLarge(this.#largeBytes + bytes - half)) return false;
    this.hold(bytes);
    this.#evict(null);
    // Entries evicted while their content is still being sent stay counted (held), so eviction
    // may not have made room.
    if (this.#totalBytes <= this.maxTotalBytes) return true;
    this.unhold(bytes);
    return false;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) value.recent = true;
    return value;
  }

  /**
   * Stores `value` (replacing any entry of `key`); a value that does not fit in the budget beside
   * what is held ({@linkcode hold}) is not kept.
   */
  set(key: string, value: V): void {
    this.delete(key);
    if (
      value.cachedBytes + this.#heldBytes > this.maxTotalBytes ||
      (value.large === true && value.cachedBytes + this.#largeBytes > this.maxTotalBytes / 2)
    ) {
      value.evicted?.();
      return;
    }
    value.recent = false;
    this.#entries.set(key, value);
    this.#totalBytes += value.cachedBytes;
    if (value.large === true) this.#largeBytes += value.cachedBytes;
    this.#evict(value);
    // Entries evicted while their content is still being sent stay counted (held).
    if (this.#totalBytes > this.maxTotalBytes) this.delete(key);
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#totalBytes -= old.cachedBytes;
      if (old.large === true) this.#largeBytes -= old.cachedBytes;
      old.evicted?.();
    }
  }

  /**
   * Frees `needed` bytes of large content by evicting large entries that are neither being sent
   * nor used since the last call (whose use flag it clears instead), oldest first; or evicts
   * nothing and returns false when those are not enough.
   */
  #evictLarge(needed: number): boolean {
    if (needed <= 0) return true;
    const victims: string[] = [];
    let freed = 0;
    for (const [key, value] of this.#entries) {
      if (value.large !== true || value.pinned?.() === true) continue;
      if (value.recent) {
        value.recent = false;
        continue;
      }
      if (freed < needed) {
        victims.push(key);
        freed += value.cachedBytes;
      }
    }
    if (freed < needed) return false;
    for (const key of victims) this.delete(key);
    return true;
  }

  /** Evicts from the old end until the budget holds, `added` (just stored, if any) last. */
  #evict(added: V | null): void {
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
