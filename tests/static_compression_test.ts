/**
 * Compression done once (issue 12): compressed representations made once per file version and
 * coding, shared by the requests that arrive meanwhile, made on a worker thread so that other
 * requests are answered meanwhile, bounded in number, counted in the cache's byte budget; and the
 * cache itself (second-chance eviction within a byte budget).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { createFileServer, type StaticFileSystem } from "../server/static/file_server.ts";
import { denoFileSystem, type StaticFile } from "../server/static/file_system.ts";
import { type BudgetEntry, ByteBudgetCache } from "../server/static/file_cache.ts";
import {
  CodedVariants,
  type Compress,
  MAX_PENDING_COMPRESSIONS,
} from "../server/static/coded_variants.ts";
import { compressNow, Compressor, INLINE_MAX_BYTES } from "../server/static/compressor.ts";
import type { FileVersion, OpenVersion } from "../server/static/file_version.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const YEAR_AGO = new Date(Date.now() - 365 * 24 * 3600 * 1000);

/** Text that compresses like source code: words from a small vocabulary, in no fixed order. */
function sourceLikeText(bytes: number, seed = 1): string {
  const words = ["const", "return", "function", "value", "index", "length", "if", "else", "map"];
  let state = seed;
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const word = words[state % words.length]! + (state % 7 === 0 ? ";\n" : " ");
    parts.push(word);
    length += word.length;
  }
  return parts.join("").slice(0, bytes);
}

async function makeSite(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "sockserve_compression_" });
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(join(root, name), content);
    await Deno.utime(join(root, name), YEAR_AGO, YEAR_AGO);
  }
  return root;
}

/** A file system that counts the bytes read from each path, and can tell when one is read. */
function readCountingFileSystem() {
  const bytesRead = new Map<string, number>();
  const watchers: { path: string; bytes: number; resolve: () => void }[] = [];
  const fileSystem: StaticFileSystem = {
    ...denoFileSystem,
    open: async (path) => {
      const file = await Deno.open(path);
      return {
        read: async (buffer: Uint8Array) => {
          const read = await file.read(buffer);
          const total = (bytesRead.get(path) ?? 0) + (read ?? 0);
          bytesRead.set(path, total);
          for (const watcher of watchers) {
            if (watcher.path === path && total >= watcher.bytes) watcher.resolve();
          }
          return read;
        },
        seek: (offset: number, whence: Deno.SeekMode) => file.seek(offset, whence),
        statSync: () => file.statSync(),
        close: () => file.close(),
      };
    },
  };
  /** Resolves once `bytes` of `path` have been read in all. */
  const whenRead = (path: string, bytes: number) =>
    new Promise<void>((resolve) => watchers.push({ path, bytes, resolve }));
  return { fileSystem, bytesRead, whenRead };
}

Deno.test("compression: a large file asked for by many clients at once is read and compressed once", async () => {
  const text = sourceLikeText(600_000);
  const root = await makeSite({ "big.js": text });
  try {
    const { fileSystem, bytesRead } = readCountingFileSystem();
    const handler = createFileServer({ root, fileSystem });
    const responses = await Promise.all(
      Array.from(
        { length: 8 },
        () => handler(new Request("http://x/big.js", { headers: { "accept-encoding": "gzip" } })),
      ),
    );
    const bodies = await Promise.all(responses.map((response) => response.bytes()));
    for (const [i, response] of responses.entries()) {
      assert.equal(response.headers.get("content-encoding"), "gzip");
      assert.equal(response.headers.get("content-length"), String(bodies[i]!.length));
      assert.deepEqual(bodies[i], bodies[0]);
    }
    assert.equal(decoder.decode(gunzipSync(bodies[0]!)), text);
    // Read once for the compression (plus the 1-byte probes of nothing else: a large file is
    // not cached, and identity was never sent).
    assert.equal(bytesRead.get(join(root, "big.js")), text.length);
    // Later requests take the kept bytes: nothing more is read.
    const later = await handler(
      new Request("http://x/big.js", { headers: { "accept-encoding": "gzip" } }),
    );
    assert.deepEqual(await later.bytes(), bodies[0]);
    assert.equal(bytesRead.get(join(root, "big.js")), text.length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("compression: a small file is answered while a large one is compressed on the worker thread", async () => {
  const big = sourceLikeText(6 * 1024 * 1024, 7);
  const root = await makeSite({ "big.js": big, "small.txt": "small" });
  try {
    const { fileSystem, whenRead } = readCountingFileSystem();
    const handler = createFileServer({ root, fileSystem });
    const bigRead = whenRead(join(root, "big.js"), big.length);
    let bigDone = false;
    const bigResponse = handler(
      new Request("http://x/big.js", { headers: { "accept-encoding": "br" } }),
    ).then((response) => {
      bigDone = true;
      return response;
    });
    // The file is in memory and handed to the worker: brotli takes a while for 6 MiB.
    await bigRead;
    const small = await handler(new Request("http://x/small.txt"));
    assert.equal(await small.text(), "small");
    assert.equal(bigDone, false, "the small file did not wait for the compression");
    const response = await bigResponse;
    assert.equal(response.headers.get("content-encoding"), "br");
    assert.equal(decoder.decode(brotliDecompressSync(await response.bytes())), big);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("compression: a file changed while it is read for compression is sent as it is", async () => {
  const text = sourceLikeText(300_000, 3);
  const root = await makeSite({ "page.js": text });
  try {
    let reads = 0;
    let lie = false;
    const fileSystem: StaticFileSystem = {
      ...denoFileSystem,
      open: async (path) => {
        const file = await Deno.open(path);
        const wrapped: StaticFile = {
          read: async (buffer) => {
            const read = await file.read(buffer);
            reads += read ?? 0;
            // Once the whole file has been read for compression, its next fstat says it moved.
            if (read === null && reads >= text.length) lie = true;
            return read;
          },
          seek: (offset, whence) => file.seek(offset, whence),
          statSync: () => {
            const info = file.statSync();
            if (!lie) return info;
            lie = false;
            return { ...info, mtime: new Date((info.mtime?.getTime() ?? 0) + 1000) };
          },
          close: () => file.close(),
        };
        return wrapped;
      },
    };
    const handler = createFileServer({ root, fileSystem });
    const response = await handler(
      new Request("http://x/page.js", { headers: { "accept-encoding": "gzip" } }),
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-encoding"), null);
    assert.equal(response.headers.get("vary"), "Accept-Encoding");
    assert.equal(await response.text(), text);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A version of `size` bytes not in memory, as a large file's would be. */
function fakeOpen(name: string, size: number, file: StaticFile | null): OpenVersion {
  const version = {
    requestPath: `/site/${name}`,
    identity: { dev: 1, ino: name.length, size, mtime: 1, ctime: 1, birthtime: 1, nlink: 1 },
    size,
    contentType: "text/plain; charset=utf-8",
    compressible: true,
    etag: `"${name}"`,
    lastModified: 0,
    lastModifiedText: null,
    bytes: null,
    contentKey: name,
    sidecars: null,
    okHeaders: null,
    okAnswer: null,
  } satisfies FileVersion;
  return { version, file };
}

/** A StaticFile of `size` zero bytes that never changes. */
function zeroFile(size: number): StaticFile {
  let position = 0;
  return {
    read: (buffer) => {
      if (position >= size) return Promise.resolve(null);
      const n = Math.min(buffer.length, size - position);
      buffer.fill(0, 0, n);
      position += n;
      return Promise.resolve(n);
    },
    seek: (offset) => Promise.resolve(position = offset),
    statSync: () => ({ size, mtime: new Date(1) }) as Deno.FileInfo,
    close: () => {},
  };
}

Deno.test("compression: past the pending bound, a request is answered without waiting", async () => {
  const started: (() => void)[] = [];
  const compressor: Compress = {
    compress: (_bytes, _coding) =>
      new Promise((resolve) => started.push(() => resolve(new Uint8Array(10)))),
  };
  const cache = new ByteBudgetCache<BudgetEntry & { kind: string }>(1024 * 1024);
  const variants = new CodedVariants(cache, compressor);
  const size = INLINE_MAX_BYTES + 1;
  const made: (Promise<unknown> | null)[] = [];
  for (let i = 0; i < MAX_PENDING_COMPRESSIONS; i++) {
    made.push(variants.make(fakeOpen(`f${i}`, size, zeroFile(size)), "gzip"));
  }
  assert.ok(made.every((promise) => promise !== null));
  assert.equal(variants.pending, MAX_PENDING_COMPRESSIONS);
  // Another file: declined at once (the caller sends it as it is).
  assert.equal(variants.make(fakeOpen("other", size, zeroFile(size)), "gzip"), null);
  // The same file and coding again: joins the compression under way.
  const joined = variants.make(fakeOpen("f0", size, zeroFile(size)), "gzip");
  assert.equal(joined, made[0]);
  // One compression runs at a time: each starts once the one before it is done.
  for (let i = 0; i < MAX_PENDING_COMPRESSIONS; i++) {
    while (started.length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(started.length, i + 1, "one at a time");
    started[i]!();
    const variant = await made[i]! as { bytes: Uint8Array } | null;
    assert.equal(variant?.bytes.length, 10);
  }
  assert.equal(variants.pending, 0);
  assert.ok(variants.ready(fakeOpen("f0", size, null).version, "gzip") !== null);
  assert.equal(variants.ready(fakeOpen("f0", size, null).version, "br"), null);
});

Deno.test("compression: the worker thread failing to start falls back to this thread, said once", async () => {
  const reported: unknown[] = [];
  const compressor = new Compressor(
    (error) => reported.push(error),
    `throw new Error("this worker fails to start on purpose");`,
  );
  try {
    const input = encoder.encode(sourceLikeText(INLINE_MAX_BYTES * 4));
    for (let i = 0; i < 3; i++) {
      const copy = input.slice();
      const compressed = await compressor.compress(copy, "gzip", true).catch(() => null);
      if (compressed !== null) assert.deepEqual(gunzipSync(compressed), Buffer.from(input));
    }
    // The first job may be lost with the worker; the ones after it are made in place.
    const again = await compressor.compress(input.slice(), "br", false);
    assert.deepEqual(brotliDecompressSync(again), Buffer.from(input));
    assert.equal(reported.length, 1, "said once");
    assert.match(String((reported[0] as Error).message), /compression worker/);
  } finally {
    compressor.close();
  }
});

Deno.test("compression: large inputs move to the worker without a copy, and the worker lives only while it has work", async () => {
  const compressor = new Compressor((error) => {
    throw error;
  });
  try {
    assert.equal(compressor.workerRunning, false, "no worker before the first large input");
    // One after another, as the file server sends them: each is moved, compressed, and the
    // worker ends with its last job (its memory given back, and no process kept alive).
    for (let i = 0; i < 3; i++) {
      const text = encoder.encode(sourceLikeText(1_000_000, 40 + i));
      const input = text.slice();
      const made = compressor.compress(input, "gzip", true);
      assert.equal(input.byteLength, 0, "transferred: this thread no longer holds the input");
      assert.equal(compressor.workerRunning, true);
      assert.deepEqual(new Uint8Array(gunzipSync(await made)), text);
      assert.equal(compressor.workerRunning, false, "ended once idle");
      assert.equal(compressor.workersStarted, i + 1);
    }
    // Jobs pending together share one worker.
    const inputs = [1, 2, 3].map((seed) => encoder.encode(sourceLikeText(100_000, seed)));
    const made = await Promise.all(
      inputs.map((input) => compressor.compress(input.slice(), "br", true)),
    );
    made.forEach((bytes, i) =>
      assert.deepEqual(new Uint8Array(brotliDecompressSync(bytes)), inputs[i])
    );
    assert.equal(compressor.workersStarted, 4);
    assert.equal(compressor.workerRunning, false);
  } finally {
    compressor.close();
  }
});

Deno.test("compression: the worker's results equal those made in place", async () => {
  const compressor = new Compressor((error) => {
    throw error;
  });
  try {
    const input = encoder.encode(sourceLikeText(200_000, 5));
    for (const coding of ["gzip", "br"] as const) {
      const onWorker = await compressor.compress(input.slice(), coding, true);
      assert.equal(compressor.pending, 0);
      const decoded = coding === "gzip" ? gunzipSync(onWorker) : brotliDecompressSync(onWorker);
      assert.deepEqual(new Uint8Array(decoded), input);
      assert.deepEqual(onWorker, compressNow(input, coding), "the same program on both threads");
    }
    // Not transferred: the caller's bytes stay usable.
    const kept = input.slice();
    await compressor.compress(kept, "gzip", false);
    assert.equal(kept.length, input.length);
  } finally {
    compressor.close();
  }
});

/** A cache entry of `bytes`. */
function entry(bytes: number, onEvict?: () => void): BudgetEntry & { kind: string } {
  const value: BudgetEntry & { kind: string } = { kind: "test", cachedBytes: bytes, recent: false };
  if (onEvict !== undefined) value.evicted = onEvict;
  return value;
}

Deno.test("byte budget cache: evicts the least recently used, giving used entries a second chance", () => {
  const cache = new ByteBudgetCache<BudgetEntry & { kind: string }>(300);
  const evicted: string[] = [];
  for (const key of ["a", "b", "c"]) cache.set(key, entry(100, () => evicted.push(key)));
  assert.equal(cache.totalBytes, 300);
  cache.get("a"); // used: survives the next eviction
  cache.set("d", entry(100, () => evicted.push("d")));
  assert.deepEqual(evicted, ["b"]);
  assert.equal(cache.get("b"), undefined);
  assert.ok(cache.get("a") !== undefined);
  // Every entry used since the last scan (c, d, a in the order the scan left them): each gets
  // its second chance, then the first of them goes; the entry just stored is never the one.
  cache.get("c");
  cache.get("d");
  cache.set("e", entry(100, () => evicted.push("e")));
  assert.deepEqual(evicted, ["b", "c"]);
  assert.equal(cache.totalBytes, 300);
  assert.equal(cache.size, 3);
  // Too large for the whole budget: not kept, and told so.
  cache.set("huge", entry(301, () => evicted.push("huge")));
  assert.deepEqual(evicted, ["b", "c", "huge"]);
  assert.equal(cache.get("huge"), undefined);
  // Replacing and deleting tell the old entry too.
  cache.set("a", entry(50));
  cache.delete("d");
  assert.deepEqual(evicted, ["b", "c", "huge", "a", "d"]);
  assert.equal(cache.totalBytes, 150);
});

Deno.test("compression: compressed variants count in the cache budget with the files", async () => {
  // Room for the small file and one variant, not two.
  const text = sourceLikeText(40_000, 11);
  const root = await makeSite({ "a.js": text });
  try {
    const handler = createFileServer({ root, cacheMinAgeMs: 0, cacheMaxTotalBytes: 60_000 });
    const ask = async (coding: string) => {
      const response = await handler(
        new Request("http://x/a.js", { headers: { "accept-encoding": coding } }),
      );
      return { coding: response.headers.get("content-encoding"), body: await response.bytes() };
    };
    const gzip = await ask("gzip");
    const br = await ask("br");
    assert.equal(gzip.coding, "gzip");
    assert.equal(br.coding, "br");
    assert.equal(decoder.decode(gunzipSync(gzip.body)), text);
    assert.equal(decoder.decode(brotliDecompressSync(br.body)), text);
    // Whatever was evicted to stay in budget is made again, the same bytes.
    assert.deepEqual((await ask("gzip")).body, gzip.body);
    assert.deepEqual((await ask("br")).body, br.body);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
