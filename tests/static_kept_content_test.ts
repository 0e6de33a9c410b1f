/**
 * Large files kept in memory (issue 12, S4; `server/static/kept_content.ts`) behind the real
 * server, over real sockets: a file too large to be read whole on a miss is kept from the first
 * response that streams it whole, then served from memory, and only a complete, unchanged stream
 * is kept. The evidence is what clients receive and what the file system was asked (counted by a
 * wrapper); the budget's accounting is checked on the cache itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { FileServerOptions } from "../server/mod.ts";
import { ByteBudgetCache } from "../server/static/file_cache.ts";
import { denoFileSystem } from "../server/static/file_system.ts";
import { VersionStore } from "../server/static/file_version.ts";
import { KeptContent } from "../server/static/kept_content.ts";
import { exchange, header } from "./support/http_client.ts";
import {
  countingFileSystem,
  get,
  replace,
  serveFiles,
  withSite,
  writeOld,
} from "./support/static_site.ts";

/** 1 MiB: over the size read whole on a miss (256 KiB), so kept only from a stream. */
const SIZE = 1024 * 1024;

/** Bytes that differ at every offset's neighbourhood, seeded so two versions differ. */
function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = state >> 16;
  }
  return bytes;
}

/** Sends a GET for `path` and hangs up once `opened` resolves, before reading anything. */
async function getThenHangUp(port: number, path: string, opened: Promise<void>): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
    await opened;
  } finally {
    conn.close();
  }
}

/** The site of one file, `big.bin`, served with a counting file system. */
async function withBigFile(
  content: Uint8Array,
  options: Partial<FileServerOptions>,
  test: (site: { path: string; counter: Counter; port: number }) => Promise<void>,
): Promise<void> {
  await withSite({ "big.bin": content }, async (root) => {
    const counter = countingFileSystem();
    await using server = serveFiles(root, counter.fileSystem, options);
    await test({ path: join(root, "big.bin"), counter, port: server.port });
  });
}

type Counter = ReturnType<typeof countingFileSystem>;

Deno.test("kept content: a large file is kept from the first whole 200 it streams, then sent from memory", async () => {
  const content = pattern(SIZE, 1);
  await withBigFile(content, {}, async ({ path, counter, port }) => {
    const first = await get(port, "/big.bin");
    assert.deepEqual(first.body, content);
    assert.equal(counter.opens.get(path), 1);
    assert.equal(counter.bytesRead.get(path), SIZE);
    // The kept answer writes the head the streamed one wrote (the Date aside), field by field.
    const withoutDate = (response: typeof first) =>
      response.headers.filter(([name]) => name.toLowerCase() !== "date");
    for (let i = 0; i < 3; i++) {
      const again = await get(port, "/big.bin");
      assert.deepEqual(again.body, content);
      assert.deepEqual(withoutDate(again), withoutDate(first));
      assert.equal(again.framing, first.framing);
      assert.equal(header(again, "etag"), header(first, "etag"));
      assert.equal(header(again, "last-modified"), header(first, "last-modified"));
      assert.equal(header(again, "content-length"), String(SIZE));
    }
    // Ranges, HEAD and validation come from the same kept bytes.
    const range = await get(port, "/big.bin", { range: "bytes=500000-500099" });
    assert.equal(range.status, 206);
    assert.deepEqual(range.body, content.subarray(500000, 500100));
    const multi = await get(port, "/big.bin", { range: "bytes=0-9,-10" });
    assert.equal(multi.status, 206);
    assert.match(header(multi, "content-type")!, /^multipart\/byteranges/);
    const { responses: [head] } = await exchange(
      port,
      "HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      { requestMethods: ["HEAD"] },
    );
    assert.equal(head!.status, 200);
    assert.equal(head!.body.length, 0);
    assert.equal(header(head!, "content-length"), String(SIZE));
    assert.equal(header(head!, "etag"), header(first, "etag"));
    const notModified = await get(port, "/big.bin", {
      "if-none-match": header(first, "etag")!,
    });
    assert.equal(notModified.status, 304);
    assert.equal(counter.opens.get(path), 1, "every answer after the first from memory");
    assert.equal(counter.bytesRead.get(path), SIZE, "the file was read once");
  });
});

Deno.test("kept content: a download cut short keeps nothing; the next whole one is kept", async () => {
  // 8 MiB: read 1 MiB at a time, so the server learns that the client left long before the end.
  const content = pattern(8 * SIZE, 2);
  await withBigFile(content, {}, async ({ path, counter, port }) => {
    const release = Promise.withResolvers<void>();
    counter.hold(release.promise);
    await getThenHangUp(port, "/big.bin", counter.whenOpened(path, 1));
    release.resolve();
    // The stream is cancelled (its copy abandoned) before its descriptor is closed.
    await counter.whenClosed(path, 1);
    assert.ok(counter.bytesRead.get(path)! < content.length, "cut before the end");
    assert.deepEqual((await get(port, "/big.bin")).body, content);
    assert.equal(counter.opens.get(path), 2, "nothing was kept from the cut download");
    assert.deepEqual((await get(port, "/big.bin")).body, content);
    assert.equal(counter.opens.get(path), 2, "kept from the second, whole one");
  });
});

Deno.test("kept content: a file changed in place while it streams is not kept, and the client sees a cut response", async () => {
  const content = pattern(SIZE, 3);
  const changed = pattern(SIZE, 4);
  await withBigFile(content, {}, async ({ path, counter, port }) => {
    const release = Promise.withResolvers<void>();
    counter.hold(release.promise);
    const response = get(port, "/big.bin");
    // Its headers are made (from the descriptor's fstat) before its body is read.
    await counter.whenReading(path, 1);
    // Same size, other bytes, another mtime: the stream's last check sees the change.
    await Deno.writeFile(path, changed);
    await Deno.utime(path, new Date(2000, 0, 1), new Date(2000, 0, 1));
    release.resolve();
    const cut = await response.catch((error) => error);
    if (!(cut instanceof Error)) assert.ok(cut.body.length < SIZE, "never a complete response");
    assert.equal(counter.opens.get(path), 1);
    // Counted in bytes read: a file changed this second may be opened again to prove it inside
    // the root (open_file.ts), which says nothing about the cache.
    const readBefore = counter.bytesRead.get(path) ?? 0;
    const fresh = await get(port, "/big.bin");
    assert.deepEqual(fresh.body, changed);
    assert.equal(counter.bytesRead.get(path), readBefore + SIZE, "the changed stream kept nothing");
    assert.deepEqual((await get(port, "/big.bin")).body, changed);
    assert.equal(counter.bytesRead.get(path), readBefore + SIZE, "kept from the whole one");
  });
});

Deno.test("kept content: concurrent first downloads all get the file, and one copy is kept", async () => {
  const content = pattern(SIZE, 5);
  await withBigFile(content, {}, async ({ path, counter, port }) => {
    const release = Promise.withResolvers<void>();
    counter.hold(release.promise);
    const N = 4;
    const responses = Array.from({ length: N }, () => get(port, "/big.bin"));
    await counter.whenOpened(path, N);
    release.resolve();
    for (const response of await Promise.all(responses)) assert.deepEqual(response.body, content);
    assert.deepEqual((await get(port, "/big.bin")).body, content);
    assert.equal(counter.opens.get(path), N, "kept by one of them");
  });
});

Deno.test("kept content: a kept file is checked on disk at its first hit, whatever cacheRevalidateMs", async () => {
  const content = pattern(SIZE, 6);
  await withBigFile(content, { cacheRevalidateMs: 3_600_000 }, async ({ path, counter, port }) => {
    const release = Promise.withResolvers<void>();
    counter.hold(release.promise);
    const first = get(port, "/big.bin");
    await counter.whenReading(path, 1);
    // Replaced by rename while the first response streams the old version: that response
    // keeps it, and the next request must not get it for an hour.
    await replace(path, "new version");
    release.resolve();
    assert.deepEqual((await first).body, content);
    const next = await get(port, "/big.bin");
    assert.equal(new TextDecoder().decode(next.body), "new version");
  });
});

Deno.test("kept content: files over cacheMaxFileBytes or half the budget are streamed every time", async () => {
  const content = pattern(SIZE, 7);
  const cases: [Partial<FileServerOptions>, number][] = [
    [{ cacheMaxFileBytes: SIZE - 1 }, 3],
    [{ cacheMaxTotalBytes: 2 * SIZE }, 3], // a copy under way may take half the budget: not quite
    [{ cacheMaxFileBytes: 0 }, 3],
    [{ cacheMaxFileBytes: SIZE, cacheMaxTotalBytes: 2 * SIZE + 2048 }, 1], // at the limits: kept
  ];
  for (const [options, opens] of cases) {
    await withBigFile(content, options, async ({ path, counter, port }) => {
      for (let i = 0; i < 3; i++) {
        assert.deepEqual((await get(port, "/big.bin")).body, content);
      }
      assert.equal(counter.opens.get(path), opens, JSON.stringify(options));
    });
  }
});

Deno.test("kept content: a file changed less than cacheMinAgeMs ago is not kept", async () => {
  const content = pattern(SIZE, 8);
  await withBigFile(content, { cacheMinAgeMs: 60_000 }, async ({ path, counter, port }) => {
    await writeOld(path, content);
    await Deno.utime(path, new Date(), new Date());
    for (let i = 0; i < 2; i++) {
      assert.deepEqual((await get(port, "/big.bin")).body, content);
    }
    assert.equal(counter.opens.get(path), 2);
  });
});

/** A cache entry as the store makes one for kept content (no `large` flag: budget tests only). */
type KeptEntry = { cachedBytes: number; recent: boolean; evicted?(): void; kind: string };

/** An entry of the half-budget tests: large or not, pinned while its content is being sent. */
type Entry = KeptEntry & { large?: boolean; pinned?(): boolean };

/** Kept content of `bytes`, cached under `key` in `cache` as the store caches it. */
function cacheKept(
  cache: ByteBudgetCache<KeptEntry>,
  key: string,
  bytes: Uint8Array<ArrayBuffer>,
): KeptContent {
  const kept = new KeptContent(bytes, Deno.statSync(import.meta.filename!), cache, bytes.length);
  cache.set(key, {
    kind: "file",
    cachedBytes: bytes.length,
    recent: false,
    evicted: () => kept.evicted(),
  });
  return kept;
}

Deno.test("kept content: evicted while lent, kept bytes stay counted in the budget until the last loan ends", () => {
  const cache = new ByteBudgetCache<KeptEntry>(1000);
  const kept = cacheKept(cache, "/big", new Uint8Array(400));
  const first = kept.lend();
  const second = kept.lend();
  assert.equal(kept.lent, 2);
  // A 700-byte entry needs the room: the lent content is evicted but stays counted, so the new
  // entry does not fit beside it and is not kept.
  cache.set("/other", { kind: "file", cachedBytes: 700, recent: false });
  assert.equal(cache.size, 0);
  assert.equal(cache.heldBytes, 400);
  assert.equal(cache.totalBytes, 400);
  first.close();
  assert.equal(cache.heldBytes, 400, "still lent once");
  second.close();
  assert.equal(cache.heldBytes, 0);
  assert.equal(cache.totalBytes, 0);
  assert.throws(() => second.close(), Deno.errors.BadResource, "a loan ends once");
  assert.equal(cache.totalBytes, 0);
  cache.set("/other", { kind: "file", cachedBytes: 700, recent: false });
  assert.equal(cache.size, 1);
});

Deno.test("kept content: copies under way reserve room, at most half the budget", () => {
  const cache = new ByteBudgetCache<{ cachedBytes: number; recent: boolean; kind: string }>(1000);
  cache.set("/a", { kind: "file", cachedBytes: 600, recent: false });
  assert.ok(cache.reserve(300), "evicts nothing: 900 of 1000");
  assert.equal(cache.size, 1);
  assert.ok(cache.reserve(200), "500 held, at half the budget: /a is evicted to make room");
  assert.equal(cache.size, 0);
  assert.equal(cache.reserve(1), false, "past half the budget");
  cache.unhold(500);
  assert.equal(cache.totalBytes, 0);
  assert.equal(cache.heldBytes, 0);
});

Deno.test("kept content: a lent file reads, seeks and reports the kept version", async () => {
  const bytes = pattern(1000, 9);
  const info = Deno.statSync(import.meta.filename!);
  const cache = new ByteBudgetCache(10_000);
  const kept = new KeptContent(bytes, info, cache, 1000);
  const file = kept.lend();
  const buffer = new Uint8Array(600);
  assert.equal(await file.read(buffer), 600);
  assert.deepEqual(buffer, bytes.subarray(0, 600));
  assert.equal(await file.read(buffer), 400);
  assert.deepEqual(buffer.subarray(0, 400), bytes.subarray(600));
  assert.equal(await file.read(buffer), null);
  assert.equal(await file.seek(-10, Deno.SeekMode.End), 990);
  assert.equal(await file.read(buffer), 10);
  assert.deepEqual(buffer.subarray(0, 10), bytes.subarray(990));
  assert.equal(file.statSync(), info);
  file.close();
  await assert.rejects(() => file.read(buffer), Deno.errors.BadResource);
});

Deno.test("kept content: bytes nothing will read again are given back at once, not when collected", async () => {
  // Evicted with no loan out: detached now.
  const cache = new ByteBudgetCache<KeptEntry>(1000);
  const unlent = cacheKept(cache, "/a", new Uint8Array(400));
  cache.delete("/a");
  assert.ok(unlent.bytes.buffer.detached);
  // Evicted while lent: readable until the last loan ends, then detached.
  const lent = cacheKept(cache, "/b", pattern(400, 10));
  const file = lent.lend();
  cache.delete("/b");
  const buffer = new Uint8Array(400);
  assert.equal(await file.read(buffer), 400);
  assert.deepEqual(buffer, pattern(400, 10));
  assert.ok(!lent.bytes.buffer.detached);
  file.close();
  assert.ok(lent.bytes.buffer.detached);
  // A copy abandoned (a download cut short) or completed from a file that changed.
  await withSite({ "big.bin": pattern(SIZE, 11) }, async (root) => {
    const store = new VersionStore({
      fs: denoFileSystem,
      cacheMaxFileBytes: 16 * SIZE,
      cacheMaxTotalBytes: 32 * SIZE,
      cacheMinAgeMs: 0,
      cacheRevalidateMs: 250,
      compression: false,
    }, { compress: () => Promise.reject(new Error("not used")) });
    for (const end of ["abandon", "complete"] as const) {
      const file = await Deno.open(join(root, "big.bin"));
      const open = await store.load("/big.bin", file, file.statSync());
      assert.notEqual(open, "changed");
      if (open === "changed") return;
      const copy = store.keepWhileStreaming(open);
      assert.ok(copy !== null);
      // complete(): the file's fstat no longer matches the version (another mtime).
      if (end === "complete") await Deno.utime(join(root, "big.bin"), new Date(), new Date());
      copy[end]();
      assert.ok(copy.bytes.buffer.detached, end);
      file.close();
    }
  });
});

Deno.test("kept content: Responses a handler drops unread give back their descriptor, reservation and loan once collected", async () => {
  const tenMiB = new Uint8Array(10 * SIZE);
  const files = Object.fromEntries(["a", "b", "c", "d", "e"].map((n) => [`${n}.bin`, tenMiB]));
  await withSite(files, async (root) => {
    const script = new URL("./fixtures/embedding/dropped_responses.ts", import.meta.url);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--v8-flags=--expose-gc", script.pathname, root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, stderr);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), {
      descriptorClosed: true,
      keptAfterDroppedCopy: true,
      keptAfterDroppedLoan: true,
    });
  });
});

Deno.test("kept content: large content in all stays within half the budget; the other half is the small files'", () => {
  const cache = new ByteBudgetCache<Entry>(1000);
  let aSent = true; // a slow client is still receiving A
  let aHeld = false;
  const a: Entry = {
    kind: "file",
    cachedBytes: 300,
    recent: false,
    large: true,
    pinned: () => aSent,
    evicted: () => {
      if (!aSent) return;
      aHeld = true;
      cache.hold(300);
    },
  };
  cache.set("/a", a);
  for (let i = 0; i < 4; i++) {
    cache.set(`/small${i}`, { kind: "file", cachedBytes: 100, recent: false });
  }
  assert.equal(cache.largeBytes, 300);
  // B would make large content 600 of 1000: refused while A is being sent (evicting it would free
  // nothing), and no small file is pushed out for it.
  assert.equal(cache.reserve(300), false);
  assert.equal(cache.size, 5);
  assert.equal(cache.largeBytes, 300);
  // Once A is no longer sent, B's copy evicts A (and only A).
  aSent = false;
  assert.ok(cache.reserve(300));
  assert.equal(cache.size, 4, "A evicted, the small files kept");
  assert.equal(cache.largeBytes, 300);
  cache.unhold(300);
  cache.set("/b", { kind: "file", cachedBytes: 300, recent: false, large: true });
  assert.equal(cache.largeBytes, 300);
  // A large entry that would pass half the budget is not kept.
  cache.set("/c", { kind: "file", cachedBytes: 300, recent: false, large: true });
  assert.equal(cache.largeBytes, 300);
  assert.equal(cache.get("/c"), undefined);
  assert.equal(aHeld, false);
});

Deno.test("kept content: a copy refused for room evicts nothing, and a large file used since the last copy is not evicted", () => {
  const cache = new ByteBudgetCache<Entry>(1000);
  let pSent = true;
  cache.set("/p", {
    kind: "file",
    cachedBytes: 300,
    recent: false,
    large: true,
    pinned: () => pSent,
  });
  cache.set("/q", { kind: "file", cachedBytes: 150, recent: false, large: true });
  // R needs 300 of the 500: evicting Q (150) would not make room while P is sent, so nothing goes.
  assert.equal(cache.reserve(300), false);
  assert.ok(cache.get("/q") !== undefined, "Q kept");
  assert.equal(cache.largeBytes, 450);
  // Two large files asked for in turn: the one used since the last copy stays, the copy is refused.
  pSent = false;
  cache.get("/p");
  cache.get("/q");
  assert.equal(cache.reserve(300), false, "both used since: second chance, nothing evicted");
  assert.equal(cache.size, 2);
  cache.get("/q");
  assert.ok(cache.reserve(300), "P unused since the last copy: evicted");
  assert.equal(cache.get("/p"), undefined);
  assert.ok(cache.get("/q") !== undefined);
  assert.equal(cache.largeBytes, 450);
});
