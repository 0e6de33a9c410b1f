/**
 * Where sockserve spends its time under load: runs the sockserve benchmark server with
 * `--cpu-prof` under wrk (S1 by default; S4 under bench/large_body_load.ts, W1 under
 * bench/websocket_load.ts), then prints the
 * functions with the most self time.
 *
 * Usage: `deno run --allow-all bench/profile.ts [--scenario S1…S5|T1|W1] [--duration S]
 * [--top N] [--out FILE.md]`. The raw `.cpuprofile` is kept next to `--out` (or in a temp dir)
 * for Chrome DevTools.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { basename, join } from "node:path";
import {
  LARGE_FILE_BYTES,
  LARGE_FILE_NAME,
  LOAD_SCENARIOS,
  missingTool,
  SMALL_FILE_BYTES,
  SMALL_FILE_NAME,
  usesWrk,
} from "./options.ts";
import { hasProgram, pause, startServer } from "./processes.ts";
import { DEFAULT_CACHE_MIN_AGE_MS } from "../server/static/file_cache.ts";
import { driveLoad } from "./rounds.ts";
import { makeSelfSignedCertificate } from "./tls_cert.ts";

const BENCH_DIR = import.meta.dirname as string;
const REPO_DIR = join(BENCH_DIR, "..");

/** The subset of V8's `.cpuprofile` format this script reads. */
export interface CpuProfile {
  /** Call-tree nodes. */
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }[];
  /** Node id of each sample. */
  samples: number[];
  /** Microseconds since the previous sample, one per sample. */
  timeDeltas: number[];
}

/** Self time of one function, summed over all its call-tree nodes. */
export interface SelfTimeRow {
  /** Function name, or V8's pseudo-names such as "(garbage collector)". */
  functionName: string;
  /** Script path relative to the repository (or the URL for runtime code). */
  location: string;
  /** Self time in milliseconds. */
  selfMs: number;
  /** Share of all sampled time, 0–1 (idle excluded). */
  share: number;
}

/**
 * Sums self time per function (name + script + line) and sorts by it, leaving out "(idle)" so
 * that shares are of busy time.
 *
 * @example
 * ```ts
 * const rows = selfTimeByFunction(JSON.parse(await Deno.readTextFile("x.cpuprofile")), "/repo");
 * ```
 */
export function selfTimeByFunction(profile: CpuProfile, repoDir: string): SelfTimeRow[] {
  const frameById = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const totals = new Map<string, { functionName: string; location: string; us: number }>();
  let busyUs = 0;
  profile.samples.forEach((nodeId, index) => {
    const frame = frameById.get(nodeId);
    const delta = profile.timeDeltas[index] ?? 0;
    if (frame === undefined || frame.functionName === "(idle)") return;
    busyUs += delta;
    const url = frame.url.replace(`file://${repoDir}/`, "");
    const location = url === "" ? "" : `${url}:${frame.lineNumber + 1}`;
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    const key = `${name}@${location}`;
    const entry = totals.get(key) ?? { functionName: name, location, us: 0 };
    entry.us += delta;
    totals.set(key, entry);
  });
  return [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .map((entry) => ({
      functionName: entry.functionName,
      location: entry.location,
      selfMs: entry.us / 1000,
      share: busyUs > 0 ? entry.us / busyUs : 0,
    }));
}

/** Share of busy time per script (sockserve's own files vs Deno's runtime vs V8 internals). */
export function selfTimeByScript(rows: readonly SelfTimeRow[]): Map<string, number> {
  const byScript = new Map<string, number>();
  for (const row of rows) {
    const script = row.location === "" ? row.functionName : row.location.replace(/:\d+$/, "");
    byScript.set(script, (byScript.get(script) ?? 0) + row.share);
  }
  return new Map([...byScript].sort((a, b) => b[1] - a[1]));
}

function markdown(
  title: string,
  rows: readonly SelfTimeRow[],
  top: number,
  requestsPerSec: number,
): string {
  const lines = [
    `### ${title}`,
    "",
    `Under load: ${
      Math.round(requestsPerSec).toLocaleString("en-US")
    } req/s (W1: messages/s) while profiled ` +
    "(the profiler itself costs some throughput).",
    "",
    "| self time | share | function | where |",
    "|--:|--:|---|---|",
    ...rows.slice(0, top).map((row) =>
      `| ${row.selfMs.toFixed(0)} ms | ${
        (row.share * 100).toFixed(1)
      }% | \`${row.functionName}\` | ${row.location === "" ? "V8" : `\`${row.location}\``} |`
    ),
    "",
    "| script | share of busy time |",
    "|---|--:|",
    ...[...selfTimeByScript(rows)].slice(0, 12).map(([script, share]) =>
      `| \`${script}\` | ${(share * 100).toFixed(1)}% |`
    ),
    "",
  ];
  return lines.join("\n");
}

async function main(): Promise<number> {
  let scenarioId = "S1";
  let durationSec = 10;
  let top = 25;
  let out: string | null = null;
  const args = [...Deno.args];
  while (args.length > 0) {
    const flag = args.shift();
    const value = args.shift();
    if (flag === "--scenario" && value !== undefined) scenarioId = value;
    else if (flag === "--duration" && Number(value) > 0) durationSec = Number(value);
    else if (flag === "--top" && Number(value) > 0) top = Number(value);
    else if (flag === "--out" && value !== undefined) out = value;
    else {
      console.error(
        "usage: bench/profile.ts [--scenario S1] [--duration 10] [--top 25] [--out FILE.md]",
      );
      return 2;
    }
  }
  const scenario = LOAD_SCENARIOS.find((candidate) => candidate.id === scenarioId);
  if (scenario === undefined) {
    console.error(
      `bench/profile.ts: scenario must be one of ${LOAD_SCENARIOS.map((s) => s.id).join(", ")}`,
    );
    return 2;
  }
  if (usesWrk(scenario) && !await hasProgram("wrk")) {
    console.error(`bench/profile.ts: ${missingTool("wrk")}`);
    return 1;
  }
  const pinned = await hasProgram("taskset") && navigator.hardwareConcurrency >= 2;
  const tempDir = await Deno.makeTempDir({ prefix: "sockserve-profile-" });
  try {
    const filesDir = join(tempDir, "files");
    await Deno.mkdir(filesDir);
    await Deno.writeTextFile(join(filesDir, SMALL_FILE_NAME), "x".repeat(SMALL_FILE_BYTES));
    if (scenario.id === "S4") {
      await Deno.writeFile(join(filesDir, LARGE_FILE_NAME), new Uint8Array(LARGE_FILE_BYTES));
    }
    // A file changed less than DEFAULT_CACHE_MIN_AGE_MS ago is not cached (its ctime is now and
    // cannot be set back): wait, so that the profile shows the cached hits a running site serves.
    await pause(DEFAULT_CACHE_MIN_AGE_MS + 100);
    // T1: over TLS with a throwaway certificate, as `deno task bench` runs it.
    const tls = scenario.mode === "tls" ? await makeSelfSignedCertificate(tempDir) : null;
    if (typeof tls === "string") {
      console.error(`bench/profile.ts: ${tls}`);
      return 1;
    }
    const profileDir = join(tempDir, "profile");
    const server = await startServer({
      name: "sockserve",
      command: [
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--cpu-prof",
        `--cpu-prof-dir=${profileDir}`,
        join(BENCH_DIR, "servers", "sockserve.ts"),
        ...(scenario.mode === "static"
          ? ["static", filesDir]
          : tls !== null
          ? ["hello", `--cert=${tls.certFile}`, `--key=${tls.keyFile}`]
          : [scenario.mode]),
      ],
      ...(tls === null ? {} : { caCert: tls.cert }),
      readyPath: scenario.mode === "static" ? `/${SMALL_FILE_NAME}` : "/",
      core: pinned ? 0 : null,
      cwd: REPO_DIR,
    });
    const script = scenario.script === "pipeline"
      ? join(tempDir, "pipeline.lua")
      : join(BENCH_DIR, "wrk", "report.lua");
    if (scenario.script === "pipeline") {
      await Deno.writeTextFile(
        script,
        (await Deno.readTextFile(join(BENCH_DIR, "wrk", "pipeline.lua"))) + "\n" +
          (await Deno.readTextFile(join(BENCH_DIR, "wrk", "report.lua"))),
      );
    }
    console.error(`[profile] ${scenario.id} against sockserve for ${durationSec} s`);
    let summary;
    try {
      summary = await driveLoad(scenario, server.port, durationSec, {
        threads: 1,
        script,
        core: pinned ? 1 : null,
        tls: tls !== null,
        filesDir,
      });
    } finally {
      await pause(200);
      await server.stop();
    }
    const files = [];
    for await (const entry of Deno.readDir(profileDir)) {
      if (entry.name.endsWith(".cpuprofile")) files.push(join(profileDir, entry.name));
    }
    const file = files[0];
    if (file === undefined) {
      console.error("[profile] the server wrote no .cpuprofile (did it exit cleanly?)");
      return 1;
    }
    const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
    const rows = selfTimeByFunction(profile, REPO_DIR);
    const text = markdown(
      `sockserve ${scenario.id} (${scenario.title}): top self time`,
      rows,
      top,
      summary.requests / (summary.durationUs / 1e6),
    );
    console.log(text);
    if (out !== null) {
      await Deno.writeTextFile(out, text);
      const kept = out.replace(/\.md$/, "") + ".cpuprofile";
      await Deno.copyFile(file, kept);
      console.error(`[profile] wrote ${out} and ${basename(kept)}`);
    }
    return 0;
  } finally {
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
