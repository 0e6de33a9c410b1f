/**
 * M1 and M2: the memory a server holds per idle keep-alive connection, read from /proc while
 * bench/idle_client.ts processes hold batches of connections open, one on top of another.
 *
 * @module
 */

import { join } from "node:path";
import { IDLE_SERVER_TIMEOUT_MS, SMALL_FILE_NAME } from "./options.ts";
import type { MeasuredServer, MemoryBatch, MemoryResult, MemoryScenarioId } from "./report.ts";
import { countOpenFds, pause, readRssKiB, wrapCommand } from "./processes.ts";
import { httpGet } from "./probe.ts";
import { BENCH_DIR, type RunContext, SETTLE_MS } from "./context.ts";
import { commandLineSpec, type IdleHold, launchSpec, startOrReason, stopServer } from "./launch.ts";
import { failedBatch, idleFigure, judgeBatch } from "./idle_batches.ts";
import { BASELINE_ENTRY } from "./baseline.ts";

/**
 * Requests (each on its own connection, closed after) a server answers before the first batch of
 * idle connections: enough for the JIT to compile the request path, few enough not to fill
 * connection pools that the measured connections would then reuse.
 */
const IDLE_WARMUP_REQUESTS = 200;

/** Longest an idle client may take to open its connections and report them. */
const IDLE_CLIENT_OPEN_TIMEOUT_MS = 60_000;

/** Longest an idle client may take to answer `count` or to exit once released. */
const IDLE_CLIENT_REPLY_TIMEOUT_MS = 10_000;

/** One idle client's connections, held until {@linkcode IdleBatch.release}. */
interface IdleBatch {
  /** Connections that completed their request. */
  opened: number;
  /** Why the batch cannot be measured (the client never said, or requests failed), or null. */
  problem: string | null;
  /**
   * How many of its connections the server has not closed, by the client's count (each keeps a
   * read pending, which ends when the server closes it).
   *
   * @throws {Error} when the client does not answer within {@linkcode IDLE_CLIENT_REPLY_TIMEOUT_MS}.
   */
  openCount(): Promise<number>;
  /** Closes the client's connections and waits until it exited. */
  release(): Promise<void>;
}

/** Resolves with `promise`, or with `fallback` once `ms` passed. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => timer = setTimeout(() => resolve(fallback), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts bench/idle_client.ts with `connections` connections and waits until it holds them. */
async function holdIdleConnections(
  port: number,
  connections: number,
  path: string,
  clientCore: number | null,
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
  ], clientCore);
  const client = new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const status = client.status;
  const commands = client.stdin.getWriter();
  const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  /** The client's next line of output, or null once it closed its stdout. */
  const nextLine = async (): Promise<string | null> => {
    while (true) {
      const newline = pending.indexOf("\n");
      if (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      pending += value;
    }
  };
  const kill = () => {
    try {
      client.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  };
  const timedOut = Symbol("timed out");
  const report = await within(nextLine(), IDLE_CLIENT_OPEN_TIMEOUT_MS, timedOut);
  if (report === timedOut) kill();
  const match = typeof report === "string" ? /^HOLDING (\d+) FAILED (\d+)$/.exec(report) : null;
  const opened = match === null ? 0 : Number(match[1]);
  return {
    opened,
    problem: report === timedOut
      ? `the idle client did not report its connections within ${
        IDLE_CLIENT_OPEN_TIMEOUT_MS / 1000
      } s`
      : match === null
      ? "the idle client did not report its connections"
      : Number(match[2]) > 0
      ? `only ${opened} of ${connections} connections completed a request`
      : null,
    async openCount() {
      await commands.write(new TextEncoder().encode("count\n"));
      const line = await within(nextLine(), IDLE_CLIENT_REPLY_TIMEOUT_MS, timedOut);
      const open = typeof line === "string" ? /^OPEN (\d+)$/.exec(line) : null;
      if (open === null) throw new Error("an idle client stopped answering how many it holds");
      return Number(open[1]);
    },
    async release() {
      await commands.close().catch(() => {});
      if (await within(status.then(() => false), IDLE_CLIENT_REPLY_TIMEOUT_MS, true)) kill();
      await reader.cancel().catch(() => {});
      await status;
    },
  };
}

/** Whether process `pid` is gone or a zombie (exited, not yet reaped). */
async function processEnded(pid: number): Promise<boolean> {
  try {
    return /^State:\s+Z/m.test(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return true;
  }
}

/** What {@linkcode measureIdleBatches} read from one running server. */
export interface IdleMeasurement {
  /** Every batch opened, in order, judged by bench/idle_batches.ts. */
  batches: MemoryBatch[];
  /** Why the measurement stopped before its batches (the warm-up failed, the server died), or null. */
  problem: string | null;
}

/** How {@linkcode measureIdleBatches} holds its connections. */
export interface IdleBatchOptions {
  /** Path each connection requests once before it idles. */
  path: string;
  /** Connections per batch. */
  connections: number;
  /** Batches held one on top of another (the first is not counted). */
  batches: number;
  /** Core the idle clients are pinned to, or null. */
  clientCore: number | null;
}

/**
 * Warms the server up, then opens `batches` batches of `connections` idle keep-alive connections,
 * one on top of another, and reads the server's RSS and open files after each. Never throws for
 * the server's sake: a failed warm-up request or a server that stopped is the result's problem.
 * Batches follow one another on events (the client has completed every request; RSS is read after
 * {@linkcode SETTLE_MS}, as after every phase of the run).
 *
 * @example
 * ```ts
 * declare const server: { pid: number; port: number };
 * const { batches, problem } = await measureIdleBatches(server,
 *   { path: "/", connections: 1000, batches: 4, clientCore: 1 });
 * ```
 */
export async function measureIdleBatches(
  server: { pid: number; port: number },
  options: IdleBatchOptions,
): Promise<IdleMeasurement> {
  const { pid, port } = server;
  const batches: MemoryBatch[] = [];
  const clients: IdleBatch[] = [];
  /** The batch being opened or read (0 before the first). */
  let batch = 0;
  try {
    // Warm up first, as a server that has been running is: what is measured is the memory each
    // further idle connection costs, not the one-time cost of compiling the server's code.
    for (let i = 0; i < IDLE_WARMUP_REQUESTS; i++) {
      try {
        const response = await httpGet(port, options.path);
        response.connection.close();
      } catch (error) {
        return {
          batches,
          problem: `warm-up request ${i + 1} of ${IDLE_WARMUP_REQUESTS} failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
        };
      }
    }
    await pause(SETTLE_MS);
    let rssKiB = await readRssKiB(pid);
    batch = 1;
    let fds = await countOpenFds(pid);
    /** Each held batch's open connections at the previous reading. */
    let openBefore: number[] = [];
    for (; batch <= options.batches; batch++) {
      const client = await holdIdleConnections(
        port,
        options.connections,
        options.path,
        options.clientCore,
      );
      clients.push(client);
      if (client.problem !== null) {
        // A server that refused these connections would refuse more: no further batch.
        batches.push(failedBatch(batch, client.opened, rssKiB, client.problem));
        if (await processEnded(pid)) {
          return { batches, problem: `the server exited during batch ${batch}` };
        }
        break;
      }
      await pause(SETTLE_MS);
      const rssAfterKiB = await readRssKiB(pid);
      const fdsAfter = await countOpenFds(pid);
      // Counted after RSS is read: a close between the two only makes the check stricter.
      const openNow = await Promise.all(clients.map((held) => held.openCount()));
      const earlierClosed = openBefore.reduce(
        (sum, before, i) => sum + Math.max(0, before - (openNow[i] ?? 0)),
        0,
      );
      batches.push(judgeBatch({
        batch,
        requested: options.connections,
        held: openNow[batch - 1] ?? 0,
        earlierClosed,
        rssBeforeKiB: rssKiB,
        rssAfterKiB,
        fdsGained: fdsAfter - fds,
      }));
      rssKiB = rssAfterKiB;
      fds = fdsAfter;
      openBefore = openNow;
    }
    return { batches, problem: null };
  } catch (error) {
    // /proc/PID gone or a zombie (the server died), or an idle client that stopped answering.
    const reason = error instanceof Error ? error.message : String(error);
    const during = batch === 0 ? "before batch 1" : `during batch ${batch}`;
    return {
      batches,
      problem: await processEnded(pid)
        ? `the server exited ${during} (${reason})`
        : `the measurement stopped ${during}: ${reason}`,
    };
  } finally {
    for (const client of clients) await client.release();
  }
}

/**
 * M1 (Hello, World!) and M2 (the static site; sockserve as its command line): what each further
 * idle keep-alive connection costs a fresh server, in KiB of RSS, each connection after one
 * request.
 *
 * `batches` batches of `connections` are opened one on top of another and RSS is read after each.
 * The first is held but not counted: it is where a server meets 50 connections opening at once
 * for the first time, and where V8 optimises its connection path on background threads; the
 * compilers' scratch memory stays in those threads' malloc arenas (for sockserve 2–3 MiB once,
 * none with `--v8-flags=--no-turbofan,--no-maglev`), which would read as KiB per connection, and
 * it holds heap sizing; its growth is reported beside the figure. The figure is the slope over the
 * later batches: RSS growth from the reading with batch 1 held to the last counted reading, over
 * the connections those batches added (bench/idle_batches.ts says which count). Each batch is
 * listed in the result: for the servers that collect garbage (all but nginx), when garbage is
 * collected moves every single reading, by up to 2× from batch to batch for sockserve
 * (bench/README.md gives the figures), and cancels out of the total.
 *
 * Every server keeps its idle connections for {@linkcode IDLE_SERVER_TIMEOUT_MS} here (the
 * others' scenarios keep their defaults). A baseline whose entry or command line predates the
 * idle-timeout option runs with its own, and its result's `note` says so.
 */
export async function measureIdleMemory(
  scenario: MemoryScenarioId,
  name: MeasuredServer,
  connections: number,
  batchCount: number,
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
  const isBaseline = context.baseline !== null && name === context.baseline.server;
  const commandLine = scenario === "M2" && (name === "sockserve" || isBaseline);
  const hold: IdleHold = {
    timeoutMs: IDLE_SERVER_TIMEOUT_MS,
    connections: connections * batchCount,
  };
  const specWith = (idle: IdleHold | undefined) =>
    commandLine
      ? Promise.resolve(commandLineSpec(name, context, idle))
      : launchSpec(name, scenario === "M2" ? "static" : "hello", context, idle);
  let server = await startOrReason(await specWith(hold));
  let note: string | undefined;
  if (typeof server === "string" && isBaseline) {
    // An older tree's entry (or command line) that predates the option refuses to start with it.
    const refused = server;
    server = await startOrReason(await specWith(undefined));
    if (typeof server !== "string") {
      note = `its ${commandLine ? "command line" : BASELINE_ENTRY} takes no idle-timeout ` +
        `option (with it: ${refused}), so it kept its own idle timeout (sockserve's default ` +
        "is 5 s), and the batches it closed are rejected";
    }
  }
  if (typeof server === "string") return { ...empty, skipped: server };
  try {
    const measured = await measureIdleBatches(server, {
      path: scenario === "M2" ? `/${SMALL_FILE_NAME}` : "/",
      connections,
      batches: batchCount,
      clientCore: context.clientCore,
    });
    return {
      ...empty,
      ...idleFigure(measured.batches, measured.problem, batchCount),
      ...(note === undefined ? {} : { note }),
    };
  } finally {
    await stopServer(server);
  }
}
