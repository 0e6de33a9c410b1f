/**
 * Scenarios and command-line options of `deno task bench` (pure: parsing only).
 *
 * @module
 */

import {
  LOAD_SCENARIO_IDS,
  type LoadScenarioId,
  MEMORY_SCENARIO_IDS,
  type MemoryScenarioId,
  type ScenarioId,
  SERVER_NAMES,
  type ServerName,
} from "./report.ts";
import { WEBSOCKET_PATH } from "./servers/server_args.ts";

/** Load that runs beside a scenario's measured wrk, on the same server (S7). */
export interface BackgroundLoad {
  /** Path requested. */
  path: string;
  /** Concurrent connections. */
  connections: number;
  /** Extra request headers. */
  headers: string[];
}

/**
 * One load scenario: wrk against an HTTP(S) server, or one of the bench's own clients: the
 * large-body client (S4) or the WebSocket echo client (W1).
 */
export interface LoadScenario {
  /** S1…S7, T1, W1. */
  id: LoadScenarioId;
  /** Short title for the table and chart. */
  title: string;
  /**
   * Which kind of server process it needs. `compress`: the static servers, sockserve with a cache
   * too small to keep a compressed file, so that it compresses again for every response as the
   * others do (S7). `tls`: the hello servers over TLS, with the run's throwaway certificate
   * (T1); wrk then connects with `https://`.
   */
  mode: "hello" | "tls" | "static" | "compress" | "websocket";
  /** Path requested. */
  path: string;
  /** Concurrent connections. */
  connections: number;
  /** Extra request headers. */
  headers: string[];
  /**
   * What makes the load: wrk with its Lua script (`report`: plain summary, `pipeline`: 16
   * pipelined requests per write), or no wrk: `large-body`, bench/large_body_load.ts (1 MiB
   * reads, where wrk's 8 KiB reads saturate its core before the servers), or `websocket-echo`,
   * bench/websocket_load.ts.
   */
  script: "report" | "pipeline" | "large-body" | "websocket-echo";
  /** Load on the same server while the measured one runs (its numbers are not reported). */
  background?: BackgroundLoad;
}

/** Name of the 1 KiB file the static scenarios serve (an HTML page, the common case). */
export const SMALL_FILE_NAME = "small.html";
/** Size of {@linkcode SMALL_FILE_NAME}. */
export const SMALL_FILE_BYTES = 1024;
/** Name of the 10 MiB file of S4. */
export const LARGE_FILE_NAME = "large.bin";
/** Size of {@linkcode LARGE_FILE_NAME}. */
export const LARGE_FILE_BYTES = 10 * 1024 * 1024;
/**
 * Name of the compressible file of S6 and S7: JavaScript of a real application's size (pdf.js's
 * worker is 2.1 MB), words in no fixed order so that it compresses like code (about 4:1 with gzip).
 */
export const SCRIPT_FILE_NAME = "app.js";
/** Size of {@linkcode SCRIPT_FILE_NAME}. */
export const SCRIPT_FILE_BYTES = 2 * 1024 * 1024;

/**
 * Budget of sockserve's file cache in S7 (`cacheMaxTotalBytes`): room for the 1 KiB page, none
 * for a compressed copy of {@linkcode SCRIPT_FILE_NAME}, which it must then compress again for
 * every response, as the other servers do. With its default budget it compresses once (S6).
 */
export const NO_COMPRESSED_CACHE_BYTES = 64 * 1024;

/** Connections of S7's measured load: light, so that its p99 shows stalls, not queueing. */
const LIGHT_CONNECTIONS = 8;

/**
 * Connections of the keep-alive scenarios: issue 5's figure, enough to keep a one-core server
 * saturated without measuring mostly queueing.
 */
const KEEP_ALIVE_CONNECTIONS = 64;

/**
 * Connections of S4: each response is 10 MiB, so a few connections saturate loopback and 64
 * would only add memory pressure from buffered bodies.
 */
const LARGE_FILE_CONNECTIONS = 8;

/**
 * W1's message: 32 bytes of text, a chat line or a small JSON event, so that the cost per
 * message (events, frames, system calls) is measured rather than the copying of bytes.
 */
export const WEBSOCKET_MESSAGE_BYTES = 32;

/**
 * Messages W1 keeps in flight per connection: one, a round trip at a time, as a client waiting
 * for each answer; 64 connections keep a one-core server busy.
 */
export const WEBSOCKET_WINDOW = 1;

/**
 * The load scenarios of issue 5, S1 over TLS (T1, issue 11), and the WebSocket echo of issue 13.
 */
export const LOAD_SCENARIOS: readonly LoadScenario[] = [
  {
    id: "S1",
    title: "hello, keep-alive",
    mode: "hello",
    path: "/",
    connections: KEEP_ALIVE_CONNECTIONS,
    headers: [],
    script: "report",
  },
  {
    id: "S2",
    title: "hello, new connection each",
    mode: "hello",
    path: "/",
    connections: KEEP_ALIVE_CONNECTIONS,
    // wrk reconnects whenever the server closes, which "Connection: close" makes it do.
    headers: ["Connection: close"],
    script: "report",
  },
  {
    id: "S3",
    title: "1 KiB static file",
    mode: "static",
    path: `/${SMALL_FILE_NAME}`,
    connections: KEEP_ALIVE_CONNECTIONS,
    headers: [],
    script: "report",
  },
  {
    id: "S4",
    title: "10 MiB static file",
    mode: "static",
    path: `/${LARGE_FILE_NAME}`,
    connections: LARGE_FILE_CONNECTIONS,
    headers: [],
    script: "large-body",
  },
  {
    id: "S5",
    title: "16 pipelined per write",
    mode: "hello",
    path: "/",
    connections: KEEP_ALIVE_CONNECTIONS,
    headers: [],
    script: "pipeline",
  },
  {
    id: "S6",
    title: "2 MiB script, gzip",
    mode: "static",
    path: `/${SCRIPT_FILE_NAME}`,
    connections: LARGE_FILE_CONNECTIONS,
    headers: ["Accept-Encoding: gzip"],
    script: "report",
  },
  {
    id: "S7",
    title: "1 KiB file while others are compressed",
    mode: "compress",
    path: `/${SMALL_FILE_NAME}`,
    connections: LIGHT_CONNECTIONS,
    headers: [],
    script: "report",
    background: {
      path: `/${SCRIPT_FILE_NAME}`,
      connections: 4,
      headers: ["Accept-Encoding: gzip"],
    },
  },
  {
    id: "T1",
    title: "hello, keep-alive, over TLS",
    mode: "tls",
    path: "/",
    connections: KEEP_ALIVE_CONNECTIONS,
    headers: [],
    script: "report",
  },
  {
    id: "W1",
    title: `WebSocket echo, ${WEBSOCKET_MESSAGE_BYTES} B text`,
    mode: "websocket",
    path: WEBSOCKET_PATH,
    connections: KEEP_ALIVE_CONNECTIONS,
    headers: [],
    script: "websocket-echo",
  },
];

/**
 * Whether wrk makes a scenario's load (S4 and W1 have their own clients).
 *
 * @example
 * ```ts
 * LOAD_SCENARIOS.filter(usesWrk).map((scenario) => scenario.id); // ["S1", "S2", "S3", "S5", …]
 * ```
 */
export function usesWrk(scenario: Pick<LoadScenario, "script">): boolean {
  return scenario.script === "report" || scenario.script === "pipeline";
}

/** Titles of the idle-memory scenarios in the table and chart. */
export const IDLE_SCENARIO_TITLES: Readonly<Record<MemoryScenarioId, string>> = Object.freeze({
  M1: "idle keep-alive memory",
  M2: "idle keep-alive memory, static site",
});

/** Idle connections per batch in M1 and M2 (issue 5). */
export const DEFAULT_IDLE_CONNECTIONS = 1000;
/**
 * Batches of idle connections M1 and M2 hold one on top of another: the first is not counted
 * (one-time growth), the figure is the slope over the others (bench/idle_batches.ts).
 */
export const DEFAULT_IDLE_BATCHES = 4;
/**
 * Fewest batches: the first, and two for the slope, so that the two readings' garbage-collection
 * timing is spread over at least two batches' connections (a slope over one batch is that batch's
 * reading, which moves by up to 2×; it is reported only when later batches were rejected).
 */
export const MIN_IDLE_BATCHES = 3;
/**
 * Idle timeout M1 and M2 give the servers that have one (sockserve and node:http close idle
 * connections after 5 s, nginx after 75 s), so that every batch is still held when the last is
 * read; no other scenario changes it. Also the longest bench/idle_client.ts holds its connections.
 */
export const IDLE_SERVER_TIMEOUT_MS = 120_000;
/** Rounds per scenario: three gives a median that one noisy round cannot move. */
export const DEFAULT_ROUNDS = 3;
/** Seconds per measured run: long enough for hundreds of thousands of requests. */
export const DEFAULT_DURATION_SEC = 5;
/** Seconds of warm-up per server and scenario, so that the JIT has compiled the hot path. */
export const DEFAULT_WARMUP_SEC = 2;
/**
 * Extra measurements of a run that other processes disturbed (took more than a tenth of the
 * CPUs); the least disturbed one is kept.
 */
export const DEFAULT_RETRIES = 3;
/** `--quick`: one short round, to check that everything runs. */
export const QUICK = { rounds: 1, durationSec: 2, warmupSec: 1 } as const;

/** The parsed command line. */
export interface BenchOptions {
  /** Rounds per scenario. */
  rounds: number;
  /** Seconds per measured run. */
  durationSec: number;
  /** Seconds of warm-up per server and scenario. */
  warmupSec: number;
  /** Servers to measure (those not installed are skipped with a message). */
  servers: ServerName[];
  /**
   * Git commit-ish (`HEAD`, `main~1`, a hash) whose sockserve is measured too, beside the current
   * code in the same rounds (`--baseline`); null for none.
   */
  baseline: string | null;
  /** Extra measurements of a disturbed run (`--retries`, default {@linkcode DEFAULT_RETRIES}). */
  retries: number;
  /** Scenarios to run. */
  scenarios: ScenarioId[];
  /** Idle connections per batch of M1 and M2. */
  idleConnections: number;
  /** Batches of idle connections in M1 and M2 (the first not counted). */
  idleBatches: number;
  /** wrk threads. */
  wrkThreads: number;
  /** Directory for latest.json and latest.svg. */
  outDir: string;
  /** Run the framing micro benchmarks too. */
  micro: boolean;
  /** Rewrite the generated tables in bench/README.md. */
  updateReadme: boolean;
  /** Print usage and exit. */
  help: boolean;
}

/**
 * How to install each program the benchmark runs, on Debian 12 (bookworm). There the `nginx`
 * package holds the binary; `nginx-light` only adds a module on top of it.
 */
export const INSTALL_HINTS = {
  wrk: "apt-get install -y wrk",
  nginx: "apt-get install -y nginx",
  taskset: "apt-get install -y util-linux",
  node: "apt-get install -y nodejs",
  git: "apt-get install -y git",
  openssl: "apt-get install -y openssl",
} as const;

/**
 * The one-line message for a program that is not installed.
 *
 * @example
 * ```ts
 * missingTool("wrk", "S1–S5 cannot run");
 * // "wrk is not installed (apt-get install -y wrk): S1–S5 cannot run"
 * ```
 */
export function missingTool(program: keyof typeof INSTALL_HINTS, consequence?: string): string {
  const message = `${program} is not installed (${INSTALL_HINTS[program]})`;
  return consequence === undefined ? message : `${message}: ${consequence}`;
}

/** Usage text of `deno task bench`. */
export const USAGE = `Usage: deno task bench [options]

Runs sockserve, Deno.serve, node:http and nginx (when installed) side by side on loopback,
each server pinned to core 0 and its load client to core 1, and writes bench/results/latest.{json,svg}.
T1 is S1 over TLS (https://, a self-signed certificate made with openssl at start; nginx only
when built with its ssl module). W1 echoes WebSocket messages (sockserve's upgradeWebSocket()
against Deno.upgradeWebSocket), driven by bench/websocket_load.ts instead of wrk. S4 (a 10 MiB
file) is driven by bench/large_body_load.ts, which reads 1 MiB at a time where wrk reads 8 KiB
and runs out of core first.

Options:
  --quick                 1 round × ${QUICK.durationSec} s after ${QUICK.warmupSec} s warm-up
  --rounds N              rounds per scenario (default ${DEFAULT_ROUNDS})
  --duration S            seconds per measured run (default ${DEFAULT_DURATION_SEC})
  --warmup S              seconds of warm-up per server and scenario (default ${DEFAULT_WARMUP_SEC})
  --servers a,b           among ${SERVER_NAMES.join(", ")}
                          (default: all but deno-raw-loop)
  --scenarios S1,M1       among ${[...LOAD_SCENARIO_IDS, ...MEMORY_SCENARIO_IDS].join(", ")}
                          (default: all)
  --baseline REF          also measure sockserve as of git commit REF (HEAD, main~1, a hash),
                          named sockserve@<short hash>, in the same rounds as the current code
                          (the working tree), and report current ÷ baseline per scenario
  --retries N             measure a disturbed run again up to N times (default ${DEFAULT_RETRIES})
  --idle-connections N    idle connections per batch in M1 and M2 (default ${DEFAULT_IDLE_CONNECTIONS})
  --idle-batches K        batches M1 and M2 hold one on top of another (K × N connections); the
                          figure is the slope over batches 2..K (default ${DEFAULT_IDLE_BATCHES}, at least ${MIN_IDLE_BATCHES})
  --wrk-threads N         wrk threads (default 1: wrk has one core)
  --out DIR               where latest.json and latest.svg go (default bench/results)
  --no-micro              skip the framing micro benchmarks (deno bench bench/framing_bench.ts)
  --update-readme         replace the generated tables in bench/README.md
  --help                  this text

Needs wrk and taskset (apt-get install -y wrk util-linux), and git for --baseline; nginx is
measured when installed (${INSTALL_HINTS.nginx}), node:http when node is on PATH; T1 needs
openssl (${INSTALL_HINTS.openssl}).

Example, the working tree against the last commit on two scenarios:
  deno task bench --baseline HEAD --scenarios S1,S3 --rounds 3`;

/** Servers measured when `--servers` is not given. */
export const DEFAULT_SERVERS: readonly ServerName[] = [
  "sockserve",
  "deno-serve",
  "node-http",
  "nginx",
];

function positiveInteger(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${flag} needs a positive integer, got ${text ?? "nothing"}`);
  }
  return value;
}

function listOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]) {
  if (text === undefined || text === "") throw new Error(`${flag} needs a comma-separated list`);
  const items = text.split(",").map((item) => item.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`${flag}: unknown ${item} (expected one of ${allowed.join(", ")})`);
    }
  }
  return items as T[];
}

/**
 * Parses the command line; throws an Error with a one-line message on bad input.
 *
 * @example
 * ```ts
 * parseBenchArgs(["--quick", "--servers", "sockserve,deno-serve"]);
 * ```
 */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    rounds: DEFAULT_ROUNDS,
    durationSec: DEFAULT_DURATION_SEC,
    warmupSec: DEFAULT_WARMUP_SEC,
    servers: [...DEFAULT_SERVERS],
    baseline: null,
    retries: DEFAULT_RETRIES,
    scenarios: [...LOAD_SCENARIO_IDS, ...MEMORY_SCENARIO_IDS],
    idleConnections: DEFAULT_IDLE_CONNECTIONS,
    idleBatches: DEFAULT_IDLE_BATCHES,
    wrkThreads: 1,
    outDir: "bench/results",
    micro: true,
    updateReadme: false,
    help: false,
  };
  const args = [...argv];
  while (args.length > 0) {
    const raw = args.shift() as string;
    const equals = raw.indexOf("=");
    const flag = raw.startsWith("--") && equals > 0 ? raw.slice(0, equals) : raw;
    const inline = raw.startsWith("--") && equals > 0 ? raw.slice(equals + 1) : undefined;
    const value = () => inline ?? args.shift();
    switch (flag) {
      case "--quick":
        options.rounds = QUICK.rounds;
        options.durationSec = QUICK.durationSec;
        options.warmupSec = QUICK.warmupSec;
        break;
      case "--rounds":
        options.rounds = positiveInteger(flag, value());
        break;
      case "--duration":
        options.durationSec = positiveInteger(flag, value());
        break;
      case "--warmup": {
        const text = value();
        const seconds = Number(text);
        if (text === undefined || !Number.isSafeInteger(seconds) || seconds < 0) {
          throw new Error(`--warmup needs a non-negative integer, got ${text ?? "nothing"}`);
        }
        options.warmupSec = seconds;
        break;
      }
      case "--servers":
        options.servers = listOf(flag, value(), SERVER_NAMES);
        break;
      case "--scenarios":
        options.scenarios = listOf<ScenarioId>(flag, value(), [
          ...LOAD_SCENARIO_IDS,
          ...MEMORY_SCENARIO_IDS,
        ]);
        break;
      case "--baseline": {
        const ref = value();
        if (ref === undefined || ref === "" || ref.startsWith("-")) {
          throw new Error(
            `--baseline needs a git commit (HEAD, main~1, a hash), got ${ref ?? "nothing"}`,
          );
        }
        if (options.baseline !== null) {
          throw new Error(`--baseline given twice (${options.baseline}, ${ref}): one per run`);
        }
        options.baseline = ref;
        break;
      }
      case "--retries": {
        const text = value();
        const count = Number(text);
        if (text === undefined || text === "" || !Number.isSafeInteger(count) || count < 0) {
          throw new Error(`--retries needs a non-negative integer, got ${text ?? "nothing"}`);
        }
        options.retries = count;
        break;
      }
      case "--idle-connections":
        options.idleConnections = positiveInteger(flag, value());
        break;
      case "--idle-batches": {
        const batches = positiveInteger(flag, value());
        if (batches < MIN_IDLE_BATCHES) {
          throw new Error(
            `--idle-batches needs at least ${MIN_IDLE_BATCHES} (the first is not counted and the ` +
              `slope spans at least two), got ${batches}`,
          );
        }
        options.idleBatches = batches;
        break;
      }
      case "--wrk-threads":
        options.wrkThreads = positiveInteger(flag, value());
        break;
      case "--out": {
        const dir = value();
        if (dir === undefined || dir === "") throw new Error("--out needs a directory");
        options.outDir = dir;
        break;
      }
      case "--no-micro":
        options.micro = false;
        break;
      case "--update-readme":
        options.updateReadme = true;
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${raw}`);
    }
  }
  return options;
}
