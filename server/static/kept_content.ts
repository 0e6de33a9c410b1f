/**
 * Large files kept in memory (issue 12, S4): the content of a version too large to be read whole on
 * a cache miss (over `CACHE_READ_WHOLE_MAX_BYTES`) but within `cacheMaxFileBytes`, copied while the
 * first response that streams it whole goes (`file_stream.ts`, {@linkcode StreamCopy}), then lent
 * to every response that sends it, as a file of its own ({@linkcode KeptContent.lend}).
 *
 * Why: Deno cannot `sendfile`, so a file streamed from disk costs, per 1 MiB chunk, a read on
 * Deno's blocking thread pool (a round trip between threads and a kernel copy) before the socket
 * writes. Lent from memory, a chunk is one copy on the event loop. Measured on S4 (a 10 MiB file,
 * 8 connections, the server on one core and a client that reads 1 MiB at a time on the other; one
 * run, 2026-11-30): 3.0–5.2 ms of server CPU per response lent from memory against 4.9–7.0 ms
 * streamed from disk, and 7.3–7.5 ms for `Deno.serve`.
 *
 * Memory stays within the file cache's budget (`file_cache.ts`): a copy under way is reserved in
 * it before its bytes are allocated, and content evicted while responses still send it stays
 * counted until the last of them is done. So however clients behave, the kept content in memory
 * never exceeds `cacheMaxTotalBytes`. Large content in all (kept, being copied, evicted but still
 * sent) stays within half of it (`ByteBudgetCache.reserve`), so that slow clients holding large
 * files never push the small files out.
 *
 * @module
 */

import type { StaticFile } from "./file_system.ts";

/** What a {@linkcode KeptContent} needs of the cache whose budget counts it. */
export interface HeldBytes {
  hold(bytes: number): void;
  unhold(bytes: number): void;
}

/**
 * The bytes of one large file version in memory, lent to each response that sends them, and
 * counted in the cache's budget for as long as the cache or a response holds them.
 */
export class KeptContent {
  /** The whole file. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The `fstat` of the descriptor they were read from: what a lent file reports. */
  readonly info: Deno.FileInfo;
  readonly #budget: HeldBytes;
  readonly #countedBytes: number;
  /** Responses sending these bytes now. */
  #lent = 0;
  /** Whether the budget counts these bytes as held (evicted, still lent). */
  #held = false;

  /**
   * @param countedBytes What the cache entry holding these bytes counts (content and overhead).
   */
  constructor(
    bytes: Uint8Array<ArrayBuffer>,
    info: Deno.FileInfo,
    budget: HeldBytes,
    countedBytes: number,
  ) {
    this.bytes = bytes;
    this.info = info;
    this.#budget = budget;
    this.#countedBytes = countedBytes;
  }

  /** Responses sending these bytes now. */
  get lent(): number {
    return this.#lent;
  }

  /** A file reading these bytes, owned by the caller; closing it ends the loan. */
  lend(): StaticFile {
    this.#lent++;
    return new LentFile(this);
  }

  /**
   * The cache let go of these bytes (they are never lent again): while responses still send them,
   * they stay counted in its budget (held) until the last one is done; then, or now if none does,
   * their memory is given back ({@linkcode releaseBytes}).
   */
  evicted(): void {
    if (this.#lent === 0) releaseBytes(this.bytes);
    else if (!this.#held) {
      this.#held = true;
      this.#budget.hold(this.#countedBytes);
    }
  }

  /** A loan ended (called once per lent file). */
  returned(): void {
    this.#lent--;
    if (this.#lent === 0 && this.#held) {
      this.#held = false;
      this.#budget.unhold(this.#countedBytes);
      releaseBytes(this.bytes);
    }
  }
}

/** A file that reads kept bytes: what a response streams a kept version from. */
class LentFile implements StaticFile {
  readonly #content: KeptContent;
  #position = 0;
  #closed = false;

  constructor(content: KeptContent) {
    this.#content = content;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("the file is closed"));
    const bytes = this.#content.bytes;
    if (this.#position >= bytes.length || buffer.length === 0) {
      return Promise.resolve(buffer.length === 0 ? 0 : null);
    }
    const count = Math.min(buffer.length, bytes.length - this.#position);
    buffer.set(bytes.subarray(this.#position, this.#position + count));
    this.#position += count;
    return Promise.resolve(count);
  }

  seek(offset: number, whence: Deno.SeekMode): Promise<number> {
    const base = whence === Deno.SeekMode.Start
      ? 0
      : whence === Deno.SeekMode.Current
      ? this.#position
      : this.#content.bytes.length;
    const position = base + offset;
    if (position < 0) return Promise.reject(new TypeError("seek to a negative position"));
    this.#position = position;
    return Promise.resolve(position);
  }

  statSync(): Deno.FileInfo {
    return this.#content.info;
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the file is already closed");
    this.#closed = true;
    this.#content.returned();
  }
}

/**
 * Gives the memory of `bytes`, which nothing will read again, back now instead of whenever the
 * garbage collector gets to it: its buffer is detached (`ArrayBuffer.prototype.transfer(0)` frees
 * the backing store at once). Left to the collector, copies abandoned by cut downloads and content
 * evicted by churn stayed as garbage: measured (`Deno.memoryUsage().external` at peak, 12 clients
 * downloading eight 10 MiB files in turn; 8 clients cutting downloads of 10–16 MiB files at random
 * points), 70 and 56 MiB above the same load without kept files, against 30 and 10 MiB freed at
 * once: within the budget.
 */
export function releaseBytes(bytes: Uint8Array<ArrayBuffer>): void {
  if (!bytes.buffer.detached) bytes.buffer.transfer(0);
}

/** Whether `file` reads kept bytes (it needs no copy kept of it). */
export function isLent(file: StaticFile | null): boolean {
  return file instanceof LentFile;
}
