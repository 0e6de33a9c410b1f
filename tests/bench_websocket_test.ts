/**
 * The benchmark's WebSocket echo scenario (W1): its load client (bench/websocket_load.ts) counts
 * echoes and finds what is not one, its table says messages, and a short real run of
 * `deno task bench --scenarios W1` measures sockserve and Deno.serve side by side. Nothing here
 * measures speed.
 */
import assert from "node:assert/strict";
import { type BenchResult, renderMarkdownTables } from "../bench/report.ts";
import { driveWebSocketLoad } from "../bench/websocket_load.ts";
import { upgradeWebSocket } from "../server/mod.ts";
import { startServer } from "./support/test_server.ts";
import { runShortBench } from "./support/bench_run.ts";

/** A server whose WebSocket at /ws answers each message with `reply(message)`. */
function replyingServer(reply: (message: string) => string) {
  return startServer((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(reply(event.data as string));
    return response;
  });
}

const LOAD = { path: "/ws", connections: 4, durationSec: 1, messageBytes: 32, window: 2 };

Deno.test("websocket_load counts echoes, their round trips and the bytes received", async () => {
  await using test = replyingServer((message) => message);
  const summary = await driveWebSocketLoad({ port: test.port, ...LOAD });
  assert.ok(summary.requests > 0, "no echo counted");
  assert.equal(
    summary.bytes,
    summary.requests * (2 + 32),
    "a 32-byte text frame has 2 header bytes",
  );
  assert.equal(summary.durationUs, 1_000_000);
  assert.ok(summary.p50Us > 0 && summary.p50Us <= summary.p99Us);
  assert.ok(
    summary.p99Us <= summary.maxUs + 10,
    "p99 is within the histogram's 10 µs bucket of max",
  );
  assert.deepEqual(
    [summary.connectErrors, summary.readErrors, summary.writeErrors, summary.timeouts],
    [0, 0, 0, 0],
  );
  assert.ok(summary.cpuSec > 0);
});

Deno.test("websocket_load counts a reply that is not the echo as a read error", async () => {
  await using test = replyingServer((message) => message.toUpperCase());
  const summary = await driveWebSocketLoad({ port: test.port, ...LOAD });
  assert.ok(summary.readErrors > 0);
  assert.equal(summary.requests, 0, "a wrong reply is not an echo");
});

Deno.test("websocket_load counts a refused upgrade as a connect error", async () => {
  await using test = startServer(() => new Response("no WebSocket here"));
  const summary = await driveWebSocketLoad({ port: test.port, ...LOAD });
  assert.equal(summary.connectErrors, LOAD.connections);
  assert.equal(summary.requests, 0);
});

Deno.test("W1 rows get their own table, in messages per second", () => {
  const sample = (rate: number, ratio: number) => ({
    round: 1,
    requestsPerSec: rate,
    p99LatencyMs: 2,
    mbPerSec: 1,
    cpuMicrosPerRequest: 30,
    requests: rate * 5,
    errors: 0,
    ratioToReference: ratio,
    otherCpuShare: 0,
    attempts: 1,
    clientCpuShare: 0.4,
  });
  const result: BenchResult = {
    date: "2026-11-29T12:00:00.000Z",
    machine: { cpuModel: "CPU", cores: 2, kernel: "6.1", versions: {} },
    settings: { rounds: 1, durationSec: 5, warmupSec: 2, pinned: true },
    scenarios: [
      { id: "S1", title: "hello, keep-alive", connections: 64 },
      { id: "W1", title: "WebSocket echo, 32 B text", connections: 64 },
    ],
    load: [
      { scenario: "S1", server: "sockserve", samples: [sample(1000, 0.5)] },
      { scenario: "W1", server: "sockserve", samples: [sample(800, 0.8)] },
      { scenario: "W1", server: "deno-serve", samples: [sample(1000, 1)] },
    ],
    memory: [],
    micro: [],
    notes: [],
  };
  const lines = renderMarkdownTables(result).split("\n");
  const header = lines.findIndex((line) => line.includes("| messages/s |"));
  assert.ok(header > 0, "a table in messages/s");
  assert.match(lines[header] ?? "", /p99 round trip \| MB\/s \| server CPU\/message/);
  assert.match(
    lines[header + 2] ?? "",
    /^\| W1 WebSocket echo, 32 B text \| sockserve \| 800 \| 0\.80× \|/,
  );
  assert.match(
    lines[header + 3] ?? "",
    /^\| W1 WebSocket echo, 32 B text \| deno-serve \| 1,000 \|/,
  );
  const httpRows = lines.slice(0, header).filter((line) => line.startsWith("| S1"));
  assert.equal(httpRows.length, 1, "S1 stays in the HTTP table");
});

Deno.test("deno task bench --scenarios W1 measures sockserve and Deno.serve in the same round", async () => {
  const out = await Deno.makeTempDir({ prefix: "bench-w1-" });
  try {
    const { stdout, result } = await runShortBench(["--scenarios", "W1"], out);
    const measured = result.load.filter((entry) => entry.skipped === undefined);
    assert.deepEqual(measured.map((entry) => entry.server).sort(), ["deno-serve", "sockserve"]);
    for (const entry of measured) {
      const [only] = entry.samples;
      assert.ok((only?.requests ?? 0) > 0, `${entry.server} echoed nothing`);
      assert.equal(only?.errors, 0, entry.server);
      assert.ok((only?.ratioToReference ?? 0) > 0, `${entry.server} has a ratio`);
    }
    // The servers without a WebSocket server say why.
    for (const server of ["node-http", "nginx"]) {
      const entry = result.load.find((candidate) => candidate.server === server);
      assert.match(entry?.skipped ?? "", /no WebSocket server without a library/, server);
    }
    assert.match(stdout, /\| W1 WebSocket echo, 32 B text \| sockserve \| [\d,]+ \| \d\.\d\d× \|/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
