/**
 * Compressing a whole representation, once per file version (`coded_variants.ts` decides when):
 * small inputs on the calling thread, larger ones on a worker thread, so that the event loop goes
 * on answering other requests while a large file is compressed (issue 12).
 *
 * Why a worker thread: in Deno 2.9.6 every compression API runs on the calling thread for the
 * whole input, "async" ones included. Measured with 2 MiB of JavaScript and a 0 ms timer that
 * records how long the event loop stalls: `CompressionStream("gzip")` stalled it 67–200 ms,
 * node:zlib's callback `gzip` 28–40 ms, `brotliCompress` (quality 5) 240–280 ms, `zstdCompress`
 * 23–32 ms — each for its whole length, the timer never ran in between. The same work posted to a
 * worker leaves the event loop free; a round trip for a small input costs 0.3 ms, so inputs up to
 * {@linkcode INLINE_MAX_BYTES} are compressed in place.
 *
 * Why a web `Worker`, not `node:worker_threads`: in Deno 2.9.6 a 2 MB `Uint8Array` posted to a
 * `node:worker_threads` worker, transferred or copied, grows the worker's JavaScript heap by about
 * 60 MiB while it is received, and the process keeps most of those pages: compressing 30 distinct
 * 2 MB files one after another took the CLI server from 60 MiB to 444 MiB (470 MiB at the peak),
 * against 69 MiB without compression. Deno's own `Worker` moves a transferred buffer without a
 * copy: the same 30 files then cost what their compressed bytes take in the cache
 * (`docs/file_server.md`).
 *
 * The worker lives only while it has work: it starts with the first large compression and is
 * ended as soon as its last pending one is answered, which gives its isolate's memory back (a web
 * worker cannot be `unref`'d, so one kept idle would also keep a process alive). Starting one
 * costs about 100 ms on the worker's own thread, paid once per burst of compressions, and
 * compressions are made once per file version. Its program is a `data:` module built from the
 * functions below ({@linkcode workerProgram}), not a file: loading a file would need read access to
 * sockserve's own code, which `deno run --allow-read=site` does not give, and an executable would
 * have to embed it. If the worker fails anyway, compression falls back to the calling thread and
 * the failure is reported once.
 *
 * @module
 */

import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** The content codings produced on the fly (RFC 9110 §8.4.1). */
export type OnTheFlyCoding = "br" | "gzip";

/**
 * Inputs up to this size are compressed on the calling thread: about 0.5 ms of gzip or brotli
 * (quality 5) for 16 KiB of text here, close to a worker round trip, and below what a client can
 * tell from network jitter.
 */
export const INLINE_MAX_BYTES = 16 * 1024;

/**
 * Brotli quality for on-the-fly compression. The representation is made once per file version, so
 * a slower, smaller setting pays: measured on real JavaScript (378 KiB and 609 KiB), quality 5
 * gave 7–8% smaller output than gzip level 6 for 2–5× its time, while quality 6 and above cost
 * 3–10× more again for under 1% more; quality 11 took 9 s for 2 MiB.
 */
export const BROTLI_QUALITY = 5;

/** gzip level (zlib's default): level 9 was 1–2% smaller for twice the time. */
export const GZIP_LEVEL = 6;

/** The bytes as a Uint8Array that owns its whole ArrayBuffer (Buffers may share a pool). */
function owned(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return new Uint8Array(bytes.buffer as ArrayBuffer);
  }
  return new Uint8Array(bytes);
}

/**
 * Compresses `bytes` in `coding` on the calling thread.
 *
 * @example
 * ```ts
 * import { compressNow } from "./compressor.ts";
 * const gz = compressNow(new TextEncoder().encode("hello ".repeat(100)), "gzip");
 * console.log(gz[0] === 0x1f && gz[1] === 0x8b); // true
 * ```
 */
export function compressNow(bytes: Uint8Array, coding: OnTheFlyCoding): Uint8Array<ArrayBuffer> {
  if (coding === "gzip") return owned(gzipSync(bytes, { level: GZIP_LEVEL }));
  return owned(brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }));
}

/** A message to the worker. */
export interface CompressionJob {
  id: number;
  coding: OnTheFlyCoding;
  bytes: Uint8Array;
}

/** The worker's answer to a {@linkcode CompressionJob}. */
export type CompressionReply =
  | { id: number; bytes: Uint8Array<ArrayBuffer> }
  | { id: number; error: string };

/** The part of a worker's global scope that {@linkcode serveJobs} uses. */
interface JobPort {
  addEventListener(event: "message", listener: (event: { data: CompressionJob }) => void): void;
  postMessage(reply: CompressionReply, transfer: ArrayBuffer[]): void;
}

/**
 * The worker thread's loop: compresses each job posted to it, one at a time, and posts the
 * result back without a copy. It holds nothing between jobs. Runs in the worker's own isolate,
 * where it sees only its parameters (see {@linkcode workerProgram}).
 */
function serveJobs(
  port: JobPort,
  compress: (bytes: Uint8Array, coding: OnTheFlyCoding) => Uint8Array<ArrayBuffer>,
): void {
  port.addEventListener("message", ({ data: job }) => {
    try {
      const bytes = compress(job.bytes, job.coding);
      port.postMessage({ id: job.id, bytes }, [bytes.buffer]);
    } catch (error) {
      port.postMessage({
        id: job.id,
        error: error instanceof Error ? error.message : String(error),
      }, []);
    }
  });
}

/**
 * The worker's program, as the source of an ES module: the same {@linkcode compressNow} (and its
 * settings) as this thread runs, and {@linkcode serveJobs}, by their source text — one
 * implementation for both threads (tests/static_compression_test.ts compares their output).
 */
export function workerProgram(): string {
  return [
    `import { brotliCompressSync, constants, gzipSync } from "node:zlib";`,
    `const GZIP_LEVEL = ${GZIP_LEVEL};`,
    `const BROTLI_QUALITY = ${BROTLI_QUALITY};`,
    owned.toString(),
    compressNow.toString(),
    `(${serveJobs.toString()})(self, compressNow);`,
  ].join("\n");
}

/** Compresses whole inputs: in place when small, on a worker thread otherwise. */
export class Compressor {
  readonly #workerSource: string;
  readonly #report: (error: unknown) => void;
  #worker: Worker | null = null;
  /** Workers started so far (each lives only while it has work). */
  #workersStarted = 0;
  /** The worker could not start: compress in place from now on. */
  #workerFailed = false;
  #nextId = 0;
  readonly #jobs = new Map<number, PromiseWithResolvers<Uint8Array<ArrayBuffer>>>();

  /**
   * @param report Told once if the worker cannot start (compression then runs in place).
   * @param workerSource The worker's program (tests may pass another).
   */
  constructor(report: (error: unknown) => void, workerSource: string = workerProgram()) {
    this.#report = report;
    this.#workerSource = workerSource;
  }

  /** Compressions waiting for, or running on, the worker. */
  get pending(): number {
    return this.#jobs.size;
  }

  /** Whether a worker thread runs now (only while compressions are pending). */
  get workerRunning(): boolean {
    return this.#worker !== null;
  }

  /** Worker threads started so far. */
  get workersStarted(): number {
    return this.#workersStarted;
  }

  /**
   * The whole of `bytes` compressed in `coding`. `transfer`: the caller gives up `bytes` (its
   * buffer moves to the worker without a copy); otherwise the worker gets a copy.
   */
  compress(
    bytes: Uint8Array<ArrayBuffer>,
    coding: OnTheFlyCoding,
    transfer: boolean,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (bytes.length <= INLINE_MAX_BYTES || this.#workerFailed) {
      try {
        return Promise.resolve(compressNow(bytes, coding));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const worker = this.#start();
    if (worker === null) return this.compress(bytes, coding, transfer);
    const id = this.#nextId++;
    const job = Promise.withResolvers<Uint8Array<ArrayBuffer>>();
    this.#jobs.set(id, job);
    const message: CompressionJob = { id, coding, bytes };
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    worker.postMessage(message, transfer && whole ? [bytes.buffer] : []);
    return job.promise;
  }

  /** Ends the worker now; pending compressions are rejected. */
  close(): void {
    const worker = this.#worker;
    if (worker === null) return;
    this.#worker = null;
    worker.onmessage = null;
    worker.onerror = null;
    worker.onmessageerror = null;
    worker.terminate();
    for (const [, job] of this.#jobs) job.reject(new Error("the compression worker was closed"));
    this.#jobs.clear();
  }

  #start(): Worker | null {
    if (this.#worker !== null) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(
        new URL(`data:text/javascript,${encodeURIComponent(this.#workerSource)}`),
        { type: "module" },
      );
    } catch (error) {
      this.#fail(error);
      return null;
    }
    this.#workersStarted++;
    worker.onmessage = (event: MessageEvent<CompressionReply>) => this.#done(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // handled here: an unhandled worker error would end the process
      this.#fail(event.error ?? new Error(event.message));
    };
    worker.onmessageerror = () => this.#fail(new Error("a compression reply could not be read"));
    this.#worker = worker;
    return worker;
  }

  #done(reply: CompressionReply): void {
    const job = this.#jobs.get(reply.id);
    if (job === undefined) return;
    this.#jobs.delete(reply.id);
    if ("error" in reply) job.reject(new Error(reply.error));
    else job.resolve(reply.bytes);
    // Nothing left to do: end the worker, which gives its memory back (and a web worker, which
    // cannot be unref'd, would otherwise keep the process alive).
    if (this.#jobs.size === 0) this.close();
  }

  /** The worker failed to start or died: compress in place from now on; say so once. */
  #fail(error: unknown): void {
    const first = !this.#workerFailed;
    this.#workerFailed = true;
    this.close();
    if (first) {
      this.#report(
        new Error(
          "the compression worker could not run; compressing on the main thread instead",
          { cause: error },
        ),
      );
    }
  }
}
