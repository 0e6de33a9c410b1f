/**
 * Runs `deno task bench` in its shortest form (one round of one second, no warm-up, no retries,
 * no micro benchmarks) for the end-to-end bench tests, and reads back the JSON it wrote.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "../../bench/report.ts";

const REPO_DIR = fileURLToPath(new URL("../../", import.meta.url));

/** What a short bench run printed and wrote. */
export interface ShortBenchRun {
  stdout: string;
  stderr: string;
  result: BenchResult;
}

/**
 * Runs `bench/run.ts --quick` with `args` (scenarios, servers, baseline…) into `out`, asserts it
 * exited 0, and returns its output and `out/latest.json`.
 */
export async function runShortBench(
  args: string[],
  out: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ShortBenchRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "bench/run.ts",
      "--quick",
      ...args,
      "--warmup",
      "0",
      "--duration",
      "1",
      "--retries",
      "0",
      "--no-micro",
      "--out",
      out,
    ],
    cwd: REPO_DIR,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `bench failed:\n${stderr}\n${stdout}`);
  const result = JSON.parse(await Deno.readTextFile(join(out, "latest.json"))) as BenchResult;
  return { stdout, stderr, result };
}
