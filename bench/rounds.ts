/**
 * Measuring the load scenarios: one wrk (or own client: S4's large-body, W1's WebSocket) run with the CPU time around it,
 * measured again while others disturb it, and the rounds of every server in one mode with the
 * ratio to Deno.serve in the same round.
 *
 * @module
 */

import { join } from "node:path";
import {
  type LoadScenario,
  usesWrk,
  WEBSOCKET_MESSAGE_BYTES,
  WEBSOCKET_WINDOW,
} from "./options.ts";
import {
  DISTURBED_CPU_SHARE,
  type LoadResult,
  type LoadSample,
  type MeasuredServer,
  REFERENCE_SERVER,
} from "./report.ts";
import {
  oneLine,
  pause,
  readCpuSeconds,
  readMachineCpuSeconds,
  type ServerProcess,
} from "./processes.ts";
import { runWrk, totalErrors, type WrkSummary } from "./wrk.ts";
import { runWebSocketLoad, type WebSocketLoadSummary } from "./websocket_load.ts";
import { type LargeBodyLoadSummary, runLargeBodyLoad } from "./large_body_load.ts";
import { roundOrder } from "./baseline.ts";
import { DISTURBED_RETRY_PAUSE_MS, log, type Mode, type RunContext, SETTLE_MS } from "./context.ts";
import { launchSpec, startOrReason, stopServer } from "./launch.ts";

/** Seconds the background load of a scenario (S7) runs beyond the measured one. */
const BACKGROUND_MARGIN_SEC = 2;

/** Head start of the background load, so that it runs from the measured load's first request. */
const BACKGROUND_START_MS = 500;

/** One wrk (or own client) run and the CPU time around it. */
interface Measurement {
  summary: WrkSummary;
  /** Threads of the load generator: wrk's, or 1 for the bench's own clients. */
  clientThreads: number;
  /** CPU seconds of the server process. */
  cpuSeconds: number;
  /** Share of all CPUs' time used by processes other than the server and wrk. */
  otherCpuShare: number;
}

export async function measure(
  server: ServerProcess,
  scenario: LoadScenario,
  durationSec: number,
  context: RunContext,
): Promise<Measurement> {
  const before = await readCpuSeconds(server.pid);
  const machineBefore = await readMachineCpuSeconds();
  const started = performance.now();
  const script = scenario.script;
  // Load beside the measured one (S7): it starts first and ends after, so that it runs for the
  // whole measurement; its own numbers are not reported.
  const background = scenario.background === undefined ? null : runWrk({
    port: server.port,
    path: scenario.background.path,
    connections: scenario.background.connections,
    durationSec: durationSec + BACKGROUND_MARGIN_SEC,
    threads: 1,
    script: context.scripts.report,
    headers: scenario.background.headers,
    core: context.clientCore,
  });
  if (background !== null) await pause(BACKGROUND_START_MS);
  const summary = await driveLoad(scenario, server.port, durationSec, {
    threads: context.wrkThreads,
    script: script === "report" || script === "pipeline" ? context.scripts[script] : "",
    core: context.clientCore,
    tls: scenario.mode === "tls",
    filesDir: context.filesDir,
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const machineSeconds = (await readMachineCpuSeconds()) - machineBefore;
  const cpuSeconds = (await readCpuSeconds(server.pid)) - before;
  // The background's wrk is not another process disturbing the run.
  const backgroundCpu = background === null ? 0 : (await background).cpuSec;
  const otherSeconds = Math.max(0, machineSeconds - cpuSeconds - summary.cpuSec - backgroundCpu);
  const otherCpuShare = otherSeconds / (wallSeconds * navigator.hardwareConcurrency);
  const clientThreads = usesWrk(scenario) ? context.wrkThreads : 1;
  return { summary, clientThreads, cpuSeconds, otherCpuShare };
}

/**
 * Measures once, and again (up to `context.retries` times) while other processes took more than
 * {@linkcode DISTURBED_CPU_SHARE} of the machine; keeps the least disturbed run.
 */
async function measureUndisturbed(
  server: ServerProcess,
  scenario: LoadScenario,
  durationSec: number,
  context: RunContext,
): Promise<Measurement & { attempts: number }> {
  let best: Measurement | null = null;
  let attempts = 0;
  while (attempts <= context.retries) {
    attempts++;
    const measurement = await measure(server, scenario, durationSec, context);
    if (best === null || measurement.otherCpuShare < best.otherCpuShare) best = measurement;
    if (measurement.otherCpuShare <= DISTURBED_CPU_SHARE) break;
    if (attempts <= context.retries) {
      log(
        `${scenario.id} ${server.name}: other processes took ${
          Math.round(measurement.otherCpuShare * 100)
        }% of the CPUs; measuring again`,
      );
      await pause(DISTURBED_RETRY_PAUSE_MS);
    }
  }
  return { ...(best as Measurement), attempts };
}

function toSample(
  round: number,
  measurement: Measurement & { attempts: number },
): LoadSample {
  const { summary, cpuSeconds } = measurement;
  const seconds = summary.durationUs / 1e6;
  return {
    round,
    requestsPerSec: seconds > 0 ? summary.requests / seconds : 0,
    p99LatencyMs: summary.p99Us / 1000,
    mbPerSec: seconds > 0 ? summary.bytes / seconds / 1e6 : 0,
    cpuMicrosPerRequest: summary.requests > 0 ? (cpuSeconds * 1e6) / summary.requests : 0,
    requests: summary.requests,
    errors: totalErrors(summary),
    ratioToReference: null,
    otherCpuShare: measurement.otherCpuShare,
    attempts: measurement.attempts,
    clientCpuShare: seconds > 0 ? summary.cpuSec / seconds / measurement.clientThreads : 0,
  };
}

/** Runs the load scenarios of one mode against every server that starts. */
export async function runMode(
  mode: Mode,
  scenarios: LoadScenario[],
  servers: MeasuredServer[],
  options: { rounds: number; durationSec: number; warmupSec: number },
  context: RunContext,
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  const started = new Map<MeasuredServer, ServerProcess>();
  for (const name of servers) {
    const spec = await launchSpec(name, mode, context);
    const server = await startOrReason(spec);
    if (typeof server === "string") {
      log(`${name} (${mode}) skipped: ${server}`);
      for (const scenario of scenarios) {
        results.push({ scenario: scenario.id, server: name, samples: [], skipped: server });
      }
    } else {
      log(`${name} (${mode}) listening on ${server.port}, PID ${server.pid}`);
      started.set(name, server);
    }
  }
  try {
    await pause(SETTLE_MS);
    for (const scenario of scenarios) {
      const entries = new Map<MeasuredServer, LoadResult>();
      for (const [name] of started) {
        const entry: LoadResult = { scenario: scenario.id, server: name, samples: [] };
        entries.set(name, entry);
        results.push(entry);
      }
      if (options.warmupSec > 0) {
        for (const [name, server] of started) {
          log(`${scenario.id} warm-up ${name} (${options.warmupSec} s)`);
          try {
            await measure(server, scenario, options.warmupSec, context);
          } catch (error) {
            log(`${scenario.id} warm-up of ${name} failed: ${String(error)}`);
          }
        }
      }
      const order = [...started.keys()];
      for (let round = 1; round <= options.rounds; round++) {
        const pair = context.baseline === null
          ? null
          : ["sockserve", context.baseline.server] as const;
        for (const name of roundOrder(order, round, pair)) {
          const server = started.get(name) as ServerProcess;
          const entry = entries.get(name) as LoadResult;
          if (entry.skipped !== undefined) continue;
          try {
            const sample = toSample(
              round,
              await measureUndisturbed(server, scenario, options.durationSec, context),
            );
            entry.samples.push(sample);
            log(
              `${scenario.id} round ${round} ${name}: ${
                Math.round(sample.requestsPerSec)
              } req/s, ` +
                `p99 ${sample.p99LatencyMs.toFixed(2)} ms, ${sample.mbPerSec.toFixed(1)} MB/s, ` +
                `${sample.cpuMicrosPerRequest.toFixed(1)} µs CPU/req, ${sample.errors} errors, ` +
                `others took ${Math.round(sample.otherCpuShare * 100)}% of the CPUs`,
            );
            if (sample.requests === 0) {
              entry.skipped = oneLine(
                `no response completed (${sample.errors} errors); stderr: ${server.stderrTail()}`,
              );
            }
          } catch (error) {
            entry.skipped = oneLine(error instanceof Error ? error.message : String(error));
            log(`${scenario.id} ${name} failed: ${entry.skipped}`);
          }
          await pause(SETTLE_MS / 5);
        }
        const reference = entries.get(REFERENCE_SERVER)?.samples.find((s) => s.round === round);
        for (const entry of entries.values()) {
          const sample = entry.samples.find((s) => s.round === round);
          if (sample !== undefined && reference !== undefined && reference.requestsPerSec > 0) {
            sample.ratioToReference = sample.requestsPerSec / reference.requestsPerSec;
          }
        }
      }
    }
  } finally {
    for (const server of started.values()) await stopServer(server);
  }
  return results;
}

/** How the load client of {@linkcode driveLoad} runs. */
export interface LoadClient {
  /** wrk threads (the bench's own clients always use one). */
  threads: number;
  /** wrk's Lua script (unused by the bench's own clients). */
  script: string;
  /** The core the client is pinned to, or null. */
  core: number | null;
  /** Whether wrk speaks HTTPS. */
  tls: boolean;
  /**
   * The directory the static server serves: the large-body client (S4) checks each body's size
   * and edges against the file there. Without it, bodies are framed but not compared.
   */
  filesDir?: string;
}

/**
 * Runs a scenario's load against `port` for `durationSec`: the large-body client for
 * `large-body` (S4), the WebSocket echo client for `websocket-echo` (W1), wrk otherwise. Used by
 * the bench's rounds and by bench/profile.ts.
 */
export function driveLoad(
  scenario: LoadScenario,
  port: number,
  durationSec: number,
  client: LoadClient,
): Promise<WrkSummary | WebSocketLoadSummary | LargeBodyLoadSummary> {
  if (scenario.script === "large-body") {
    return runLargeBodyLoad(
      { port, path: scenario.path, connections: scenario.connections, durationSec },
      client.core,
      client.filesDir === undefined ? undefined : join(client.filesDir, scenario.path),
    );
  }
  if (scenario.script === "websocket-echo") {
    return runWebSocketLoad({
      port,
      path: scenario.path,
      connections: scenario.connections,
      durationSec,
      messageBytes: WEBSOCKET_MESSAGE_BYTES,
      window: WEBSOCKET_WINDOW,
    }, client.core);
  }
  return runWrk({
    port,
    path: scenario.path,
    connections: scenario.connections,
    durationSec,
    threads: client.threads,
    script: client.script,
    headers: scenario.headers,
    core: client.core,
    tls: client.tls,
  });
}
