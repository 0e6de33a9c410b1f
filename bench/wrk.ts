/**
 * Running wrk and reading its summary (printed as one JSON line by `bench/wrk/report.lua`).
 *
 * @module
 */

import { wrapCommand } from "./processes.ts";

/** Extra time over the run's duration before a wrk process is considered hung and killed. */
export const WRK_OVERRUN_MS = 20_000;

/**
 * wrk's per-request timeout. Responses slower than this count as timeouts; 10 s is far above
 * any latency a working server shows on loopback, so a timeout means something is broken.
 */
export const WRK_REQUEST_TIMEOUT_SEC = 10;

/** What `report.lua` prints. */
export interface WrkSummary {
  /** Completed responses. */
  requests: number;
  /** Bytes received (heads and bodies). */
  bytes: number;
  /** Length of the run in microseconds. */
  durationUs: number;
  /** Median latency, µs. */
  p50Us: number;
  /** 99th-percentile latency, µs. */
  p99Us: number;
  /** Worst latency, µs. */
  maxUs: number;
  /** Failed connects. */
  connectErrors: number;
  /** Failed reads. */
  readErrors: number;
  /** Failed writes. */
  writeErrors: number;
  /** Responses that were not 2xx or 3xx. */
  statusErrors: number;
  /** Requests that timed out. */
  timeouts: number;
  /** wrk's own CPU time in seconds (user + system), from Lua's os.clock(). */
  cpuSec: number;
}

/** One wrk run. */
export interface WrkOptions {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Path to request. */
  path: string;
  /** Concurrent connections. */
  connections: number;
  /** Length of the run, seconds. */
  durationSec: number;
  /** wrk threads (1 when wrk has one core). */
  threads: number;
  /** Lua script file. */
  script: string;
  /** Extra request headers, as "Name: value". */
  headers: string[];
  /** Core to pin wrk to, or null. */
  core: number | null;
  /** Connect with TLS (`https://`; wrk does not verify the certificate). Default false. */
  tls?: boolean;
}

/**
 * Extracts the `WRK_JSON {...}` line from wrk's stdout.
 *
 * @example
 * ```ts
 * parseWrkOutput('Running…\nWRK_JSON {"requests":1,…}\n');
 * ```
 */
export function parseWrkOutput(stdout: string): WrkSummary {
  const line = stdout.split("\n").find((candidate) => candidate.startsWith("WRK_JSON "));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout.slice(0, 2000)}`);
  return JSON.parse(line.slice("WRK_JSON ".length)) as WrkSummary;
}

/** All the errors of a summary in one number. */
export function totalErrors(summary: WrkSummary): number {
  return summary.connectErrors + summary.readErrors + summary.writeErrors +
    summary.statusErrors + summary.timeouts;
}

/**
 * Runs wrk once and returns its summary; kills wrk if it overruns by {@linkcode WRK_OVERRUN_MS}.
 *
 * @example
 * ```ts
 * const port = 8000;
 * const summary = await runWrk({ port, path: "/", connections: 64, durationSec: 5, threads: 1,
 *   script: "bench/wrk/report.lua", headers: [], core: 1 });
 * ```
 */
export async function runWrk(options: WrkOptions): Promise<WrkSummary> {
  const argv = wrapCommand([
    "wrk",
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationSec}s`,
    `--timeout`,
    `${WRK_REQUEST_TIMEOUT_SEC}s`,
    "--latency",
    "-s",
    options.script,
    ...options.headers.flatMap((header) => ["-H", header]),
    `${options.tls === true ? "https" : "http"}://127.0.0.1:${options.port}${options.path}`,
  ], options.core);
  const output = await new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.durationSec * 1000 + WRK_OVERRUN_MS),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(
      `wrk failed (code ${output.code}): ${new TextDecoder().decode(output.stderr)}${stdout}`,
    );
  }
  return parseWrkOutput(stdout);
}
