import assert from "node:assert/strict";
import {
  createAccessLogger,
  escapeLogField,
  formatAccessLogLine,
  formatClfTime,
  writeAllSync,
} from "../server/access_log.ts";
import type { RequestRecord } from "../server/types.ts";

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 51234 },
    method: "GET",
    target: "/index.html?x=1",
    httpVersion: "HTTP/1.1",
    status: 200,
    bodyBytes: 1234,
    durationMs: 0.41234,
    startTime: new Date(Date.UTC(2026, 10, 4, 3, 5, 9)),
    requestHeaders: new Headers({
      "referer": "https://example.com/a",
      "user-agent": "curl/8.5.0",
    }),
    completed: true,
    ...overrides,
  };
}

Deno.test("common format is exactly NCSA CLF", () => {
  assert.equal(
    formatAccessLogLine("common", record()),
    '203.0.113.7 - - [04/Nov/2026:03:05:09 +0000] "GET /index.html?x=1 HTTP/1.1" 200 1234',
  );
});

Deno.test("combined format adds referer, user agent and duration", () => {
  assert.equal(
    formatAccessLogLine("combined", record()),
    '203.0.113.7 - - [04/Nov/2026:03:05:09 +0000] "GET /index.html?x=1 HTTP/1.1" 200 1234 ' +
      '"https://example.com/a" "curl/8.5.0" 0.412ms',
  );
});

Deno.test("absent headers and empty bodies are logged as -", () => {
  const line = formatAccessLogLine(
    "combined",
    record({ method: "HEAD", status: 304, bodyBytes: 0, requestHeaders: new Headers() }),
  );
  assert.equal(
    line,
    '203.0.113.7 - - [04/Nov/2026:03:05:09 +0000] "HEAD /index.html?x=1 HTTP/1.1" 304 - "-" "-" ' +
      "0.412ms",
  );
});

Deno.test("json format carries every field and parses back", () => {
  const line = formatAccessLogLine("json", record({ completed: false, durationMs: 12 }));
  assert.deepEqual(JSON.parse(line), {
    time: "2026-11-04T03:05:09.000Z",
    remote_addr: "203.0.113.7",
    remote_port: 51234,
    method: "GET",
    target: "/index.html?x=1",
    protocol: "HTTP/1.1",
    status: 200,
    bytes: 1234,
    duration_ms: 12,
    referer: "https://example.com/a",
    user_agent: "curl/8.5.0",
    completed: false,
  });
  const bare = JSON.parse(formatAccessLogLine("json", record({ requestHeaders: new Headers() })));
  assert.equal(bare.referer, null);
  assert.equal(bare.user_agent, null);
});

Deno.test("client-supplied text cannot forge a line or break a quoted field", () => {
  const hostile = record({
    target: '/a"b\\c\x1b[31m\u00e9',
    requestHeaders: new Headers({ "user-agent": 'x" 500 "evil', "referer": "r\u00ff" }),
  });
  for (const format of ["common", "combined", "json"] as const) {
    const line = formatAccessLogLine(format, hostile);
    assert.ok([...line].every((c) => c >= " "), `${format}: ${line}`);
  }
  const combined = formatAccessLogLine("combined", hostile);
  assert.ok(combined.includes('"GET /a\\"b\\\\c\\x1b[31m\\xe9 HTTP/1.1"'), combined);
  assert.ok(combined.includes('"r\\xff" "x\\" 500 \\"evil"'), combined);
  // A refused request's line as received: escaped the same way; only the cut mark at its end
  // (U+2026, which no received byte decodes to) is written as itself.
  const refused = record({
    method: "-",
    target: "-",
    httpVersion: "-",
    requestLine: 'GET /" 200 1\r\n1.2.3.4 - - \xff\u2026x\u2026',
  });
  for (const format of ["common", "combined", "json"] as const) {
    const line = formatAccessLogLine(format, refused);
    assert.ok([...line].every((c) => c >= " "), `${format}: ${line}`);
  }
  assert.ok(
    formatAccessLogLine("common", refused).endsWith(
      '"GET /\\" 200 1\\x0d\\x0a1.2.3.4 - - \\xff\\u{2026}x\u2026" 200 1234',
    ),
  );
  assert.equal(JSON.parse(formatAccessLogLine("json", refused)).request_line, refused.requestLine);
});

Deno.test("json lines are printable ASCII: bytes 0x80-0xFF (C1 controls: NEL, CSI) are \\u00HH, and parse back", () => {
  const hostile = record({
    target: '/x\x85{"forged":1}\x9b2J\u00e9\x7f',
    requestHeaders: new Headers({ "user-agent": "a\x85b", "referer": "\xff" }),
  });
  const refused = record({ requestLine: "GET /\x85\u2026" });
  for (const value of [hostile, refused]) {
    const line = formatAccessLogLine("json", value);
    assert.match(line, /^[\x20-\x7e]+$/, line);
    const parsed = JSON.parse(line);
    assert.equal(parsed.target, value.requestLine === undefined ? value.target : null);
    assert.equal(parsed.user_agent, value.requestHeaders.get("user-agent"));
    assert.equal(parsed.referer, value.requestHeaders.get("referer"));
    assert.equal(parsed.request_line, value.requestLine);
  }
  assert.ok(formatAccessLogLine("json", hostile).includes('"/x\\u0085{\\"forged\\":1}\\u009b2J'));
});

Deno.test("escapeLogField table", () => {
  const rows: [string, string][] = [
    ["plain /path?q=1", "plain /path?q=1"],
    ['"', '\\"'],
    ["\\", "\\\\"],
    ["\t\r\n", "\\x09\\x0d\\x0a"],
    ["\x7f", "\\x7f"],
    ["\u00e9", "\\xe9"],
    ["\u20ac", "\\u{20ac}"],
    ["\u{1f600}", "\\u{1f600}"],
  ];
  for (const [input, expected] of rows) assert.equal(escapeLogField(input), expected, input);
});

Deno.test("formatClfTime gives each second its own text, in any order of calls", () => {
  const second = Date.UTC(2026, 10, 29, 22, 41, 7);
  assert.equal(formatClfTime(new Date(second)), "29/Nov/2026:22:41:07 +0000");
  assert.equal(formatClfTime(new Date(second + 999)), "29/Nov/2026:22:41:07 +0000");
  assert.equal(formatClfTime(new Date(second + 1000)), "29/Nov/2026:22:41:08 +0000");
  assert.equal(formatClfTime(new Date(second - 1)), "29/Nov/2026:22:41:06 +0000");
  assert.equal(formatClfTime(new Date(second)), "29/Nov/2026:22:41:07 +0000");
  assert.equal(formatClfTime(new Date(-1)), "31/Dec/1969:23:59:59 +0000");
  assert.equal(formatClfTime(new Date(Number.NaN)), "NaN/undefined/NaN:NaN:NaN:NaN +0000");
  assert.equal(formatClfTime(new Date(0)), "01/Jan/1970:00:00:00 +0000");
});

Deno.test("formatClfTime pads fields and uses UTC", () => {
  assert.equal(formatClfTime(new Date(0)), "01/Jan/1970:00:00:00 +0000");
  assert.equal(
    formatClfTime(new Date(Date.UTC(2030, 11, 31, 23, 59, 58))),
    "31/Dec/2030:23:59:58 +0000",
  );
});

Deno.test("IPv6 peers are logged as their address", () => {
  const line = formatAccessLogLine(
    "common",
    record({ remoteAddr: { transport: "tcp", hostname: "::1", port: 1 } }),
  );
  assert.ok(line.startsWith("::1 - - ["), line);
});

Deno.test("createAccessLogger writes one line per record and swallows write failures", () => {
  const lines: string[] = [];
  const log = createAccessLogger("common", (line) => lines.push(line));
  log(record());
  log(record({ status: 404 }));
  assert.equal(lines.length, 2);
  assert.ok(lines[1]?.includes('" 404 1234'));
  const failing = createAccessLogger("json", () => {
    throw new Error("stdout closed");
  });
  failing(record()); // must not throw
});

Deno.test("writeAllSync keeps writing after short writes", () => {
  const written: number[] = [];
  const writer = {
    writeSync(p: Uint8Array): number {
      const n = Math.min(3, p.length);
      written.push(...p.subarray(0, n));
      return n;
    },
  };
  writeAllSync(writer, new TextEncoder().encode("hello world\n"));
  assert.equal(new TextDecoder().decode(new Uint8Array(written)), "hello world\n");
});
