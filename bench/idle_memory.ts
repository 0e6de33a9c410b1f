/**
 * M1 and M2: the memory a server holds per idle keep-alive connection, read from /proc while
 * bench/idle_client.ts holds the connections open.
 *
 * @module
 */

import { join } from "node:path";
import { SMALL_FILE_NAME } from "./options.ts";
import type { MeasuredServer, MemoryResult, MemoryScenarioId } from "./report.ts";
import { countOpenFds, pause, readRssKiB, wrapCommand } from "./processes.ts";
import { httpGet } from "./probe.ts";
import { BENCH_DIR, type RunContext, SETTLE_MS } from "./context.ts";
import { commandLineSpec, launchSpec, startOrReason, stopServer } from "./launch.ts";

/**
 * Requests (each on its own connection, closed after) a server answers before the first batch of
 * idle connections: enough for the JIT to compile the request path, few enough not to fill
 * connection pools that the measured connections would then reuse.
 */
const IDLE_WARMUP_REQUESTS = 200;

/** Share of M1's connections the server must still hold when its memory is read. */
const HELD_FDS_MIN_SHARE = 0.95;

/** Longest the M1 client may take to open its connections and report. */
const IDLE_CLIENT_TIMEOUT_MS = 60_000;

/** One idle client's connections, held until {@linkcode IdleBatch.release}. */
interface IdleBatch {
  /** Connections that completed their request and are held. */
  held: number;
  /** Why the batch cannot be measured (the client never said, or requests failed), or null. */
  problem: string | null;
  release(): Promise<void>;
}

/** Starts bench/idle_client.ts with `connections` connections and waits until it holds them. */
async function holdIdleConnections(
  port: number,
  connections: number,
  path: string,
  context: RunContext,
): Promise<IdleBatch> {
  const argv = wrapCommand([
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1",
    join(BENCH_DIR, "idle_client.ts"),
    String(port),
    String(connections),
    path,
  ], context.clientCore);
  const client = new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(IDLE_CLIENT_TIMEOUT_MS),
  }).spawn();
  const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/HOLDING \d+ FAILED \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const match = /HOLDING (\d+) FAILED (\d+)/.exec(text);
  const held = match === null ? 0 : Number(match[1]);
  return {
    held,
    problem: match === null
      ? "the idle client did not report its connections"
      : Number(match[2]) > 0
      ? `only ${held} of ${connections} connections completed a request`
      : null,
    async release() {
      await client.stdin.close();
      await reader.cancel().catch(() => {});
      await client.status;
    },
  };
}

/**
 * M1 (Hello, World!) and M2 (the static site; sockserve as its command line): RSS growth of a
 * fresh server while it holds N more idle keep-alive connections, each after one request.
 *
 * Two batches of N: the first is held but not measured, the second is measured on top of it. The
 * first batch is where a server meets 50 connections opening at once for the first time, and
 * where V8 optimises its connection path on background threads; the compilers' scratch memory
 * stays in those threads' malloc arenas (for sockserve 2–3 MiB once, none with
 * `--v8-flags=--no-turbofan,--no-maglev`), which would read as KiB per connection. The first
 * batch also holds heap sizing, so its growth is reported beside the second's. Both batches must
 * still be held when the second is measured (an idle timeout that closed first-batch connections
 * would free memory meanwhile). For the servers that collect garbage (all but nginx), when
 * garbage is collected moves the figure: the second batch is sockserve's lowest reading (held by
 * hand, its later batches grew 1.1–1.7× as much; bench/README.md gives the figures).
 */
export async function measureIdleMemory(
  scenario: MemoryScenarioId,
  name: MeasuredServer,
  connections: number,
  context: RunContext,
): Promise<MemoryResult> {
  const empty = {
    scenario,
    server: name,
    connections,
    baselineRssKiB: 0,
    loadedRssKiB: 0,
    kibPerConnection: 0,
    fdsGained: 0,
    ratioToReference: null,
  };
  const isSockserve = name === "sockserve" ||
    (context.baseline !== null && name === context.baseline.server);
  const spec = scenario === "M2" && isSockserve
    ? commandLineSpec(name, context)
    : await launchSpec(name, scenario === "M2" ? "static" : "hello", context);
  const path = scenario === "M2" ? `/${SMALL_FILE_NAME}` : "/";
  const server = await startOrReason(spec);
  if (typeof server === "string") return { ...empty, skipped: server };
  const batches: IdleBatch[] = [];
  try {
    // Warm up first, as a server that has been running is: what is measured is the memory each
    // further idle connection costs, not the one-time cost of compiling the server's code.
    for (let i = 0; i < IDLE_WARMUP_REQUESTS; i++) {
      const response = await httpGet(server.port, path);
      response.connection.close();
    }
    await pause(SETTLE_MS);
    const freshRssKiB = await readRssKiB(server.pid);
    const freshFds = await countOpenFds(server.pid);
    const first = await holdIdleConnections(server.port, connections, path, context);
    batches.push(first);
    if (first.problem !== null) return { ...empty, skipped: first.problem };
    await pause(SETTLE_MS);
    const baselineRssKiB = await readRssKiB(server.pid);
    const baselineFds = await countOpenFds(server.pid);
    const second = await holdIdleConnections(server.port, connections, path, context);
    batches.push(second);
    if (second.problem !== null) return { ...empty, skipped: second.problem };
    const held = second.held;
    await pause(SETTLE_MS);
    const loadedRssKiB = await readRssKiB(server.pid);
    const fdsNow = await countOpenFds(server.pid);
    const fdsGained = fdsNow - baselineFds;
    const result: MemoryResult = {
      ...empty,
      connections: held,
      baselineRssKiB,
      loadedRssKiB,
      kibPerConnection: held > 0 ? (loadedRssKiB - baselineRssKiB) / held : 0,
      firstBatchKiBPerConnection: first.held > 0 ? (baselineRssKiB - freshRssKiB) / first.held : 0,
      fdsGained,
    };
    if (fdsNow - freshFds < (first.held + held) * HELD_FDS_MIN_SHARE) {
      // The server closed connections before the reading (an idle timeout shorter than the
      // time it took to open both batches): memory freed by the first batch's would make the
      // second batch's figure too low.
      result.skipped = `the server held only ${fdsNow - freshFds} of the ${
        first.held + held
      } connections of both batches when measured`;
    }
    return result;
  } finally {
    for (const batch of batches) await batch.release();
    await stopServer(server);
  }
}
