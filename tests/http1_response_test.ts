/** Response serialization: status lines, framing fields, Date, and header validation. */
import assert from "node:assert/strict";
import { HttpError } from "../server/http1/errors.ts";
import { encodeChunk, LAST_CHUNK } from "../server/http1/body_encoding.ts";
import { formatHttpDate } from "../server/http1/http_date.ts";
import { mayCarryContentLength, responseHasBody } from "../server/http1/response_framing.ts";
import { encodeErrorResponse, encodeResponseHead } from "../server/http1/response_head.ts";

const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

Deno.test("formatHttpDate writes IMF-fixdate in GMT", () => {
  assert.equal(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37)), DATE);
  assert.equal(formatHttpDate(Date.UTC(2026, 0, 1, 0, 0, 0)), "Thu, 01 Jan 2026 00:00:00 GMT");
});

const HEAD_ROWS: {
  name: string;
  init: Parameters<typeof encodeResponseHead>[0];
  expected: string;
}[] = [
  {
    name: "length-framed 200",
    init: {
      status: 200,
      fields: [["content-type", "text/plain"]],
      announcedLength: null,
      framing: { kind: "length", length: 5 },
      connection: "none",
      date: DATE,
    },
    expected:
      `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ndate: ${DATE}\r\ncontent-length: 5\r\n\r\n`,
  },
  {
    name: "chunked with close",
    init: {
      status: 200,
      fields: [],
      announcedLength: null,
      framing: { kind: "chunked" },
      connection: "close",
      date: DATE,
    },
    expected:
      `HTTP/1.1 200 OK\r\ndate: ${DATE}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
  },
  {
    name: "custom reason phrase and handler Date kept",
    init: {
      status: 404,
      statusText: "Nowhere",
      fields: [["date", "x"]],
      announcedLength: null,
      framing: { kind: "length", length: 0 },
      connection: "none",
      date: DATE,
    },
    expected: "HTTP/1.1 404 Nowhere\r\ndate: x\r\ncontent-length: 0\r\n\r\n",
  },
  {
    name: "a 101 with Upgrade gets the upgrade connection option (RFC 9110 §7.8)",
    init: {
      status: 101,
      fields: [["upgrade", "websocket"], ["connection", "close"]],
      framing: { kind: "none" },
      announcedLength: null,
      connection: "none",
      date: DATE,
    },
    expected:
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\ndate: ${DATE}\r\nconnection: upgrade\r\n\r\n`,
  },
  {
    name: "handler framing fields are replaced by the server's",
    init: {
      status: 200,
      fields: [
        ["content-length", "999"],
        ["transfer-encoding", "gzip"],
        ["connection", "upgrade"],
        ["keep-alive", "timeout=5"],
      ],
      announcedLength: null,
      framing: { kind: "length", length: 1 },
      connection: "keep-alive",
      date: DATE,
    },
    expected:
      `HTTP/1.1 200 OK\r\ndate: ${DATE}\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\n`,
  },
  {
    name: "HEAD announces the length without a body",
    init: {
      status: 200,
      fields: [],
      framing: { kind: "none" },
      announcedLength: 42,
      connection: "none",
      date: DATE,
    },
    expected: `HTTP/1.1 200 OK\r\ndate: ${DATE}\r\ncontent-length: 42\r\n\r\n`,
  },
  {
    name: "unknown status gets an empty reason",
    init: {
      status: 299,
      fields: [],
      announcedLength: null,
      framing: { kind: "none" },
      connection: "none",
      date: DATE,
    },
    expected: `HTTP/1.1 299 \r\ndate: ${DATE}\r\n\r\n`,
  },
];

for (const row of HEAD_ROWS) {
  Deno.test(`encodeResponseHead: ${row.name}`, () => {
    assert.equal(encodeResponseHead(row.init), row.expected);
  });
}

const INJECTIONS: [string, [string, string][], string?][] = [
  ["CRLF in a value", [["x", "a\r\nInjected: yes"]]],
  ["LF in a value", [["x", "a\nb"]]],
  ["NUL in a value", [["x", "a\0b"]]],
  ["CR in a name", [["x\r\ny", "1"]]],
  ["colon in a name", [["x:y", "1"]]],
  ["empty name", [["", "1"]]],
  ["non-Latin-1 value", [["x", "\u20ac"]]],
  ["CRLF in the reason phrase", [], "OK\r\nInjected: yes"],
];

for (const [name, headers, statusText] of INJECTIONS) {
  Deno.test(`encodeResponseHead refuses ${name} with a 500 error`, () => {
    assert.throws(
      () =>
        encodeResponseHead({
          status: 200,
          ...(statusText === undefined ? {} : { statusText }),
          fields: headers,
          announcedLength: null,
          framing: { kind: "length", length: 0 },
          connection: "none",
          date: DATE,
        }),
      (error: unknown) => error instanceof HttpError && error.status === 500,
    );
  });
}

Deno.test("bodies: HEAD, 1xx, 204 and 304 have none; 1xx and 204 carry no Content-Length", () => {
  assert.equal(responseHasBody("GET", 200), true);
  assert.equal(responseHasBody("HEAD", 200), false);
  assert.equal(responseHasBody("GET", 204), false);
  assert.equal(responseHasBody("GET", 304), false);
  assert.equal(responseHasBody("GET", 103), false);
  assert.equal(mayCarryContentLength(204), false);
  assert.equal(mayCarryContentLength(101), false);
  assert.equal(mayCarryContentLength(304), true);
});

Deno.test("encodeChunk frames data with a hex size and CRLF; LAST_CHUNK ends the body", () => {
  const decoder = new TextDecoder();
  assert.equal(
    decoder.decode(encodeChunk(new Uint8Array(26).fill(0x61))),
    `1a\r\n${"a".repeat(26)}\r\n`,
  );
  assert.equal(decoder.decode(LAST_CHUNK), "0\r\n\r\n");
});

Deno.test("serializeErrorResponse never carries internal text", () => {
  const text = new TextDecoder().decode(encodeErrorResponse(431, DATE, "close"));
  assert.equal(
    text,
    `HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `date: ${DATE}\r\ncontent-length: 36\r\nconnection: close\r\n\r\n` +
      "431 Request Header Fields Too Large\n",
  );
});
