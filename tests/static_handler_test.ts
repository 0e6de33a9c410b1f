/**
 * The static handler in-process: `new Request()` in, `Response` out, against a directory built
 * in a temporary folder by each test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  createFileServer,
  type FileServerOptions,
  type StaticFileSystem,
} from "../server/static/file_server.ts";
import { denoFileSystem } from "../server/static/file_system.ts";
import fc from "fast-check";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const YEAR_AGO = new Date(Date.now() - 365 * 24 * 3600 * 1000);

/** A file tree: path → content (string or bytes); a value `{ symlink }` makes a symlink. */
type Tree = Record<string, string | Uint8Array | { symlink: string }>;

async function makeTree(tree: Tree): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_static_" });
  for (const [path, content] of Object.entries(tree)) {
    const full = join(dir, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    if (typeof content === "object" && "symlink" in content) {
      await Deno.symlink(content.symlink, full);
    } else {
      await Deno.writeFile(full, typeof content === "string" ? encoder.encode(content) : content);
      // Old enough to be cached (the cache only keeps files whose mtime is not recent).
      await Deno.utime(full, YEAR_AGO, YEAR_AGO);
    }
  }
  return dir;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

async function ask(
  handler: (request: Request) => Promise<Response>,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const response = await handler(new Request("http://localhost" + path, init));
  const body = await response.bytes();
  return { status: response.status, headers: response.headers, body, text: decoder.decode(body) };
}

type Get = (path: string, init?: RequestInit) => Promise<Answer>;

/** Runs a test body with a fresh tree, removing it afterwards. */
function withTree(
  name: string,
  tree: Tree,
  body: (root: string, serve: (options?: Partial<FileServerOptions>) => Get) => Promise<void>,
) {
  Deno.test(`static handler: ${name}`, async () => {
    const root = await makeTree(tree);
    try {
      await body(root, (options = {}) => {
        const handler = createFileServer({ root, ...options });
        return (path, init) => ask(handler, path, init);
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

const PAGE = "<!DOCTYPE html><title>home</title>";
const BIG_TEXT = "All work and no play makes Jack a dull boy.\n".repeat(200); // 8.8 KB
const SMALL_TEXT = "small text file\n";

withTree("GET serves a file with type, length, validators and nosniff", {
  "index.html": PAGE,
  "hello.txt": SMALL_TEXT,
}, async (_root, serve) => {
  const get = serve();
  const answer = await get("/hello.txt");
  assert.equal(answer.status, 200);
  assert.equal(answer.text, SMALL_TEXT);
  assert.equal(answer.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(answer.headers.get("content-length"), String(SMALL_TEXT.length));
  assert.equal(answer.headers.get("x-content-type-options"), "nosniff");
  assert.equal(answer.headers.get("accept-ranges"), "bytes");
  // size, mtime, inode, device, ctime, birth time (base 36): every field the cache compares.
  assert.match(answer.headers.get("etag")!, /^"[0-9a-z]+(-[0-9a-z]+){5}"$/);
  assert.equal(
    answer.headers.get("last-modified"),
    new Date(Math.floor(YEAR_AGO.getTime() / 1000) * 1000).toUTCString(),
  );
  assert.equal(answer.headers.get("cache-control"), null, "no Cache-Control by default");
  const root = await get("/");
  assert.equal(root.status, 200);
  assert.equal(root.text, PAGE);
});

withTree("HEAD has the headers of GET and no body", {
  "hello.txt": SMALL_TEXT,
  "big.txt": BIG_TEXT,
}, async (_root, serve) => {
  for (const options of [{}, { cacheMaxFileBytes: 0 }]) {
    const get = serve(options);
    for (const path of ["/hello.txt", "/big.txt", "/", "/missing"]) {
      const full = await get(path);
      const head = await get(path, { method: "HEAD" });
      assert.equal(head.status, full.status, path);
      assert.equal(head.body.length, 0, path);
      assert.deepEqual([...head.headers], [...full.headers], path);
    }
  }
});

withTree("other methods get 405 with Allow; OPTIONS gets 204 with Allow", {
  "a.txt": "a",
}, async (_root, serve) => {
  const get = serve();
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"]) {
    const answer = await get("/a.txt", { method });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.get("allow"), "GET, HEAD, OPTIONS");
  }
  const options = await get("/a.txt", { method: "OPTIONS" });
  assert.equal(options.status, 204);
  assert.equal(options.headers.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal(options.headers.get("access-control-allow-origin"), null);
});

withTree("CORS: every response allows any origin, preflights are answered", {
  "a.txt": "a",
}, async (_root, serve) => {
  const get = serve({ cors: true });
  for (const path of ["/a.txt", "/missing"]) {
    assert.equal((await get(path)).headers.get("access-control-allow-origin"), "*");
  }
  const preflight = await get("/a.txt", {
    method: "OPTIONS",
    headers: {
      origin: "https://example.com",
      "access-control-request-method": "GET",
      "access-control-request-headers": "range, if-none-match",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, HEAD, OPTIONS");
  assert.equal(preflight.headers.get("access-control-allow-headers"), "range, if-none-match");
  assert.ok(Number(preflight.headers.get("access-control-max-age")) > 0);
  // Without --cors a preflight gets no grant.
  const closed = await serve()("/a.txt", {
    method: "OPTIONS",
    headers: { origin: "https://example.com", "access-control-request-method": "GET" },
  });
  assert.equal(closed.headers.get("access-control-allow-origin"), null);
});

Deno.test("static handler: symlinks may not lead outside the root", async () => {
  const outside = await makeTree({ "secret.txt": "TOP SECRET", "dir/inner.txt": "INNER" });
  const root = await makeTree({
    "ok.txt": "fine",
    "link-inside.txt": { symlink: "ok.txt" },
    "link-out.txt": { symlink: join(outside, "secret.txt") },
    "relative-out.txt": { symlink: "../" + outside.split("/").pop() + "/secret.txt" },
    "dir-out": { symlink: join(outside, "dir") },
    "public/index.html": PAGE,
  });
  try {
    const handler = createFileServer({ root });
    assert.equal((await ask(handler, "/link-inside.txt")).text, "fine");
    for (const path of ["/link-out.txt", "/relative-out.txt", "/dir-out/inner.txt", "/dir-out/"]) {
      const answer = await ask(handler, path);
      assert.equal(answer.status, 404, path);
      assert.ok(!answer.text.includes("SECRET") && !answer.text.includes("INNER"), path);
    }
    // The listing does not show links that lead outside.
    const listing = await ask(handler, "/");
    assert.ok(listing.text.includes("link-inside.txt"));
    assert.ok(!listing.text.includes("link-out.txt"));
    assert.ok(!listing.text.includes("dir-out"));
    // A root that is itself reached through a symlink still works.
    const linkedRoot = root + "-link";
    await Deno.symlink(join(root, "public"), linkedRoot);
    try {
      assert.equal((await ask(createFileServer({ root: linkedRoot }), "/")).text, PAGE);
    } finally {
      await Deno.remove(linkedRoot);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

withTree("encoded separators, NUL, bad escapes and climbing above the root are 400", {
  "a.txt": "a",
}, async (_root, serve) => {
  const get = serve();
  for (
    const path of [
      "/..%2fetc/passwd",
      "/%2e%2e%2fetc",
      "/a%5c..%5c..%5cetc",
      "/a.txt%00.html",
      "/%c0%ae%c0%ae/etc/passwd",
      "/%",
      "/%e2%82",
    ]
  ) {
    const answer = await get(path);
    assert.equal(answer.status, 400, path);
  }
  // Decoded exactly once: %252e%252e is a name, not "..".
  assert.equal((await get("/%252e%252e/a.txt")).status, 404);
  // Names too long for the file system are simply not found.
  assert.equal((await get("/" + "x".repeat(300))).status, 404);
  assert.equal((await get("/" + "x/".repeat(3000) + "a")).status, 404);
});

withTree("dotfiles: ignore (404) by default, deny (403), allow", {
  ".env": "SECRET=1",
  ".git/config": "[core]",
  "visible.txt": "v",
  "404.html": "<h1>custom not found</h1>",
}, async (_root, serve) => {
  const ignore = serve();
  for (const path of ["/.env", "/.git/config", "/.git/"]) {
    const answer = await ignore(path);
    assert.equal(answer.status, 404, path);
    assert.ok(!answer.text.includes("SECRET"));
  }
  assert.ok(!(await ignore("/")).text.includes(".env"));
  const deny = serve({ dotfiles: "deny" });
  assert.equal((await deny("/.env")).status, 403);
  assert.equal((await deny("/.git/config")).status, 403);
  assert.ok(!(await deny("/")).text.includes(".env"));
  const allow = serve({ dotfiles: "allow" });
  assert.equal((await allow("/.env")).text, "SECRET=1");
  assert.equal((await allow("/.git/config")).text, "[core]");
  assert.ok((await allow("/")).text.includes(".env"));
  assert.throws(
    () => createFileServer({ root: ".", dotfiles: "maybe" as "allow" }),
    TypeError,
  );
});

withTree("ROOT/404.html is the body of 404s, whose status stays 404", {
  "404.html": "<h1>custom not found</h1>",
  "a.txt": "a",
}, async (root, serve) => {
  const get = serve();
  const answer = await get("/nope/nothing.txt");
  assert.equal(answer.status, 404);
  assert.equal(answer.text, "<h1>custom not found</h1>");
  assert.equal(answer.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(answer.headers.get("etag"), null);
  const head = await get("/nope", { method: "HEAD" });
  assert.equal(head.status, 404);
  assert.equal(head.body.length, 0);
  // Without 404.html: a short plain body.
  await Deno.remove(join(root, "404.html"));
  const plain = await get("/nope");
  assert.equal(plain.status, 404);
  assert.equal(plain.text, "404 Not Found\n");
});

withTree("SPA: unknown paths accepting HTML get index.html with 200", {
  "index.html": PAGE,
  "app.js": "console.log(1)",
}, async (_root, serve) => {
  const get = serve({ spa: true });
  const html = { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } };
  const route = await get("/users/42", html);
  assert.equal(route.status, 200);
  assert.equal(route.text, PAGE);
  assert.equal(route.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal((await get("/missing.png", { headers: { accept: "image/*" } })).status, 404);
  assert.equal((await get("/app.js", html)).text, "console.log(1)");
  assert.equal((await serve()("/users/42", html)).status, 404);
});

withTree("directories: redirect to the slash URL, index.html, escaped sorted listing", {
  "docs/index.html": "<h1>docs</h1>",
  "files/<img src=x onerror=alert(1)>.txt": "x",
  "files/b.txt": "bb",
  "files/a.txt": "a".repeat(2048),
  "files/sub/c.txt": "c",
  "files/a?b#c.txt": "q",
}, async (_root, serve) => {
  const get = serve();
  const redirect = await get("/files?sort=name&x=%2F");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/files/?sort=name&x=%2F");
  assert.equal((await get("/docs/")).text, "<h1>docs</h1>");
  const listing = await get("/files/");
  assert.equal(listing.status, 200);
  assert.equal(listing.headers.get("content-type"), "text/html; charset=utf-8");
  assert.ok(!listing.text.includes("<img"), "names are escaped");
  assert.ok(listing.text.includes("&lt;img src=x onerror=alert(1)&gt;.txt"));
  assert.ok(listing.text.includes('href="../"'), "parent link");
  assert.ok(listing.text.includes('href="a%3Fb%23c.txt"'));
  assert.ok(listing.text.includes("2.0 KiB"), "sizes");
  assert.ok(listing.text.includes(YEAR_AGO.toISOString().slice(0, 10)), "mtimes");
  const order = ["sub/", "&lt;img", "a.txt", "a%3Fb", "b.txt"].map((s) => listing.text.indexOf(s));
  assert.deepEqual([...order].sort((a, b) => a - b), order, "directories first, then by name");
  assert.ok(!(await get("/")).text.includes('href="../"'), "no parent link at the root");
  // A file is not a directory.
  assert.equal((await get("/files/b.txt/")).status, 404);
  const disabled = serve({ dirListing: false });
  assert.equal((await disabled("/files/")).status, 404);
  assert.equal((await disabled("/docs/")).text, "<h1>docs</h1>");
});

withTree(
  "directories: every link in a listing can be followed (names no URL can request are left out)",
  {
    "files/back\\slash.txt": "b",
    "files/per%2fcent.txt": "p",
    "files/tab\tname.txt": "t",
    "files/dots..txt": "d",
    "files/plain.txt": "x",
  },
  async (_root, serve) => {
    const get = serve();
    const listing = await get("/files/");
    assert.equal(listing.status, 200);
    const links = [...listing.text.matchAll(/href="([^"]*)"/g)].map((match) => match[1]!)
      .filter((href) => href !== "../");
    assert.deepEqual(links.sort(), [
      "dots..txt",
      "per%252fcent.txt",
      "plain.txt",
      "tab%09name.txt",
    ]);
    for (const href of links) {
      const answer = await get("/files/" + href);
      assert.equal(answer.status, 200, href);
    }
    assert.ok(!listing.text.includes("slash.txt"), "a name with a backslash is not listed");
  },
);

withTree("conditional requests: 304 without entity headers, 412", {
  "a.txt": BIG_TEXT,
}, async (_root, serve) => {
  const get = serve({ cacheControl: "max-age=60" });
  const first = await get("/a.txt");
  const etag = first.headers.get("etag")!;
  const lastModified = first.headers.get("last-modified")!;
  assert.equal(first.headers.get("cache-control"), "max-age=60");
  for (
    const headers of [
      { "if-none-match": etag },
      { "if-none-match": `"other", W/${etag}` },
      { "if-modified-since": lastModified },
      { "if-none-match": "*" },
    ]
  ) {
    for (const method of ["GET", "HEAD"]) {
      const answer = await get("/a.txt", { method, headers });
      assert.equal(answer.status, 304, JSON.stringify(headers));
      assert.equal(answer.body.length, 0);
      assert.equal(answer.headers.get("etag"), etag);
      assert.equal(answer.headers.get("cache-control"), "max-age=60");
      assert.equal(answer.headers.get("content-type"), null);
      assert.equal(answer.headers.get("content-length"), null);
      assert.equal(answer.headers.get("content-encoding"), null);
    }
  }
  const modifiedSince = await get("/a.txt", {
    headers: { "if-modified-since": new Date(YEAR_AGO.getTime() - 10_000).toUTCString() },
  });
  assert.equal(modifiedSince.status, 200);
  assert.equal((await get("/a.txt", { headers: { "if-match": etag } })).status, 200);
  assert.equal((await get("/a.txt", { headers: { "if-match": '"x"' } })).status, 412);
  assert.equal(
    (await get("/a.txt", {
      headers: { "if-unmodified-since": "Thu, 01 Jan 1970 00:00:00 GMT" },
    })).status,
    412,
  );
});

withTree("If-Range with a date never selects a range: the whole file with 200 (RFC 9110 §13.1.5)", {
  "old.txt": "0123456789",
}, async (root, serve) => {
  for (const size of [10, 400_000]) {
    // Not cached (written just now), and checked on every request: each answer is the disk's.
    const get = serve({ cacheRevalidateMs: 0 });
    const name = `/rewritten-${size}.bin`;
    const path = join(root, name.slice(1));
    const version = (digit: string) => encoder.encode(digit.repeat(size));
    await Deno.writeFile(path, version("1"));
    const first = await get(name);
    // Rewritten in place, same size, within the same second: its Last-Modified may not change.
    await Deno.writeFile(path, version("2"));
    const ranged = await get(name, {
      headers: { range: "bytes=4-9", "if-range": first.headers.get("last-modified")! },
    });
    assert.equal(ranged.status, 200, `${size}: a date of this second gets the whole file`);
    assert.deepEqual(ranged.body, version("2"));
    // A date a year old, the version's own: it would be "strong" by the one-second rule, but the
    // file may have changed twice in that second (mtime pinned: `cp -p`, reproducible builds).
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    const old = await get(name);
    await Deno.writeFile(path, version("3"));
    await Deno.utime(path, YEAR_AGO, YEAR_AGO);
    const resumed = await get(name, {
      headers: { range: "bytes=4-9", "if-range": old.headers.get("last-modified")! },
    });
    assert.equal(resumed.status, 200, `${size}: no splice of versions 2 and 3`);
    assert.deepEqual(resumed.body, version("3"));
    // The ETag of the version is what selects a range.
    const byTag = await get(name, {
      headers: { range: "bytes=4-9", "if-range": resumed.headers.get("etag")! },
    });
    assert.equal(byTag.status, 206);
    assert.equal(byTag.text, "333333");
  }
});

withTree("ranges: single, suffix, open-ended, multipart, 416, If-Range", {
  "digits.txt": "0123456789",
  "empty.txt": "",
}, async (_root, serve) => {
  for (const options of [{}, { cacheMaxFileBytes: 0, streamChunkBytes: 3 }]) {
    const get = serve(options);
    const range = (value: string, extra: Record<string, string> = {}) =>
      get("/digits.txt", { headers: { range: value, ...extra } });
    const single = await range("bytes=2-4");
    assert.equal(single.status, 206);
    assert.equal(single.text, "234");
    assert.equal(single.headers.get("content-range"), "bytes 2-4/10");
    assert.equal(single.headers.get("content-length"), "3");
    assert.equal(single.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal((await range("bytes=-3")).text, "789");
    assert.equal((await range("bytes=7-")).text, "789");
    assert.equal((await range("bytes=8-100")).headers.get("content-range"), "bytes 8-9/10");

    const multi = await range("bytes=0-1,5-6");
    assert.equal(multi.status, 206);
    const boundary = multi.headers.get("content-type")!.match(
      /^multipart\/byteranges; boundary=(.+)$/,
    )![1]!;
    assert.equal(
      multi.text,
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01` +
        `\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-6/10\r\n\r\n56` +
        `\r\n--${boundary}--\r\n`,
    );
    assert.equal(multi.headers.get("content-length"), String(multi.body.length));

    const unsatisfiable = await range("bytes=10-");
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get("content-range"), "bytes */10");

    assert.equal((await range("bytes=0-9,0-9")).status, 200, "absurd overlap ignored");
    assert.equal((await range("lines=1-2")).status, 200, "unknown unit ignored");
    const etag = single.headers.get("etag")!;
    assert.equal((await range("bytes=0-0", { "if-range": etag })).status, 206);
    assert.equal((await range("bytes=0-0", { "if-range": '"stale"' })).status, 200);
    assert.equal((await range("bytes=0-0", { "if-range": `W/${etag}` })).status, 200);
    const lastModified = single.headers.get("last-modified")!;
    assert.equal((await range("bytes=0-0", { "if-range": lastModified })).status, 200);
    const head = await get("/digits.txt", { method: "HEAD", headers: { range: "bytes=0-0" } });
    assert.equal(head.status, 200, "Range is for GET only");
    const empty = await get("/empty.txt", { headers: { range: "bytes=0-0" } });
    assert.equal(empty.status, 200, "Range ignored on an empty file");
    assert.equal(empty.body.length, 0);
  }
});

withTree("sidecars: .br and .gz chosen by Accept-Encoding with the original type", {
  "app.js": "console.log('identity');".repeat(10),
  "app.js.br": "BROTLI-BYTES",
  "app.js.gz": "GZIP-BYTES",
  "only-gz.css": "body{}".repeat(400),
  "only-gz.css.gz": "CSS-GZ",
  "escape.js": "console.log(1)",
  "escape.js.br": { symlink: "/etc/hostname" },
}, async (_root, serve) => {
  const get = serve();
  const encoded = (path: string, acceptEncoding: string) =>
    get(path, { headers: { "accept-encoding": acceptEncoding } });
  const br = await encoded("/app.js", "gzip, deflate, br");
  assert.equal(br.text, "BROTLI-BYTES");
  assert.equal(br.headers.get("content-encoding"), "br");
  assert.equal(br.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(br.headers.get("vary"), "Accept-Encoding");
  assert.equal(br.headers.get("content-length"), "12");
  const gz = await encoded("/app.js", "gzip");
  assert.equal(gz.text, "GZIP-BYTES");
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  assert.equal((await encoded("/app.js", "br;q=0, gzip")).text, "GZIP-BYTES");
  assert.equal((await encoded("/app.js", "br;q=0.1, gzip;q=0.9")).text, "GZIP-BYTES");
  const identity = await get("/app.js");
  assert.equal(identity.headers.get("content-encoding"), null);
  assert.equal(identity.headers.get("vary"), "Accept-Encoding");
  const tags = new Set([br, gz, identity].map((answer) => answer.headers.get("etag")));
  assert.equal(tags.size, 3, "each coding has its own ETag");
  // 304 for the selected variant's own tag.
  const notModified = await get("/app.js", {
    headers: { "accept-encoding": "br", "if-none-match": br.headers.get("etag")! },
  });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get("content-encoding"), null);
  assert.equal(notModified.headers.get("vary"), "Accept-Encoding");
  // A client that accepts br but there is only .gz (the file is big: no on-the-fly needed).
  const cssGz = await encoded("/only-gz.css", "br, gzip");
  assert.equal(cssGz.text, "CSS-GZ");
  // A sidecar that is a symlink out of the root is not used.
  const escape = await encoded("/escape.js", "br");
  assert.equal(escape.text, "console.log(1)");
  assert.equal(escape.headers.get("content-encoding"), null);
  // Ranges are served from the identity representation.
  const ranged = await get("/app.js", {
    headers: { "accept-encoding": "br", range: "bytes=0-6" },
  });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.text, "console");
  assert.equal(ranged.headers.get("content-encoding"), null);
});

withTree("on-the-fly gzip for compressible files over 1 KiB", {
  "big.txt": BIG_TEXT,
  "small.txt": SMALL_TEXT,
  "exactly-1k.txt": "k".repeat(1024),
  "just-over-1k.txt": "k".repeat(1025),
  "image.png": new Uint8Array(4096).fill(7),
}, async (_root, serve) => {
  for (const options of [{}, { cacheMaxFileBytes: 0 }]) {
    const get = serve(options);
    const gzipped = await get("/big.txt", { headers: { "accept-encoding": "gzip" } });
    assert.equal(gzipped.status, 200);
    assert.equal(gzipped.headers.get("content-encoding"), "gzip");
    assert.equal(gzipped.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(gzipped.headers.get("vary"), "Accept-Encoding");
    assert.equal(decoder.decode(gunzipSync(gzipped.body)), BIG_TEXT);
    assert.ok(gzipped.body.length < BIG_TEXT.length / 10);
    const etag = gzipped.headers.get("etag")!;
    const identity = await get("/big.txt");
    assert.notEqual(etag, identity.headers.get("etag"));
    const revalidated = await get("/big.txt", {
      headers: { "accept-encoding": "gzip", "if-none-match": etag },
    });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.get("content-encoding"), null);
    // Files of 1 KiB or less, incompressible types and clients that refuse gzip get identity.
    for (
      const [path, acceptEncoding] of [
        ["/small.txt", "gzip"],
        ["/exactly-1k.txt", "gzip"],
        ["/image.png", "gzip"],
        ["/big.txt", "gzip;q=0"],
        ["/big.txt", "identity"],
      ]
    ) {
      const answer = await get(path!, { headers: { "accept-encoding": acceptEncoding! } });
      assert.equal(answer.headers.get("content-encoding"), null, `${path} ${acceptEncoding}`);
    }
    assert.equal((await get("/image.png")).headers.get("vary"), null);
    const justOver = await get("/just-over-1k.txt", { headers: { "accept-encoding": "gzip" } });
    assert.equal(justOver.headers.get("content-encoding"), "gzip");
  }
  const off = await serve({ compression: false })("/big.txt", {
    headers: { "accept-encoding": "gzip" },
  });
  assert.equal(off.headers.get("content-encoding"), null);
  assert.equal(off.headers.get("vary"), null);
});

withTree("the cache serves hot files from memory and notices size and inode changes", {
  "hot.txt": "hot-1",
}, async (root, _serve) => {
  const { counts, fileSystem } = countingFileSystem();
  const handler = createFileServer({ root, fileSystem, cacheMinAgeMs: 0, cacheRevalidateMs: 0 });
  const path = join(root, "hot.txt");
  for (let i = 0; i < 3; i++) assert.equal((await ask(handler, "/hot.txt")).text, "hot-1");
  assert.equal(counts.opened, 1, "read once, then served from memory");
  await Deno.writeTextFile(path, "hot-1 and more");
  assert.equal((await ask(handler, "/hot.txt")).text, "hot-1 and more");
  await Deno.writeTextFile(path + ".new", "hot-2 and more");
  await Deno.rename(path + ".new", path);
  assert.equal((await ask(handler, "/hot.txt")).text, "hot-2 and more");
  assert.equal(counts.opened, 3);
  assert.equal(counts.closed, 3);
});

withTree("with cacheRevalidateMs 0, the cache never serves stale content", {
  "page.txt": "version-1",
}, async (root, serve) => {
  const get = serve({ cacheRevalidateMs: 0 });
  const path = join(root, "page.txt");
  assert.equal((await get("/page.txt")).text, "version-1");
  assert.equal((await get("/page.txt")).text, "version-1");
  // Same size, new content: mtime/ctime move, so the cached copy is dropped.
  await Deno.writeTextFile(path, "version-2");
  assert.equal((await get("/page.txt")).text, "version-2");
  // Even with the old mtime restored (ctime still moves).
  await Deno.utime(path, YEAR_AGO, YEAR_AGO);
  assert.equal((await get("/page.txt")).text, "version-2");
  await Deno.writeTextFile(path, "version-3");
  await Deno.utime(path, YEAR_AGO, YEAR_AGO);
  assert.equal((await get("/page.txt")).text, "version-3");
  // Replaced by another file (new inode).
  await Deno.writeTextFile(path + ".new", "version-4");
  await Deno.rename(path + ".new", path);
  assert.equal((await get("/page.txt")).text, "version-4");
  await Deno.remove(path);
  assert.equal((await get("/page.txt")).status, 404);
});

withTree(
  "a cached file is checked at most once per cacheRevalidateMs, and served whole meanwhile",
  {
    "page.txt": "version-1",
  },
  async (root, _serve) => {
    const path = join(root, "page.txt");
    let stats = 0;
    const fileSystem: StaticFileSystem = {
      ...denoFileSystem,
      stat: (statPath) => {
        if (statPath === path) stats++;
        return Deno.statSync(statPath);
      },
    };
    // cacheMinAgeMs 0: cached although just written.
    const handler = createFileServer({
      root,
      fileSystem,
      cacheMinAgeMs: 0,
      cacheRevalidateMs: 60_000,
    });
    const first = await ask(handler, "/page.txt");
    for (let i = 0; i < 50; i++) assert.equal((await ask(handler, "/page.txt")).text, "version-1");
    assert.equal(stats, 0, "no stat within the interval");
    // Replaced by rename, as deploys do: within the interval the cached version is still served,
    // whole and with its own validators (one consistent version, never a mix).
    await Deno.writeTextFile(path + ".new", "version-2, longer");
    await Deno.rename(path + ".new", path);
    const stale = await ask(handler, "/page.txt");
    assert.equal(stale.text, "version-1");
    assert.equal(stale.headers.get("content-length"), "9");
    assert.equal(stale.headers.get("etag"), first.headers.get("etag"));
    const conditional = await ask(handler, "/page.txt", {
      headers: { "if-none-match": first.headers.get("etag")! },
    });
    assert.equal(conditional.status, 304);
    // The interval passing (which needs time to pass) is tested over sockets:
    // tests/static_cache_e2e_test.ts.
  },
);

/** A file system that reports no mtime, like files embedded by `deno compile`. */
const noMtimeFileSystem: StaticFileSystem = {
  ...denoFileSystem,
  stat: (path) => ({ ...Deno.statSync(path), mtime: null }),
  lstat: (path) => ({ ...Deno.lstatSync(path), mtime: null }),
  open: async (path) => {
    const file = await Deno.open(path);
    return {
      read: (buffer: Uint8Array) => file.read(buffer),
      seek: (offset: number, whence: Deno.SeekMode) => file.seek(offset, whence),
      statSync: () => ({ ...file.statSync(), mtime: null }),
      close: () => file.close(),
    };
  },
};

withTree("files without mtime still get a validator, and no Last-Modified", {
  "embedded.txt": "embedded content",
  "big.bin": new Uint8Array(300_000).fill(1),
}, async (_root, serve) => {
  for (const options of [{}, { cacheMaxFileBytes: 0 }]) {
    const get = serve({ fileSystem: noMtimeFileSystem, ...options });
    for (const path of ["/embedded.txt", "/big.bin"]) {
      const first = await get(path);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("last-modified"), null);
      const etag = first.headers.get("etag")!;
      assert.match(etag, /^"[0-9a-z]+-h[0-9a-f]{24}"$/);
      const again = await get(path, { headers: { "if-none-match": etag } });
      assert.equal(again.status, 304);
      const ranged = await get(path, { headers: { range: "bytes=0-3", "if-range": etag } });
      assert.equal(ranged.status, 206);
    }
  }
});

withTree("options: Cache-Control on files only, extra headers everywhere", {
  "a.txt": "a",
}, async (_root, serve) => {
  const get = serve({
    cacheControl: "public, max-age=3600",
    headers: [["X-Frame-Options", "DENY"], ["X-Content-Type-Options", "nosniff, custom"]],
  });
  const file = await get("/a.txt");
  assert.equal(file.headers.get("cache-control"), "public, max-age=3600");
  assert.equal(file.headers.get("x-frame-options"), "DENY");
  assert.equal(file.headers.get("x-content-type-options"), "nosniff, custom");
  const missing = await get("/missing");
  assert.equal(missing.headers.get("cache-control"), null);
  assert.equal(missing.headers.get("x-frame-options"), "DENY");
  assert.throws(() => createFileServer({ root: ".", headers: [["bad name", "x"]] }), TypeError);
  assert.throws(() => createFileServer({ root: ".", cacheMaxFileBytes: -1 }), RangeError);
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => createFileServer({ root: ".", cacheRevalidateMs: bad }), RangeError);
    assert.throws(() => createFileServer({ root: ".", compressMaxFileBytes: bad }), RangeError);
  }
});

Deno.test("static handler: file-system errors become 403/404/500 without their text", async () => {
  const root = await makeTree({ "a.txt": "a", "locked.txt": "x", "broken.txt": "x" });
  try {
    const failing: StaticFileSystem = {
      ...denoFileSystem,
      lstat: (path) => {
        if (path.endsWith("locked.txt")) {
          throw new Deno.errors.PermissionDenied("EACCES /srv/locked.txt");
        }
        if (path.endsWith("broken.txt")) throw new Error("INTERNAL DETAIL");
        return Deno.lstatSync(path);
      },
      open: (path) => {
        if (path.endsWith("a.txt")) return Promise.reject(new Error("INTERNAL DETAIL"));
        return denoFileSystem.open(path);
      },
    };
    const reported: unknown[] = [];
    const handler = createFileServer({
      root,
      fileSystem: failing,
      cacheMaxFileBytes: 0,
      onError: (error) => reported.push(error),
    });
    const locked = await ask(handler, "/locked.txt");
    assert.equal(locked.status, 403);
    assert.ok(!locked.text.includes("EACCES"));
    // An error that is not "nothing there" or "not allowed" is the server's failure: 500.
    const broken = await ask(handler, "/broken.txt");
    assert.equal(broken.status, 500);
    assert.ok(!broken.text.includes("INTERNAL"));
    const unopenable = await ask(handler, "/a.txt");
    assert.equal(unopenable.status, 500);
    assert.ok(!unopenable.text.includes("INTERNAL"));
    // The server's own failures are reported, with the detail the client does not get.
    assert.deepEqual(reported.map((error) => (error as Error).message), [
      `${join(root, "broken.txt")} could not be read (GET /broken.txt): INTERNAL DETAIL`,
      `${join(root, "a.txt")} could not be read (GET /a.txt): INTERNAL DETAIL`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "static handler: a FIFO is not opened (it would block), 404",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await makeTree({ "a.txt": "a" });
    try {
      const status = await new Deno.Command("mkfifo", { args: [join(root, "pipe")] }).output();
      assert.ok(status.success);
      const answer = await ask(createFileServer({ root }), "/pipe");
      assert.equal(answer.status, 404);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

/** Counts opens and closes, to prove that streamed files are always closed. */
function countingFileSystem() {
  const counts = { opened: 0, closed: 0 };
  let onClose: (() => void) | null = null;
  /** Resolves once every opened file has been closed (closes may follow a cancel later). */
  const allClosed = (): Promise<void> =>
    counts.closed === counts.opened ? Promise.resolve() : new Promise<void>((resolve) => {
      onClose = () => {
        if (counts.closed === counts.opened) resolve();
      };
    });
  const fileSystem: StaticFileSystem = {
    ...denoFileSystem,
    open: async (path) => {
      const file = await Deno.open(path);
      counts.opened++;
      return {
        read: (buffer: Uint8Array) => file.read(buffer),
        seek: (offset: number, whence: Deno.SeekMode) => file.seek(offset, whence),
        statSync: () => file.statSync(),
        close: () => {
          counts.closed++;
          file.close();
          onClose?.();
        },
      };
    },
  };
  return { counts, fileSystem, allClosed };
}

withTree("streamed files are closed when read to the end, cancelled or truncated", {
  "big.bin": new Uint8Array(1_000_000).fill(42),
}, async (root, _serve) => {
  const { counts, fileSystem, allClosed } = countingFileSystem();
  const handler = createFileServer({
    root,
    fileSystem,
    cacheMaxFileBytes: 0,
    streamChunkBytes: 64 * 1024,
  });
  // Read to the end.
  const whole = await ask(handler, "/big.bin");
  assert.equal(whole.body.length, 1_000_000);
  assert.deepEqual(counts, { opened: 1, closed: 1 });
  // Client goes away after one chunk.
  const response = await handler(new Request("http://localhost/big.bin"));
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).value!.length, 64 * 1024);
  await reader.cancel();
  assert.deepEqual(counts, { opened: 2, closed: 2 });
  // The file shrinks mid-response: the stream errors instead of sending fewer bytes silently.
  const shrinking = await handler(new Request("http://localhost/big.bin"));
  const shrinkReader = shrinking.body!.getReader();
  await shrinkReader.read();
  await Deno.truncate(join(root, "big.bin"), 100_000);
  await assert.rejects(async () => {
    while (!(await shrinkReader.read()).done) { /* drain */ }
  });
  assert.deepEqual(counts, { opened: 3, closed: 3 });
  // A gzip stream of a big file is closed on cancel as well.
  await Deno.writeTextFile(join(root, "big.txt"), BIG_TEXT.repeat(100));
  const gzipped = await handler(
    new Request("http://localhost/big.txt", { headers: { "accept-encoding": "gzip" } }),
  );
  assert.equal(gzipped.headers.get("content-encoding"), "gzip");
  await gzipped.body!.cancel();
  // The cancel reaches the file through the compression pipe asynchronously.
  await allClosed();
  assert.equal(counts.closed, counts.opened);
});

withTree("a BYOB reader can stream a file through one reused buffer", {
  "digits.txt": "0123456789".repeat(10),
}, async (root, _serve) => {
  const { counts, fileSystem } = countingFileSystem();
  const handler = createFileServer({ root, fileSystem, cacheMaxFileBytes: 0 });
  const readAll = async (response: Response) => {
    const reader = response.body!.getReader({ mode: "byob" });
    let buffer = new Uint8Array(7); // smaller than the parts, so every part spans reads
    let text = "";
    for (;;) {
      const { done, value } = await reader.read(buffer);
      if (done) break;
      text += decoder.decode(value);
      buffer = new Uint8Array(value.buffer);
    }
    return text;
  };
  const whole = await handler(new Request("http://localhost/digits.txt"));
  assert.equal(await readAll(whole), "0123456789".repeat(10));
  const multi = await handler(
    new Request("http://localhost/digits.txt", { headers: { range: "bytes=0-1,95-" } }),
  );
  const text = await readAll(multi);
  assert.equal(text.length, Number(multi.headers.get("content-length")));
  assert.ok(text.includes("Content-Range: bytes 0-1/100\r\n\r\n01\r\n"));
  assert.ok(text.includes("Content-Range: bytes 95-99/100\r\n\r\n56789\r\n"));
  assert.deepEqual(counts, { opened: 2, closed: 2 });
});

Deno.test("static handler: any request path gets a 2xx/3xx/4xx, never a 500 or a file outside", async () => {
  const outside = await makeTree({ "secret.txt": "TOP-SECRET" });
  const root = await makeTree({
    "index.html": PAGE,
    "a/b.txt": "b",
    ".env": "HIDDEN",
    "out": { symlink: outside },
  });
  try {
    const handler = createFileServer({ root, spa: true });
    const pieces = fc.constantFrom(
      "/",
      "..",
      ".",
      "%2e",
      "%2E%2e",
      "%2f",
      "%5c",
      "\\",
      "%00",
      "a",
      "b.txt",
      ".env",
      "out",
      "secret.txt",
      "%c0%ae",
      "%ff",
      "%",
      "%25",
      "?",
      "#",
      ";",
      "index.html",
      "~",
      "%20",
      "//",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { maxLength: 12 }), async (parts) => {
        const target = "/" + parts.join("");
        let request: Request;
        try {
          request = new Request("http://localhost" + target, { headers: { accept: "text/html" } });
        } catch {
          return; // not a URL at all: it could not reach the handler
        }
        const response = await handler(request);
        const answer = { status: response.status, text: await response.text() };
        assert.ok(answer.status < 500, `${target} → ${answer.status}`);
        assert.ok(!answer.text.includes("TOP-SECRET"), target);
        assert.ok(!answer.text.includes("HIDDEN"), target);
      }),
      { numRuns: 2000 },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("static handler: a root reached through a swapped symlink follows the swap", async () => {
  const releases = await makeTree({ "v1/index.html": "release 1", "v2/index.html": "release 2" });
  const current = join(releases, "current");
  try {
    await Deno.symlink(join(releases, "v1"), current);
    const handler = createFileServer({ root: current, cacheMinAgeMs: 0, cacheRevalidateMs: 0 });
    assert.equal((await ask(handler, "/")).text, "release 1");
    assert.equal((await ask(handler, "/index.html")).text, "release 1");
    // Atomic swap, as deployment tools do it: a new link renamed over the old one.
    await Deno.symlink(join(releases, "v2"), current + ".new");
    await Deno.rename(current + ".new", current);
    assert.equal((await ask(handler, "/")).text, "release 2");
    assert.equal((await ask(handler, "/index.html")).text, "release 2");
  } finally {
    await Deno.remove(releases, { recursive: true });
  }
});
