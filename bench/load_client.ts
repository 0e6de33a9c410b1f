/**
 * What the bench's own load clients share (bench/websocket_load.ts for W1,
 * bench/large_body_load.ts for S4): the latency histogram, the process's CPU time, and running a
 * client as its own process pinned to a core, as wrk is, reading back its one summary line.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { wrapCommand } from "./processes.ts";
import { WRK_OVERRUN_MS, type WrkSummary } from "./wrk.ts";

/** Latency histogram: buckets of this many microseconds… */
const BUCKET_US = 10;
/** …up to this (slower responses land in the last bucket). */
const MAX_LATENCY_US = 10_000_000;

/**
 * Latencies in a fixed histogram of 10 µs buckets up to 10 s, so that a long run costs no
 * memory per response; percentiles are a bucket's upper edge.
 */
export class LatencyHistogram {
  readonly #buckets = new Uint32Array(MAX_LATENCY_US / BUCKET_US + 1);
  #count = 0;
  #max = 0;

  /** Adds one latency, µs. */
  record(us: number): void {
    const bucket = Math.min(Math.floor(us / BUCKET_US), this.#buckets.length - 1);
    this.#buckets[bucket]!++;
    this.#count++;
    if (us > this.#max) this.#max = us;
  }

  /** The latency (µs) below which `share` (0–1) of the recorded ones lie; 0 when none. */
  percentile(share: number): number {
    const rank = Math.ceil(this.#count * share);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank && seen > 0) return (i + 1) * BUCKET_US;
    }
    return 0;
  }

  /** The largest latency recorded, µs. */
  get max(): number {
    return this.#max;
  }
}

/**
 * All of this process's CPU time so far (user + system), seconds, start-up included, so that the
 * harness does not count it as taken by other processes.
 */
export function processCpuSeconds(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1e6;
}

/** How {@linkcode runClientProcess} runs one client. */
export interface ClientProcess {
  /** The client module (run with `deno run`). */
  script: string;
  /** Its arguments. */
  args: string[];
  /** Deno permission flags, e.g. `--allow-net=127.0.0.1`. */
  permissions: string[];
  /** Core to pin it to, or null. */
  core: number | null;
  /** Length of its run, seconds: it is killed {@linkcode WRK_OVERRUN_MS} after that. */
  durationSec: number;
  /** Prefix of the line with its JSON summary, e.g. `WS_JSON`. */
  marker: string;
  /** Name for error messages. */
  name: string;
}

/** Runs a load client in its own process and returns the summary it printed; throws if none. */
export async function runClientProcess(client: ClientProcess): Promise<WrkSummary> {
  const argv = wrapCommand([
    Deno.execPath(),
    "run",
    "--no-prompt",
    ...client.permissions,
    client.script,
    ...client.args,
  ], client.core);
  const output = await new Deno.Command(argv[0] as string, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(client.durationSec * 1000 + WRK_OVERRUN_MS),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const prefix = `${client.marker} `;
  const line = stdout.split("\n").find((candidate) => candidate.startsWith(prefix));
  if (!output.success || line === undefined) {
    throw new Error(
      `the ${client.name} failed (code ${output.code}): ${
        new TextDecoder().decode(output.stderr)
      }${stdout}`,
    );
  }
  return JSON.parse(line.slice(prefix.length)) as WrkSummary;
}
