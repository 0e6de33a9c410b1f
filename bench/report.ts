/**
 * The shape of a benchmark result and the pure functions that summarize it and turn it into
 * Markdown tables (the chart is bench/chart.ts). No I/O here, so `tests/bench_smoke_test.ts` can
 * check the output from a fixed fake result.
 *
 * @module
 */

import { idleRatio } from "./idle_batches.ts";

/** The servers the load benchmark knows how to start. */
export const SERVER_NAMES = [
  "sockserve",
  "deno-serve",
  "node-http",
  "nginx",
  "deno-raw-loop",
] as const;

/** One of {@linkcode SERVER_NAMES}. */
export type ServerName = typeof SERVER_NAMES[number];

/**
 * sockserve built from an earlier commit (`--baseline REF`), named after the commit's short hash,
 * e.g. `sockserve@f9eb5b5`.
 */
export type BaselineServerName = `sockserve@${string}`;

/** A server measured in a run: one of {@linkcode SERVER_NAMES} or a baseline build. */
export type MeasuredServer = ServerName | BaselineServerName;

/**
 * The name of the baseline server built from a commit.
 *
 * @example
 * ```ts
 * baselineServerName("f9eb5b5"); // "sockserve@f9eb5b5"
 * ```
 */
export function baselineServerName(shortCommit: string): BaselineServerName {
  return `sockserve@${shortCommit}`;
}

/** The server the baseline is compared with: the current code. */
export const BASELINE_COMPARED_SERVER: ServerName = "sockserve";

/**
 * Share of the machine's CPU time that processes other than the server and wrk may take during
 * a run before it counts as disturbed (measured again, flagged in the baseline comparison). On a
 * quiet machine it stays at a few percent (the harness itself, kernel threads).
 */
export const DISTURBED_CPU_SHARE = 0.1;

/** The scenario of a memory result (M1 for results written before M2 existed). */
export function memoryScenarioOf(entry: MemoryResult): MemoryScenarioId {
  return entry.scenario ?? "M1";
}

/** The server every ratio is measured against. */
export const REFERENCE_SERVER: ServerName = "deno-serve";

/** The load scenarios, in report order: HTTP (S1–S7), HTTPS (T1), then WebSocket (W1). */
export const LOAD_SCENARIO_IDS = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "T1", "W1"] as const;

/** One of {@linkcode LOAD_SCENARIO_IDS}. */
export type LoadScenarioId = typeof LOAD_SCENARIO_IDS[number];

/**
 * The idle-memory scenarios: M1 the servers' Hello, World! (sockserve's `serve()`), M2 the same
 * with a static site (sockserve's command line, access log included).
 */
export const MEMORY_SCENARIO_IDS = ["M1", "M2"] as const;

/** One of {@linkcode MEMORY_SCENARIO_IDS}. */
export type MemoryScenarioId = typeof MEMORY_SCENARIO_IDS[number];

/** A load scenario or an idle-memory scenario. */
export type ScenarioId = LoadScenarioId | MemoryScenarioId;

/** Whether a scenario measures idle memory (M1, M2) rather than load. */
export function isMemoryScenario(id: ScenarioId): id is MemoryScenarioId {
  return (MEMORY_SCENARIO_IDS as readonly string[]).includes(id);
}

/**
 * Whether a scenario counts WebSocket messages (echoed, per second) rather than HTTP responses:
 * its samples' "requests" are messages and their latency a message's round trip.
 */
export function isWebSocketScenario(id: ScenarioId): boolean {
  return id.startsWith("W");
}

/** What one wrk run measured against one server. */
export interface LoadSample {
  /** 1-based round number; the reference server ran in the same round. */
  round: number;
  /** Completed responses per second. */
  requestsPerSec: number;
  /** 99th-percentile latency in milliseconds (per request; per batch of 16 in S5). */
  p99LatencyMs: number;
  /** Response bytes (head and body) per second, in MB (10^6 bytes). */
  mbPerSec: number;
  /** Server CPU time (user + system, all threads) per completed response, in microseconds. */
  cpuMicrosPerRequest: number;
  /** Completed responses in the run. */
  requests: number;
  /** Socket errors, timeouts and non-2xx/3xx responses wrk counted. */
  errors: number;
  /** requestsPerSec divided by the reference server's in the same round (null if it had none). */
  ratioToReference: number | null;
  /** Share of all CPUs' time that other processes (not the server, not wrk) took meanwhile. */
  otherCpuShare: number;
  /** wrk runs it took to get this sample (more than 1 when others disturbed the first). */
  attempts: number;
  /**
   * wrk's CPU time over the run's duration (1 = its whole core): near 1, the load generator
   * rather than the server limits req/s.
   */
  clientCpuShare: number;
}

/** All rounds of one server in one load scenario, or why it was skipped. */
export interface LoadResult {
  /** Which scenario. */
  scenario: LoadScenarioId;
  /** Which server. */
  server: MeasuredServer;
  /** One sample per round (empty when skipped). */
  samples: LoadSample[];
  /** Set when the server could not be measured in this scenario, with the reason. */
  skipped?: string;
}

/**
 * One batch of M1 or M2: the server's RSS before and after a client opened this batch's idle
 * connections on top of the earlier batches' (see bench/idle_memory.ts), and whether it is
 * rejected (bench/idle_batches.ts decides).
 */
export interface MemoryBatch {
  /** 1-based; batch 1 holds one-time growth and is never counted: the figure starts at its reading. */
  batch: number;
  /** Connections that completed their request (the idle client's count when it reported). */
  opened: number;
  /**
   * Of those, the ones still open when RSS was read, by the idle client's count: it keeps a read
   * pending on each, which ends when the server closes it.
   */
  held: number;
  /**
   * Connections of earlier batches that the server closed between the previous reading and this
   * one (their memory, freed meanwhile, would be missing from this batch's growth).
   */
  earlierClosed: number;
  /** Server RSS in KiB before the batch was opened (the previous batch's reading). */
  rssBeforeKiB: number;
  /** Server RSS in KiB with this batch held (0 when no reading was taken). */
  rssAfterKiB: number;
  /**
   * (after − before) ÷ (held − earlierClosed): this batch's own KiB per connection, listed to show
   * the spread (negative when garbage was collected meanwhile); null when there is no reading or
   * no connection was gained.
   */
  kibPerConnection: number | null;
  /** File descriptors the server gained over the batch (a cross-check, not the held check). */
  fdsGained: number;
  /**
   * Why the batch is rejected: the server closed its connections (or earlier batches'), or its
   * client failed. Neither it nor any later batch is in the figure (batch 1: its figure is flagged).
   */
  problem?: string;
}

/** Idle keep-alive memory of one server (scenario M1 or M2). */
export interface MemoryResult {
  /** Which scenario; M1 when absent (results written before M2 existed). */
  scenario?: MemoryScenarioId;
  /** Which server. */
  server: MeasuredServer;
  /**
   * Idle keep-alive connections per batch, each after one completed request (results written
   * before batches: the connections of the one measured batch).
   */
  connections: number;
  /** Server RSS in KiB with the first batch held, where the figure starts. */
  baselineRssKiB: number;
  /**
   * Server RSS in KiB at the reading after batch {@linkcode throughBatch}, where the figure ends
   * (results written before the slope: the last reading).
   */
  loadedRssKiB: number;
  /**
   * KiB per idle connection: (loadedRssKiB − baselineRssKiB) ÷ the connections batches
   * 2..throughBatch added, the slope over those batches (results written before batches: the
   * second batch alone). What each further idle connection costs.
   */
  kibPerConnection: number;
  /**
   * Last batch of the figure: batches 2..throughBatch (absent in results written before the
   * slope, and when there is no figure).
   */
  throughBatch?: number;
  /** Batches the run asked for (`--idle-batches`); absent in results written before the slope. */
  plannedBatches?: number;
  /**
   * RSS growth per connection of the first batch, one-time growth included (JIT compilation,
   * heap sizing); absent in results written before batches existed.
   */
  firstBatchKiBPerConnection?: number;
  /** Every batch in order, counted or not (absent in results written before batches). */
  batches?: MemoryBatch[];
  /** File descriptors the server gained over batches 2..throughBatch. */
  fdsGained: number;
  /**
   * kibPerConnection ÷ the reference server's, both recomputed over the batches both figures
   * include (bench/idle_batches.ts `idleRatio`); lower is better.
   */
  ratioToReference: number | null;
  /**
   * Last batch of the span the ratio is over (batches 2..ratioThroughBatch); absent for results
   * written before the slope and when there is no ratio.
   */
  ratioThroughBatch?: number;
  /**
   * Why the measurement stopped before its planned batches (the server died, an idle client
   * stopped answering) while batches before it were read; the figure is over those. Absent when
   * it did not.
   */
  stopped?: string;
  /**
   * How this server's measurement differed from the others' (a baseline whose entry takes no
   * idle-timeout option ran with its own); absent when it did not.
   */
  note?: string;
  /** Set when the server could not be measured, with the reason. */
  skipped?: string;
}

/** One micro benchmark of the framing module (`deno bench bench/framing_bench.ts`). */
export interface MicroResult {
  /** Group in the bench file ("parse", "serialize"). */
  group: string;
  /** What is measured. */
  name: string;
  /** Mean time per operation, ns. */
  avgNs: number;
  /** 99th-percentile time per operation, ns. */
  p99Ns: number;
}

/** The machine and tool versions a result was measured with. */
export interface MachineInfo {
  /** CPU model name from /proc/cpuinfo. */
  cpuModel: string;
  /** Logical CPUs online. */
  cores: number;
  /** Kernel release. */
  kernel: string;
  /** Versions of the programs involved (missing ones are absent). */
  versions: Record<string, string>;
}

/** Settings of a run. */
export interface RunSettings {
  /** Rounds per scenario. */
  rounds: number;
  /** Seconds per measured wrk run. */
  durationSec: number;
  /** Seconds of warm-up per server and scenario (not measured). */
  warmupSec: number;
  /** Whether the server and wrk were pinned to separate cores with taskset. */
  pinned: boolean;
}

/** Description of a scenario as it appears in the report. */
export interface ScenarioInfo {
  /** S1…S7, W1, M1 or M2. */
  id: ScenarioId;
  /** Short human title. */
  title: string;
  /** Concurrent connections (M1, M2: idle connections per batch). */
  connections: number;
}

/** The current sockserve against the baseline build in one round of one scenario. */
export interface BaselineRound {
  /** 1-based round (M1, measured once: 1). */
  round: number;
  /**
   * S1–S5: current req/s ÷ baseline req/s (above 1: the current code is faster). M1: current ÷
   * baseline KiB per idle connection (below 1: the current code is leaner).
   */
  ratio: number;
  /**
   * S1–S5: current ÷ baseline server CPU time per response (below 1: the current code is
   * cheaper); less moved by other processes than req/s. Null for M1.
   */
  cpuRatio: number | null;
  /**
   * Whether other processes took more than {@linkcode DISTURBED_CPU_SHARE} of the CPUs during
   * either of the two runs (M1: never set).
   */
  disturbed: boolean;
  /**
   * M1, M2: the last batch of the span both are compared over (batches 2..throughBatch); absent
   * for load scenarios and for results written before the slope.
   */
  throughBatch?: number;
}

/** The current sockserve against the baseline build in one scenario, over the rounds. */
export interface BaselineComparison {
  /** Which scenario. */
  scenario: ScenarioId;
  /** Median of the rounds' {@linkcode BaselineRound.ratio}; null when no round has both. */
  ratio: number | null;
  /** Median of the rounds' {@linkcode BaselineRound.cpuRatio}; null when there is none. */
  cpuRatio: number | null;
  /** Each round in which both were measured. */
  rounds: BaselineRound[];
}

/** The baseline of a run (`--baseline REF`): what it was built from and how it compares. */
export interface BaselineResult {
  /** The commit-ish as given on the command line (`HEAD`, `main~1`, a hash). */
  ref: string;
  /** The full commit hash it resolved to. */
  commit: string;
  /** Its name among the servers of the run. */
  server: BaselineServerName;
  /** Current ÷ baseline per scenario, as computed by {@linkcode compareWithBaseline}. */
  comparisons: BaselineComparison[];
}

/** A whole benchmark run, as written to `bench/results/latest.json`. */
export interface BenchResult {
  /** ISO timestamp of the start of the run. */
  date: string;
  /** Where it ran. */
  machine: MachineInfo;
  /** How it ran. */
  settings: RunSettings;
  /** The scenarios that were run, in order. */
  scenarios: ScenarioInfo[];
  /** Load results (S1–S5). */
  load: LoadResult[];
  /** Idle memory results (M1, M2). */
  memory: MemoryResult[];
  /** Micro benchmarks of the framing module (empty when not run). */
  micro: MicroResult[];
  /** Free-form remarks: skipped servers, missing tools, caveats. */
  notes: string[];
  /** Set when sockserve from an earlier commit was measured too (`--baseline`). */
  baseline?: BaselineResult;
}

/** Medians of one server in one load scenario. */
export interface LoadSummary {
  /** Which scenario. */
  scenario: LoadScenarioId;
  /** Which server. */
  server: MeasuredServer;
  /** Median req/s over the rounds. */
  requestsPerSec: number;
  /** Median of the per-round ratios to the reference (null when there is none). */
  ratio: number | null;
  /** Median p99 latency, ms. */
  p99LatencyMs: number;
  /** Median MB/s. */
  mbPerSec: number;
  /** Median server CPU µs per response. */
  cpuMicrosPerRequest: number;
  /** Sum of errors over all rounds. */
  errors: number;
}

/**
 * The median of a list of numbers (mean of the middle two for an even count); NaN when empty.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] as number) + upper) / 2;
}

/**
 * Reduces the rounds of every measured (server, scenario) pair to medians. Skipped pairs and
 * pairs without samples are left out.
 *
 * @example
 * ```ts
 * declare const result: BenchResult;
 * const rows = summarizeLoad(result.load);
 * ```
 */
export function summarizeLoad(load: readonly LoadResult[]): LoadSummary[] {
  const summaries: LoadSummary[] = [];
  for (const entry of load) {
    if (entry.skipped !== undefined || entry.samples.length === 0) continue;
    const ratios = entry.samples
      .map((sample) => sample.ratioToReference)
      .filter((ratio): ratio is number => ratio !== null);
    summaries.push({
      scenario: entry.scenario,
      server: entry.server,
      requestsPerSec: median(entry.samples.map((sample) => sample.requestsPerSec)),
      ratio: ratios.length > 0 ? median(ratios) : null,
      p99LatencyMs: median(entry.samples.map((sample) => sample.p99LatencyMs)),
      mbPerSec: median(entry.samples.map((sample) => sample.mbPerSec)),
      cpuMicrosPerRequest: median(entry.samples.map((sample) => sample.cpuMicrosPerRequest)),
      errors: entry.samples.reduce((sum, sample) => sum + sample.errors, 0),
    });
  }
  return summaries;
}

/**
 * Current sockserve ÷ the baseline build per scenario of `scenarios`, from the rounds in which both
 * were measured (S1–S5 by req/s and by CPU per response, M1 by KiB per idle connection).
 *
 * @example
 * ```ts
 * declare const result: BenchResult;
 * const rows = compareWithBaseline(result, "sockserve@f9eb5b5");
 * ```
 */
export function compareWithBaseline(
  result: Pick<BenchResult, "scenarios" | "load" | "memory">,
  baseline: BaselineServerName,
): BaselineComparison[] {
  const comparisons: BaselineComparison[] = [];
  const measured = (entry: { skipped?: string }) => entry.skipped === undefined;
  for (const { id } of result.scenarios) {
    const rounds: BaselineRound[] = [];
    if (isMemoryScenario(id)) {
      const inScenario = (entry: MemoryResult) => memoryScenarioOf(entry) === id;
      const current = result.memory.find((entry) =>
        inScenario(entry) && entry.server === BASELINE_COMPARED_SERVER && measured(entry)
      );
      const old = result.memory.find((entry) =>
        inScenario(entry) && entry.server === baseline && measured(entry)
      );
      const compared = current === undefined || old === undefined ? null : idleRatio(current, old);
      if (compared !== null && compared.ratio !== null) {
        rounds.push({
          round: 1,
          ratio: compared.ratio,
          cpuRatio: null,
          disturbed: false,
          ...(compared.throughBatch === null ? {} : { throughBatch: compared.throughBatch }),
        });
      }
    } else {
      const samplesOf = (server: MeasuredServer) =>
        result.load.find((entry) =>
          entry.scenario === id && entry.server === server && measured(entry)
        )?.samples ?? [];
      const old = samplesOf(baseline);
      for (const sample of samplesOf(BASELINE_COMPARED_SERVER)) {
        const other = old.find((candidate) => candidate.round === sample.round);
        if (other === undefined || other.requestsPerSec <= 0) continue;
        rounds.push({
          round: sample.round,
          ratio: sample.requestsPerSec / other.requestsPerSec,
          cpuRatio: other.cpuMicrosPerRequest > 0
            ? sample.cpuMicrosPerRequest / other.cpuMicrosPerRequest
            : null,
          disturbed: Math.max(sample.otherCpuShare, other.otherCpuShare) > DISTURBED_CPU_SHARE,
        });
      }
    }
    const cpuRatios = rounds.flatMap((round) => round.cpuRatio === null ? [] : [round.cpuRatio]);
    comparisons.push({
      scenario: id,
      ratio: rounds.length > 0 ? median(rounds.map((round) => round.ratio)) : null,
      cpuRatio: cpuRatios.length > 0 ? median(cpuRatios) : null,
      rounds,
    });
  }
  return comparisons;
}

function formatNumber(value: number, fractionDigits: number): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  });
}

function formatRatio(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? "–" : `${ratio.toFixed(2)}×`;
}

function formatNanos(ns: number): string {
  if (!Number.isFinite(ns)) return "–";
  return ns >= 1000 ? `${formatNumber(ns / 1000, 2)} µs` : `${formatNumber(ns, 0)} ns`;
}

/** A one-line description of the machine, for titles. */
export function describeMachine(machine: MachineInfo): string {
  return `${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}`;
}

/**
 * Renders the result as Markdown tables (HTTP load, WebSocket load, one per memory scenario)
 * preceded by the date and
 * machine. The same text is printed on stdout and pasted into the README.
 *
 * @example
 * ```ts
 * declare const result: BenchResult;
 * console.log(renderMarkdownTables(result));
 * ```
 */
export function renderMarkdownTables(result: BenchResult): string {
  const lines: string[] = [];
  const titles = new Map(result.scenarios.map((scenario) => [scenario.id, scenario]));
  lines.push(
    `Measured ${result.date.slice(0, 16).replace("T", " ")} UTC on ${
      describeMachine(result.machine)
    }.`,
  );
  lines.push("");
  const hasLoad = result.load.length > 0 ||
    result.scenarios.some((scenario) => !isMemoryScenario(scenario.id));
  if (hasLoad) {
    lines.push(
      `Load: ${result.settings.rounds} rounds × ${result.settings.durationSec} s after ` +
        `${result.settings.warmupSec} s warm-up, ${
          result.settings.pinned
            ? "server on core 0 and wrk (or the WebSocket client) on core 1 (taskset)"
            : "not pinned"
        }. Medians over the rounds; ratio = req/s (messages/s for WebSocket scenarios) ÷ ` +
        "Deno.serve's in the same round.",
    );
    lines.push("");
  }
  const summaries = summarizeLoad(result.load);
  const tables = [
    {
      rows: summaries.filter((row) => !isWebSocketScenario(row.scenario)),
      header:
        "| Scenario | Server | req/s | vs Deno.serve | p99 latency | MB/s | server CPU/req | errors |",
    },
    {
      rows: summaries.filter((row) => isWebSocketScenario(row.scenario)),
      header: "| Scenario | Server | messages/s | vs Deno.serve | p99 round trip | MB/s | " +
        "server CPU/message | errors |",
    },
  ];
  for (const { rows, header } of tables) {
    if (rows.length === 0) continue;
    lines.push(header);
    lines.push("|---|---|--:|--:|--:|--:|--:|--:|");
    for (const row of rows) {
      const scenario = titles.get(row.scenario);
      const label = scenario === undefined ? row.scenario : `${row.scenario} ${scenario.title}`;
      lines.push(
        `| ${label} | ${row.server} | ${formatNumber(row.requestsPerSec, 0)} | ${
          formatRatio(row.ratio)
        } | ${formatNumber(row.p99LatencyMs, 2)} ms | ${formatNumber(row.mbPerSec, 1)} | ${
          formatNumber(row.cpuMicrosPerRequest, 1)
        } µs | ${row.errors} |`,
      );
    }
    lines.push("");
  }
  const skipped = [
    ...result.load.filter((entry) => entry.skipped !== undefined).map((entry) =>
      `${entry.scenario} ${entry.server}: ${entry.skipped}`
    ),
    ...result.memory.filter((entry) => entry.skipped !== undefined).map((entry) =>
      `${memoryScenarioOf(entry)} ${entry.server}: ${entry.skipped}`
    ),
  ];
  const memoryTables = renderMemoryTables(result, titles);
  lines.push(...memoryTables.lines);
  if (result.baseline !== undefined) lines.push(...renderBaselineTable(result, result.baseline));
  if (result.micro.length > 0) {
    lines.push("| Framing micro benchmark (`deno bench`) | mean | p99 |");
    lines.push("|---|--:|--:|");
    for (const row of result.micro) {
      lines.push(`| ${row.name} | ${formatNanos(row.avgNs)} | ${formatNanos(row.p99Ns)} |`);
    }
    lines.push("");
  }
  const memoryNotes = memoryTables.notes;
  if (skipped.length > 0 || result.notes.length > 0 || memoryNotes.length > 0) {
    for (
      const note of [...result.notes, ...memoryNotes, ...skipped.map((text) => `skipped ${text}`)]
    ) {
      lines.push(`- ${note}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** Batches a to b as "a–b" (one batch: "a"). */
function batchSpan(from: number, to: number): string {
  return from === to ? String(from) : `${from}–${to}`;
}

/** Batches 2 to `to` in words: "batch 2", "batches 2–4". */
function laterBatches(to: number): string {
  return to === 2 ? "batch 2" : `batches ${batchSpan(2, to)}`;
}

/**
 * One table per memory scenario, preceded by how the figure is read, and the notes that go under
 * the tables: each rejected batch and why, batches after a rejected one, a measurement that
 * stopped, a ratio over fewer batches than a figure, a flagged first batch.
 */
function renderMemoryTables(
  result: BenchResult,
  titles: ReadonlyMap<ScenarioId, ScenarioInfo>,
): { lines: string[]; notes: string[] } {
  const lines: string[] = [];
  const notes: string[] = [];
  for (const entry of result.memory) {
    const label = `${memoryScenarioOf(entry)} ${entry.server}`;
    if (entry.note !== undefined) notes.push(`${label}: ${entry.note}`);
    const batches = entry.batches ?? [];
    for (const batch of batches) {
      if (batch.problem === undefined) continue;
      notes.push(
        `${label} batch ${batch.batch} ${
          batch.batch === 1 ? "flagged (its reading still starts the figure)" : "rejected"
        }: ${batch.problem}`,
      );
    }
    const through = entry.throughBatch;
    const rejected = batches.find((batch) => batch.batch > 1 && batch.problem !== undefined);
    if (through !== undefined && rejected !== undefined) {
      const after = batches.filter((batch) => batch.batch > through && batch.problem === undefined)
        .map((batch) => batch.batch);
      if (after.length > 0) {
        notes.push(
          `${label} batch${after.length > 1 ? "es" : ""} ${after.join(", ")} not counted: ` +
            `after rejected batch ${rejected.batch}`,
        );
      }
    }
    if (entry.stopped !== undefined) {
      notes.push(
        `${label}: ${entry.stopped}${
          entry.skipped === undefined && through !== undefined
            ? `; the figure is over ${laterBatches(through)}, read before`
            : ""
        }`,
      );
    }
  }
  let introduced = false;
  for (const id of MEMORY_SCENARIO_IDS) {
    const memory = result.memory.filter((entry) =>
      entry.skipped === undefined && memoryScenarioOf(entry) === id
    );
    if (memory.length === 0) continue;
    if (!introduced) {
      lines.push(
        "Idle memory: KiB per connection = the server's RSS growth from the reading with batch 1 " +
          "held to the reading after the last counted batch ÷ the connections those batches " +
          "added (a slope; batch 1, one-time growth included, is beside it). A batch whose " +
          "connections the server closed is rejected, and with it every later batch. Each later " +
          "batch's own figure shows the spread, [not counted] in brackets; ratio = ÷ " +
          "Deno.serve's over the same batches.",
      );
      lines.push("");
      introduced = true;
    }
    const reference = memory.find((entry) => entry.server === REFERENCE_SERVER);
    const connections = memory[0]?.connections ?? 0;
    const title = titles.get(id)?.title ?? "idle keep-alive";
    lines.push(
      `| ${id} ${title} (batches of ${connections} connections) | KiB per connection | ` +
        "over batches | vs Deno.serve | each later batch, [not counted] | first batch | " +
        "RSS with first batch | RSS at last counted | fds gained |",
    );
    lines.push("|---|--:|--:|--:|---|--:|--:|--:|--:|");
    for (const row of memory) {
      const batches = row.batches ?? [];
      const through = row.throughBatch;
      const later = batches.filter((batch) => batch.batch > 1);
      const perBatch = later.length === 0 ? "–" : later.map((batch) => {
        const value = batch.kibPerConnection === null
          ? "–"
          : formatNumber(batch.kibPerConnection, 1);
        return through !== undefined && batch.batch <= through ? value : `[${value}]`;
      }).join(", ");
      const lastLater = Math.max(row.plannedBatches ?? 0, ...batches.map((batch) => batch.batch));
      const span = through === undefined
        ? "–"
        : through < lastLater
        ? `${batchSpan(2, through)} of ${batchSpan(2, lastLater)}`
        : batchSpan(2, through);
      // A ratio over fewer batches than this row's figure or the reference's says so.
      const ratioThrough = row.ratioThroughBatch;
      const shortRatio = row !== reference && ratioThrough !== undefined &&
        (ratioThrough !== through || ratioThrough !== reference?.throughBatch);
      if (shortRatio) {
        notes.push(
          `${id} ${row.server}: ratio to ${REFERENCE_SERVER} over ${laterBatches(ratioThrough)}, ` +
            `what both figures include (${row.server}'s figure is over ` +
            `${laterBatches(through ?? 2)}, ${REFERENCE_SERVER}'s over ` +
            `${laterBatches(reference?.throughBatch ?? 2)})`,
        );
      }
      const first = batches.find((batch) => batch.batch === 1);
      const firstValue = row.firstBatchKiBPerConnection === undefined
        ? "–"
        : formatNumber(row.firstBatchKiBPerConnection, 1);
      lines.push(
        `| ${row.server} | ${formatNumber(row.kibPerConnection, 1)} | ${span} | ${
          formatRatio(row.ratioToReference)
        }${shortRatio ? ` (${laterBatches(ratioThrough)})` : ""} | ${perBatch} | ${
          first?.problem === undefined ? firstValue : `[${firstValue}]`
        } | ${formatNumber(row.baselineRssKiB / 1024, 1)} MiB | ${
          formatNumber(row.loadedRssKiB / 1024, 1)
        } MiB | ${row.fdsGained} |`,
      );
    }
    lines.push("");
  }
  return { lines, notes };
}

/** The current code against the baseline build, one row per scenario. */
function renderBaselineTable(result: BenchResult, baseline: BaselineResult): string[] {
  const titles = new Map(result.scenarios.map((scenario) => [scenario.id, scenario.title]));
  const pair = `${BASELINE_COMPARED_SERVER} ÷ ${baseline.server}`;
  const ratio = (value: number | null) => value === null ? "–" : `${value.toFixed(3)}×`;
  const lines = [
    `${pair}: the current code against \`--baseline ${baseline.ref}\` (commit ` +
    `${baseline.commit}), run back to back in each round. req/s: above 1.000× the current code ` +
    "is faster (M1, M2: KiB per idle connection over the batches both figures include, below " +
    "1.000× it is leaner). CPU/req: server CPU " +
    "time per response, below 1.000× the current code is cheaper; other processes move it less " +
    `than req/s. * marks a round in which others took more than ${DISTURBED_CPU_SHARE * 100}% ` +
    "of the CPUs during either run.",
    "",
    `| Scenario | req/s ${pair} | per round | CPU/req ${pair} | per round |`,
    "|---|--:|---|--:|---|",
  ];
  for (const row of baseline.comparisons) {
    const title = titles.get(row.scenario);
    const label = title === undefined ? row.scenario : `${row.scenario} ${title}`;
    const list = (values: (number | null)[]) =>
      row.rounds.length === 0 ? "not measured for both" : values.map((value, i) => {
        const round = row.rounds[i];
        return `${value === null ? "–" : value.toFixed(3)}${round?.disturbed ? "*" : ""}${
          round?.throughBatch === undefined ? "" : ` (${laterBatches(round.throughBatch)})`
        }`;
      }).join(", ");
    lines.push(
      `| ${label} | ${ratio(row.ratio)} | ${list(row.rounds.map((r) => r.ratio))} | ${
        ratio(row.cpuRatio)
      } | ${isMemoryScenario(row.scenario) ? "–" : list(row.rounds.map((r) => r.cpuRatio))} |`,
    );
  }
  lines.push("");
  return lines;
}

/** The page whose generated tables `--update-readme` rewrites, relative to the repository. */
export const BENCH_README = "bench/README.md";

/** Markers around the generated part of {@linkcode BENCH_README}'s results section. */
export const README_BEGIN_MARKER = "<!-- bench:begin (generated by `deno task bench`) -->";
/** See {@linkcode README_BEGIN_MARKER}. */
export const README_END_MARKER = "<!-- bench:end -->";

/**
 * Replaces the text between the README markers with the new tables; returns the README
 * unchanged if the markers are missing (the section is written by hand around them).
 *
 * @example
 * ```ts
 * declare const result: BenchResult;
 * const readme = await Deno.readTextFile(BENCH_README);
 * const updated = replaceReadmeTables(readme, renderMarkdownTables(result));
 * ```
 */
export function replaceReadmeTables(readme: string, tables: string): string {
  const begin = readme.indexOf(README_BEGIN_MARKER);
  const end = readme.indexOf(README_END_MARKER);
  if (begin < 0 || end < begin) return readme;
  return readme.slice(0, begin + README_BEGIN_MARKER.length) + "\n\n" + tables.trimEnd() +
    "\n\n" + readme.slice(end);
}
