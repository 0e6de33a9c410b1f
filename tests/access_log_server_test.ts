/**
 * The access log and the request record of a real server: what `onRequestEnd` receives (its keys,
 * spread, JSON and headers) and the log lines written from it, over real sockets. (The formatting
 * alone is `access_log_test.ts`, in the quick suite, which runs no server.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { createAccessLogger, formatAccessLogLine } from "../server/access_log.ts";
import type { RequestRecord } from "../server/types.ts";
import { RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";

const RECORD_KEYS = [
  "remoteAddr",
  "method",
  "target",
  "httpVersion",
  "status",
  "bodyBytes",
  "durationMs",
  "startTime",
  "requestHeaders",
  "completed",
];

/** Sends `requests` on one connection of a server with `onRequestEnd`, then shuts it down. */
async function serveAndRecord(
  onRequestEnd: (record: RequestRecord) => void,
  requests: string[],
): Promise<void> {
  const test = startServer(() => new Response("hello"), { onRequestEnd });
  try {
    await using client = await RawClient.connect(test.port);
    await client.write(requests.join(""));
    const responses = await client.readResponses(requests.length);
    assert.deepEqual(responses.map((r) => r.status), requests.map(() => 200));
  } finally {
    await test.server.shutdown(); // every record is handed over by now
  }
}

const FIRST = "GET /a?x=1 HTTP/1.1\r\nHost: x\r\nReferer: http://x/from\r\n" +
  "User-Agent: first/1.0 caf\xe9\r\nCookie: a=1\r\nCookie: b=2\r\nX-Tab: a\tb\r\n\r\n";
const SECOND = "GET /b HTTP/1.1\r\nHost: x\r\nUser-Agent: second/2.0\r\n\r\n";

Deno.test("a real server's records keep their shape: keys, spread, JSON, headers read later", async () => {
  const records: RequestRecord[] = [];
  await serveAndRecord((record) => records.push(record), [FIRST, SECOND]);
  assert.equal(records.length, 2);
  const [first, second] = records as [RequestRecord, RequestRecord];
  for (const record of records) assert.deepEqual(Object.keys(record), RECORD_KEYS);
  // Read after the second record was made: each keeps its own request's fields.
  assert.ok(first.requestHeaders instanceof Headers);
  assert.equal(first.requestHeaders.get("user-agent"), "first/1.0 caf\xe9");
  assert.equal(first.requestHeaders.get("referer"), "http://x/from");
  assert.equal(first.requestHeaders.get("cookie"), "a=1; b=2");
  assert.equal(first.requestHeaders.get("x-tab"), "a\tb");
  assert.deepEqual([...first.requestHeaders.keys()], [
    "cookie",
    "host",
    "referer",
    "user-agent",
    "x-tab",
  ]);
  assert.equal(first.requestHeaders, first.requestHeaders, "built once, then kept");
  assert.equal(second.requestHeaders.get("user-agent"), "second/2.0");
  assert.equal(second.requestHeaders.get("referer"), null);

  // A spread copies the headers as a value (not as an accessor), like any data property.
  const copy = { ...second };
  assert.deepEqual(Object.keys(copy), RECORD_KEYS);
  const descriptor = Object.getOwnPropertyDescriptor(copy, "requestHeaders");
  assert.ok(descriptor?.value instanceof Headers && descriptor.enumerable);
  assert.equal(copy.requestHeaders.get("user-agent"), "second/2.0");
  assert.equal(copy.requestHeaders, second.requestHeaders);

  assert.deepEqual(JSON.parse(JSON.stringify(first)), {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: first.remoteAddr.port },
    method: "GET",
    target: "/a?x=1",
    httpVersion: "HTTP/1.1",
    status: 200,
    bodyBytes: 5,
    durationMs: first.durationMs,
    startTime: first.startTime.toISOString(),
    requestHeaders: {},
    completed: true,
  });
  assert.ok(first.startTime instanceof Date && first.durationMs >= 0);
  assert.ok(Math.abs(first.startTime.getTime() - Date.now()) < 60_000);

  // Assigning replaces the headers, as it would a data property.
  const replaced = new Headers({ "user-agent": "redacted" });
  second.requestHeaders = replaced;
  assert.equal(second.requestHeaders, replaced);
  assert.deepEqual({ ...second }.requestHeaders, replaced);
});

/** Replaces the global `Headers` while `body` runs, counting the objects built. */
async function countingHeaders(body: () => Promise<void>): Promise<number> {
  const original = globalThis.Headers;
  let built = 0;
  globalThis.Headers = class extends original {
    constructor(init?: HeadersInit) {
      super(init);
      built++;
    }
  };
  try {
    await body();
  } finally {
    globalThis.Headers = original;
  }
  return built;
}

Deno.test("the access log of a real server reads Referer and User-Agent without building Headers", async () => {
  const lines: string[] = [];
  const combined = createAccessLogger("combined", (line) => lines.push(line));
  const json = createAccessLogger("json", (line) => lines.push(line));
  const built = await countingHeaders(() =>
    serveAndRecord((record) => {
      combined(record);
      json(record);
    }, [FIRST, SECOND])
  );
  assert.equal(built, 0, "no Headers made for the log");
  assert.equal(lines.length, 4);
  assert.match(
    lines[0]!,
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a\?x=1 HTTP\/1\.1" 200 5 "http:\/\/x\/from" "first\/1\.0 caf\\xe9" [\d.]+ms$/,
  );
  const entry = JSON.parse(lines[1]!);
  assert.equal(entry.referer, "http://x/from");
  assert.equal(entry.user_agent, "first/1.0 caf\xe9");
  assert.match(lines[2]!, /"GET \/b HTTP\/1\.1" 200 5 "-" "second\/2\.0" [\d.]+ms$/);
  assert.equal(JSON.parse(lines[3]!).referer, null);

  // The counter counts: a consumer that reads the headers gets them built, once per record.
  const readers = await countingHeaders(() =>
    serveAndRecord((record) => {
      record.requestHeaders.get("accept");
      record.requestHeaders.has("accept");
    }, [FIRST, SECOND])
  );
  assert.equal(readers, 2);
});

Deno.test("a consumer that changes or copies the headers before logging is what the log shows", async () => {
  const lines: string[] = [];
  const log = createAccessLogger("combined", (line) => lines.push(line));
  await serveAndRecord((record) => {
    if (record.target === "/a?x=1") {
      record.requestHeaders.delete("user-agent");
      log(record);
      record.requestHeaders = new Headers({ "referer": "http://replaced/" });
      log(record);
      log({ ...record, target: "/copied" });
    } else {
      log({ ...record, target: "/copied" });
    }
  }, [FIRST, SECOND]);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /"GET \/a\?x=1 HTTP\/1\.1" 200 5 "http:\/\/x\/from" "-" /);
  assert.match(lines[1]!, /"GET \/a\?x=1 HTTP\/1\.1" 200 5 "http:\/\/replaced\/" "-" /);
  assert.match(lines[2]!, /"GET \/copied HTTP\/1\.1" 200 5 "http:\/\/replaced\/" "-" /);
  assert.match(lines[3]!, /"GET \/copied HTTP\/1\.1" 200 5 "-" "second\/2\.0" /);
});

/** Sends `request` on its own connection (half-closing after it when `eof`), reads to the close. */
async function sendRefused(port: number, request: string, eof = false): Promise<number> {
  await using client = await RawClient.connect(port);
  await client.write(request);
  if (eof) await client.closeWrite();
  const { responses } = await client.readUntilClose();
  return responses[0]?.status ?? 0;
}

Deno.test("a request refused before its head was complete is recorded with what was received of its line", async () => {
  const records: RequestRecord[] = [];
  const test = startServer(() => new Response("hello"), {
    onRequestEnd: (record) => records.push(record),
    headerTimeoutMs: 300,
  });
  const longTarget = "/" + "a".repeat(9000);
  const cases: [request: string, eof: boolean, status: number][] = [
    ["GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", false, 400],
    [`GET ${longTarget} HTTP/1.1\r\nHost: x\r\n\r\n`, false, 414],
    ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", false, 505],
    // 256 bytes and the line's CRLF: all of it, not cut.
    [`GET /${"b".repeat(242)} HTTP/2.0\r\nHost: x\r\n\r\n`, false, 505],
    // A line ends only at CRLF: one stopped by a bare LF or CR went on, and is marked cut.
    ["GET /bare\n\n", false, 400],
    ["GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", false, 400],
    ["\nGET / HTTP/1.1\r\n\r\n", false, 400],
    // A CR received last may begin the line's CRLF: nothing was cut.
    ["GET /cr\r", true, 400],
    ["\r\n".repeat(9), false, 400],
    // The request line was read: the refusal has a method and a target like any request.
    ["GET /x HTTP/1.1\r\nBad Header: y\r\n\r\n", false, 400],
    ["GET /y HTTP/1.0\r\nAccept: */*\r\n", true, 400],
    // A TLS ClientHello on the plain port: 400 as soon as it arrives (0x16 begins no method).
    ['\x16\x03\x01\x00\xa5\x01\x00\xff"\\', false, 400],
    // No line end ever comes: 408 at the header timeout.
    ["GET /never-ends", false, 408],
  ];
  try {
    for (const [request, eof, status] of cases) {
      assert.equal(await sendRefused(test.port, request, eof), status, JSON.stringify(request));
    }
  } finally {
    await test.server.shutdown();
  }
  const seen = records.map((r) => [r.method, r.target, r.httpVersion, r.status, r.requestLine]);
  assert.deepEqual(seen, [
    ["-", "-", "-", 400, "GET /a b HTTP/1.1"],
    ["-", "-", "-", 414, `GET ${longTarget}`.slice(0, 256) + "\u2026"],
    ["-", "-", "-", 505, "GET / HTTP/2.0"],
    ["-", "-", "-", 505, `GET /${"b".repeat(242)} HTTP/2.0`],
    ["-", "-", "-", 400, "GET /bare\u2026"],
    ["-", "-", "-", 400, "GET /a\u2026"],
    ["-", "-", "-", 400, "\u2026"],
    ["-", "-", "-", 400, "GET /cr"],
    ["-", "-", "-", 400, ""],
    ["GET", "/x", "HTTP/1.1", 400, undefined],
    ["GET", "/y", "HTTP/1.0", 400, undefined],
    ["-", "-", "-", 400, '\x16\x03\x01\x00\xa5\x01\x00\xff"\\'],
    ["-", "-", "-", 408, "GET /never-ends"],
  ]);
  for (const record of records) {
    assert.equal(record.completed, true);
    // The server's own short body ("400 Bad Request\n") was written: its bytes are counted.
    assert.equal(record.bodyBytes, ({ 400: 16, 408: 20, 414: 17, 505: 31 })[record.status]);
    assert.ok(
      !("requestLine" in record) || record.method === "-",
      "requestLine only when unparsed",
    );
  }

  // The log lines: the line as received, escaped and cut, "-" when there was none.
  const combined = records.map((record) => formatAccessLogLine("combined", record));
  const requestField = (line: string) => / - - \[[^\]]+\] (".*") (\d+ \S+) "-" "-" /.exec(line);
  assert.deepEqual(combined.map((line) => requestField(line)?.slice(1)), [
    ['"GET /a b HTTP/1.1"', "400 16"],
    [`"GET ${longTarget.slice(0, 252)}\u2026"`, "414 17"],
    ['"GET / HTTP/2.0"', "505 31"],
    [`"GET /${"b".repeat(242)} HTTP/2.0"`, "505 31"],
    ['"GET /bare\u2026"', "400 16"],
    ['"GET /a\u2026"', "400 16"],
    ['"\u2026"', "400 16"],
    ['"GET /cr"', "400 16"],
    ['"-"', "400 16"],
    ['"GET /x HTTP/1.1"', "400 16"],
    ['"GET /y HTTP/1.0"', "400 16"],
    ['"\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\xff\\"\\\\"', "400 16"],
    ['"GET /never-ends"', "408 20"],
  ]);
  const json = records.map((record) => JSON.parse(formatAccessLogLine("json", record)));
  assert.deepEqual(
    json.map((entry) => [entry.method, entry.target, entry.protocol, entry.request_line]),
    [
      [null, null, null, "GET /a b HTTP/1.1"],
      [null, null, null, `GET ${longTarget.slice(0, 252)}\u2026`],
      [null, null, null, "GET / HTTP/2.0"],
      [null, null, null, `GET /${"b".repeat(242)} HTTP/2.0`],
      [null, null, null, "GET /bare\u2026"],
      [null, null, null, "GET /a\u2026"],
      [null, null, null, "\u2026"],
      [null, null, null, "GET /cr"],
      [null, null, null, ""],
      ["GET", "/x", "HTTP/1.1", undefined],
      ["GET", "/y", "HTTP/1.0", undefined],
      [null, null, null, '\x16\x03\x01\x00\xa5\x01\x00\xff"\\'],
      [null, null, null, "GET /never-ends"],
    ],
  );
});

/** Content large enough that no socket buffers on loopback could hold it all (the client stops). */
const CUT_CONTENT_BYTES = 64 * 1024 * 1024;

/**
 * Requests `target` and reads its head and at least `contentBytes` of its content, then closes
 * the connection without reading the rest: a download cut short. Returns the content bytes the
 * client received (the chunk size line of a chunked response is framing, not content).
 */
async function cutDownload(port: number, target: string, contentBytes: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    const buffer = new Uint8Array(64 * 1024);
    let total = 0;
    let start = "";
    let framing = -1; // bytes before the content: the head, and the size line when chunked
    while (framing === -1 || total - framing < contentBytes) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`closed after ${total} bytes`);
      total += n;
      if (framing !== -1) continue;
      start += String.fromCharCode(...buffer.subarray(0, Math.min(n, 1024)));
      const head = /^[^]*?\r\n\r\n/.exec(start)?.[0];
      if (head === undefined) continue;
      if (!/\r\ntransfer-encoding: chunked\r\n/i.test(head)) framing = head.length;
      const sizeLine = /^[0-9a-f]+\r\n/.exec(start.slice(head.length))?.[0];
      if (sizeLine !== undefined) framing = head.length + sizeLine.length;
    }
    return total - framing;
  } finally {
    conn.close(); // with content unread: the server's next write fails
  }
}

Deno.test("a download cut short logs the content bytes that left, part of a piece included", async () => {
  const records = new Map<string, PromiseWithResolvers<RequestRecord>>();
  const content = new Uint8Array(CUT_CONTENT_BYTES).fill(0x61);
  const test = startServer((request) => {
    const path = new URL(request.url).pathname;
    // One piece of content: in memory, or one stream chunk with or without a Content-Length.
    if (path === "/memory") return new Response(content);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(content);
        controller.close();
      },
    });
    return new Response(stream, {
      headers: path === "/length" ? { "content-length": String(content.length) } : {},
    });
  }, { onRequestEnd: (record) => records.get(record.target)?.resolve(record) });
  const seen: [string, boolean, string][] = [];
  try {
    for (const target of ["/memory", "/length", "/chunked"]) {
      records.set(target, Promise.withResolvers());
      const received = await cutDownload(test.port, target, 256 * 1024);
      const record = await records.get(target)!.promise;
      // Everything the client read had been written; not everything was (it stopped reading).
      const bytes = record.bodyBytes;
      const range = bytes < received
        ? `${bytes} < ${received} received`
        : bytes >= content.length
        ? `${bytes}: all of it`
        : "between";
      seen.push([target, record.completed, range]);
    }
  } finally {
    await test.server.shutdown();
  }
  assert.deepEqual(seen, [
    ["/memory", false, "between"],
    ["/length", false, "between"],
    ["/chunked", false, "between"],
  ]);
});

Deno.test("a 408 is logged with the time from the request's first bytes to the answer", async () => {
  const timeoutMs = 1000;
  const records: RequestRecord[] = [];
  const test = startServer(() => new Response("hello"), {
    onRequestEnd: (record) => records.push(record),
    headerTimeoutMs: timeoutMs,
  });
  const sentAt: number[] = [];
  try {
    // Two clients that stop: one within its request line, one within its fields.
    await Promise.all(["GET /never-ends", "GET /slow HTTP/1.1\r\nHost: x\r\n"].map(async (head) => {
      await using client = await RawClient.connect(test.port);
      await client.write(head);
      sentAt.push(Date.now());
      const { responses } = await client.readUntilClose();
      assert.equal(responses[0]?.status, 408);
    }));
  } finally {
    await test.server.shutdown();
  }
  assert.equal(records.length, 2);
  const firstSent = Math.min(...sentAt);
  for (const record of records) {
    assert.equal(record.status, 408);
    // The server waited the whole header timeout for the rest of the head; the record says so,
    // and begins when the head's first bytes came, not when the server gave up on them.
    assert.ok(record.durationMs >= timeoutMs - 5, `${record.target}: ${record.durationMs} ms`);
    const startedAfterSend = record.startTime.getTime() - firstSent;
    assert.ok(
      startedAfterSend > -timeoutMs / 2 && startedAfterSend < timeoutMs / 2,
      `${record.target}: began ${startedAfterSend} ms after the bytes were sent`,
    );
  }
  const json = records.map((record) => JSON.parse(formatAccessLogLine("json", record)));
  for (const entry of json) assert.ok(entry.duration_ms >= timeoutMs - 5);
});
