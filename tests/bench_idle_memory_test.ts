/**
 * M1 and M2 of `deno task bench` (bench/idle_memory.ts, bench/idle_batches.ts,
 * bench/idle_client.ts): which batches are rejected, what the figure (the slope over batches 2..N)
 * and a ratio are over, and how the table marks them (pure); that the idle client's count sees the
 * server close connections (real sockets, a server in this process), that a failed warm-up or a
 * server that exits is the measurement's problem rather than an exception, and that a short run
 * starts every measured server with a long idle timeout. Nothing here measures memory.
 */
import assert from "node:assert/strict";
import {
  type BatchReading,
  failedBatch,
  idleFigure,
  idleRatio,
  judgeBatch,
  summarizeBatches,
} from "../bench/idle_batches.ts";
import { measureIdleBatches } from "../bench/idle_memory.ts";
import { launchSpec } from "../bench/launch.ts";
import type { RunContext } from "../bench/context.ts";
import { parseBenchArgs, USAGE } from "../bench/options.ts";
import { nginxConfig } from "../bench/nginx.ts";
import { type BenchResult, type MemoryResult, renderMarkdownTables } from "../bench/report.ts";
import { runShortBench } from "./support/bench_run.ts";

const LINUX = Deno.build.os === "linux";
const NOT_LINUX_REASON = " (ignored: reads /proc, Linux only)";

function reading(overrides: Partial<BatchReading>): BatchReading {
  return {
    batch: 2,
    requested: 1000,
    held: 1000,
    earlierClosed: 0,
    rssBeforeKiB: 50_000,
    rssAfterKiB: 60_000,
    fdsGained: 1000,
    ...overrides,
  };
}

/**
 * Batches 1..n of 1000 connections as the harness reads them: each batch's RSS before is the
 * previous reading (`startKiB` for batch 1); `overrides` by batch number.
 */
function chain(
  startKiB: number,
  afterKiB: readonly number[],
  overrides: Record<number, Partial<BatchReading>> = {},
) {
  return afterKiB.map((rssAfterKiB, i) =>
    judgeBatch(reading({
      batch: i + 1,
      rssBeforeKiB: i === 0 ? startKiB : afterKiB[i - 1] as number,
      rssAfterKiB,
      ...overrides[i + 1],
    }))
  );
}

function assertNear(actual: number, expected: number, message?: string) {
  assert.ok(Math.abs(actual - expected) < 1e-9, message ?? `${actual} is not ${expected}`);
}

Deno.test("judgeBatch: the batch's own RSS growth over the connections it gained", () => {
  const grew = judgeBatch(reading({}));
  assert.equal(grew.kibPerConnection, 10);
  assert.equal(grew.problem, undefined);
  // 960 of the batch's own still open: 96% is enough, and the growth is over those 960.
  const mostly = judgeBatch(reading({ held: 960, rssAfterKiB: 59_600 }));
  assert.equal(mostly.kibPerConnection, 10);
  assert.equal(mostly.problem, undefined);
});

Deno.test("judgeBatch: RSS that fell or stayed put is a value like any other, not a rejection", () => {
  const fell = judgeBatch(reading({ rssAfterKiB: 48_000 }));
  assert.equal(fell.kibPerConnection, -2);
  assert.equal(fell.problem, undefined);
  const flat = judgeBatch(reading({ rssAfterKiB: 50_000 }));
  assert.equal(flat.kibPerConnection, 0);
  assert.equal(flat.problem, undefined);
});

Deno.test("judgeBatch: a batch whose connections (or earlier ones) the server closed is rejected", () => {
  const own = judgeBatch(reading({ held: 900 }));
  assert.match(own.problem ?? "", /^the server held 900 of its 1000 connections when RSS was read/);
  // All of its own open, but 60 of earlier batches' closed: 940 gained, under 95%.
  const earlier = judgeBatch(reading({ earlierClosed: 60 }));
  assert.match(
    earlier.problem ?? "",
    /held 1000 of its 1000 connections and closed 60 of earlier batches'/,
  );
  assert.equal(earlier.kibPerConnection, 10_000 / 940);
  // Nothing gained: no value at all.
  assert.equal(judgeBatch(reading({ earlierClosed: 1000 })).kibPerConnection, null);
});

Deno.test("summarizeBatches: the reviewer's readings give the slope, 8.3 KiB, not 15", () => {
  // RSS from 60 MB, then 80, 75, 90 and 105 MB after batches 1–4 of 1000.
  const batches = chain(60_000, [80_000, 75_000, 90_000, 105_000]);
  assert.deepEqual(batches.map((batch) => batch.kibPerConnection), [20, -5, 15, 15]);
  assert.ok(batches.every((batch) => batch.problem === undefined));
  const summary = summarizeBatches(batches);
  // (105 − 80) MB over the 3000 connections batches 2–4 added; the old mean of the batches that
  // grew gave (15 + 15) / 2 = 15.
  assertNear(summary.kibPerConnection, 25_000 / 3000);
  assert.equal(summary.kibPerConnection.toFixed(1), "8.3");
  assert.equal(summary.throughBatch, 4);
  assert.equal(summary.connectionsAdded, 3000);
  assert.equal(summary.fdsGained, 3000);
  assert.equal(summary.firstRejected, null);
  assert.equal(summary.problem, null);
});

Deno.test("summarizeBatches: connections of earlier batches closed meanwhile are not added", () => {
  // Batch 3: its own 1000 open, 30 of batch 2's closed since the previous reading (97% gained).
  const batches = chain(60_000, [80_000, 90_000, 99_700], { 3: { earlierClosed: 30 } });
  assert.equal(batches[2]?.problem, undefined);
  const summary = summarizeBatches(batches);
  assert.equal(summary.connectionsAdded, 1970);
  assertNear(summary.kibPerConnection, 19_700 / 1970);
});

Deno.test("summarizeBatches: the figure ends before the first rejected batch", () => {
  // Batch 3 lost connections to the server; batch 4 is fine but comes after it.
  const batches = chain(60_000, [80_000, 92_000, 95_000, 110_000], { 3: { held: 900 } });
  const summary = summarizeBatches(batches);
  assert.equal(summary.throughBatch, 2);
  assert.equal(summary.firstRejected, 3);
  assertNear(summary.kibPerConnection, 12);
  assert.equal(summary.problem, null);
});

Deno.test("summarizeBatches: batch 1 flagged still starts the figure; without its reading, none", () => {
  const flagged = chain(60_000, [78_000, 88_000, 98_000], { 1: { held: 900 } });
  assert.match(flagged[0]?.problem ?? "", /^the server held 900 of its 1000/);
  const summary = summarizeBatches(flagged);
  assert.equal(summary.throughBatch, 3);
  assert.equal(summary.firstRejected, null);
  assertNear(summary.kibPerConnection, 10);
  const failed = [failedBatch(1, 990, 60_000, "only 990 of 1000 connections completed a request")];
  assert.equal(summarizeBatches(failed).problem, "no reading was taken with batch 1 held");
  assert.equal(summarizeBatches([]).problem, "no batch was opened");
});

Deno.test("summarizeBatches: no figure without a valid batch after the first", () => {
  const only = summarizeBatches(chain(60_000, [80_000]));
  assert.ok(Number.isNaN(only.kibPerConnection));
  assert.equal(only.throughBatch, null);
  assert.equal(only.problem, "no batch after the first was read");
  const rejected = summarizeBatches(
    chain(60_000, [80_000, 90_000, 100_000], { 2: { earlierClosed: 100 } }),
  );
  assert.equal(rejected.throughBatch, null);
  assert.equal(
    rejected.problem,
    "batch 2 was rejected, so no batch after the first can be counted",
  );
  const clientFailed = summarizeBatches([
    ...chain(60_000, [80_000]),
    failedBatch(2, 0, 80_000, "the idle client did not report its connections"),
  ]);
  assert.equal(clientFailed.firstRejected, 2);
  assert.match(clientFailed.problem ?? "", /^batch 2 was rejected/);
});

Deno.test("idleFigure: a stop after valid batches keeps their figure and says so", () => {
  const batches = chain(60_000, [80_000, 90_000]);
  const figure = idleFigure(batches, "the server exited during batch 3", 4);
  assert.equal(figure.skipped, undefined);
  assert.equal(figure.stopped, "the server exited during batch 3");
  assert.equal(figure.throughBatch, 2);
  assert.equal(figure.plannedBatches, 4);
  assert.equal(figure.kibPerConnection, 10);
  assert.equal(figure.baselineRssKiB, 80_000);
  assert.equal(figure.loadedRssKiB, 90_000);
  assert.equal(figure.firstBatchKiBPerConnection, 20);
  // Stopped before any batch after the first: no figure, with both reasons.
  const early = idleFigure(chain(60_000, [80_000]), "the server exited during batch 2", 4);
  assert.equal(
    early.skipped,
    "the server exited during batch 2 (no batch after the first was read)",
  );
  assert.equal(early.stopped, undefined);
  assert.equal(early.throughBatch, undefined);
  // A failed warm-up: its reason alone.
  assert.equal(
    idleFigure([], "warm-up request 6 of 200 failed", 4).skipped,
    "warm-up request 6 of 200 failed",
  );
});

/** A measured M1 result of `server` from readings of batches of 1000 (batch 1 from 60 MB). */
function memoryResult(
  server: MemoryResult["server"],
  afterKiB: readonly number[],
  overrides: Record<number, Partial<BatchReading>> = {},
): MemoryResult {
  return {
    scenario: "M1",
    server,
    connections: 1000,
    ratioToReference: null,
    ...idleFigure(chain(60_000, afterKiB, overrides), null, 4),
  };
}

Deno.test("idleRatio: two servers are compared over the batches both figures include", () => {
  const deno = memoryResult("deno-serve", [78_000, 93_000, 108_000, 123_000]); // 15 each
  const sockserve = memoryResult("sockserve", [80_000, 90_000, 110_000, 115_000]); // 10, 20, 5
  assertNear(sockserve.kibPerConnection, 35_000 / 3000);
  const full = idleRatio(sockserve, deno);
  assert.equal(full.throughBatch, 4);
  assertNear(full.ratio ?? NaN, (35_000 / 3000) / 15);
  // Batch 3 of a baseline closed: its figure is over batch 2 alone, and so is the ratio, though
  // sockserve's own figure is over 2–4.
  const closing = memoryResult("sockserve@f9eb5b5", [80_000, 92_000, 95_000, 100_000], {
    3: { held: 10 },
  });
  assert.equal(closing.throughBatch, 2);
  const short = idleRatio(sockserve, closing);
  assert.equal(short.throughBatch, 2);
  assertNear(short.ratio ?? NaN, 10 / 12);
  assertNear(idleRatio(closing, deno).ratio ?? NaN, 12 / 15);
  // A reference whose RSS fell over the common batches gives no ratio.
  const fell = memoryResult("deno-serve", [80_000, 79_000, 100_000, 120_000]);
  const none = idleRatio(closing, fell);
  assert.deepEqual(none, { ratio: null, throughBatch: 2 });
  // A skipped one has none; results written before batches compare their figures.
  assert.deepEqual(idleRatio({ ...sockserve, skipped: "did not start" }, deno), {
    ratio: null,
    throughBatch: null,
  });
  const old = (kib: number): MemoryResult => ({
    server: "sockserve",
    connections: 1000,
    baselineRssKiB: 0,
    loadedRssKiB: 0,
    kibPerConnection: kib,
    fdsGained: 0,
    ratioToReference: null,
  });
  assert.deepEqual(idleRatio(old(5), old(4)), { ratio: 5 / 4, throughBatch: null });
});

Deno.test("parseBenchArgs: --idle-batches defaults to 4 and needs at least 3", () => {
  assert.equal(parseBenchArgs([]).idleBatches, 4);
  assert.equal(parseBenchArgs(["--idle-batches", "6"]).idleBatches, 6);
  assert.equal(parseBenchArgs(["--idle-batches=3"]).idleBatches, 3);
  assert.throws(() => parseBenchArgs(["--idle-batches", "2"]), /at least 3 .* got 2$/);
  assert.throws(() => parseBenchArgs(["--idle-batches", "x"]), /positive integer/);
  assert.match(USAGE, /--idle-batches K/);
});

/** A run of M1 (and S1 when `withLoad`) with the given memory results. */
function fakeRun(memory: MemoryResult[], withLoad = false): BenchResult {
  return {
    date: "2026-11-30T01:00:00.000Z",
    machine: { cpuModel: "Fake CPU", cores: 2, kernel: "6.1.0", versions: {} },
    settings: { rounds: 1, durationSec: 5, warmupSec: 2, pinned: true },
    scenarios: [
      ...(withLoad ? [{ id: "S1" as const, title: "hello, keep-alive", connections: 64 }] : []),
      { id: "M1", title: "idle keep-alive memory", connections: 1000 },
    ],
    load: [],
    memory,
    micro: [],
    notes: [],
  };
}

/** Sets each result's ratio to the reference as bench/run.ts does. */
function withRatios(memory: MemoryResult[]): MemoryResult[] {
  const reference = memory.find((entry) => entry.server === "deno-serve");
  return memory.map((entry) => {
    const { ratio, throughBatch } = reference === undefined
      ? { ratio: null, throughBatch: null }
      : idleRatio(entry, reference);
    return {
      ...entry,
      ratioToReference: ratio,
      ...(throughBatch === null ? {} : { ratioThroughBatch: throughBatch }),
    };
  });
}

Deno.test("the memory table gives the slope, its batches, and each later batch for the spread", () => {
  const text = renderMarkdownTables(fakeRun(withRatios([
    memoryResult("sockserve", [80_000, 75_000, 90_000, 105_000]),
    memoryResult("deno-serve", [78_000, 93_000, 108_000, 123_000]),
  ])));
  assert.match(
    text,
    /\| M1 idle keep-alive memory \(batches of 1000 connections\) \| KiB per connection \| over batches \|/,
  );
  // (105 − 80) MB / 3000 connections; batch 3's fall is a value, not bracketed.
  assert.match(
    text,
    /\| sockserve \| 8\.3 \| 2–4 \| 0\.56× \| -5\.0, 15\.0, 15\.0 \| 20\.0 \| 78\.1 MiB \| 102\.5 MiB \| 3000 \|/,
  );
  assert.match(text, /\| deno-serve \| 15\.0 \| 2–4 \| 1\.00× \| 15\.0, 15\.0, 15\.0 \| 18\.0 \|/);
  assert.doesNotMatch(text, /not counted:|rejected:|ratio to deno-serve over/);
});

Deno.test("a run of M scenarios only has no wrk header; a run with load scenarios has it", () => {
  const memory = [memoryResult("sockserve", [80_000, 90_000, 100_000, 110_000])];
  const only = renderMarkdownTables(fakeRun(memory));
  assert.match(only, /^Measured 2026-11-30 01:00 UTC on Fake CPU, 2 cores, Linux 6\.1\.0\.\n/);
  assert.doesNotMatch(only, /rounds ×|warm-up|wrk|Medians/);
  assert.match(only, /^Idle memory: KiB per connection = the server's RSS growth/m);
  const load = renderMarkdownTables(fakeRun(memory, true));
  assert.match(load, /^Load: 1 rounds × 5 s after 2 s warm-up, server on core 0 and wrk/m);
});

Deno.test("rejected batches, a flagged first batch and a ratio over fewer batches are marked", () => {
  const text = renderMarkdownTables(fakeRun(withRatios([
    // Batch 1 flagged, batch 3 rejected, batch 4 after it: figure over batch 2 alone.
    memoryResult("sockserve@f9eb5b5", [80_000, 92_000, 95_000, 100_000], {
      1: { held: 900 },
      3: { held: 10 },
    }),
    memoryResult("deno-serve", [78_000, 93_000, 108_000, 123_000]),
  ])));
  assert.match(
    text,
    /\| sockserve@f9eb5b5 \| 12\.0 \| 2 of 2–4 \| 0\.80× \(batch 2\) \| 12\.0, \[300\.0\], \[5\.0\] \| \[22\.2\] \| 78\.1 MiB \| 89\.8 MiB \| 1000 \|/,
  );
  // The reference's figure is over 2–4, the ratio over 2: said in the cell and under the table.
  assert.match(text, /\| deno-serve \| 15\.0 \| 2–4 \| 1\.00× \|/);
  assert.match(
    text,
    /- M1 sockserve@f9eb5b5 batch 1 flagged \(its reading still starts the figure\): the server held 900 of its 1000/,
  );
  assert.match(text, /- M1 sockserve@f9eb5b5 batch 3 rejected: the server held 10 of its 1000/);
  assert.match(text, /- M1 sockserve@f9eb5b5 batch 4 not counted: after rejected batch 3/);
  assert.match(
    text,
    /- M1 sockserve@f9eb5b5: ratio to deno-serve over batch 2, what both figures include \(sockserve@f9eb5b5's figure is over batch 2, deno-serve's over batches 2–4\)/,
  );
});

Deno.test("a measurement that stopped keeps the figure read before and says why", () => {
  const stopped: MemoryResult = {
    scenario: "M1",
    server: "sockserve",
    connections: 1000,
    ratioToReference: null,
    ...idleFigure(chain(60_000, [80_000, 90_000, 100_000]), "the server exited during batch 4", 4),
  };
  const text = renderMarkdownTables(fakeRun([stopped]));
  assert.match(text, /\| sockserve \| 10\.0 \| 2–3 of 2–4 \| – \| 10\.0, 10\.0 \| 20\.0 \|/);
  assert.match(
    text,
    /- M1 sockserve: the server exited during batch 4; the figure is over batches 2–3, read before/,
  );
});

/** A Hello server in this process that can close connections it holds, by accept order. */
function inProcessServer(
  options: {
    /** Whether the connection accepted as number `index` (1-based) gets answers. */
    answer?: (index: number) => boolean;
    /** Called as each connection is accepted, with its number. */
    onAccept?: (index: number) => void;
  } = {},
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const serving: Promise<void>[] = [];
  const response = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok",
  );
  const serveConnection = async (connection: Deno.Conn, index: number) => {
    const buffer = new Uint8Array(4096);
    try {
      while (true) {
        const length = await connection.read(buffer);
        if (length === null) break;
        // The harness's GETs arrive in one write and end with the empty line.
        if (!(options.answer?.(index) ?? true)) break;
        await connection.write(response);
      }
    } catch {
      // Closed here by closeAccepted(), or reset by a client.
    } finally {
      try {
        connection.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const connection of listener) {
        accepted.push(connection);
        serving.push(serveConnection(connection, accepted.length));
        options.onAccept?.(accepted.length);
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    /** Closes the connections accepted as numbers `from` to `to` (1-based, inclusive). */
    closeAccepted(from: number, to: number) {
      for (const connection of accepted.slice(from - 1, to)) {
        try {
          connection.close();
        } catch {
          // Already closed.
        }
      }
    },
    async close() {
      listener.close();
      await accepting;
      this.closeAccepted(1, accepted.length);
      await Promise.all(serving);
    },
  };
}

/** Warm-up requests of bench/idle_memory.ts: each is its own connection. */
const WARMUP_CONNECTIONS = 200;

Deno.test({
  name:
    "a batch whose earlier batch the server closed meanwhile is rejected, and no figure is left" +
    (LINUX ? "" : NOT_LINUX_REASON),
  ignore: !LINUX,
  fn: async () => {
    const perBatch = 10;
    // When the first connection of batch 2 arrives, the server lets batch 1 go (as an idle
    // timeout would): the idle client of batch 1 sees each close and counts it.
    const server = inProcessServer({
      onAccept: (index) => {
        if (index === WARMUP_CONNECTIONS + perBatch + 1) {
          server.closeAccepted(WARMUP_CONNECTIONS + 1, WARMUP_CONNECTIONS + perBatch);
        }
      },
    });
    try {
      const { batches, problem } = await measureIdleBatches(
        { pid: Deno.pid, port: server.port },
        { path: "/", connections: perBatch, batches: 3, clientCore: null },
      );
      assert.equal(problem, null);
      assert.deepEqual(
        batches.map((batch) => [batch.batch, batch.opened, batch.held, batch.earlierClosed]),
        [[1, perBatch, perBatch, 0], [2, perBatch, perBatch, perBatch], [3, perBatch, perBatch, 0]],
      );
      assert.equal(batches[1]?.kibPerConnection, null);
      assert.match(batches[1]?.problem ?? "", /closed 10 of earlier batches'/);
      // Batch 3 held all of its own, but it comes after the rejected batch 2.
      assert.equal(batches[2]?.problem, undefined);
      assert.equal(
        idleFigure(batches, problem, 3).skipped,
        "batch 2 was rejected, so no batch after the first can be counted",
      );
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name:
    "a server that exits during a batch stops the measurement; the batches before keep a figure" +
    (LINUX ? "" : NOT_LINUX_REASON),
  ignore: !LINUX,
  fn: async () => {
    const perBatch = 10;
    // The "server" whose memory is read is a process of its own, killed as batch 3 connects;
    // the connections go to a server in this process.
    const measured = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const server = inProcessServer({
      onAccept: (index) => {
        if (index === WARMUP_CONNECTIONS + 2 * perBatch + 1) measured.kill("SIGKILL");
      },
    });
    try {
      const { batches, problem } = await measureIdleBatches(
        { pid: measured.pid, port: server.port },
        { path: "/", connections: perBatch, batches: 4, clientCore: null },
      );
      assert.deepEqual(batches.map((batch) => batch.batch), [1, 2]);
      assert.match(problem ?? "", /^the server exited during batch 3 \(/);
      const figure = idleFigure(batches, problem, 4);
      assert.equal(figure.skipped, undefined);
      assert.equal(figure.throughBatch, 2);
      assert.equal(figure.stopped, problem);
    } finally {
      try {
        measured.kill("SIGKILL");
      } catch {
        // Killed by the test.
      }
      await measured.status;
      await server.close();
    }
  },
});

Deno.test({
  name: "a warm-up request that fails is the measurement's problem, not an exception" +
    (LINUX ? "" : NOT_LINUX_REASON),
  ignore: !LINUX,
  fn: async () => {
    // Answers five requests, then closes every connection without a response.
    const server = inProcessServer({ answer: (index) => index <= 5 });
    try {
      const { batches, problem } = await measureIdleBatches(
        { pid: Deno.pid, port: server.port },
        { path: "/", connections: 10, batches: 3, clientCore: null },
      );
      assert.deepEqual(batches, []);
      assert.match(
        problem ?? "",
        /^warm-up request 6 of 200 failed: connection closed before the response head ended$/,
      );
    } finally {
      await server.close();
    }
  },
});

const CONTEXT: Pick<
  RunContext,
  "filesDir" | "tempDir" | "tools" | "serverCore" | "baseline" | "tls"
> = {
  filesDir: "/tmp/files",
  tempDir: "/tmp",
  tools: { wrk: true, taskset: true, node: true, nginx: "nginx", nginxSsl: false },
  serverCore: null,
  baseline: null,
  tls: "no TLS scenario in this run",
};

Deno.test("only M1 and M2 give the servers a long idle timeout", async () => {
  const idle = { timeoutMs: 120_000, connections: 4000 };
  const argv = async (server: "sockserve" | "node-http" | "deno-serve", withIdle: boolean) => {
    const spec = await launchSpec(server, "hello", CONTEXT, withIdle ? idle : undefined);
    assert.ok(typeof spec !== "string", String(spec));
    return spec.command;
  };
  assert.ok((await argv("sockserve", true)).includes("--idle-timeout-ms=120000"));
  assert.ok(!(await argv("sockserve", false)).some((arg) => arg.startsWith("--idle-timeout")));
  assert.ok((await argv("node-http", true)).includes("--keep-alive-timeout-ms=120000"));
  assert.ok(!(await argv("node-http", false)).some((arg) => arg.startsWith("--keep-alive")));
  // Deno.serve has no idle timeout: the same argv either way.
  assert.deepEqual(await argv("deno-serve", true), await argv("deno-serve", false));
  // nginx: its own 75 s unless asked, and a connection table it never has to drain.
  const plain = nginxConfig({
    prefix: "/p",
    port: 1,
    mode: "hello",
    root: "/r",
    workerConnections: 4096,
  });
  assert.match(plain, /^ {2}keepalive_timeout 75s;$/m);
  const held = nginxConfig({
    prefix: "/p",
    port: 1,
    mode: "hello",
    root: "/r",
    workerConnections: 5080,
    keepaliveTimeoutSec: 120,
  });
  assert.match(held, /^ {2}keepalive_timeout 120s;$/m);
});

Deno.test({
  name: "a short M1 and M2 run keeps every batch of sockserve's serve() and command line open" +
    (LINUX ? "" : NOT_LINUX_REASON),
  ignore: !LINUX,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "bench-idle-" });
    try {
      const { result } = await runShortBench(
        [
          "--servers",
          "sockserve",
          "--scenarios",
          "M1,M2",
          "--idle-connections",
          "20",
          "--idle-batches",
          "3",
        ],
        out,
      );
      assert.deepEqual(result.memory.map((entry) => entry.scenario), ["M1", "M2"]);
      for (const entry of result.memory) {
        assert.equal(entry.note, undefined);
        // What 20 connections cost is not asserted (the garbage collector's timing outweighs
        // it); that every batch was held to the end, so the figure spans batches 2–3, is.
        assert.deepEqual(
          entry.batches?.map((batch) => [batch.opened, batch.held, batch.earlierClosed]),
          [[20, 20, 0], [20, 20, 0], [20, 20, 0]],
          `${entry.scenario}: ${entry.skipped}`,
        );
        assert.equal(entry.skipped, undefined);
        assert.equal(entry.throughBatch, 3);
        assert.equal(entry.plannedBatches, 3);
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

/** A commit of main from before the idle-timeout option of bench/servers/sockserve.ts. */
const OLD_COMMIT = "f9eb5b5";
const HAS_OLD_COMMIT = await new Deno.Command("git", {
  args: ["cat-file", "-e", `${OLD_COMMIT}^{commit}`],
  stdout: "null",
  stderr: "null",
}).output().then((output) => output.success, () => false);

Deno.test({
  name: "a baseline whose serve() entry takes no idle-timeout option runs without it, saying so" +
    (!LINUX ? NOT_LINUX_REASON : HAS_OLD_COMMIT ? "" : ` (ignored: no commit ${OLD_COMMIT} here)`),
  ignore: !LINUX || !HAS_OLD_COMMIT,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "bench-idle-" });
    try {
      const { result } = await runShortBench(
        [
          "--servers",
          "sockserve",
          "--baseline",
          OLD_COMMIT,
          "--scenarios",
          "M1",
          "--idle-connections",
          "20",
          "--idle-batches",
          "3",
        ],
        out,
      );
      const [current, old] = result.memory;
      assert.equal(current?.note, undefined);
      assert.match(old?.server ?? "", /^sockserve@/);
      assert.match(
        old?.note ?? "",
        /^its bench\/servers\/sockserve\.ts takes no idle-timeout option \(with it: .*usage/,
      );
      assert.equal(old?.batches?.length, 3);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
