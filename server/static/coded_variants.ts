/**
 * Representations compressed on the fly, made once (issue 12): kept by file content and coding
 * in the file cache's byte budget, made once however many requests want one at the same time
 * (single flight), one at a time on the compressor's worker, and never more than
 * {@linkcode MAX_PENDING_COMPRESSIONS} waiting: past that, a request is answered without
 * compression rather than queued behind files it did not ask for.
 *
 * Measured with a 2.1 MB JavaScript file asked for with `Accept-Encoding: gzip`: gzip on every
 * request gave 13.5 responses/s; made once, the compressed bytes are served from memory like any
 * cached file.
 *
 * @module
 */

import type { PreparedAnswer } from "../prepared_response.ts";
import { type Compressor, INLINE_MAX_BYTES, type OnTheFlyCoding } from "./compressor.ts";

/** What making variants needs of a {@linkcode Compressor} (tests pass their own). */
export type Compress = Pick<Compressor, "compress">;
import { type BudgetEntry, type ByteBudgetCache, sameContent } from "./file_cache.ts";
import { readExactly } from "./file_stream.ts";
import type { FileVersion, OpenVersion } from "./file_version.ts";

/**
 * Most compressions made or waited for at once, counted by distinct (file, coding). Each waiting
 * one holds its request's file descriptor; only the running one holds file bytes in memory. With
 * one worker thread, the last of them waits for the ones before it.
 */
export const MAX_PENDING_COMPRESSIONS = 4;

/** Extra bytes counted per cached variant besides its content (objects, head, key). */
const VARIANT_OVERHEAD_BYTES = 512;

/** One compressed representation of one file version, in the cache. */
export interface CodedVariant extends BudgetEntry {
  readonly kind: "coded";
  readonly coding: OnTheFlyCoding;
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Its 200 answer, made on first use for the content type it was made for. */
  answer: PreparedAnswer | null;
  answerType: string;
}

/** The cache key of a variant: its coding and its version's content. */
function variantKey(version: FileVersion, coding: OnTheFlyCoding): string {
  return `${coding}\0${version.contentKey}`;
}

/** Compressed representations of file versions, made once and kept in a byte budget. */
export class CodedVariants {
  readonly #cache: ByteBudgetCache<BudgetEntry & { kind: string }>;
  readonly #compressor: Compress;
  /** Compressions being made or waited for, by key: every request for one shares it. */
  readonly #inFlight = new Map<string, Promise<CodedVariant | null>>();
  /** The compression that runs now, or ran last: the next one starts after it. */
  #running: Promise<unknown> = Promise.resolve();

  constructor(cache: ByteBudgetCache<BudgetEntry & { kind: string }>, compressor: Compress) {
    this.#cache = cache;
    this.#compressor = compressor;
  }

  /** Compressions being made or waited for. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** The variant of `version` in `coding` if it is made, else null (synchronous). */
  ready(version: FileVersion, coding: OnTheFlyCoding): CodedVariant | null {
    const entry = this.#cache.get(variantKey(version, coding));
    return entry !== undefined && entry.kind === "coded" ? entry as CodedVariant : null;
  }

  /**
   * Makes the variant of `open`'s version in `coding`, or joins the compression of it already
   * under way. Resolves to null when it cannot be made: the file changed while it was read, or
   * compressing failed. Returns null at once when {@linkcode MAX_PENDING_COMPRESSIONS} are
   * pending. The descriptor of `open` stays its owner's, who must keep it open until this
   * settles (it is read, then rewound).
   */
  make(open: OpenVersion, coding: OnTheFlyCoding): Promise<CodedVariant | null> | null {
    const version = open.version;
    const key = variantKey(version, coding);
    const joined = this.#inFlight.get(key);
    if (joined !== undefined) return joined;
    let made: Promise<CodedVariant | null>;
    if (version.bytes !== null && version.size <= INLINE_MAX_BYTES) {
      // Compressed in place, in less time than a worker's round trip: no queue.
      made = this.#compress(open, coding, key);
    } else {
      if (this.#inFlight.size >= MAX_PENDING_COMPRESSIONS) return null;
      // One at a time, so that only the running one holds a large file's bytes.
      made = this.#running.then(() => this.#compress(open, coding, key));
      this.#running = made.then(noop, noop);
    }
    made = made.catch(() => null).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, made);
    return made;
  }

  async #compress(
    open: OpenVersion,
    coding: OnTheFlyCoding,
    key: string,
  ): Promise<CodedVariant | null> {
    const version = open.version;
    let source = version.bytes;
    let transfer = false;
    if (source === null) {
      const file = open.file;
      if (file === null) return null;
      source = await readExactly(file, version.size);
      const changed = source === null || !sameContent(version.identity, file.statSync());
      await file.seek(0, Deno.SeekMode.Start);
      if (changed) return null;
      transfer = true; // read for this compression only
    }
    const bytes = await this.#compressor.compress(source!, coding, transfer);
    const variant: CodedVariant = {
      kind: "coded",
      coding,
      bytes,
      answer: null,
      answerType: "",
      cachedBytes: bytes.length + VARIANT_OVERHEAD_BYTES,
      recent: false,
    };
    this.#cache.set(key, variant);
    return variant;
  }
}

function noop(): void {}
