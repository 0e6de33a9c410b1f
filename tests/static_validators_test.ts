/**
 * Validators over a real socket (RFC 9110 §8.8): what `ETag` and `Last-Modified` say when files are
 * replaced, rewritten with a pinned mtime, dated in the future or just written, and what `If-Range`
 * with a date selects (issue 9: R1, R5, R6, and R2 for cached files).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createFileServer, type FileServerOptions, serve } from "../server/mod.ts";
import { CTIME_MARGIN_MS } from "../server/static/containment.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const YEAR_AGO = new Date(Date.now() - 365 * 24 * 3600 * 1000);

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** One request on its own connection, read to the end (`Connection: close`). */
async function get(port: number, path: string, fields: Record<string, string> = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let raw = `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(fields)) raw += `${name}: ${value}\r\n`;
  await conn.write(encoder.encode(raw + "\r\n"));
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const read = await conn.read(buffer);
    if (read === null) break;
    chunks.push(buffer.slice(0, read));
  }
  conn.close();
  const text = decoder.decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return { status: Number(lines[0]!.split(" ")[1]), headers, text: text.slice(end + 4) } as Answer;
}

function withSite(
  name: string,
  options: Partial<FileServerOptions>,
  body: (port: number, root: string) => Promise<void>,
) {
  Deno.test(`validators: ${name}`, async () => {
    const root = await Deno.makeTempDir({ prefix: "sockserve_validators_" });
    const server = serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      createFileServer({ root, ...options }),
    );
    try {
      await body(server.addr.port, root);
    } finally {
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
    }
  });
}

/**
 * Waits until the ctime of `path` lies in a second that is over, so that a later change of the
 * file shows in its ctime (Deno reports whole seconds). No event says when a second ends.
 */
async function untilCtimeIsPast(path: string): Promise<void> {
  const ctime = Deno.statSync(path).ctime!.getTime();
  const wait = Math.floor(ctime / 1000) * 1000 + 1000 + CTIME_MARGIN_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

withSite(
  "a file deleted and made again, same size and mtime (inode reused): a new ETag",
  {},
  async (port, root) => {
    const path = join(root, "page.txt");
    await Deno.writeTextFile(path, "version one");
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    const before = Deno.statSync(path);
    const first = await get(port, "/page.txt");
    assert.equal(first.text, "version one");
    // The file system's clock must tick between the two births (it is coarse: a few ms).
    while (Date.now() < before.birthtime!.getTime() + 20) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Deno.remove(path);
    await Deno.writeTextFile(path, "version two"); // same length
    await Deno.utime(path, YEAR_AGO, YEAR_AGO); // `cp -p`, `rsync -t`, `touch -d`
    const after = Deno.statSync(path);
    assert.equal(after.size, before.size);
    assert.equal(after.mtime!.getTime(), before.mtime!.getTime());
    const second = await get(port, "/page.txt");
    assert.equal(second.text, "version two");
    assert.notEqual(
      second.headers.get("etag"),
      first.headers.get("etag"),
      `inode ${before.ino} then ${after.ino}: each version its own ETag`,
    );
    // A resumed download naming the first version's ETag gets the whole second version.
    const resumed = await get(port, "/page.txt", {
      range: "bytes=0-2",
      "if-range": first.headers.get("etag")!,
    });
    assert.equal(resumed.status, 200);
    assert.equal(resumed.text, "version two");
  },
);

withSite(
  "a cached file rewritten in place with its mtime set back: new bytes under a new ETag",
  // Every hit compares the identity (the default does so at most every 250 ms, issue 12).
  { cacheMinAgeMs: 0, cacheRevalidateMs: 0 },
  async (port, root) => {
    const path = join(root, "cached.txt");
    await Deno.writeTextFile(path, "AAAAAAAAAA");
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    await untilCtimeIsPast(path);
    const first = await get(port, "/cached.txt");
    assert.equal((await get(port, "/cached.txt")).text, "AAAAAAAAAA", "served from the cache");
    // In place (same inode, same size), mtime pinned back: only the ctime moves.
    await Deno.writeTextFile(path, "BBBBBBBBBB");
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    const second = await get(port, "/cached.txt");
    assert.equal(second.text, "BBBBBBBBBB");
    assert.notEqual(second.headers.get("etag"), first.headers.get("etag"));
    assert.equal(second.headers.get("last-modified"), first.headers.get("last-modified"));
  },
);

withSite(
  "If-Range with a date never selects a range (RFC 9110 §13.1.5)",
  {},
  async (port, root) => {
    const path = join(root, "old.bin");
    await Deno.writeTextFile(path, "0123456789");
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    const whole = await get(port, "/old.bin");
    const lastModified = whole.headers.get("last-modified")!;
    assert.ok(Date.parse(whole.headers.get("date")!) - Date.parse(lastModified) > 1000);
    for (const ifRange of [lastModified, "Thu, 01 Jan 1970 00:00:00 GMT", "not a date"]) {
      const answer = await get(port, "/old.bin", { range: "bytes=2-4", "if-range": ifRange });
      assert.equal(answer.status, 200, ifRange);
      assert.equal(answer.text, "0123456789");
      assert.equal(answer.headers.get("content-range"), null);
    }
    const byTag = await get(port, "/old.bin", {
      range: "bytes=2-4",
      "if-range": whole.headers.get("etag")!,
    });
    assert.equal(byTag.status, 206);
    assert.equal(byTag.text, "234");
    assert.equal(byTag.headers.get("content-range"), "bytes 2-4/10");
  },
);

withSite(
  "a modification time in the future: Last-Modified is the response's Date (RFC 9110 §8.8.2.1)",
  { cacheMinAgeMs: 0 },
  async (port, root) => {
    const path = join(root, "future.txt");
    await Deno.writeTextFile(path, "from tomorrow");
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
    await Deno.utime(path, tomorrow, tomorrow);
    for (let i = 0; i < 2; i++) { // the second one may come from the cache
      const answer = await get(port, "/future.txt");
      assert.equal(answer.status, 200);
      const date = Date.parse(answer.headers.get("date")!);
      const lastModified = Date.parse(answer.headers.get("last-modified")!);
      assert.ok(lastModified <= date, `${answer.headers.get("last-modified")} after the Date`);
      assert.ok(date - lastModified < 5_000, "the date of origination, not an old one");
    }
  },
);

withSite(
  "a file written just after a second began: Last-Modified is not later than Date",
  { cacheMinAgeMs: 0 },
  async (port, root) => {
    // The Date once lagged by up to a clock tick (250 ms): a file written in the first moments of
    // a second then had a Last-Modified one second after the Date.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 2));
      const path = join(root, `fresh-${i}.txt`);
      await Deno.writeTextFile(path, "fresh");
      const answer = await get(port, `/fresh-${i}.txt`);
      assert.equal(answer.status, 200);
      const date = Date.parse(answer.headers.get("date")!);
      const lastModified = Date.parse(answer.headers.get("last-modified")!);
      assert.ok(
        lastModified <= date,
        `Last-Modified ${answer.headers.get("last-modified")}, Date ${answer.headers.get("date")}`,
      );
    }
  },
);
