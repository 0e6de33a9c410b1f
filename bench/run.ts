/**
 * `deno task bench`: the load benchmark of issue 5. Starts each server as its own process pinned
 * to core 0, drives it with wrk pinned to core 1 (the 10 MiB file, S4, with
 * bench/large_body_load.ts, the WebSocket scenario with bench/websocket_load.ts), and reports medians and the ratio to Deno.serve measured in the same
 * round. With `--baseline REF`, sockserve as of commit REF runs too, as one more server in the
 * same rounds, and the report adds current ÷ baseline per scenario. Installs nothing: a missing wrk stops the run with the command that installs it,
 * missing peers (nginx, node) are named and skipped.
 *
 * Progress goes to stderr; the result table to stdout; files to bench/results/.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { join, resolve } from "node:path";
import { DEFAULT_CACHE_MIN_AGE_MS } from "../server/static/file_cache.ts";
import {
  IDLE_SCENARIO_TITLES,
  LOAD_SCENARIOS,
  missingTool,
  parseBenchArgs,
  USAGE,
  usesWrk,
} from "./options.ts";
import {
  type BaselineResult,
  BENCH_README,
  type BenchResult,
  compareWithBaseline,
  DISTURBED_CPU_SHARE,
  type LoadResult,
  type MachineInfo,
  type MeasuredServer,
  median,
  MEMORY_SCENARIO_IDS,
  type MemoryResult,
  type MicroResult,
  REFERENCE_SERVER,
  renderMarkdownTables,
  replaceReadmeTables,
  type ScenarioInfo,
} from "./report.ts";
import { commandOutput, pause } from "./processes.ts";
import { renderSvgChart } from "./chart.ts";
import {
  type BaselineCommit,
  BaselineError,
  type BaselineTree,
  extractBaseline,
  resolveBaseline,
} from "./baseline.ts";
import { BENCH_DIR, detectTools, log, REPO_DIR, type RunContext, type Tools } from "./context.ts";
import { running, stopServer } from "./launch.ts";
import { writeStaticFiles } from "./static_files.ts";
import { runMode } from "./rounds.ts";
import { runMicroUndisturbed } from "./micro.ts";
import { measureIdleMemory } from "./idle_memory.ts";
import { idleRatio } from "./idle_batches.ts";
import { makeSelfSignedCertificate } from "./tls_cert.ts";
import { describeTlsTarget, tlsTarget } from "./tls_target.ts";

/** Core the servers run on, and the core wrk (and the M1 client) run on. */
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

/** wrk's share of its core above which a result is reported as limited by the client. */
const CLIENT_BOUND_SHARE = 0.95;

/** How long the CPU use of other processes is sampled before the run. */
const BUSY_SAMPLE_MS = 1000;

/**
 * Share of all CPU time used by others above which the run is flagged as disturbed (an idle
 * machine shows a few percent).
 */
const BUSY_SHARE_LIMIT = 0.15;

/** Non-idle share of all CPUs over `ms`, from the first line of /proc/stat. */
async function machineBusyShare(ms: number): Promise<number> {
  const read = async () => {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { total: ticks.reduce((sum, tick) => sum + tick, 0), idle };
  };
  const before = await read();
  await pause(ms);
  const after = await read();
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

async function machineInfo(tools: Tools): Promise<MachineInfo> {
  let cpuModel = "unknown CPU";
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux; the benchmark needs /proc anyway and will say so.
  }
  const versions: Record<string, string> = { deno: Deno.version.deno };
  if (tools.node) versions.node = (await commandOutput("node", ["--version"])) ?? "?";
  if (tools.nginx !== null) {
    const text = (await commandOutput(tools.nginx, ["-v"])) ?? "";
    versions.nginx = /nginx\/(\S+)/.exec(text)?.[1] ?? text;
  }
  if (tools.wrk) {
    const text = (await commandOutput("wrk", ["-v"])) ?? "";
    versions.wrk = /wrk (\S+)/.exec(text)?.[1] ?? text.split("\n")[0] ?? "";
  }
  const openssl = await commandOutput("openssl", ["version"]);
  if (openssl !== null) versions.openssl = /OpenSSL (\S+)/.exec(openssl)?.[1] ?? openssl;
  return { cpuModel, cores: navigator.hardwareConcurrency, kernel: Deno.osRelease(), versions };
}

/**
 * Formats Markdown with `deno fmt` and the repository's settings, so that bench/README.md stays
 * clean under `deno fmt --check` (part of `deno task test`). Returns the text unchanged if
 * formatting fails.
 */
async function formatMarkdown(text: string): Promise<string> {
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--ext", "md", "-"],
      cwd: REPO_DIR,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const output = await child.output();
    return output.success ? new TextDecoder().decode(output.stdout) : text;
  } catch {
    return text;
  }
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(Deno.args);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (Deno.build.os !== "linux") {
    console.error("bench: needs Linux (/proc for CPU time and memory, taskset for pinning)");
    return 1;
  }
  const tools = await detectTools();
  const notes: string[] = [];
  const loadScenarios = LOAD_SCENARIOS.filter((s) => options.scenarios.includes(s.id));
  const wrkScenarios = loadScenarios.filter(usesWrk);
  if (!tools.wrk && wrkScenarios.length > 0) {
    // Stop rather than skip: a run without its load scenarios would overwrite the results.
    console.error(
      `bench: ${missingTool("wrk", `${wrkScenarios.map((s) => s.id).join(", ")} need it`)}`,
    );
    return 1;
  }
  let baselineCommit: BaselineCommit | null = null;
  if (options.baseline !== null) {
    try {
      baselineCommit = await resolveBaseline(REPO_DIR, options.baseline);
    } catch (error) {
      if (!(error instanceof BaselineError)) throw error;
      console.error(`bench: ${error.message}`);
      return 1;
    }
    if (!options.servers.includes("sockserve")) {
      notes.push(
        `--servers leaves out sockserve, so ${baselineCommit.server} has nothing to be compared ` +
          "with (its ratio to Deno.serve is still measured)",
      );
    }
  }
  // The baseline build runs right after the current sockserve (or first without it).
  const servers: MeasuredServer[] = [...options.servers];
  if (baselineCommit !== null) {
    servers.splice(servers.indexOf("sockserve") + 1, 0, baselineCommit.server);
  }
  const pinned = tools.taskset && navigator.hardwareConcurrency >= 2;
  if (!pinned) {
    const message = tools.taskset
      ? "only one CPU: server and wrk share it, so the numbers understate every server"
      : missingTool("taskset", "server and wrk are not pinned");
    log(message);
    notes.push(message);
  }
  if (!options.servers.includes("deno-serve")) {
    notes.push("Deno.serve was not measured, so there are no ratios.");
  } else if (loadScenarios.some((scenario) => scenario.mode === "static")) {
    notes.push(
      "Deno.serve static scenarios use a minimal handler (stat, then read small files whole and " +
        "stream large ones); the standard library's file server is not measured because JSR " +
        "is unreachable from the machine.",
    );
  }
  const busy = await machineBusyShare(BUSY_SAMPLE_MS);
  if (busy > BUSY_SHARE_LIMIT) {
    // Load figures drop with a busy machine; idle memory (M1, M2) is not rated per second.
    const message = `the machine was ${
      Math.round(busy * 100)
    }% busy before the run started: other processes compete for the cores${
      loadScenarios.length > 0
        ? ", so absolute load numbers are low; ratios measured in the same round are less affected"
        : ""
    }`;
    log(message);
    notes.push(message);
  }
  const machine = await machineInfo(tools);
  const date = new Date().toISOString();
  const tempDir = await Deno.makeTempDir({ prefix: "sockserve-bench-" });
  const filesDir = join(tempDir, "files");
  await Deno.mkdir(filesDir);
  // The temporary directory holds the baseline tree too: removing it cleans up everything.
  const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
    log(`${signal === "SIGINT" ? "interrupted" : "terminated"}: stopping servers`);
    Promise.all([...running].map((server) => server.stop()))
      .finally(() => Deno.remove(tempDir, { recursive: true }).catch(() => {}))
      .finally(() => Deno.exit(signal === "SIGINT" ? 130 : 143));
  };
  const signalHandlers = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]] as const;
  for (const [signal, handler] of signalHandlers) Deno.addSignalListener(signal, handler);
  try {
    let baseline: BaselineTree | null = null;
    if (baselineCommit !== null) {
      try {
        baseline = await extractBaseline(REPO_DIR, baselineCommit, tempDir);
      } catch (error) {
        if (!(error instanceof BaselineError)) throw error;
        console.error(`bench: ${error.message}`);
        return 1;
      }
      log(`baseline ${baseline.server}: ${baseline.ref} = ${baseline.commit}, in ${baseline.dir}`);
    }
    await writeStaticFiles(filesDir);
    // sockserve caches a file only once it has not changed for DEFAULT_CACHE_MIN_AGE_MS (its ctime
    // is now and cannot be set back): wait, so that S3 measures the cached hits of a running site.
    await pause(DEFAULT_CACHE_MIN_AGE_MS + 100);
    const pipelineScript = join(tempDir, "pipeline_report.lua");
    await Deno.writeTextFile(
      pipelineScript,
      (await Deno.readTextFile(join(BENCH_DIR, "wrk", "pipeline.lua"))) + "\n" +
        (await Deno.readTextFile(join(BENCH_DIR, "wrk", "report.lua"))),
    );
    const context: RunContext = {
      tempDir,
      filesDir,
      tools,
      serverCore: pinned ? SERVER_CORE : null,
      clientCore: pinned ? CLIENT_CORE : null,
      scripts: { report: join(BENCH_DIR, "wrk", "report.lua"), pipeline: pipelineScript },
      wrkThreads: options.wrkThreads,
      retries: options.retries,
      baseline,
      tls: loadScenarios.some((scenario) => scenario.mode === "tls")
        ? await makeSelfSignedCertificate(tempDir)
        : "no TLS scenario in this run",
    };
    if (typeof context.tls === "string" && context.tls !== "no TLS scenario in this run") {
      log(`T1 skipped: ${context.tls}`);
    }
    const load: LoadResult[] = [];
    // T1 right after S1, so that the two ratios issue 11 compares are measured close in time.
    for (const mode of ["hello", "tls", "static", "compress", "websocket"] as const) {
      const scenarios = loadScenarios.filter((scenario) => scenario.mode === mode);
      if (scenarios.length === 0) continue;
      load.push(...await runMode(mode, scenarios, servers, options, context));
    }
    const samples = load.flatMap((entry) => entry.samples);
    const retried = samples.filter((sample) => sample.attempts > 1).length;
    const disturbed = samples.filter((sample) => sample.otherCpuShare > DISTURBED_CPU_SHARE);
    if (options.retries === 0 && disturbed.length > 0) {
      notes.push(
        `${disturbed.length} of ${samples.length} runs were disturbed (other processes took more ` +
          `than ${DISTURBED_CPU_SHARE * 100}% of the CPUs meanwhile) and --retries 0 measured ` +
          "none again (see otherCpuShare in the JSON)",
      );
    } else if (retried > 0) {
      notes.push(
        `${retried} of ${samples.length} runs were measured again because other processes took ` +
          `more than ${DISTURBED_CPU_SHARE * 100}% of the CPUs meanwhile; ${disturbed.length} ` +
          `stayed disturbed after ${options.retries} retries (see otherCpuShare in the JSON)`,
      );
    }
    const clientBound = load.filter((entry) =>
      entry.samples.length > 0 &&
      median(entry.samples.map((sample) => sample.clientCpuShare)) >= CLIENT_BOUND_SHARE
    ).map((entry) => `${entry.scenario} ${entry.server}`);
    if (clientBound.length > 0) {
      notes.push(
        `the load generator (wrk; S4: bench/large_body_load.ts; W1: bench/websocket_load.ts) used ≥ ${
          CLIENT_BOUND_SHARE * 100
        }% of its core in ${clientBound.join(", ")}: ` +
          "there the load generator limits req/s as much as the server, so those ratios " +
          "understate the faster server",
      );
    }
    const tls = tlsTarget(load);
    if (tls !== null) {
      log(describeTlsTarget(tls));
      notes.push(describeTlsTarget(tls));
    }
    let micro: MicroResult[] = [];
    if (options.micro) {
      log("micro benchmarks of the framing module (deno bench)");
      const outcome = await runMicroUndisturbed(context.serverCore, options.retries);
      if (typeof outcome === "string") {
        log(`micro benchmarks failed: ${outcome}`);
        notes.push(`micro benchmarks failed: ${outcome}`);
      } else {
        micro = outcome;
      }
    }
    const memory: MemoryResult[] = [];
    const memoryScenarios = MEMORY_SCENARIO_IDS.filter((id) => options.scenarios.includes(id));
    for (const id of memoryScenarios) {
      const measured: MemoryResult[] = [];
      for (const name of servers) {
        log(
          `${id} ${name}: ${options.idleBatches} batches of ${options.idleConnections} idle ` +
            "keep-alive connections",
        );
        const result = await measureIdleMemory(
          id,
          name,
          options.idleConnections,
          options.idleBatches,
          context,
        );
        const through = result.throughBatch ?? 1;
        const perBatch = (result.batches ?? []).map((batch) =>
          `${batch.kibPerConnection === null ? "–" : batch.kibPerConnection.toFixed(1)}${
            batch.batch > 1 && batch.batch <= through ? "" : " (not counted)"
          }`
        ).join(", ");
        if (result.note !== undefined) log(`${id} ${name}: ${result.note}`);
        for (const batch of result.batches ?? []) {
          if (batch.problem !== undefined) {
            log(`${id} ${name} batch ${batch.batch} rejected: ${batch.problem}`);
          }
        }
        if (result.stopped !== undefined) log(`${id} ${name}: ${result.stopped}`);
        if (result.skipped === undefined) {
          log(
            `${id} ${name}: ${result.kibPerConnection.toFixed(1)} KiB per connection over ` +
              `batches 2..${through} (RSS ${(result.baselineRssKiB / 1024).toFixed(1)} → ` +
              `${(result.loadedRssKiB / 1024).toFixed(1)} MiB; batches 1..` +
              `${result.batches?.length}: ${perBatch}; ${result.fdsGained} fds gained)`,
          );
        } else {
          log(`${id} ${name} skipped: ${result.skipped}${perBatch === "" ? "" : ` (${perBatch})`}`);
        }
        measured.push(result);
      }
      const reference = measured.find((entry) =>
        entry.server === REFERENCE_SERVER && entry.skipped === undefined
      );
      for (const entry of measured) {
        if (reference === undefined) continue;
        // Over the batches both figures include, so that unlike spans are never compared.
        const { ratio, throughBatch } = idleRatio(entry, reference);
        entry.ratioToReference = ratio;
        if (ratio !== null && throughBatch !== null) entry.ratioThroughBatch = throughBatch;
      }
      memory.push(...measured);
    }
    const scenarios: ScenarioInfo[] = [
      ...loadScenarios.map((scenario) => ({
        id: scenario.id,
        title: scenario.title,
        connections: scenario.connections,
      })),
      ...memoryScenarios.map((id) => ({
        id,
        title: IDLE_SCENARIO_TITLES[id],
        connections: options.idleConnections,
      })),
    ];
    const result: BenchResult = {
      date,
      machine,
      settings: {
        rounds: options.rounds,
        durationSec: options.durationSec,
        warmupSec: options.warmupSec,
        pinned,
      },
      scenarios,
      load,
      memory,
      micro,
      notes,
    };
    if (baseline !== null) {
      const comparison: BaselineResult = {
        ref: baseline.ref,
        commit: baseline.commit,
        server: baseline.server,
        comparisons: compareWithBaseline(result, baseline.server),
      };
      result.baseline = comparison;
      const format = (value: number | null) => value === null ? "–" : value.toFixed(3);
      for (const row of comparison.comparisons) {
        log(
          `${row.scenario} sockserve ÷ ${baseline.server}: ${format(row.ratio)}, CPU/req ${
            format(row.cpuRatio)
          } (rounds: ${
            row.rounds.map((r) => `${format(r.ratio)}${r.disturbed ? "*" : ""}`).join(", ") ||
            "none"
          })`,
        );
      }
    }
    const tables = renderMarkdownTables(result);
    console.log(tables);
    const outDir = resolve(REPO_DIR, options.outDir);
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.writeTextFile(join(outDir, "latest.json"), JSON.stringify(result, null, 2) + "\n");
    await Deno.writeTextFile(join(outDir, "latest.svg"), renderSvgChart(result));
    log(`wrote ${join(options.outDir, "latest.json")} and ${join(options.outDir, "latest.svg")}`);
    if (options.updateReadme) {
      const readmePath = join(REPO_DIR, BENCH_README);
      const readme = await Deno.readTextFile(readmePath);
      const updated = replaceReadmeTables(readme, await formatMarkdown(tables));
      if (updated === readme) {
        log(`${BENCH_README} has no bench markers (or nothing changed); not updated`);
      } else {
        await Deno.writeTextFile(readmePath, updated);
        log(`updated the tables in ${BENCH_README}`);
      }
    }
    return 0;
  } finally {
    for (const [signal, handler] of signalHandlers) Deno.removeSignalListener(signal, handler);
    for (const server of [...running]) await stopServer(server);
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
