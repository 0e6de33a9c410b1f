/**
 * The file cache's mechanisms of issue 12 behind the real server, over real sockets: how often a
 * cached file is checked on disk (`cacheRevalidateMs`, 0 = every hit) and what a client gets
 * meanwhile; a compression made once for N concurrent requests; compressed representations
 * evicted within the byte budget they share with files; `.zst` sidecars. The evidence is what
 * clients receive and what the file system was asked (counted by a wrapper), never timing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { compressNow } from "../server/static/compressor.ts";
import { denoFileSystem } from "../server/static/file_system.ts";
import { header } from "./support/http_client.ts";
import {
  countingFileSystem,
  get,
  replace,
  serveFiles,
  withSite,
  writeOld,
} from "./support/static_site.ts";

const decoder = new TextDecoder();

/** Text that compresses like source code (about 4:1), not like one repeated line. */
function sourceLikeText(bytes: number, seed: number): string {
  const words = ["const", "return", "function", "value", "index", "length", "if", "else", "map"];
  let state = seed;
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const word = words[state % words.length]! + (state % 7 === 0 ? ";\n" : ` v${state % 97} `);
    parts.push(word);
    length += word.length;
  }
  return parts.join("").slice(0, bytes);
}

Deno.test("cache e2e: cacheRevalidateMs 0 checks the file on every hit and serves a replacement at once", async () => {
  await withSite({ "page.html": "<p>version 1</p>" }, async (root) => {
    const path = join(root, "page.html");
    const counter = countingFileSystem();
    await using server = serveFiles(root, counter.fileSystem, { cacheRevalidateMs: 0 });
    const first = await get(server.port, "/page.html");
    assert.equal(decoder.decode(first.body), "<p>version 1</p>");
    for (let i = 0; i < 5; i++) await get(server.port, "/page.html");
    assert.equal(counter.opens.get(path), 1, "read once, then served from memory");
    assert.equal(counter.stats.get(path), 5, "one stat per cached hit");
    await replace(path, "<p>version 2, longer</p>");
    const next = await get(server.port, "/page.html");
    assert.equal(decoder.decode(next.body), "<p>version 2, longer</p>");
    assert.equal(header(next, "content-length"), "24");
    assert.notEqual(header(next, "etag"), header(first, "etag"));
  });
});

Deno.test("cache e2e: within cacheRevalidateMs a replaced or deleted file is served as the version it was, whole", async () => {
  await withSite({ "page.html": "<p>version 1</p>" }, async (root) => {
    const path = join(root, "page.html");
    const counter = countingFileSystem();
    // An hour: nothing in this test is checked again.
    await using server = serveFiles(root, counter.fileSystem, { cacheRevalidateMs: 3_600_000 });
    const first = await get(server.port, "/page.html");
    for (let i = 0; i < 5; i++) await get(server.port, "/page.html");
    assert.equal(counter.stats.get(path) ?? 0, 0, "no stat within the interval");
    await replace(path, "<p>version 2, longer</p>");
    const stale = await get(server.port, "/page.html");
    // One consistent version: the old bytes with the old validators and length.
    assert.equal(decoder.decode(stale.body), "<p>version 1</p>");
    assert.equal(header(stale, "content-length"), "16");
    assert.equal(header(stale, "etag"), header(first, "etag"));
    assert.equal(header(stale, "last-modified"), header(first, "last-modified"));
    const revalidated = await get(server.port, "/page.html", {
      "if-none-match": header(first, "etag")!,
    });
    assert.equal(revalidated.status, 304);
    await Deno.remove(path);
    assert.equal(decoder.decode((await get(server.port, "/page.html")).body), "<p>version 1</p>");
    // A server with a short interval sees the deletion once the interval has passed: waiting
    // for time to pass is what is tested (no event marks it).
    await using quick = serveFiles(root, counter.fileSystem, { cacheRevalidateMs: 1 });
    await writeOld(path, "<p>version 3</p>");
    assert.equal(decoder.decode((await get(quick.port, "/page.html")).body), "<p>version 3</p>");
    await Deno.remove(path);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await get(quick.port, "/page.html")).status, 404);
  });
});

Deno.test("cache e2e: N concurrent requests for a file being compressed share one compression", async () => {
  const text = sourceLikeText(600_000, 11);
  await withSite({ "big.js": text }, async (root) => {
    const path = join(root, "big.js");
    const counter = countingFileSystem();
    await using server = serveFiles(root, counter.fileSystem);
    // Reads of the file wait until every request has opened it: all N are in flight while the
    // one compression is still reading, so a second compression would show as a second read.
    const N = 6;
    const allOpened = Promise.withResolvers<void>();
    counter.hold(allOpened.promise);
    const requests = Array.from(
      { length: N },
      () => get(server.port, "/big.js", { "accept-encoding": "gzip" }),
    );
    await counter.whenOpened(path, N);
    allOpened.resolve();
    const responses = await Promise.all(requests);
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(header(response, "content-encoding"), "gzip");
      assert.equal(header(response, "vary"), "Accept-Encoding");
      assert.deepEqual(response.body, responses[0]!.body, "the same bytes for every client");
    }
    assert.equal(decoder.decode(gunzipSync(responses[0]!.body)), text);
    assert.equal(counter.bytesRead.get(path), text.length, "read (and compressed) once");
    // And kept: a later request reads nothing.
    const later = await get(server.port, "/big.js", { "accept-encoding": "gzip" });
    assert.deepEqual(later.body, responses[0]!.body);
    assert.equal(counter.bytesRead.get(path), text.length);
  });
});

Deno.test("cache e2e: compressed representations are evicted within the budget they share with files", async () => {
  const a = sourceLikeText(300_000, 21);
  const b = sourceLikeText(300_000, 22);
  const gzA = compressNow(new TextEncoder().encode(a), "gzip").length;
  const gzB = compressNow(new TextEncoder().encode(b), "gzip").length;
  // Room for one compressed file, not two (each entry also counts about 512 bytes of overhead).
  const budget = Math.max(gzA, gzB) + 1024 + Math.floor(Math.min(gzA, gzB) / 2);
  // A cached file (under cacheMaxFileBytes) large enough to push a compressed one out.
  const filler = new Uint8Array(budget - 2048).fill(7);
  await withSite({ "a.js": a, "b.js": b, "filler.bin": filler }, async (root) => {
    const counter = countingFileSystem();
    const readOf = (name: string) => counter.bytesRead.get(join(root, name)) ?? 0;
    await using server = serveFiles(root, counter.fileSystem, { cacheMaxTotalBytes: budget });
    const gzip = { "accept-encoding": "gzip" };
    const check = async (name: string, text: string) => {
      const response = await get(server.port, `/${name}`, gzip);
      assert.equal(header(response, "content-encoding"), "gzip");
      assert.equal(decoder.decode(gunzipSync(response.body)), text);
    };
    await check("a.js", a);
    await check("a.js", a);
    assert.equal(readOf("a.js"), a.length, "a.js compressed once, then kept");
    await check("b.js", b); // no room for both: a.js's is evicted
    await check("b.js", b);
    assert.equal(readOf("b.js"), b.length);
    await check("a.js", a);
    assert.equal(readOf("a.js"), 2 * a.length, "a.js compressed again after its eviction");
    // Files and compressed representations share the budget: caching filler.bin evicts a.js's.
    assert.equal((await get(server.port, "/filler.bin")).body.length, filler.length);
    assert.equal((await get(server.port, "/filler.bin")).body.length, filler.length);
    assert.equal(counter.opens.get(join(root, "filler.bin")), 1, "filler.bin is cached");
    await check("a.js", a);
    assert.equal(readOf("a.js"), 3 * a.length, "a.js's pushed out by a cached file");
  });
});

Deno.test("cache e2e: a .zst sidecar goes to clients that accept zstd, with Vary: Accept-Encoding", async () => {
  const text = sourceLikeText(20_000, 31);
  const zst = new Uint8Array(zstdCompressSync(new TextEncoder().encode(text)));
  await withSite({ "app.js": text, "app.js.zst": zst }, async (root) => {
    await using server = serveFiles(root, denoFileSystem);
    const zstd = await get(server.port, "/app.js", { "accept-encoding": "zstd" });
    assert.equal(zstd.status, 200);
    assert.equal(header(zstd, "content-encoding"), "zstd");
    assert.equal(header(zstd, "vary"), "Accept-Encoding");
    assert.equal(header(zstd, "content-type"), "text/javascript; charset=utf-8");
    assert.equal(header(zstd, "content-length"), String(zst.length));
    assert.deepEqual(zstd.body, zst, "the sidecar's bytes");
    assert.equal(decoder.decode(zstdDecompressSync(zstd.body)), text);
    assert.match(header(zstd, "etag")!, /^"[^"]+-zst"$/);
    // A client without zstd gets a coding made on the fly, never the .zst; one without any, the
    // file as it is; every answer says it varies.
    const gzip = await get(server.port, "/app.js", { "accept-encoding": "gzip, zstd;q=0" });
    assert.equal(header(gzip, "content-encoding"), "gzip");
    assert.equal(header(gzip, "vary"), "Accept-Encoding");
    assert.equal(decoder.decode(gunzipSync(gzip.body)), text);
    const plain = await get(server.port, "/app.js");
    assert.equal(header(plain, "content-encoding"), null);
    assert.equal(header(plain, "vary"), "Accept-Encoding");
    assert.equal(decoder.decode(plain.body), text);
    // The sidecar's own conditional request: 304 with Vary.
    const again = await get(server.port, "/app.js", {
      "accept-encoding": "zstd",
      "if-none-match": header(zstd, "etag")!,
    });
    assert.equal(again.status, 304);
    assert.equal(header(again, "vary"), "Accept-Encoding");
  });
});

Deno.test("cache e2e: compressing distinct large files one after another keeps memory near the cache budget", async () => {
  // Deno 2.9.6's node:worker_threads grew the worker's heap by ~60 MiB per 2 MB input received,
  // and the process kept most of it: 8 such files took this process up by 300+ MiB. Made on a
  // web worker that ends when idle, they cost their compressed bytes (~0.7 MB each) in the cache.
  const N = 8;
  const files: Record<string, string> = {};
  for (let i = 0; i < N; i++) files[`f${i}.js`] = sourceLikeText(2_000_000, 100 + i);
  await withSite(files, async (root) => {
    await using server = serveFiles(root, denoFileSystem);
    // One compression first: the worker's code and the server's paths are loaded and warm.
    const warm = await get(server.port, "/f0.js", { "accept-encoding": "gzip" });
    assert.equal(decoder.decode(gunzipSync(warm.body)), files["f0.js"]);
    const before = Deno.memoryUsage().rss;
    for (let i = 1; i < N; i++) {
      const response = await get(server.port, `/f${i}.js`, { "accept-encoding": "gzip" });
      assert.equal(header(response, "content-encoding"), "gzip");
      assert.equal(decoder.decode(gunzipSync(response.body)), files[`f${i}.js`]);
    }
    const grownMiB = (Deno.memoryUsage().rss - before) / 2 ** 20;
    // 7 × 0.7 MB of compressed bytes kept, plus this client's own garbage (bodies, decoded text).
    assert.ok(grownMiB < 80, `memory grew by ${grownMiB.toFixed(0)} MiB for ${N - 1} files`);
  });
});
