/**
 * The load generator of the large-file scenario (S4), in place of wrk: wrk reads 8 KiB per
 * `read(2)` (its compile-time buffer), so a 10 MiB response costs it 1,280 reads and it saturates
 * its core before the servers do. This client opens N keep-alive connections over raw TCP; each
 * sends `GET <path> HTTP/1.1`, reads the response into one reused buffer of
 * {@linkcode READ_BUFFER_BYTES} (1 MiB), parses the head (status 200, a Content-Length, no
 * Transfer-Encoding) and skips exactly Content-Length body bytes without copying them, then sends
 * the next request. It runs for a fixed time and prints one line `LARGE_JSON {…}` with the fields
 * of wrk's summary (bench/wrk.ts).
 *
 * Body check: the body is not compared byte for byte (that would cost the client as much as the
 * server's copy); with an expected file, its length must be the file's size and the body's first
 * and last {@linkcode CHECKED_EDGE_BYTES} bytes the file's, which catches a wrong file, a shifted
 * or truncated body and a head counted into the body, at no cost per byte.
 *
 * Errors, counted as wrk counts them: a refused connection is a connect error (that connection
 * stops); a failed write a write error; a connection closed before its response ended, a head it
 * cannot frame (no Content-Length, chunked, over {@linkcode MAX_HEAD_BYTES}), bytes past the body
 * or a body that differs from the file a read error (the connection is closed and opened again,
 * as wrk does); a status other than 200 a status error (its body is skipped and the connection
 * goes on). Responses still unfinished {@linkcode DRAIN_MS} after the end are timeouts: the run
 * never waits longer than its duration plus that bound.
 *
 * Usage: `deno run --allow-net=127.0.0.1 [--allow-read=FILE] large_body_load.ts <port> <path>
 * <connections> <seconds> [FILE]`.
 *
 * @module
 */

import { LatencyHistogram, processCpuSeconds, runClientProcess } from "./load_client.ts";
import type { WrkSummary } from "./wrk.ts";

/** Bytes per read and the size of each connection's one buffer. */
export const READ_BUFFER_BYTES = 1024 * 1024;

/** Longest response head accepted (a file server's head is a few hundred bytes). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** After the duration, how long responses still in flight are waited for (then timeouts). */
export const DRAIN_MS = 5_000;

/** Bytes compared at each end of the body when an expected file is given. */
export const CHECKED_EDGE_BYTES = 16;

/**
 * What the client prints: wrk's summary fields, where a request is a 200 response completed in
 * the measured time, latency from the request's write to the response's last byte, bytes those
 * responses' heads and bodies, and CPU this whole process's (start-up and connecting included).
 */
export type LargeBodyLoadSummary = WrkSummary;

/** What every body must be: the served file's size and its first and last bytes. */
export interface ExpectedBody {
  /** Content-Length, bytes. */
  size: number;
  /** The first {@linkcode CHECKED_EDGE_BYTES} bytes (fewer for a smaller file). */
  head: Uint8Array;
  /** The last {@linkcode CHECKED_EDGE_BYTES} bytes (fewer for a smaller file). */
  tail: Uint8Array;
}

/** One load run. */
export interface LargeBodyLoadOptions {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Path requested. */
  path: string;
  /** Concurrent keep-alive connections. */
  connections: number;
  /** Length of the run, seconds. */
  durationSec: number;
  /** When given, every body is checked against it (see the module's text). */
  expect?: ExpectedBody;
  /** Longest wait for responses in flight after the duration, ms (default {@linkcode DRAIN_MS}). */
  drainMs?: number;
}

/** The size and edges of `bytes`, what {@linkcode LargeBodyLoadOptions.expect} takes. */
export function expectedBodyOf(bytes: Uint8Array): ExpectedBody {
  const edge = Math.min(CHECKED_EDGE_BYTES, bytes.length);
  return {
    size: bytes.length,
    head: bytes.slice(0, edge),
    tail: bytes.slice(bytes.length - edge),
  };
}

/** The expectation for a file on disk (reads it once). */
export async function expectedBodyOfFile(file: string): Promise<ExpectedBody> {
  return expectedBodyOf(await Deno.readFile(file));
}

interface Totals {
  responses: number;
  bytes: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  inFlight: number;
}

/** A response this client cannot take (counted as a read error). */
class FramingError extends Error {}

const CR = 0x0d;
const LF = 0x0a;

/** Index of the CRLFCRLF ending a head in `buffer[0, filled)`, searching from `from`; or -1. */
function headEnd(buffer: Uint8Array, from: number, filled: number): number {
  for (let i = Math.max(0, from); i + 3 < filled; i++) {
    if (
      buffer[i + 3] === LF && buffer[i + 2] === CR && buffer[i + 1] === LF && buffer[i] === CR
    ) return i;
  }
  return -1;
}

/** Status and Content-Length of a response head (the bytes before its blank line). */
export function parseHead(head: string): { status: number; contentLength: number } {
  const lines = head.split("\r\n");
  const statusLine = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] + " ");
  if (statusLine === null) throw new FramingError(`not an HTTP/1.1 status line: ${lines[0]}`);
  let contentLength: number | null = null;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new FramingError(`bad header line: ${line}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "transfer-encoding") throw new FramingError("Transfer-Encoding (no chunked)");
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) throw new FramingError(`bad Content-Length: ${value}`);
      if (contentLength !== null && contentLength !== Number(value)) {
        throw new FramingError("two different Content-Length values");
      }
      contentLength = Number(value);
    }
  }
  if (contentLength === null) throw new FramingError("no Content-Length");
  return { status: Number(statusLine[1]), contentLength };
}

/** Compares the part of the body at `[at, at + chunk.length)` that overlaps the checked edges. */
function checkEdges(chunk: Uint8Array, at: number, expect: ExpectedBody): void {
  const { head, tail, size } = expect;
  for (let i = at; i < Math.min(at + chunk.length, head.length); i++) {
    if (chunk[i - at] !== head[i]) throw new FramingError(`body byte ${i} differs from the file`);
  }
  const tailStart = size - tail.length;
  for (let i = Math.max(at, tailStart); i < at + chunk.length; i++) {
    if (chunk[i - at] !== tail[i - tailStart]) {
      throw new FramingError(`body byte ${i} differs from the file`);
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Where a driver stopped: the connection is unusable (read again on a new one) or refused. */
type Ending = "reconnect" | "stop";

/**
 * Drives one connection until `stopAt` (performance.now() ms): a request, its whole response,
 * the next request. Returns how it ended.
 */
async function driveConnection(
  conn: Deno.TcpConn,
  request: Uint8Array,
  buffer: Uint8Array,
  options: LargeBodyLoadOptions,
  stopAt: number,
  totals: Totals,
  latencies: LatencyHistogram,
): Promise<Ending> {
  const latin1 = new TextDecoder("latin1");
  while (performance.now() < stopAt) {
    const sentAt = performance.now();
    try {
      await writeAll(conn, request);
    } catch {
      totals.writeErrors++;
      return "reconnect";
    }
    totals.inFlight++;
    // The head: read until its blank line.
    let filled = 0;
    let end = -1;
    while (end < 0) {
      if (filled >= MAX_HEAD_BYTES) throw new FramingError("head too long");
      const count = await conn.read(buffer.subarray(filled));
      if (count === null) throw new FramingError("closed before the head ended");
      end = headEnd(buffer, filled - 3, filled + count);
      filled += count;
    }
    const { status, contentLength } = parseHead(latin1.decode(buffer.subarray(0, end)));
    const expect = status === 200 ? options.expect : undefined;
    if (expect !== undefined && contentLength !== expect.size) {
      throw new FramingError(`Content-Length ${contentLength}, the file has ${expect.size}`);
    }
    // The body: what came with the head, then whole-buffer reads, none of it copied.
    const bodyStart = end + 4;
    let received = filled - bodyStart;
    if (received > contentLength) throw new FramingError("bytes past the body");
    if (expect !== undefined) checkEdges(buffer.subarray(bodyStart, filled), 0, expect);
    while (received < contentLength) {
      const count = await conn.read(buffer);
      if (count === null) throw new FramingError("closed before the body ended");
      if (received + count > contentLength) throw new FramingError("bytes past the body");
      if (expect !== undefined) checkEdges(buffer.subarray(0, count), received, expect);
      received += count;
    }
    totals.inFlight--;
    const finishedAt = performance.now();
    if (status !== 200) totals.statusErrors++;
    else if (finishedAt < stopAt) {
      totals.responses++;
      totals.bytes += bodyStart + contentLength;
      latencies.record((finishedAt - sentAt) * 1000);
    }
  }
  return "stop";
}

/** Runs the load in this process and returns its summary. */
export async function driveLargeBodyLoad(
  options: LargeBodyLoadOptions,
): Promise<LargeBodyLoadSummary> {
  const request = new TextEncoder().encode(
    `GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\n\r\n`,
  );
  const totals: Totals = {
    responses: 0,
    bytes: 0,
    connectErrors: 0,
    readErrors: 0,
    writeErrors: 0,
    statusErrors: 0,
    inFlight: 0,
  };
  const latencies = new LatencyHistogram();
  const startedAt = performance.now();
  const stopAt = startedAt + options.durationSec * 1000;
  // At the drain deadline every pending connect is aborted and every connection closed, which
  // ends every pending read and write.
  const deadline = new AbortController();
  const open = new Set<Deno.TcpConn>();
  const timer = setTimeout(() => {
    deadline.abort();
    for (const conn of open) conn.close();
    open.clear();
  }, options.durationSec * 1000 + (options.drainMs ?? DRAIN_MS));
  let timedOut = false;
  deadline.signal.addEventListener("abort", () => timedOut = true);

  const driver = async () => {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    while (performance.now() < stopAt && !timedOut) {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: options.port,
          signal: deadline.signal,
        });
      } catch {
        if (!timedOut) totals.connectErrors++;
        return;
      }
      if (timedOut) {
        conn.close();
        return;
      }
      open.add(conn);
      conn.setNoDelay(true);
      let ending: Ending = "reconnect";
      try {
        ending = await driveConnection(
          conn,
          request,
          buffer,
          options,
          stopAt,
          totals,
          latencies,
        );
      } catch {
        // A response it could not take, or the connection failed; at the deadline, a response
        // still in flight (a timeout, counted below).
        if (!timedOut) {
          totals.readErrors++;
          totals.inFlight--;
        }
      }
      if (open.delete(conn)) conn.close();
      if (ending === "stop") return;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, driver));
  clearTimeout(timer);
  return {
    requests: totals.responses,
    bytes: totals.bytes,
    // Responses are counted from the start until stopAt, whatever comes after.
    durationUs: options.durationSec * 1e6,
    p50Us: latencies.percentile(0.5),
    p99Us: latencies.percentile(0.99),
    maxUs: latencies.max,
    connectErrors: totals.connectErrors,
    readErrors: totals.readErrors,
    writeErrors: totals.writeErrors,
    statusErrors: totals.statusErrors,
    timeouts: timedOut ? totals.inFlight : 0,
    cpuSec: processCpuSeconds(),
  };
}

/**
 * Runs the client in its own process, pinned to `core` like wrk, and returns its summary; kills
 * it if it overruns by wrk's margin. With `expectFile`, every body is checked against that file
 * (read once by the client).
 *
 * @example
 * ```ts
 * const summary = await runLargeBodyLoad({ port: 8000, path: "/large.bin", connections: 8,
 *   durationSec: 5 }, 1, "/tmp/files/large.bin");
 * ```
 */
export function runLargeBodyLoad(
  options: Omit<LargeBodyLoadOptions, "expect" | "drainMs">,
  core: number | null,
  expectFile?: string,
): Promise<LargeBodyLoadSummary> {
  return runClientProcess({
    script: import.meta.filename as string,
    args: [
      ...[options.port, options.path, options.connections, options.durationSec].map(String),
      ...(expectFile === undefined ? [] : [expectFile]),
    ],
    permissions: [
      "--allow-net=127.0.0.1",
      ...(expectFile === undefined ? [] : [`--allow-read=${expectFile}`]),
    ],
    core,
    durationSec: options.durationSec,
    marker: "LARGE_JSON",
    name: "large-body client",
  });
}

if (import.meta.main) {
  const [port, path, connections, seconds, file] = Deno.args;
  const numbers = [port, connections, seconds].map(Number);
  if (
    path === undefined || !path.startsWith("/") ||
    numbers.some((n) => !Number.isSafeInteger(n) || n < 1)
  ) {
    // deno-lint-ignore no-console
    console.error("usage: large_body_load.ts <port> </path> <connections> <seconds> [FILE]");
    Deno.exit(2);
  }
  const summary = await driveLargeBodyLoad({
    port: numbers[0]!,
    path,
    connections: numbers[1]!,
    durationSec: numbers[2]!,
    ...(file === undefined ? {} : { expect: await expectedBodyOfFile(file) }),
  });
  // deno-lint-ignore no-console
  console.log(`LARGE_JSON ${JSON.stringify(summary)}`);
}
