/**
 * Micro benchmarks of the framing module (`server/http1/`), in ns per operation:
 * `deno bench bench/framing_bench.ts`.
 *
 * Parsing is measured the way a connection uses the parser: one parser per connection, fed
 * request after request (keep-alive), each request drained to its `end` event. A fresh parser per
 * request is measured too, since that is the cost of the first request on a new connection.
 *
 * Issue 5's target: a typical browser request head parses in ≤ 0.5 µs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RequestParser } from "../server/http1/request_parser.ts";
import { formatHttpDate } from "../server/http1/http_date.ts";
import { encodeLatin1, encodeResponseHead } from "../server/http1/response_head.ts";

const encoder = new TextEncoder();

/** A browser's top-level navigation (Chrome-like, trimmed): 11 fields, ~500 bytes with a cookie. */
export const BROWSER_HEAD = encoder.encode(
  "GET /docs/getting-started.html?ref=nav HTTP/1.1\r\n" +
    "Host: www.example.com\r\n" +
    "Connection: keep-alive\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/131.0.0.0 Safari/537.36\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Sec-Fetch-Site: same-origin\r\n" +
    "Sec-Fetch-Mode: navigate\r\n" +
    "Sec-Fetch-Dest: document\r\n" +
    "Referer: https://www.example.com/\r\n" +
    "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
    "Accept-Language: en-GB,en;q=0.9\r\n" +
    "Cookie: theme=dark; session=4f2a9c1e7b\r\n" +
    "\r\n",
);

/** The smallest valid HTTP/1.1 request (Host is mandatory). */
export const MINIMAL_HEAD = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

/** Pipelined requests per batch, as in load scenario S5. */
const PIPELINE_DEPTH = 16;

/** What wrk sends in S5: 16 of these in one write. */
export const PIPELINED_BATCH = encoder.encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".repeat(PIPELINE_DEPTH),
);

/** Chunks in the chunked request body. */
const CHUNK_COUNT = 16;
/** Bytes per chunk: 16 × 256 = 4 KiB, a typical small JSON or form upload. */
const CHUNK_BYTES = 256;

/** A POST with a 4 KiB body in 16 chunks, one with an extension, and a trailer field. */
export const CHUNKED_REQUEST = encoder.encode(
  "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n" +
    Array.from(
      { length: CHUNK_COUNT },
      (_, i) =>
        `${CHUNK_BYTES.toString(16)}${i === 0 ? ";note=first" : ""}\r\n` +
        "x".repeat(CHUNK_BYTES) + "\r\n",
    ).join("") +
    "0\r\nX-Checksum: 1234\r\n\r\n",
);

/** Feeds one buffer and drains events until NEED_DATA; returns heads and body bytes seen. */
function parseAll(parser: RequestParser, bytes: Uint8Array): { heads: number; body: number } {
  parser.feed(bytes);
  let heads = 0;
  let body = 0;
  for (;;) {
    const event = parser.next();
    if (event.type === "need-data") return { heads, body };
    if (event.type === "head") heads++;
    else if (event.type === "data") body += event.data.length;
  }
}

// Check once that every input parses as intended, so that no benchmark measures an error path.
assert.ok(BROWSER_HEAD.length >= 450 && BROWSER_HEAD.length <= 550, `${BROWSER_HEAD.length}`);
assert.deepEqual(parseAll(new RequestParser(), BROWSER_HEAD), { heads: 1, body: 0 });
assert.deepEqual(parseAll(new RequestParser(), MINIMAL_HEAD), { heads: 1, body: 0 });
assert.deepEqual(parseAll(new RequestParser(), PIPELINED_BATCH), {
  heads: PIPELINE_DEPTH,
  body: 0,
});
assert.deepEqual(parseAll(new RequestParser(), CHUNKED_REQUEST), {
  heads: 1,
  body: CHUNK_COUNT * CHUNK_BYTES,
});

const keepAliveParser = new RequestParser();
let sink = 0;

Deno.bench({
  name: `parse browser request head (${BROWSER_HEAD.length} B, keep-alive parser)`,
  group: "parse",
  baseline: true,
  fn() {
    sink += parseAll(keepAliveParser, BROWSER_HEAD).heads;
  },
});

Deno.bench({
  name: `parse browser request head (${BROWSER_HEAD.length} B, new parser)`,
  group: "parse",
  fn() {
    sink += parseAll(new RequestParser(), BROWSER_HEAD).heads;
  },
});

Deno.bench({
  name: "parse minimal GET / head (keep-alive parser)",
  group: "parse",
  fn() {
    sink += parseAll(keepAliveParser, MINIMAL_HEAD).heads;
  },
});

Deno.bench({
  name: `parse ${PIPELINE_DEPTH} pipelined requests in one buffer (per batch)`,
  group: "parse",
  fn() {
    sink += parseAll(keepAliveParser, PIPELINED_BATCH).heads;
  },
});

Deno.bench({
  name: `parse chunked POST, ${CHUNK_COUNT} × ${CHUNK_BYTES} B + trailer`,
  group: "parse",
  fn() {
    sink += parseAll(keepAliveParser, CHUNKED_REQUEST).body;
  },
});

const DATE = formatHttpDate(Date.UTC(2026, 10, 24, 1, 0, 0));
const RESPONSE_HEADERS: [string, string][] = [
  ["content-type", "text/html; charset=utf-8"],
  ["etag", '"5e1f-18c2a"'],
  ["last-modified", "Tue, 19 Nov 2026 10:00:00 GMT"],
  ["accept-ranges", "bytes"],
];

Deno.bench({
  name: "serialize 200 response head (4 headers + date + length)",
  group: "serialize",
  baseline: true,
  fn() {
    sink += encodeResponseHead({
      status: 200,
      fields: RESPONSE_HEADERS,
      framing: { kind: "length", length: 1024 },
      announcedLength: null,
      connection: "none",
      date: DATE,
    }).length;
  },
});

Deno.bench({
  name: "serialize and encode 200 response head to bytes",
  group: "serialize",
  fn() {
    sink += encodeLatin1(
      encodeResponseHead({
        status: 200,
        fields: RESPONSE_HEADERS,
        framing: { kind: "length", length: 1024 },
        announcedLength: null,
        connection: "none",
        date: DATE,
      }),
    ).length;
  },
});

Deno.bench({
  name: "serialize minimal hello response head (content-type only)",
  group: "serialize",
  fn() {
    sink += encodeResponseHead({
      status: 200,
      fields: [["content-type", "text/plain;charset=UTF-8"]],
      framing: { kind: "length", length: 13 },
      announcedLength: null,
      connection: "none",
      date: DATE,
    }).length;
  },
});

// Keeps the results observable so the JIT cannot drop the work.
globalThis.addEventListener("unload", () => {
  if (sink === -1) Deno.exit(1);
});
