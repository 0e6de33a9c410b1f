import assert from "node:assert/strict";
import { parseRequestPath } from "../server/static/request_path.ts";
import { chooseCoding, parseAcceptEncoding } from "../server/static/accept_encoding.ts";
import { contentTypeFor, isCompressible } from "../server/static/content_type.ts";
import { escapeHtml, renderListing } from "../server/static/listing.ts";

// [name, url, expected segments or error]
const PATH_ROWS: [string, string, string[] | string][] = [
  ["root", "http://h/", []],
  ["plain file", "http://h/a/b.txt", ["a", "b.txt"]],
  ["dot segments", "http://h/a/./b/../c", ["a", "c"]],
  ["double slashes collapse", "http://h//a///b", ["a", "b"]],
  ["decoded once", "http://h/a%20b/%252e%252e", ["a b", "%2e%2e"]],
  ["encoded dots are dot segments", "http://h/a/%2e%2e/b", ["b"]],
  ["climbing above the root", "http://h/../etc/passwd", "escapes-root"],
  ["encoded climbing above the root", "http://h/%2e%2e/etc", "escapes-root"],
  ["encoded slash", "http://h/..%2fetc", "encoded-separator"],
  ["encoded slash upper case", "http://h/a%2Fb", "encoded-separator"],
  ["encoded backslash", "http://h/%2e%2e%5cetc", "encoded-separator"],
  ["literal backslash", "http://h/a\\b", "backslash"],
  ["NUL", "http://h/a%00b", "nul-byte"],
  ["overlong UTF-8 dot", "http://h/%c0%ae%c0%ae/etc", "malformed-encoding"],
  ["truncated escape", "http://h/a%2", "malformed-encoding"],
  ["query is not part of the path", "http://h/a?b=/../c", ["a"]],
  ["fragment is not part of the path", "http://h/a#/../b", ["a"]],
  ["unicode names", "http://h/%C3%A9t%C3%A9", ["été"]],
];
for (const [name, url, expected] of PATH_ROWS) {
  Deno.test(`parseRequestPath: ${name}`, () => {
    const result = parseRequestPath(url);
    if (typeof expected === "string") assert.equal(result, expected);
    else {
      assert.notEqual(typeof result, "string");
      assert.deepEqual((result as { segments: string[] }).segments, expected);
    }
  });
}

Deno.test("parseRequestPath keeps the query and the trailing slash", () => {
  assert.deepEqual(parseRequestPath("http://h/dir/?x=1&y=%2F"), {
    segments: ["dir"],
    trailingSlash: true,
    query: "?x=1&y=%2F",
  });
});

// [name, Accept-Encoding, sources, expected coding and source]
type Sources = Parameters<typeof chooseCoding>[1];
const FLY = "on-the-fly" as const;
const SIDE = "sidecar" as const;
const ALL_FLY: Sources = { br: FLY, zstd: null, gzip: FLY };
const ALL_SIDE: Sources = { br: SIDE, zstd: SIDE, gzip: SIDE };
const CODING_ROWS: [string, string | null, Sources, string | null][] = [
  ["no header means identity", null, ALL_FLY, null],
  ["empty header means identity", "", ALL_FLY, null],
  ["gzip only", "gzip", ALL_FLY, "gzip on-the-fly"],
  ["br preferred on a tie", "gzip, br", ALL_FLY, "br on-the-fly"],
  ["q-values decide", "br;q=0.5, gzip;q=0.8", ALL_FLY, "gzip on-the-fly"],
  ["q=0 excludes", "br;q=0, gzip", ALL_FLY, "gzip on-the-fly"],
  ["nothing available", "br, gzip", { br: null, zstd: null, gzip: null }, null],
  ["star covers unlisted codings", "*", ALL_FLY, "br on-the-fly"],
  ["star with explicit exclusion", "*, br;q=0", ALL_FLY, "gzip on-the-fly"],
  ["identity preferred over gzip", "gzip;q=0.5, identity", ALL_FLY, null],
  ["x-gzip alias", "x-gzip", ALL_FLY, "gzip on-the-fly"],
  ["case-insensitive", "GZIP;Q=1", ALL_FLY, "gzip on-the-fly"],
  ["malformed q ignored", "gzip;q=2, br;q=abc", ALL_FLY, null],
  ["all excluded falls back to identity", "*;q=0", ALL_FLY, null],
  ["zstd is not made on the fly", "zstd", ALL_FLY, null],
  ["a zstd sidecar for a client that takes zstd", "zstd, gzip", {
    br: FLY,
    zstd: SIDE,
    gzip: FLY,
  }, "zstd sidecar"],
  ["a sidecar before a coding made on the fly, on a tie", "gzip, deflate, br, zstd", {
    br: FLY,
    zstd: null,
    gzip: SIDE,
  }, "gzip sidecar"],
  [
    "q beats sidecars first",
    "gzip;q=0.5, br",
    { br: FLY, zstd: null, gzip: SIDE },
    "br on-the-fly",
  ],
  ["br, zstd, gzip among sidecars on a tie", "gzip, zstd, br", ALL_SIDE, "br sidecar"],
  ["zstd before gzip on a tie", "gzip, zstd", ALL_SIDE, "zstd sidecar"],
  ["zstd with star", "*;q=0.5, zstd", ALL_SIDE, "zstd sidecar"],
];
for (const [name, header, sources, expected] of CODING_ROWS) {
  Deno.test(`chooseCoding: ${name}`, () => {
    const chosen = chooseCoding(parseAcceptEncoding(header), sources);
    assert.equal(chosen === null ? null : `${chosen.coding} ${chosen.source}`, expected);
  });
}

const TYPE_ROWS: [string, string, boolean][] = [
  ["index.html", "text/html; charset=utf-8", true],
  ["style.CSS", "text/css; charset=utf-8", true],
  ["app.js", "text/javascript; charset=utf-8", true],
  ["mod.mjs", "text/javascript; charset=utf-8", true],
  ["data.json", "application/json; charset=utf-8", true],
  ["app.js.map", "application/json; charset=utf-8", true],
  ["logo.svg", "image/svg+xml; charset=utf-8", true],
  ["a.png", "image/png", false],
  ["a.jpg", "image/jpeg", false],
  ["a.jpeg", "image/jpeg", false],
  ["a.gif", "image/gif", false],
  ["a.webp", "image/webp", false],
  ["a.avif", "image/avif", false],
  ["favicon.ico", "image/vnd.microsoft.icon", true],
  ["f.woff", "font/woff", false],
  ["f.woff2", "font/woff2", false],
  ["f.ttf", "font/ttf", true],
  ["f.otf", "font/otf", true],
  ["m.wasm", "application/wasm", true],
  ["v.mp4", "video/mp4", false],
  ["v.webm", "video/webm", false],
  ["a.mp3", "audio/mpeg", false],
  ["a.ogg", "audio/ogg", false],
  ["d.pdf", "application/pdf", false],
  ["r.txt", "text/plain; charset=utf-8", true],
  ["f.xml", "application/xml; charset=utf-8", true],
  ["site.webmanifest", "application/manifest+json; charset=utf-8", true],
  ["a.zip", "application/zip", false],
  ["noextension", "application/octet-stream", false],
  [".hidden", "application/octet-stream", false],
  ["dir.d/file", "application/octet-stream", false],
];
for (const [name, type, compressible] of TYPE_ROWS) {
  Deno.test(`contentTypeFor(${name})`, () => {
    assert.equal(contentTypeFor(name), type);
    assert.equal(isCompressible(type), compressible);
  });
}

Deno.test("listing escapes names in text and links", () => {
  assert.equal(escapeHtml(`<b>"&'`), "&lt;b&gt;&quot;&amp;&#39;");
  const html = renderListing("/<x>/", [
    { name: '<img src=x onerror="alert(1)">', isDirectory: false, size: 1, mtime: 0 },
    { name: "a?b#c", isDirectory: false, size: 1, mtime: 0 },
  ], false);
  assert.ok(!html.includes("<img"));
  assert.ok(html.includes("Index of /&lt;x&gt;/"));
  assert.ok(html.includes('href="a%3Fb%23c"'));
});
