/**
 * Request parser tables: every row is parsed whole, one byte at a time, and followed by the
 * bytes of a next request (which must then parse too, proving nothing was over- or under-read).
 */
import assert from "node:assert/strict";
import { HttpError } from "../server/http1/errors.ts";
import type { RequestHead } from "../server/http1/request_head.ts";
import { type ParseEvent, RequestParser } from "../server/http1/request_parser.ts";
import type { FramingLimits } from "../server/limits.ts";

const encoder = new TextEncoder();

interface Parsed {
  head: RequestHead;
  body: string;
  trailers: [string, string][] | null;
}

/** Feeds `chunks` and collects complete messages; throws the parser's HttpError. */
function parseAll(chunks: Uint8Array[], limits: Partial<FramingLimits> = {}): Parsed[] {
  const parser = new RequestParser(limits);
  const messages: Parsed[] = [];
  let current: Parsed | null = null;
  const decoder = new TextDecoder("latin1");
  for (const chunk of chunks) {
    // A fresh copy per feed, zeroed afterwards: proves the parser does not keep borrowed bytes.
    const borrowed = chunk.slice();
    parser.feed(borrowed);
    for (;;) {
      const event: ParseEvent = parser.next();
      if (event.type === "need-data") break;
      if (event.type === "head") current = { head: event.head, body: "", trailers: null };
      else if (event.type === "data") current!.body += decoder.decode(event.data);
      else if (event.type === "end") {
        current!.trailers = event.trailers?.toPairs() ?? null;
        messages.push(current!);
        current = null;
      }
    }
    borrowed.fill(0);
  }
  return messages;
}

function splits(wire: string): [string, Uint8Array[]][] {
  const bytes = encodeLatin1(wire);
  const oneByOne: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) oneByOne.push(bytes.subarray(i, i + 1));
  const halves = [bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)];
  return [["whole", [bytes]], ["byte by byte", oneByOne], ["in two halves", halves]];
}

function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const NEXT_REQUEST = "GET /next HTTP/1.1\r\nHost: n\r\n\r\n";

interface AcceptRow {
  name: string;
  wire: string;
  method?: string;
  target?: string;
  targetForm?: string;
  minorVersion?: number;
  headers?: [string, string][];
  body?: string;
  framing?: string;
  keepAlive?: boolean;
  expectContinue?: boolean;
  trailers?: [string, string][] | null;
}

const ACCEPTED: AcceptRow[] = [
  {
    name: "minimal GET",
    wire: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    method: "GET",
    target: "/",
    targetForm: "origin",
    minorVersion: 1,
    headers: [["host", "example.com"]],
    body: "",
    framing: "none",
    keepAlive: true,
  },
  {
    name: "header names are case-insensitive and values OWS-trimmed",
    wire: "GET /a?b=c HTTP/1.1\r\nHOST:  example.com \t\r\nX-Thing:\tv1 v2\r\n\r\n",
    target: "/a?b=c",
    headers: [["host", "example.com"], ["x-thing", "v1 v2"]],
  },
  {
    name: "repeated fields keep their order",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nX: 1\r\naccept: b\r\n\r\n",
    headers: [["host", "h"], ["accept", "a"], ["x", "1"], ["accept", "b"]],
  },
  {
    name: "empty field value",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",
    headers: [["host", "h"], ["x-empty", ""]],
  },
  {
    name: "obs-text in a value is kept as ISO-8859-1",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9\r\n\r\n",
    headers: [["host", "h"], ["x", "caf\xe9"]],
  },
  {
    // RFC 9110 §2.5: a higher minor version is processed as the highest one implemented.
    name: "HTTP/1.2 is processed as HTTP/1.1",
    wire: "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
    minorVersion: 1,
    keepAlive: true,
  },
  {
    name: "HTTP/1.0 without Host closes by default",
    wire: "GET / HTTP/1.0\r\n\r\n",
    minorVersion: 0,
    keepAlive: false,
  },
  {
    name: "HTTP/1.0 with keep-alive",
    wire: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    keepAlive: true,
  },
  {
    name: "HTTP/1.1 with Connection: close",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n",
    keepAlive: false,
  },
  {
    name: "Content-Length body",
    wire: "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
    method: "POST",
    body: "hello world",
    framing: "length",
  },
  {
    name: "Content-Length zero",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    body: "",
    framing: "none",
  },
  {
    name: "identical repeated Content-Length is folded",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
    body: "abc",
  },
  {
    name: "Content-Length with leading zeros",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc",
    body: "abc",
  },
  {
    name: "chunked body",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    body: "hello world",
    framing: "chunked",
    trailers: null,
  },
  {
    name: "chunked with upper-case hex, extensions and trailers",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n" +
      'A;name=value;flag\r\n0123456789\r\n1 ; q="a \\" b"\r\nx\r\n0\r\nDigest: abc\r\nX-T: 1\r\n\r\n',
    body: "0123456789x",
    trailers: [["digest", "abc"], ["x-t", "1"]],
  },
  {
    name: "Transfer-Encoding list with empty elements",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
    framing: "chunked",
    body: "",
  },
  {
    name: "leading empty lines are ignored",
    wire: "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    method: "GET",
  },
  {
    name: "absolute-form target",
    wire: "GET http://example.com/x?y HTTP/1.1\r\nHost: other\r\n\r\n",
    target: "http://example.com/x?y",
    targetForm: "absolute",
  },
  {
    name: "asterisk-form for OPTIONS",
    wire: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    targetForm: "asterisk",
  },
  {
    name: "authority-form for CONNECT",
    wire: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    targetForm: "authority",
  },
  {
    name: "extension method",
    wire: "PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n",
    method: "PROPFIND",
  },
  {
    name: "Expect: 100-continue with a body",
    wire: "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
    expectContinue: true,
    body: "x",
  },
  {
    name: "Expect: 100-continue ignored on HTTP/1.0",
    wire: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    expectContinue: false,
  },
  {
    name: "IPv6 literal Host with port",
    wire: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
  },
  {
    name: "browser-style raw characters in the query",
    wire: "GET /search?q=a|b^c{d}[e]`f HTTP/1.1\r\nHost: h\r\n\r\n",
    target: "/search?q=a|b^c{d}[e]`f",
  },
];

for (const row of ACCEPTED) {
  for (const [mode, chunks] of splits(row.wire)) {
    Deno.test(`parser accepts ${row.name} (${mode})`, () => {
      const [message, ...rest] = parseAll(chunks);
      assert.equal(rest.length, 0);
      assert.ok(message);
      const head = message.head;
      if (row.method) assert.equal(head.method, row.method);
      if (row.target) assert.equal(head.target, row.target);
      if (row.targetForm) assert.equal(head.targetForm, row.targetForm);
      if (row.minorVersion !== undefined) assert.equal(head.minorVersion, row.minorVersion);
      if (row.headers) assert.deepEqual(head.fields.toPairs(), row.headers);
      if (row.body !== undefined) assert.equal(message.body, row.body);
      if (row.framing) assert.equal(head.framing.kind, row.framing);
      if (row.keepAlive !== undefined) assert.equal(head.keepAlive, row.keepAlive);
      if (row.expectContinue !== undefined) assert.equal(head.expectContinue, row.expectContinue);
      if (row.trailers !== undefined) assert.deepEqual(message.trailers, row.trailers);
    });
  }
  Deno.test(`parser accepts ${row.name} followed by a pipelined request`, () => {
    const messages = parseAll([encodeLatin1(row.wire + NEXT_REQUEST)]);
    assert.equal(messages.length, 2);
    assert.equal(messages[1]!.head.target, "/next");
  });
}

interface RejectRow {
  name: string;
  wire: string;
  status: number;
  limits?: Partial<FramingLimits>;
}

const REJECTED: RejectRow[] = [
  // Request line.
  { name: "lower-case HTTP version", wire: "GET / http/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "HTTP/2.0", wire: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505 },
  { name: "HTTP/1.2 without Host", wire: "GET / HTTP/1.2\r\n\r\n", status: 400 },
  { name: "HTTP/0.9 request", wire: "GET /\r\n\r\n", status: 400 },
  { name: "version with two digits", wire: "GET / HTTP/1.10\r\nHost: h\r\n\r\n", status: 400 },
  { name: "two spaces after method", wire: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "tab as separator", wire: "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  {
    name: "trailing space in request line",
    wire: "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
    status: 400,
  },
  { name: "invalid method character", wire: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "space in target", wire: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "NUL in target", wire: "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "fragment in target", wire: "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  {
    name: "raw UTF-8 in target",
    wire: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
    status: 400,
  },
  { name: "relative target", wire: "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "asterisk-form for GET", wire: "GET * HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "CONNECT with origin-form", wire: "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  {
    name: "too many empty lines first",
    wire: "\r\n".repeat(9) + "GET / HTTP/1.1\r\n\r\n",
    status: 400,
  },
  {
    name: "request line too long",
    wire: `GET /${"a".repeat(100)} HTTP/1.1\r\nHost: h\r\n\r\n`,
    status: 414,
    limits: { maxRequestLineBytes: 64 },
  },
  // Line endings.
  { name: "bare LF after request line", wire: "GET / HTTP/1.1\nHost: h\r\n\r\n", status: 400 },
  { name: "bare LF after a field", wire: "GET / HTTP/1.1\r\nHost: h\n\r\n", status: 400 },
  { name: "bare LF ending the head", wire: "GET / HTTP/1.1\r\nHost: h\r\n\n", status: 400 },
  { name: "bare CR in a value", wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", status: 400 },
  { name: "bare CR in request line", wire: "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  // Field lines.
  { name: "space before colon", wire: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400 },
  { name: "tab before colon", wire: "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", status: 400 },
  { name: "obs-fold", wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", status: 400 },
  {
    name: "whitespace before the first field",
    wire: "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
    status: 400,
  },
  { name: "NUL in a value", wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", status: 400 },
  { name: "DEL in a value", wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", status: 400 },
  {
    name: "control byte in a value",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
    status: 400,
  },
  {
    name: "invalid name character",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n",
    status: 400,
  },
  { name: "empty field name", wire: "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", status: 400 },
  {
    name: "field without colon",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
    status: 400,
  },
  { name: "missing Host on HTTP/1.1", wire: "GET / HTTP/1.1\r\nX: 1\r\n\r\n", status: 400 },
  { name: "two Host fields", wire: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400 },
  {
    name: "two identical Host fields",
    wire: "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    status: 400,
  },
  { name: "Host with a path", wire: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: 400 },
  { name: "Host with userinfo", wire: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", status: 400 },
  { name: "empty Host", wire: "GET / HTTP/1.1\r\nHost:\r\n\r\n", status: 400 },
  { name: "Host list", wire: "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", status: 400 },
  {
    name: "unsupported expectation",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nExpect: x\r\n\r\n",
    status: 417,
  },
  {
    name: "too many fields",
    wire: "GET / HTTP/1.1\r\nHost: h\r\n" + "X: 1\r\n".repeat(5) + "\r\n",
    status: 431,
    limits: { maxHeaderCount: 5 },
  },
  {
    name: "header section too large",
    wire: "GET / HTTP/1.1\r\nHost: h\r\nX: " + "a".repeat(200) + "\r\n\r\n",
    status: 431,
    limits: { maxHeaderBytes: 100 },
  },
  // Body framing: the smuggling set.
  {
    name: "Content-Length with Transfer-Encoding",
    wire:
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "Transfer-Encoding with Content-Length",
    wire:
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "differing Content-Length values",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    status: 400,
  },
  {
    name: "Content-Length list that differs",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n",
    status: 400,
  },
  {
    name: "signed Content-Length",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
    status: 400,
  },
  {
    name: "negative Content-Length",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
    status: 400,
  },
  {
    name: "space inside Content-Length",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
    status: 400,
  },
  {
    name: "hex Content-Length",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n",
    status: 400,
  },
  {
    name: "empty Content-Length",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
    status: 400,
  },
  {
    name: "Content-Length beyond 2^53",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
    status: 400,
  },
  {
    name: "Content-Length above the body limit",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n",
    status: 413,
    limits: { maxBodyBytes: 100 },
  },
  {
    name: "chunked not final",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    status: 400,
  },
  {
    name: "only gzip",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    status: 400,
  },
  {
    name: "xchunked",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
    status: 400,
  },
  {
    name: "chunked twice",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
    status: 400,
  },
  {
    name: "empty Transfer-Encoding",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
    status: 400,
  },
  {
    name: "gzip then chunked is not implemented",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    status: 501,
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    wire: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "Transfer-Encoding with obs-fold",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
    status: 400,
  },
  // Chunked decoding.
  {
    name: "chunk-size overflow",
    wire:
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "chunk larger than the body limit",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
    status: 413,
  },
  {
    name: "chunks adding up past the body limit",
    wire:
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
    status: 413,
    limits: { maxBodyBytes: 10 },
  },
  {
    name: "chunk data without CRLF",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "chunk data followed by bare LF",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "chunk size with bare LF",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "negative chunk size",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "0x prefix in chunk size",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "empty chunk size",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "malformed chunk extension",
    wire:
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "unterminated quoted chunk extension",
    wire:
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a="x\r\nabc\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: "chunk extension too long",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=" + "b".repeat(50) +
      "\r\nabc\r\n0\r\n\r\n",
    status: 400,
    limits: { maxChunkExtensionBytes: 20 },
  },
  {
    name: "too many chunk extension bytes in a message",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "1;aaaaaaaa\r\nx\r\n".repeat(10) + "0\r\n\r\n",
    status: 400,
    limits: { maxChunkExtensionsTotalBytes: 50 },
  },
  {
    name: "trailer with obs-fold",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n",
    status: 400,
  },
  {
    name: "trailer section too large",
    wire: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " +
      "a".repeat(100) +
      "\r\n\r\n",
    status: 431,
    limits: { maxTrailerBytes: 50 },
  },
];

for (const row of REJECTED) {
  for (const [mode, chunks] of splits(row.wire)) {
    Deno.test(`parser rejects ${row.name} with ${row.status} (${mode})`, () => {
      assert.throws(
        () => parseAll(chunks, row.limits),
        (error: unknown) => error instanceof HttpError && error.status === row.status,
      );
    });
  }
}

// A request line still arriving is refused (400) by its first byte that no request line can
// have there (RFC 9112 §3; nginx refuses the same way), not when its line ends — which a TLS
// ClientHello sent to the plain port may never do. Each row ends with that byte: every byte
// before it leaves the parser waiting, that byte (alone or with the rest) gets 400.
const REFUSED_AS_THEY_ARRIVE: { name: string; bytes: string }[] = [
  { name: "a TLS ClientHello (0x16 is no tchar)", bytes: "\x16" },
  { name: "a TLS ClientHello's record after a leading empty line", bytes: "\r\n\x16" },
  { name: "a SP before the method", bytes: " " },
  { name: "a non-tchar in the method", bytes: "G(" },
  { name: "a byte >= 0x80 in the method", bytes: "GE\xc3" },
  { name: "a tab after the method", bytes: "GET\t" },
  { name: "a CR after the method", bytes: "GET\r" },
  { name: "two SPs after the method", bytes: "GET  " },
  { name: "a control character in the target", bytes: "GET /a\x01" },
  { name: "NUL in the target", bytes: "GET /\0" },
  { name: "DEL in the target", bytes: "GET /\x7f" },
  { name: "raw UTF-8 in the target", bytes: "GET /caf\xc3" },
  { name: "a CR in the target (an HTTP/0.9 line, or a bare CR)", bytes: "GET /\r" },
  { name: "a fragment in the target", bytes: "GET /a#" },
  { name: "a version that cannot become HTTP/", bytes: "GET / HTTX" },
  { name: "a lower-case version", bytes: "GET / h" },
  { name: "a version with a letter for a digit", bytes: "GET / HTTP/x" },
  { name: "a version with two major digits", bytes: "GET / HTTP/11" },
  { name: "a version with two minor digits", bytes: "GET / HTTP/1.10" },
  { name: "a SP after the version", bytes: "GET / HTTP/1.1 " },
  { name: "a CR too early in the version", bytes: "GET / HTTP/1.\r" },
  { name: "a bare CR after the version", bytes: "GET / HTTP/1.1\r\r" },
  { name: "a bare CR at the start of a line", bytes: "\rG" },
  { name: "garbage after a complete request", bytes: NEXT_REQUEST + "\x16" },
];

for (const row of REFUSED_AS_THEY_ARRIVE) {
  Deno.test(`parser refuses a request line as it arrives: ${row.name}`, () => {
    const input = encodeLatin1(row.bytes);
    const parser = new RequestParser();
    for (let i = 0; i + 1 < input.length; i++) {
      parser.feed(input.subarray(i, i + 1));
      for (let event = parser.next(); event.type !== "need-data"; event = parser.next());
    }
    parser.feed(input.subarray(input.length - 1));
    assert.throws(
      () => {
        for (let event = parser.next(); event.type !== "need-data"; event = parser.next());
      },
      (e: unknown) => e instanceof HttpError && e.status === 400,
    );
    // Fed in one piece, with more bytes than the refused one, it is refused the same.
    assert.throws(
      () => parseAll([encodeLatin1(row.bytes + "x HTTP/1.1")]),
      (e: unknown) => e instanceof HttpError && e.status === 400,
    );
  });
}

// What only a whole line shows is still judged only when the line ends, with its own status:
// every proper prefix of these lines leaves the parser waiting.
const REFUSED_ONLY_WHOLE: { name: string; wire: string; status: number; limit?: number }[] = [
  { name: "HTTP/2.0 (505)", wire: "GET / HTTP/2.0\r\n\r\n", status: 505 },
  { name: "the HTTP/2 preface (505)", wire: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505 },
  { name: "a relative target", wire: "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  { name: "asterisk-form for GET", wire: "GET * HTTP/1.1\r\nHost: h\r\n\r\n", status: 400 },
  {
    name: "a line over the length limit (414)",
    wire: "GET /" + "a".repeat(100) + " HTTP/1.1\r\n\r\n",
    status: 414,
    limit: 64,
  },
];

for (const row of REFUSED_ONLY_WHOLE) {
  Deno.test(`parser waits for the whole request line to refuse ${row.name}`, () => {
    const input = encodeLatin1(row.wire);
    const lineLength = row.wire.indexOf("\r\n");
    const limits = row.limit === undefined ? {} : { maxRequestLineBytes: row.limit };
    const parser = new RequestParser(limits);
    // Up to its CR (or to the length limit), every byte of the line leaves the parser waiting.
    const waiting = Math.min(lineLength + 1, (row.limit ?? Infinity) + 1);
    for (let fed = 0; fed < waiting; fed++) {
      parser.feed(input.subarray(fed, fed + 1));
      assert.equal(parser.next().type, "need-data", `after ${fed + 1} bytes`);
    }
    assert.throws(
      () => parseAll([input], limits),
      (e: unknown) => e instanceof HttpError && e.status === row.status,
    );
  });
}

Deno.test("parser waits on a lone CR before the request line: it may begin an empty line", () => {
  const parser = new RequestParser();
  for (const byte of encodeLatin1("\r\n\r")) {
    parser.feed(new Uint8Array([byte]));
    assert.equal(parser.next().type, "need-data");
  }
  parser.feed(encodeLatin1("\n" + NEXT_REQUEST));
  const event = parser.next();
  assert.equal(event.type === "head" && event.head.target, "/next");
});

Deno.test("a refused request line is cut where more than its CRLF was received", async (t) => {
  // [input, maxBytes, text, cut]: a line ends only at CRLF, so a bare CR or LF cuts it as the
  // byte limit does; nothing after the text, or its CRLF (or a CR received last), does not.
  const rows: [string, number, string, boolean][] = [
    ["GET /a b HTTP/1.1\r\n\r\n", 256, "GET /a b HTTP/1.1", false],
    ["GET /a\rb HTTP/1.1\r\n\r\n", 256, "GET /a", true],
    ["GET /bare\n\n", 256, "GET /bare", true],
    ["\nGET / HTTP/1.1\r\n\r\n", 256, "", true],
    ["GET /x\r", 256, "GET /x", false],
    ["GET /x", 256, "GET /x", false],
    ["GET /aaaaaaaaaa", 8, "GET /aaa", true],
    ["GET /aaa\r\n\r\n", 8, "GET /aaa", false],
    ["GET /aaa\r", 8, "GET /aaa", false],
    ["GET /aaa\rx", 8, "GET /aaa", true],
    ["GET /aaa\nx", 8, "GET /aaa", true],
  ];
  for (const [input, maxBytes, text, cut] of rows) {
    await t.step(JSON.stringify([input, maxBytes]), () => {
      // Received at once (fed a byte at a time, a line is refused at its first wrong byte).
      const parser = new RequestParser();
      parser.feed(encodeLatin1(input));
      try {
        assert.equal(parser.next().type, "need-data");
      } catch {
        // Refused: what was received is recorded.
      }
      assert.deepEqual(parser.requestLineSoFar(maxBytes), { parsed: false, text, cut });
    });
  }
});

Deno.test("parser keeps failing after an error", () => {
  const parser = new RequestParser();
  parser.feed(encoder.encode("GET / HTTP/1.1\r\nHost : h\r\n\r\n"));
  assert.throws(() => parser.next(), HttpError);
  parser.feed(encoder.encode(NEXT_REQUEST));
  assert.throws(() => parser.next(), HttpError);
});

Deno.test("parser reports 414 before the end of an endless request line arrives", () => {
  const parser = new RequestParser({ maxRequestLineBytes: 100 });
  parser.feed(encoder.encode("GET /" + "a".repeat(50)));
  assert.equal(parser.next().type, "need-data");
  parser.feed(encoder.encode("a".repeat(100)));
  assert.throws(() => parser.next(), (e: unknown) => e instanceof HttpError && e.status === 414);
});

Deno.test("parser reports 431 before the end of an endless header section arrives", () => {
  const parser = new RequestParser({ maxHeaderBytes: 100 });
  parser.feed(encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n"));
  assert.equal(parser.next().type, "need-data");
  parser.feed(encoder.encode("X: " + "a".repeat(200)));
  assert.throws(() => parser.next(), (e: unknown) => e instanceof HttpError && e.status === 431);
});

Deno.test("parser is idle between requests and not in the middle of one", () => {
  const parser = new RequestParser();
  assert.equal(parser.isIdle, true);
  parser.feed(encoder.encode("GET / HT"));
  assert.equal(parser.next().type, "need-data");
  assert.equal(parser.isIdle, false);
  parser.feed(encoder.encode("TP/1.1\r\nHost: h\r\n\r\n"));
  assert.equal(parser.next().type, "head");
  assert.equal(parser.next().type, "end");
  assert.equal(parser.next().type, "need-data");
  assert.equal(parser.isIdle, true);
});

Deno.test("parser resumes a long header line without rescanning it (linear work)", () => {
  // 64 KiB of header value fed one byte at a time must cost about as much per byte as fed whole.
  const limits = { maxHeaderBytes: 1 << 20 };
  const wire = encoder.encode(
    "GET / HTTP/1.1\r\nHost: h\r\nX: " + "a".repeat(1 << 16) + "\r\n\r\n",
  );
  const indexOfCalls = { count: 0 };
  const original = Uint8Array.prototype.indexOf;
  let scanned = 0;
  Uint8Array.prototype.indexOf = function (this: Uint8Array, value: number, from?: number) {
    indexOfCalls.count++;
    const result = original.call(this, value, from);
    scanned += (result === -1 ? this.length : result + 1) - (from ?? 0);
    return result;
  };
  try {
    parseAll([...Array(wire.length).keys()].map((i) => wire.subarray(i, i + 1)), limits);
  } finally {
    Uint8Array.prototype.indexOf = original;
  }
  // Each byte is searched at most a small constant number of times.
  assert.ok(scanned <= 4 * wire.length, `scanned ${scanned} bytes for ${wire.length}`);
});
