/**
 * `deno task bench`: the load benchmark of issue 5. Starts each server as its own process pinned
 * to core 0, drives it with wrk pinned to core 1 (the WebSocket scenario with
 * bench/websocket_load.ts), and reports medians and the ratio to Deno.serve measured in the same
 * round. With `--baseline REF`, sockserve as of commit REF runs too, as one more server in the
 * same rounds, and the report adds current ÷ baseline per scenario. Installs nothing: a missing wrk stops the run with the command that installs it,
 * missing peers (nginx, node) are named and skipped.
 *
 * Progress goes to stderr; the result table to stdout; files to bench/results/.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { dirname, join, resolve } from "node:path";
import { DEFAULT_CACHE_MIN_AGE_MS } from "../server/static/file_cache.ts";
import {
  IDLE_SCENARIO_TITLES,
  LARGE_FILE_BYTES,
  LARGE_FILE_NAME,
  LOAD_SCENARIOS,
  type LoadScenario,
  missingTool,
  NO_COMPRESSED_CACHE_BYTES,
  parseBenchArgs,
  SCRIPT_FILE_BYTES,
  SCRIPT_FILE_NAME,
  SMALL_FILE_BYTES,
  SMALL_FILE_NAME,
  USAGE,
  WEBSOCKET_MESSAGE_BYTES,
  WEBSOCKET_WINDOW,
} from "./options.ts";
import {
  type BaselineResult,
  BENCH_README,
  type BenchResult,
  compareWithBaseline,
  DISTURBED_CPU_SHARE,
  type LoadResult,
  type LoadSample,
  type MachineInfo,
  type MeasuredServer,
  median,
  MEMORY_SCENARIO_IDS,
  type MemoryResult,
  type MemoryScenarioId,
  type MicroResult,
  REFERENCE_SERVER,
  renderMarkdownTables,
  replaceReadmeTables,
  type ScenarioInfo,
} from "./report.ts";
import {
  commandOutput,
  countOpenFds,
  hasProgram,
  httpGet,
  type LaunchSpec,
  oneLine,
  pause,
  readCpuSeconds,
  readMachineCpuSeconds,
  readRssKiB,
  type ServerProcess,
  startServer,
  wrapCommand,
} from "./processes.ts";
import { runWrk, totalErrors, type WrkSummary } from "./wrk.ts";
import { runWebSocketLoad } from "./websocket_load.ts";
import { renderSvgChart } from "./chart.ts";
import { freePort, NGINX_BINARY, nginxConfig } from "./nginx.ts";
import {
  type BaselineCommit,
  BaselineError,
  type BaselineTree,
  extractBaseline,
  resolveBaseline,
  roundOrder,
} from "./baseline.ts";

const BENCH_DIR = import.meta.dirname as string;
const REPO_DIR = dirname(BENCH_DIR);

/** Core the servers run on, and the core wrk (and the M1 client) run on. */
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

/** Pause after a server starts or a load run ends, so the next reading starts from quiet. */
const SETTLE_MS = 500;

/**
 * Requests (each on its own connection, closed after) a server answers before M1 reads its
 * baseline: enough for the JIT to compile the request path, few enough not to fill connection
 * pools that the measured connections would then reuse.
 */
const IDLE_WARMUP_REQUESTS = 200;

/** nginx `worker_connections`: above M1's 1,000 idle connections plus wrk's. */
const NGINX_WORKER_CONNECTIONS = 4096;

/** wrk's share of its core above which a result is reported as limited by the client. */
const CLIENT_BOUND_SHARE = 0.95;

/** Pause before measuring a disturbed run again, hoping the other work ends. */
const DISTURBED_RETRY_PAUSE_MS = 3_000;

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

/** Seconds the background load of a scenario (S7) runs beyond the measured one. */
const BACKGROUND_MARGIN_SEC = 2;

/** Head start of the background load, so that it runs from the measured load's first request. */
const BACKGROUND_START_MS = 500;

/** Share of M1's connections the server must still hold when its memory is read. */
const HELD_FDS_MIN_SHARE = 0.95;

/** Longest the M1 client may take to open its connections and report. */
const IDLE_CLIENT_TIMEOUT_MS = 60_000;

type Mode = LoadScenario["mode"];

/** Why a server is not in the WebSocket scenario. */
const NO_WEBSOCKET = "no WebSocket server without a library (W1 compares sockserve and Deno.serve)";

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

/** What is installed, decided once at start. */
interface Tools {
  wrk: boolean;
  taskset: boolean;
  node: boolean;
  nginx: string | null;
}

async function detectTools(): Promise<Tools> {
  const [wrk, taskset, node, nginxOnPath] = await Promise.all([
    hasProgram("wrk"),
    hasProgram("taskset"),
    hasProgram("node"),
    hasProgram("nginx"),
  ]);
  let nginx: string | null = nginxOnPath ? "nginx" : null;
  if (nginx === null && await hasProgram(NGINX_BINARY)) nginx = NGINX_BINARY;
  return { wrk, taskset, node, nginx };
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
  return { cpuModel, cores: navigator.hardwareConcurrency, kernel: Deno.osRelease(), versions };
}

/** The argv that starts one server in one mode, or why it cannot run here. */
async function launchSpec(
  server: MeasuredServer,
  mode: Mode,
  context: Pick<RunContext, "filesDir" | "tempDir" | "tools" | "serverCore" | "baseline">,
): Promise<LaunchSpec | string> {
  const { filesDir, tempDir, tools, serverCore: core, baseline } = context;
  const files = mode === "static" || mode === "compress";
  const modeArgs = files ? ["static", filesDir] : [mode];
  const readyPath = files ? `/${SMALL_FILE_NAME}` : "/";
  const denoScript = (file: string, root = REPO_DIR, extra: string[] = []) => [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1",
    `--allow-read`,
    join(root, "bench", "servers", file),
    ...modeArgs,
    ...extra,
  ];
  // S7: a cache with no room for a compressed file, so that sockserve compresses every response.
  const sockserveExtra = mode === "compress"
    ? [`--cache-max-total-bytes=${NO_COMPRESSED_CACHE_BYTES}`]
    : [];
  if (baseline !== null && server === baseline.server) {
    // The old tree's own entry, run from the old tree so that its deno.json (unstable flags,
    // imports) applies, exactly as the current sockserve is run from the repository.
    return {
      name: server,
      command: denoScript("sockserve.ts", baseline.dir, sockserveExtra),
      readyPath,
      core,
      cwd: baseline.dir,
    };
  }
  switch (server) {
    case "sockserve":
      return {
        name: server,
        command: denoScript("sockserve.ts", REPO_DIR, sockserveExtra),
        readyPath,
        core,
        cwd: REPO_DIR,
      };
    case "deno-serve":
      return { name: server, command: denoScript("deno_serve.ts"), readyPath, core, cwd: REPO_DIR };
    case "deno-raw-loop":
      if (mode !== "hello") return "it only answers Hello, World! (a ceiling, not a file server)";
      return {
        name: server,
        command: denoScript("deno_raw_loop.ts"),
        readyPath,
        core,
        cwd: REPO_DIR,
      };
    case "node-http":
      if (mode === "websocket") return NO_WEBSOCKET;
      if (!tools.node) return missingTool("node");
      return {
        name: server,
        command: ["node", join(BENCH_DIR, "servers", "node_http.mjs"), ...modeArgs],
        readyPath,
        core,
      };
    case "nginx": {
      if (mode === "websocket") return NO_WEBSOCKET;
      if (tools.nginx === null) return missingTool("nginx");
      const prefix = await Deno.makeTempDir({ dir: tempDir, prefix: `nginx-${mode}-` });
      const port = freePort();
      const configPath = join(prefix, "nginx.conf");
      await Deno.writeTextFile(
        configPath,
        nginxConfig({
          prefix,
          port,
          mode: files ? "static" : "hello",
          root: filesDir,
          workerConnections: NGINX_WORKER_CONNECTIONS,
        }),
      );
      return {
        name: server,
        command: [tools.nginx, "-p", prefix, "-c", configPath, "-e", join(prefix, "error.log")],
        fixedPort: port,
        readyPath,
        core,
      };
    }
    default:
      return `unknown server ${server}`;
  }
}

/** Servers started by this run, so that an interrupt can stop them. */
const running = new Set<ServerProcess>();

async function startOrReason(spec: LaunchSpec | string): Promise<ServerProcess | string> {
  if (typeof spec === "string") return spec;
  try {
    const server = await startServer(spec);
    running.add(server);
    return server;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function stopServer(server: ServerProcess): Promise<void> {
  await server.stop();
  running.delete(server);
}

async function writeStaticFiles(dir: string): Promise<void> {
  // Printable, compressible-looking content like a real page; the large file a repeating pattern.
  const page = "<!doctype html><title>bench</title>\n" + "x".repeat(SMALL_FILE_BYTES);
  await Deno.writeTextFile(join(dir, SMALL_FILE_NAME), page.slice(0, SMALL_FILE_BYTES));
  const large = new Uint8Array(LARGE_FILE_BYTES);
  for (let i = 0; i < large.length; i++) large[i] = (i * 31 + (i >> 10)) & 0xff;
  await Deno.writeFile(join(dir, LARGE_FILE_NAME), large);
  await Deno.writeTextFile(join(dir, SCRIPT_FILE_NAME), scriptText(SCRIPT_FILE_BYTES));
}

/**
 * JavaScript-like text of `bytes` bytes: identifiers and keywords from a small vocabulary in a
 * pseudo-random order, so that it compresses like source code (about 4:1 with gzip) rather than
 * like a repeated line (hundreds to one).
 */
function scriptText(bytes: number): string {
  const words = [
    "const",
    "return",
    "function",
    "value",
    "index",
    "length",
    "if",
    "else",
    "this",
    "options",
    "callback",
    "undefined",
    "null",
    "=>",
    "{",
    "}",
    "(",
    ")",
  ];
  let state = 12345;
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const word = words[state % words.length]! + (state % 11 === 0 ? ";\n" : " ");
    const name = state % 5 === 0 ? `v${state % 997} ` : "";
    parts.push(word, name);
    length += word.length + name.length;
  }
  return parts.join("").slice(0, bytes);
}

interface RunContext {
  tempDir: string;
  filesDir: string;
  tools: Tools;
  serverCore: number | null;
  clientCore: number | null;
  scripts: { report: string; pipeline: string };
  wrkThreads: number;
  /** Extra measurements of a disturbed run. */
  retries: number;
  /** sockserve of `--baseline REF`, extracted into tempDir; null without the option. */
  baseline: BaselineTree | null;
}

/** One wrk (or WebSocket client) run and the CPU time around it. */
interface Measurement {
  summary: WrkSummary;
  /** Threads of the load generator: wrk's, or 1 for the WebSocket client. */
  clientThreads: number;
  /** CPU seconds of the server process. */
  cpuSeconds: number;
  /** Share of all CPUs' time used by processes other than the server and wrk. */
  otherCpuShare: number;
}

async function measure(
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
  const summary = script === "websocket-echo"
    ? await runWebSocketLoad({
      port: server.port,
      path: scenario.path,
      connections: scenario.connections,
      durationSec,
      messageBytes: WEBSOCKET_MESSAGE_BYTES,
      window: WEBSOCKET_WINDOW,
    }, context.clientCore)
    : await runWrk({
      port: server.port,
      path: scenario.path,
      connections: scenario.connections,
      durationSec,
      threads: context.wrkThreads,
      script: context.scripts[script],
      headers: scenario.headers,
      core: context.clientCore,
    });
  const wallSeconds = (performance.now() - started) / 1000;
  const machineSeconds = (await readMachineCpuSeconds()) - machineBefore;
  const cpuSeconds = (await readCpuSeconds(server.pid)) - before;
  // The background's wrk is not another process disturbing the run.
  const backgroundCpu = background === null ? 0 : (await background).cpuSec;
  const otherSeconds = Math.max(0, machineSeconds - cpuSeconds - summary.cpuSec - backgroundCpu);
  const otherCpuShare = otherSeconds / (wallSeconds * navigator.hardwareConcurrency);
  const clientThreads = script === "websocket-echo" ? 1 : context.wrkThreads;
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

function toSample(round: number, measurement: Measurement & { attempts: number }): LoadSample {
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

/** Longest the micro benchmarks may run. */
const MICRO_TIMEOUT_MS = 120_000;

/**
 * Runs the micro benchmarks, again (up to `retries` times) while other processes took more than
 * {@linkcode DISTURBED_CPU_SHARE} of the machine, keeping the least disturbed run. `deno bench`
 * keeps one core busy; the rest of the machine's CPU time is others'.
 */
async function runMicroUndisturbed(
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

/** Runs the load scenarios of one mode against every server that starts. */
async function runMode(
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

/**
 * sockserve's command line serving the static files, as a user runs it (its default access log
 * on stdout, which the harness reads and drops), for M2; the baseline's from its own tree.
 */
function commandLineSpec(
  name: MeasuredServer,
  context: Pick<RunContext, "filesDir" | "serverCore" | "baseline">,
): LaunchSpec {
  const root = context.baseline !== null && name === context.baseline.server
    ? context.baseline.dir
    : REPO_DIR;
  const port = freePort();
  return {
    name,
    command: [
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      `--allow-read=${context.filesDir}`,
      join(root, "main.ts"),
      context.filesDir,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    fixedPort: port,
    readyPath: `/${SMALL_FILE_NAME}`,
    core: context.serverCore,
    cwd: root,
  };
}

/**
 * M1 (Hello, World!) and M2 (the static site; sockserve as its command line): RSS growth of a
 * fresh server while it holds N idle keep-alive connections, each after one request.
 */
async function measureIdleMemory(
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
  try {
    // Warm up first, as a server that has been running is: what is measured is the memory each
    // further idle connection costs, not the one-time cost of compiling the server's code.
    for (let i = 0; i < IDLE_WARMUP_REQUESTS; i++) {
      const response = await httpGet(server.port, path);
      response.connection.close();
    }
    await pause(SETTLE_MS);
    const baselineRssKiB = await readRssKiB(server.pid);
    const baselineFds = await countOpenFds(server.pid);
    const argv = wrapCommand([
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      join(BENCH_DIR, "idle_client.ts"),
      String(server.port),
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
    let result: MemoryResult;
    if (match === null) {
      result = { ...empty, skipped: "the idle client did not report its connections" };
    } else {
      const held = Number(match[1]);
      await pause(SETTLE_MS);
      const loadedRssKiB = await readRssKiB(server.pid);
      const fdsGained = (await countOpenFds(server.pid)) - baselineFds;
      result = {
        ...empty,
        connections: held,
        baselineRssKiB,
        loadedRssKiB,
        kibPerConnection: held > 0 ? (loadedRssKiB - baselineRssKiB) / held : 0,
        fdsGained,
      };
      if (Number(match[2]) > 0) {
        result.skipped = `only ${held} of ${connections} connections completed a request`;
      } else if (fdsGained < held * HELD_FDS_MIN_SHARE) {
        // The server closed connections before the reading (an idle timeout shorter than the
        // time it took to open them all): the per-connection figure would be too low.
        result.skipped = `the server held only ${fdsGained} of ${held} connections when measured`;
      }
    }
    await client.stdin.close();
    await reader.cancel().catch(() => {});
    await client.status;
    return result;
  } finally {
    await stopServer(server);
  }
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
  const wrkScenarios = loadScenarios.filter((s) => s.script !== "websocket-echo");
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
    const message =
      `the machine was ${
        Math.round(busy * 100)
      }% busy before the run started: other processes compete for the cores, so absolute ` +
      "numbers are low; ratios measured in the same round are less affected";
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
    };
    const load: LoadResult[] = [];
    for (const mode of ["hello", "static", "compress", "websocket"] as const) {
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
        `the load generator (wrk; W1: bench/websocket_load.ts) used ≥ ${
          CLIENT_BOUND_SHARE * 100
        }% of its core in ${clientBound.join(", ")}: ` +
          "there the load generator limits req/s as much as the server, so those ratios " +
          "understate the faster server",
      );
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
        log(`${id} ${name}: ${options.idleConnections} idle keep-alive connections`);
        const result = await measureIdleMemory(id, name, options.idleConnections, context);
        if (result.skipped === undefined) {
          log(
            `${id} ${name}: ${result.kibPerConnection.toFixed(1)} KiB per connection ` +
              `(${result.fdsGained} fds gained)`,
          );
        } else {
          log(`${id} ${name} skipped: ${result.skipped}`);
        }
        measured.push(result);
      }
      const reference = measured.find((entry) =>
        entry.server === REFERENCE_SERVER && entry.skipped === undefined
      );
      for (const entry of measured) {
        if (
          entry.skipped === undefined && reference !== undefined && reference.kibPerConnection > 0
        ) {
          entry.ratioToReference = entry.kibPerConnection / reference.kibPerConnection;
        }
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
