/**
 * Access logs: one line per finished exchange, from the {@linkcode RequestRecord} that `serve()`
 * passes to `onRequestEnd`.
 *
 * Formats:
 * - `common`: the NCSA Common Log Format, exactly, for tools that parse it strictly:
 *   `127.0.0.1 - - [24/Nov/2026:01:05:42 +0000] "GET / HTTP/1.1" 200 1234`
 * - `combined`: Common plus the quoted Referer and User-Agent (Apache/nginx "combined"), then the
 *   duration in milliseconds, like nginx's `$request_time` at the end of a custom format:
 *   `… 200 1234 "https://ref/" "curl/8.5" 0.412ms`
 * - `json`: one JSON object per line with every field of the record (for log collectors).
 *
 * Times are in UTC so that lines from several machines sort together. Anything a client sent
 * (target, Referer, User-Agent) is escaped so that a request can never forge a log line: `"` and
 * `\` get a backslash, control and non-ASCII characters become `\xHH`, as Apache does.
 *
 * A request refused before its request line could be read is logged with the line as received
 * (`RequestRecord.requestLine`: up to its first CR or LF and at most 256 bytes, then `…` if it
 * went on past them without its CRLF), escaped the same way: in the text
 * formats in place of `method target version` (`"-"` when there was no line), in JSON as
 * `request_line`, with `method`, `target` and `protocol` null.
 *
 * @module
 */

import { REQUEST_LINE_CUT, requestRecordHeader } from "./connection/request_record.ts";
import type { RequestRecord, ServeAddr } from "./types.ts";

/** Access log format names accepted by `--log` (besides `off`). */
export type AccessLogFormat = "combined" | "common" | "json";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The second (Unix time, floored) of the last {@linkcode formatClfTime} result, and the text. */
let clfSecond = Number.NaN;
let clfText = "";

/**
 * The Common Log Format's time, in UTC. The text of the last second asked for is kept: the
 * records of one second, logged one after another, share it.
 *
 * @example
 * ```ts
 * import { formatClfTime } from "./access_log.ts";
 * formatClfTime(new Date(0)); // "01/Jan/1970:00:00:00 +0000"
 * ```
 */
export function formatClfTime(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === clfSecond) return clfText; // never for an invalid date: NaN equals nothing
  const text = `${pad2(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${
    pad2(date.getUTCHours())
  }:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} +0000`;
  clfSecond = second;
  clfText = text;
  return text;
}

/**
 * Escapes client-supplied text for a quoted log field: backslash and double quote get a
 * backslash; bytes outside printable ASCII become `\xHH` (code points above U+00FF `\u{…}`).
 *
 * @example
 * ```ts
 * import { escapeLogField } from "./access_log.ts";
 * escapeLogField('a"b\n'); // 'a\\"b\\x0a'
 * ```
 */
export function escapeLogField(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (code >= 0x20 && code < 0x7f) out += char;
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += `\\u{${code.toString(16)}}`;
  }
  return out;
}

/** A header value as a log field: `-` when absent, as Apache and nginx write it. */
function headerField(record: RequestRecord<ServeAddr>, name: string): string {
  const value = requestRecordHeader(record, name);
  return value === null ? "-" : escapeLogField(value);
}

/** Milliseconds with three decimals at most (`12ms`, `0.412ms`). */
function formatMs(ms: number): string {
  return `${Math.round(ms * 1000) / 1000}ms`;
}

/**
 * The client's address as logs write it: its IP, or `unix:` for a client of a Unix socket (as
 * nginx writes `$remote_addr` there).
 */
function clientAddress(addr: ServeAddr): string {
  return "path" in addr ? "unix:" : addr.hostname;
}

/**
 * The request line as the text formats write it (`%r`): method, target and version; for a
 * request refused before its line was read, the line as received (escaped, its cut mark kept),
 * or `-` when there was none, as nginx writes it.
 */
function requestField(record: RequestRecord<ServeAddr>): string {
  const line = record.requestLine;
  if (line === undefined) {
    return escapeLogField(`${record.method} ${record.target} ${record.httpVersion}`);
  }
  if (line === "") return "-";
  // The mark is written as itself: every non-ASCII character a client sent is escaped, so an
  // unescaped one cannot come from a client.
  return line.endsWith(REQUEST_LINE_CUT)
    ? escapeLogField(line.slice(0, -REQUEST_LINE_CUT.length)) + REQUEST_LINE_CUT
    : escapeLogField(line);
}

function commonLine(record: RequestRecord<ServeAddr>): string {
  const request = requestField(record);
  // CLF writes "-" for an empty body (Apache's %b).
  const bytes = record.bodyBytes === 0 ? "-" : String(record.bodyBytes);
  return `${escapeLogField(clientAddress(record.remoteAddr))} - - [${
    formatClfTime(record.startTime)
  }] "${request}" ${record.status} ${bytes}`;
}

/**
 * Formats one access log line (without the newline).
 *
 * @example
 * ```ts
 * import { formatAccessLogLine } from "./access_log.ts";
 * const line = formatAccessLogLine("common", {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 *   method: "GET",
 *   target: "/",
 *   httpVersion: "HTTP/1.1",
 *   status: 200,
 *   bodyBytes: 1234,
 *   durationMs: 0.4,
 *   startTime: new Date(0),
 *   requestHeaders: new Headers(),
 *   completed: true,
 * });
 * // 127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] "GET / HTTP/1.1" 200 1234
 * ```
 */
export function formatAccessLogLine(
  format: AccessLogFormat,
  record: RequestRecord<ServeAddr>,
): string {
  switch (format) {
    case "common":
      return commonLine(record);
    case "combined":
      return `${commonLine(record)} "${headerField(record, "referer")}" "${
        headerField(record, "user-agent")
      }" ${formatMs(record.durationMs)}`;
    case "json":
      // A request refused before its line was read has null method, target and protocol, and
      // a request_line (the only lines that have one).
      return asciiJson({
        time: record.startTime.toISOString(),
        remote_addr: clientAddress(record.remoteAddr),
        remote_port: "port" in record.remoteAddr ? record.remoteAddr.port : null,
        method: record.requestLine === undefined ? record.method : null,
        target: record.requestLine === undefined ? record.target : null,
        protocol: record.requestLine === undefined ? record.httpVersion : null,
        ...(record.requestLine === undefined ? {} : { request_line: record.requestLine }),
        status: record.status,
        bytes: record.bodyBytes,
        duration_ms: Math.round(record.durationMs * 1000) / 1000,
        referer: requestRecordHeader(record, "referer"),
        user_agent: requestRecordHeader(record, "user-agent"),
        completed: record.completed,
      });
  }
}

/** Characters JSON.stringify leaves as they are that are not printable ASCII. */
const NOT_PRINTABLE_ASCII = /[\u007f-\uffff]/g;
const HAS_NOT_PRINTABLE_ASCII = /[\u007f-\uffff]/;

/**
 * `JSON.stringify(value)` with every character above `~` written as `\uXXXX`: the line is
 * printable ASCII, like the text formats. JSON.stringify escapes C0 controls only; a client's
 * bytes 0x80–0xFF (strings hold them as characters U+0080–U+00FF) would otherwise reach the log as
 * C1 controls (NEL, CSI) that split lines or act on a terminal. A JSON parser gives the same
 * string back.
 */
function asciiJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (!HAS_NOT_PRINTABLE_ASCII.test(json)) return json;
  return json.replace(
    NOT_PRINTABLE_ASCII,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

const encoder = new TextEncoder();

/**
 * Writes all of `bytes` with synchronous writes, so that the line is on its way before the next
 * request is handled and nothing sits in a buffer when the process is killed.
 *
 * @example
 * ```ts
 * import { writeAllSync } from "./access_log.ts";
 * writeAllSync(Deno.stdout, new TextEncoder().encode("hello\n"));
 * ```
 */
export function writeAllSync(writer: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  let offset = 0;
  while (offset < bytes.length) offset += writer.writeSync(bytes.subarray(offset));
}

/**
 * Writes one line to stdout, unbuffered. Used for access log lines and the CLI's status lines.
 * Never throws: when stdout is gone (a closed pipe), the line is dropped and serving goes on.
 *
 * @example
 * ```ts
 * import { writeStdoutLine } from "./access_log.ts";
 * writeStdoutLine("hello");
 * ```
 */
export function writeStdoutLine(line: string): void {
  writeLineTo(Deno.stdout, line);
}

/**
 * Writes one line to stderr, unbuffered, for errors. Never throws, like
 * {@linkcode writeStdoutLine}.
 *
 * @example
 * ```ts
 * import { writeStderrLine } from "./access_log.ts";
 * writeStderrLine("sockserve: something failed");
 * ```
 */
export function writeStderrLine(line: string): void {
  writeLineTo(Deno.stderr, line);
}

function writeLineTo(writer: { writeSync(p: Uint8Array): number }, line: string): void {
  try {
    writeAllSync(writer, encoder.encode(`${line}\n`));
  } catch {
    // A closed stdout/stderr (EPIPE) must not turn into a crash of the server.
  }
}

/**
 * Makes an `onRequestEnd` callback that logs each exchange in `format`. The callback never
 * throws (a log write that fails, e.g. on a closed stdout, must not take a connection down).
 *
 * @example
 * ```ts
 * import { createAccessLogger } from "./access_log.ts";
 * import { serve } from "./mod.ts";
 * const server = serve({ port: 0, onRequestEnd: createAccessLogger("combined") }, () =>
 *   new Response("hi"));
 * await server.shutdown();
 * ```
 */
export function createAccessLogger(
  format: AccessLogFormat,
  writeLine: (line: string) => void = writeStdoutLine,
): (record: RequestRecord<ServeAddr>) => void {
  return (record) => {
    try {
      writeLine(formatAccessLogLine(format, record));
    } catch {
      // Losing a log line is better than failing the exchange that produced it.
    }
  };
}
