/**
 * M1 and M2 of `deno task bench` (bench/idle_memory.ts, bench/idle_batches.ts,
 * bench/idle_client.ts): which batches count and what the figure is (pure), that the idle
 * client's count sees the server close connections (real sockets, a server in this process),
 * that a failed warm-up is the server's problem rather than an exception, and that a short run
 * starts every measured server with a long idle timeout. Nothing here measures memory.
 */
import assert from "node:assert/strict";
import {
  type BatchReading,
  judgeBatch,
  MIN_COUNTED_BATCHES,
  summarizeBatches,
} from "../bench/idle_batches.ts";
import { measureIdleBatches } from "../bench/idle_memory.ts";
import { launchSpec } from "../bench/launch.ts";
import type { RunContext } from "../bench/context.ts";
import { parseBenchArgs, USAGE } from "../bench/options.ts";
import { nginxConfig } from "../bench/nginx.ts";
import { renderMarkdownTables } from "../bench/report.ts";
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

Deno.test("judgeBatch: RSS growth over the connections gained, counted when held and grown", () => {
  const counted = judgeBatch(reading({}));
  assert.equal(counted.kibPerConnection, 10);
  assert.equal(counted.problem, undefined);
  // 960 of the batch's own still open: 96% is enough, and the growth is over those 960.
  const mostly = judgeBatch(reading({ held: 960, rssAfterKiB: 59_600 }));
  assert.equal(mostly.kibPerConnection, 10);
  assert.equal(mostly.problem, undefined);
});

Deno.test("judgeBatch: RSS that shrank or stayed put is listed with its problem", () => {
  const shrank = judgeBatch(reading({ rssAfterKiB: 48_000 }));
  assert.equal(shrank.kibPerConnection, -2);
  assert.match(shrank.problem ?? "", /^RSS shrank by 2000 KiB while the batch was opened/);
  const flat = judgeBatch(reading({ rssAfterKiB: 50_000 }));
  assert.equal(flat.kibPerConnection, 0);
  assert.match(flat.problem ?? "", /^RSS did not grow/);
});

Deno.test("judgeBatch: connections of this batch or earlier ones closed meanwhile are not held", () => {
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

Deno.test("summarizeBatches: the mean of the counted batches after the first", () => {
  const batches = [
    judgeBatch(reading({ batch: 1, rssAfterKiB: 73_200 })), // 23.2, never counted
    judgeBatch(reading({ batch: 2, rssAfterKiB: 59_900 })), // 9.9
    judgeBatch(reading({ batch: 3, rssAfterKiB: 47_000 })), // shrank: not counted
    judgeBatch(reading({ batch: 4, rssAfterKiB: 63_000 })), // 13.0
  ];
  const summary = summarizeBatches(batches);
  assert.equal(summary.counted, 2);
  assert.equal(summary.measured, 3);
  assert.ok(Math.abs(summary.kibPerConnection - 11.45) < 1e-9, String(summary.kibPerConnection));
  assert.equal(summary.problem, null);
});

Deno.test("summarizeBatches: fewer than two counted batches is a problem, not a figure", () => {
  assert.equal(MIN_COUNTED_BATCHES, 2);
  const one = summarizeBatches([
    judgeBatch(reading({ batch: 1 })),
    judgeBatch(reading({ batch: 2 })),
    judgeBatch(reading({ batch: 3, held: 10 })),
  ]);
  assert.equal(one.counted, 1);
  assert.match(one.problem ?? "", /^1 of the 2 batches after the first could be counted/);
  const none = summarizeBatches([judgeBatch(reading({ batch: 1 }))]);
  assert.ok(Number.isNaN(none.kibPerConnection));
  assert.equal(none.problem, "no batch after the first was opened");
});

Deno.test("parseBenchArgs: --idle-batches defaults to 4 and needs at least 3", () => {
  assert.equal(parseBenchArgs([]).idleBatches, 4);
  assert.equal(parseBenchArgs(["--idle-batches", "6"]).idleBatches, 6);
  assert.equal(parseBenchArgs(["--idle-batches=3"]).idleBatches, 3);
  assert.throws(() => parseBenchArgs(["--idle-batches", "2"]), /at least 3 .* got 2$/);
  assert.throws(() => parseBenchArgs(["--idle-batches", "x"]), /positive integer/);
  assert.match(USAGE, /--idle-batches K/);
});

Deno.test("the memory table lists each later batch, brackets the ones not counted, and says why", () => {
  const batches = [
    judgeBatch(reading({ batch: 1, rssAfterKiB: 73_200 })),
    judgeBatch(reading({ batch: 2, rssAfterKiB: 59_900 })),
    judgeBatch(reading({ batch: 3, rssAfterKiB: 47_000 })),
    judgeBatch(reading({ batch: 4, rssAfterKiB: 63_000 })),
  ];
  const text = renderMarkdownTables({
    date: "2026-11-30T01:00:00.000Z",
    machine: { cpuModel: "Fake CPU", cores: 2, kernel: "6.1.0", versions: {} },
    settings: { rounds: 1, durationSec: 5, warmupSec: 2, pinned: true },
    scenarios: [{ id: "M1", title: "idle keep-alive memory", connections: 1000 }],
    load: [],
    memory: [{
      scenario: "M1",
      server: "sockserve",
      connections: 1000,
      baselineRssKiB: 73_200,
      loadedRssKiB: 63_000,
      kibPerConnection: 11.45,
      countedBatches: 2,
      firstBatchKiBPerConnection: 23.2,
      batches,
      fdsGained: 3000,
      ratioToReference: null,
      note: "kept its own idle timeout",
    }],
    micro: [],
    notes: [],
  });
  assert.match(text, /\| M1 idle keep-alive memory \(batches of 1000 connections\) \|/);
  assert.match(text, /\| sockserve \| 11\.5 \| – \| 9\.9, \[-3\.0\], 13\.0 \| 23\.2 \| /);
  assert.match(text, /- M1 sockserve batch 3 not counted: RSS shrank by 3000 KiB/);
  assert.match(text, /- M1 sockserve: kept its own idle timeout/);
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
  name: "a batch whose earlier batch the server closed meanwhile is not counted" +
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
    } finally {
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
        // Whether 20 connections move RSS past the garbage collector's noise is not asserted;
        // that every batch was held to the end is.
        assert.deepEqual(
          entry.batches?.map((batch) => [batch.opened, batch.held, batch.earlierClosed]),
          [[20, 20, 0], [20, 20, 0], [20, 20, 0]],
          `${entry.scenario}: ${entry.skipped}`,
        );
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
