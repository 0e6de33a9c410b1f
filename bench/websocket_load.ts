/**
 * The load generator of the WebSocket echo scenario (W1), what wrk is to the HTTP ones: opens N
 * WebSocket connections to an echoing server, keeps `window` text messages in flight on each (a
 * connection sends its next batch when the previous one has come back whole), for a fixed time,
 * and prints one line `WS_JSON {…}` with the same fields as wrk's summary (bench/wrk.ts).
 *
 * Written over raw TCP rather than Deno's `WebSocket` so that the client costs as little CPU as
 * possible per message and is the same for every server: each batch is one write of frames
 * masked once per connection (RFC 6455 §5.3: a fresh random key per connection, reused for its
 * identical frames), and replies are counted from their frame headers, their payload compared
 * with what was sent. A reply that is not the echo counts as a read error, a connection that
 * fails as a connect or read error; the run never waits longer than its duration plus
 * {@linkcode DRAIN_MS}.
 *
 * Usage: `deno run --allow-net=127.0.0.1 websocket_load.ts <port> <path> <connections> <seconds>
 * <messageBytes> <window>`.
 *
 * @module
 */

import { LatencyHistogram, processCpuSeconds, runClientProcess } from "./load_client.ts";
import type { WrkSummary } from "./wrk.ts";

/** After the duration, how long replies still in flight are waited for (then counted lost). */
const DRAIN_MS = 2_000;

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/**
 * What the client prints: wrk's summary fields, where a request is a message echoed in the
 * measured time, latency its round trip (from its batch's write to its echo), bytes what the
 * client received (frame headers and payloads), connect errors the connections that could not
 * be upgraded, read errors the connections that ended early and the replies that were not the
 * echo, timeouts the messages still unanswered {@linkcode DRAIN_MS} after the end, and CPU this
 * whole process's (start-up and connecting included).
 */
export type WebSocketLoadSummary = WrkSummary;

/** One load run. */
export interface WebSocketLoadOptions {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Path of the WebSocket. */
  path: string;
  /** Concurrent WebSocket connections. */
  connections: number;
  /** Length of the run, seconds. */
  durationSec: number;
  /** Bytes of text per message. */
  messageBytes: number;
  /** Messages in flight per connection. */
  window: number;
}

/** One masked text frame of `payload` (client frames must be masked, RFC 6455 §5.1). */
export function maskedTextFrame(payload: Uint8Array, key: Uint8Array): Uint8Array {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + 4 + length);
  frame[0] = 0x80 | OPCODE_TEXT;
  if (header === 2) frame[1] = 0x80 | length;
  else if (header === 4) {
    frame[1] = 0x80 | 126;
    new DataView(frame.buffer).setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  frame.set(key, header);
  for (let i = 0; i < length; i++) frame[header + 4 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

interface Totals {
  messages: number;
  bytes: number;
  readErrors: number;
  writeErrors: number;
  inFlight: number;
}

const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Opens one connection and completes the handshake; returns the bytes read past its head. */
async function connect(port: number, path: string): Promise<[Deno.TcpConn, Uint8Array]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n` +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  await writeAll(conn, new TextEncoder().encode(request));
  let received: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    const count = await conn.read(chunk);
    if (count === null) throw new Error("closed during the handshake");
    received = concat(received, chunk.subarray(0, count));
    const text = new TextDecoder("latin1").decode(received);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    if (!text.startsWith("HTTP/1.1 101 ")) throw new Error(`no 101: ${text.slice(0, 80)}`);
    return [conn, received.slice(end + 4)];
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const result = new Uint8Array(a.length + b.length);
  result.set(a);
  result.set(b, a.length);
  return result;
}

/**
 * Drives one connection until `stopAt` (performance.now() ms): writes a batch of `window`
 * frames, reads until all `window` echoes are back, repeats.
 */
async function drive(
  conn: Deno.TcpConn,
  leftover: Uint8Array,
  payload: Uint8Array,
  window: number,
  stopAt: number,
  measuring: () => boolean,
  totals: Totals,
  latencies: LatencyHistogram,
): Promise<void> {
  const key = crypto.getRandomValues(new Uint8Array(4));
  const frame = maskedTextFrame(payload, key);
  const batch = new Uint8Array(frame.length * window);
  for (let i = 0; i < window; i++) batch.set(frame, i * frame.length);
  const headerBytes = payload.length < 126 ? 2 : payload.length < 65536 ? 4 : 10;
  const replyBytes = headerBytes + payload.length;
  let buffer = new Uint8Array(Math.max(64 * 1024, replyBytes * window * 2));
  let filled = leftover.length;
  buffer.set(leftover);
  try {
    while (performance.now() < stopAt) {
      const sentAt = performance.now();
      try {
        await writeAll(conn, batch);
      } catch {
        totals.writeErrors++;
        return;
      }
      totals.inFlight += window;
      let pending = window;
      let offset = 0;
      while (pending > 0) {
        // Parse every complete reply in the buffer.
        while (pending > 0 && filled - offset >= 2) {
          const opcode = buffer[offset]! & 0x0f;
          const length7 = buffer[offset + 1]! & 0x7f;
          if (opcode === OPCODE_CLOSE) throw new Error("the server closed the connection");
          const header = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
          if (filled - offset < header) break;
          const length = length7 < 126
            ? length7
            : length7 === 126
            ? (buffer[offset + 2]! << 8) | buffer[offset + 3]!
            : Number(new DataView(buffer.buffer, offset + 2, 8).getBigUint64(0));
          if (filled - offset < header + length) break;
          if (opcode === OPCODE_PING || opcode === OPCODE_PONG) {
            // A keep-alive Ping is no reply (and a 5 s run answers none: the servers' idle
            // timeouts are far longer).
            offset += header + length;
            continue;
          }
          const start = offset + header;
          let same = opcode === OPCODE_TEXT && length === payload.length;
          for (let i = 0; same && i < length; i++) same = buffer[start + i] === payload[i];
          offset += header + length;
          pending--;
          totals.inFlight--;
          if (!same) totals.readErrors++;
          else if (measuring()) {
            totals.messages++;
            totals.bytes += header + length;
            latencies.record((performance.now() - sentAt) * 1000);
          }
        }
        if (pending === 0) break;
        // Keep the unparsed tail at the start; grow for a reply larger than the buffer.
        if (offset > 0) {
          buffer.copyWithin(0, offset, filled);
          filled -= offset;
          offset = 0;
        }
        if (filled === buffer.length) {
          const larger = new Uint8Array(buffer.length * 2);
          larger.set(buffer);
          buffer = larger;
        }
        const count = await conn.read(buffer.subarray(filled));
        if (count === null) throw new Error("the server closed the connection");
        filled += count;
      }
      if (offset > 0) {
        buffer.copyWithin(0, offset, filled);
        filled -= offset;
      }
    }
  } catch {
    totals.readErrors++;
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Runs the client in its own process, pinned to `core` like wrk, and returns its summary; kills
 * it if it overruns by wrk's margin.
 *
 * @example
 * ```ts
 * const summary = await runWebSocketLoad({ port: 8000, path: "/ws", connections: 64,
 *   durationSec: 5, messageBytes: 32, window: 1 }, 1);
 * ```
 */
export async function runWebSocketLoad(
  options: WebSocketLoadOptions,
  core: number | null,
): Promise<WebSocketLoadSummary> {
  return await runClientProcess({
    script: import.meta.filename as string,
    args: [
      options.port,
      options.path,
      options.connections,
      options.durationSec,
      options.messageBytes,
      options.window,
    ].map(String),
    permissions: ["--allow-net=127.0.0.1"],
    core,
    durationSec: options.durationSec,
    marker: "WS_JSON",
    name: "WebSocket client",
  });
}

/** Runs the load in this process and returns its summary. */
export async function driveWebSocketLoad(
  options: WebSocketLoadOptions,
): Promise<WebSocketLoadSummary> {
  const payload = new Uint8Array(options.messageBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x61 + (i % 26); // "abc…", valid UTF-8
  const totals: Totals = { messages: 0, bytes: 0, readErrors: 0, writeErrors: 0, inFlight: 0 };
  const latencies = new LatencyHistogram();
  const opened = await Promise.allSettled(
    Array.from({ length: options.connections }, () => connect(options.port, options.path)),
  );
  const connections = opened.flatMap((result) =>
    result.status === "fulfilled" ? [result.value] : []
  );
  const connectErrors = options.connections - connections.length;
  const startedAt = performance.now();
  const stopAt = startedAt + options.durationSec * 1000;
  const measuring = () => performance.now() < stopAt;
  const drivers = Promise.all(
    connections.map(([conn, leftover]) =>
      drive(conn, leftover, payload, options.window, stopAt, measuring, totals, latencies)
    ),
  );
  const drained = await Promise.race([
    drivers.then(() => true),
    new Promise<false>((resolve) =>
      setTimeout(() => resolve(false), options.durationSec * 1000 + DRAIN_MS)
    ),
  ]);
  if (!drained) {
    for (const [conn] of connections) {
      try {
        conn.close();
      } catch {
        // Closed by its driver.
      }
    }
    await drivers;
  }
  const cpuSec = processCpuSeconds();
  return {
    requests: totals.messages,
    bytes: totals.bytes,
    // Replies are counted from the start until stopAt, whatever comes after.
    durationUs: options.durationSec * 1e6,
    p50Us: latencies.percentile(0.5),
    p99Us: latencies.percentile(0.99),
    maxUs: latencies.max,
    connectErrors,
    readErrors: totals.readErrors,
    writeErrors: totals.writeErrors,
    statusErrors: 0,
    timeouts: drained ? 0 : totals.inFlight,
    cpuSec,
  };
}

if (import.meta.main) {
  const [port, path, connections, seconds, messageBytes, window] = Deno.args;
  const numbers = [port, connections, seconds, messageBytes, window].map(Number);
  if (path === undefined || numbers.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    // deno-lint-ignore no-console
    console.error(
      "usage: websocket_load.ts <port> <path> <connections> <seconds> <messageBytes> <window>",
    );
    Deno.exit(2);
  }
  const summary = await driveWebSocketLoad({
    port: numbers[0]!,
    path,
    connections: numbers[1]!,
    durationSec: numbers[2]!,
    messageBytes: numbers[3]!,
    window: numbers[4]!,
  });
  // deno-lint-ignore no-console
  console.log(`WS_JSON ${JSON.stringify(summary)}`);
}
