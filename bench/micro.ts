/**
 * The framing micro benchmarks (`deno bench bench/framing_bench.ts`) as part of a run, pinned to
 * the server core and measured again while others disturb them.
 *
 * @module
 */

import { join } from "node:path";
import { DISTURBED_CPU_SHARE, type MicroResult } from "./report.ts";
import { oneLine, pause, readMachineCpuSeconds, wrapCommand } from "./processes.ts";
import { BENCH_DIR, DISTURBED_RETRY_PAUSE_MS, log, REPO_DIR } from "./context.ts";

/** Longest the micro benchmarks may run. */
const MICRO_TIMEOUT_MS = 120_000;

/**
 * Runs the micro benchmarks, again (up to `retries` times) while other processes took more than
 * {@linkcode DISTURBED_CPU_SHARE} of the machine, keeping the least disturbed run. `deno bench`
 * keeps one core busy; the rest of the machine's CPU time is others'.
 */
export async function runMicroUndisturbed(
  core: number | null,
  retries: number,
): Promise<MicroResult[] | string> {
  let best: { results: MicroResult[]; otherShare: number } | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const machineBefore = await readMachineCpuSeconds();
    const started = performance.now();
    const outcome = await runMicro(core);
    if (typeof outcome === "string") return outcome;
    const wallSeconds = (performance.now() - started) / 1000;
    const otherSeconds = (await readMachineCpuSeconds()) - machineBefore - wallSeconds;
    const otherShare = Math.max(0, otherSeconds) / (wallSeconds * navigator.hardwareConcurrency);
    if (best === null || otherShare < best.otherShare) best = { results: outcome, otherShare };
    if (otherShare <= DISTURBED_CPU_SHARE || attempt === retries) break;
    log(`micro: other processes took ${Math.round(otherShare * 100)}% of the CPUs; again`);
    await pause(DISTURBED_RETRY_PAUSE_MS);
  }
  return (best as { results: MicroResult[] }).results;
}

/** Runs `deno bench --json bench/framing_bench.ts` pinned to the server core. */
async function runMicro(core: number | null): Promise<MicroResult[] | string> {
  const argv = wrapCommand([
    Deno.execPath(),
    "bench",
    "--no-prompt",
    "--json",
    join(BENCH_DIR, "framing_bench.ts"),
  ], core);
  try {
    const output = await new Deno.Command(argv[0] as string, {
      args: argv.slice(1),
      cwd: REPO_DIR,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(MICRO_TIMEOUT_MS),
    }).output();
    if (!output.success) return oneLine(new TextDecoder().decode(output.stderr));
    const report = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      benches: {
        group: string | null;
        name: string;
        results: { ok?: { avg: number; p99: number } }[];
      }[];
    };
    return report.benches.flatMap((bench) => {
      const ok = bench.results[0]?.ok;
      return ok === undefined
        ? []
        : [{ group: bench.group ?? "", name: bench.name, avgNs: ok.avg, p99Ns: ok.p99 }];
    });
  } catch (error) {
    return oneLine(error instanceof Error ? error.message : String(error));
  }
}
