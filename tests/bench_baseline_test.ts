/**
 * `deno task bench --baseline REF`: the comparison of the current sockserve with the baseline
 * build (pure, from a fixed fake result), the order of the servers in a round, and one short real
 * run of `--quick --baseline HEAD` (two servers, S1, 1 s each) that must complete and remove the
 * old tree. Nothing here measures speed.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  type BenchResult,
  compareWithBaseline,
  type LoadSample,
  type MemoryResult,
  renderMarkdownTables,
} from "../bench/report.ts";
import { idleFigure, judgeBatch } from "../bench/idle_batches.ts";
import { renderSvgChart } from "../bench/chart.ts";
import { BaselineError, resolveBaseline, roundOrder } from "../bench/baseline.ts";
import { runShortBench } from "./support/bench_run.ts";

const REPO_DIR = dirname(import.meta.dirname as string);

function sample(
  round: number,
  requestsPerSec: number,
  ratio: number | null,
  extra: Partial<LoadSample> = {},
): LoadSample {
  return {
    round,
    requestsPerSec,
    p99LatencyMs: 1.5,
    mbPerSec: 20,
    cpuMicrosPerRequest: 4,
    requests: requestsPerSec * 5,
    errors: 0,
    ratioToReference: ratio,
    otherCpuShare: 0.02,
    attempts: 1,
    clientCpuShare: 0.5,
    ...extra,
  };
}

const BASELINE = "sockserve@abc1234" as const;

/**
 * S1: rounds 1–2 have both builds, round 3 only the baseline, and round 2 was disturbed for the
 * baseline. S3: only the baseline. S4: the baseline was skipped. M1: both.
 */
const FAKE: BenchResult = {
  date: "2026-11-24T01:00:00.000Z",
  machine: { cpuModel: "Fake CPU", cores: 2, kernel: "6.1.0", versions: { deno: "2.9.6" } },
  settings: { rounds: 3, durationSec: 5, warmupSec: 2, pinned: true },
  scenarios: [
    { id: "S1", title: "hello, keep-alive", connections: 64 },
    { id: "S3", title: "1 KiB static file", connections: 64 },
    { id: "S4", title: "10 MiB static file", connections: 8 },
    { id: "M1", title: "idle keep-alive memory", connections: 1000 },
  ],
  load: [
    {
      scenario: "S1",
      server: "sockserve",
      samples: [
        sample(1, 50, 0.5, { cpuMicrosPerRequest: 10 }),
        sample(2, 66, 0.6, { cpuMicrosPerRequest: 9 }),
      ],
    },
    {
      scenario: "S1",
      server: BASELINE,
      samples: [
        sample(1, 40, 0.4, { cpuMicrosPerRequest: 8 }),
        sample(2, 60, 0.55, { cpuMicrosPerRequest: 9, otherCpuShare: 0.3 }),
        sample(3, 70, 0.7),
      ],
    },
    {
      scenario: "S1",
      server: "deno-serve",
      samples: [sample(1, 100, 1), sample(2, 110, 1), sample(3, 100, 1)],
    },
    { scenario: "S3", server: BASELINE, samples: [sample(1, 12, 1.2)] },
    { scenario: "S4", server: "sockserve", samples: [sample(1, 5, null)] },
    { scenario: "S4", server: BASELINE, samples: [], skipped: "did not start" },
  ],
  memory: [
    {
      server: "sockserve",
      connections: 1000,
      baselineRssKiB: 40_000,
      loadedRssKiB: 45_000,
      kibPerConnection: 5,
      fdsGained: 1000,
      ratioToReference: null,
    },
    {
      server: BASELINE,
      connections: 1000,
      baselineRssKiB: 40_000,
      loadedRssKiB: 44_000,
      kibPerConnection: 4,
      fdsGained: 1000,
      ratioToReference: null,
    },
  ],
  micro: [],
  notes: [],
};

Deno.test("compareWithBaseline pairs the rounds and leaves out what one of the two lacks", () => {
  const [s1, s3, s4, m1] = compareWithBaseline(FAKE, BASELINE);
  // Rounds 1 and 2 have both; round 3 has no current sockserve and is not compared.
  assert.deepEqual(s1, {
    scenario: "S1",
    ratio: (50 / 40 + 66 / 60) / 2,
    cpuRatio: (10 / 8 + 9 / 9) / 2,
    rounds: [
      { round: 1, ratio: 50 / 40, cpuRatio: 10 / 8, disturbed: false },
      { round: 2, ratio: 66 / 60, cpuRatio: 1, disturbed: true },
    ],
  });
  // The current sockserve was not measured in S3; the baseline was skipped in S4.
  assert.deepEqual(s3, { scenario: "S3", ratio: null, cpuRatio: null, rounds: [] });
  assert.deepEqual(s4, { scenario: "S4", ratio: null, cpuRatio: null, rounds: [] });
  // Memory: current ÷ baseline KiB per connection, one reading.
  assert.deepEqual(m1, {
    scenario: "M1",
    ratio: 5 / 4,
    cpuRatio: null,
    rounds: [{ round: 1, ratio: 5 / 4, cpuRatio: null, disturbed: false }],
  });
});

Deno.test("compareWithBaseline compares idle memory over the batches both figures include", () => {
  // Batches of 1000 from 60 MB: the current code 10, 20, 5 KiB per connection; the baseline 12,
  // then its 5 s idle timeout closed batch 3 (rejected, and batch 4 after it).
  const batchesOf = (afterKiB: number[], held: number[]) =>
    afterKiB.map((rssAfterKiB, i) =>
      judgeBatch({
        batch: i + 1,
        requested: 1000,
        held: held[i] ?? 1000,
        earlierClosed: 0,
        rssBeforeKiB: i === 0 ? 60_000 : afterKiB[i - 1] as number,
        rssAfterKiB,
        fdsGained: 1000,
      })
    );
  const entry = (server: MemoryResult["server"], afterKiB: number[], held: number[] = []) => ({
    scenario: "M1" as const,
    server,
    connections: 1000,
    ratioToReference: null,
    ...idleFigure(batchesOf(afterKiB, held), null, 4),
  });
  const current = entry("sockserve", [80_000, 90_000, 110_000, 115_000]);
  const old = entry(BASELINE, [80_000, 92_000, 95_000, 100_000], [1000, 1000, 10, 1000]);
  assert.equal(current.throughBatch, 4);
  assert.equal(old.throughBatch, 2);
  const [m1] = compareWithBaseline(
    {
      scenarios: [{ id: "M1", title: "idle keep-alive memory", connections: 1000 }],
      load: [],
      memory: [current, old],
    },
    BASELINE,
  );
  // Over batch 2 alone: 10 ÷ 12, not the current 2–4 figure (11.7) ÷ the baseline's (12).
  assert.equal(m1?.ratio, 10 / 12);
  assert.deepEqual(m1?.rounds, [
    { round: 1, ratio: 10 / 12, cpuRatio: null, disturbed: false, throughBatch: 2 },
  ]);
  const text = renderMarkdownTables({
    ...FAKE,
    scenarios: [{ id: "M1", title: "idle keep-alive memory", connections: 1000 }],
    load: [],
    memory: [current, old],
    baseline: {
      ref: "HEAD~1",
      commit: "abc1234" + "0".repeat(33),
      server: BASELINE,
      comparisons: m1 === undefined ? [] : [m1],
    },
  });
  assert.match(text, /\| M1 idle keep-alive memory \| 0\.833× \| 0\.833 \(batch 2\) \| – \| – \|/);
});

Deno.test("a baseline appears in the table and chart like any server, plus its own table", () => {
  const result: BenchResult = {
    ...FAKE,
    baseline: {
      ref: "HEAD~1",
      commit: "abc1234" + "0".repeat(33),
      server: BASELINE,
      comparisons: compareWithBaseline(FAKE, BASELINE),
    },
  };
  const text = renderMarkdownTables(result);
  assert.match(text, /\| S1 hello, keep-alive \| sockserve@abc1234 \| 60 \| 0\.55× \|/);
  assert.match(text, /\| sockserve@abc1234 \| 4\.0 \| – \|/);
  assert.match(text, /against `--baseline HEAD~1` \(commit abc12340{33}\)/);
  assert.match(
    text,
    /\| Scenario \| req\/s sockserve ÷ sockserve@abc1234 \| per round \| CPU\/req sockserve ÷ sockserve@abc1234 \| per round \|/,
  );
  assert.match(
    text,
    /\| S1 hello, keep-alive \| 1\.175× \| 1\.250, 1\.100\* \| 1\.125× \| 1\.250, 1\.000\* \|/,
  );
  assert.match(text, /\| S3 1 KiB static file \| – \| not measured for both \| – \|/);
  assert.match(text, /\| M1 idle keep-alive memory \| 1\.250× \| 1\.250 \| – \| – \|/);
  const svg = renderSvgChart(result);
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  assert.match(svg, /<title>S1 sockserve@abc1234: 0\.55×<\/title>/);
  // Legend and bars: the baseline right after sockserve, in a colour of its own.
  const legend = [...svg.matchAll(/<text x="[\d.]+" y="64">([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(legend, ["sockserve", BASELINE, "deno-serve"]);
  const s1Bars = [...svg.matchAll(/<title>S1 ([^:]+):/g)].map((m) => m[1]);
  assert.deepEqual(s1Bars, ["sockserve", BASELINE, "deno-serve"]);
  const colours = new Set([...svg.matchAll(/fill="(#[0-9a-f]{6})"><title>/g)].map((m) => m[1]));
  assert.equal(colours.size, 3);
});

Deno.test("roundOrder rotates, and keeps the baseline next to sockserve, alternating sides", () => {
  const servers = ["sockserve", BASELINE, "deno-serve", "node-http"];
  const pair = ["sockserve", BASELINE] as const;
  const orders = [1, 2, 3, 4, 5].map((round) => roundOrder(servers, round, pair));
  assert.deepEqual(orders, [
    ["sockserve", BASELINE, "deno-serve", "node-http"],
    ["deno-serve", "node-http", BASELINE, "sockserve"],
    ["deno-serve", "node-http", "sockserve", BASELINE],
    ["node-http", BASELINE, "sockserve", "deno-serve"],
    ["sockserve", BASELINE, "deno-serve", "node-http"],
  ]);
  for (const order of orders) assert.deepEqual([...order].sort(), [...servers].sort());
  // Without a baseline (or without sockserve) it is a plain rotation.
  assert.deepEqual(roundOrder(["a", "b", "c"], 2, null), ["b", "c", "a"]);
  assert.deepEqual(roundOrder(["deno-serve", BASELINE], 2, pair), [BASELINE, "deno-serve"]);
});

// ---------------------------------------------------------------------------------------------
// Against the real repository and a real run.

async function stdoutOf(program: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(program, {
      args,
      cwd: REPO_DIR,
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : null;
  } catch {
    return null;
  }
}

const HAS_WRK = (await stdoutOf("sh", ["-c", "command -v wrk"])) !== null;
const HEAD_COMMIT = await stdoutOf("git", ["rev-parse", "HEAD"]);
const NO_GIT_REASON = " (ignored: not a git checkout, or git is not installed)";

Deno.test({
  name: "resolveBaseline names HEAD's commit and refuses what is not a benchmarkable commit" +
    (HEAD_COMMIT === null ? NO_GIT_REASON : ""),
  ignore: HEAD_COMMIT === null,
  fn: async () => {
    const head = await resolveBaseline(REPO_DIR, "HEAD");
    assert.equal(head.commit, HEAD_COMMIT);
    assert.equal(head.server, `sockserve@${head.shortCommit}`);
    assert.ok(HEAD_COMMIT?.startsWith(head.shortCommit));
    await assert.rejects(
      resolveBaseline(REPO_DIR, "no-such-branch-or-tag"),
      (error: Error) =>
        error instanceof BaselineError &&
        error.message === "--baseline no-such-branch-or-tag: not a commit in this repository",
    );
    await assert.rejects(resolveBaseline(REPO_DIR, "--output=x"), BaselineError);
    // The repository's first commit predates the benchmark.
    const first = (await stdoutOf("git", ["rev-list", "--max-parents=0", "HEAD"]))?.split("\n")
      .at(-1);
    if (first !== undefined) {
      await assert.rejects(
        resolveBaseline(REPO_DIR, first),
        /has no bench\/servers\/sockserve\.ts \(older than the benchmark\)/,
      );
    }
  },
});

const E2E_SKIP_REASON = !HAS_WRK
  ? " (ignored: wrk is not installed; apt-get install -y wrk)"
  : HEAD_COMMIT === null
  ? NO_GIT_REASON
  : "";

/** Bound on the whole run (it takes about 4 s; a loaded machine may triple that). */
const E2E_TIMEOUT_MS = 90_000;

Deno.test({
  name: "deno task bench --quick --baseline HEAD measures both builds and removes the old tree" +
    E2E_SKIP_REASON,
  ignore: E2E_SKIP_REASON !== "",
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "bench-baseline-" });
    try {
      // The run's own temporary directory (and the baseline tree in it) goes under work/tmp, so
      // that what is left afterwards can be checked.
      const tmp = join(work, "tmp");
      await Deno.mkdir(tmp);
      const { stdout, result } = await runShortBench(
        ["--baseline", "HEAD", "--servers", "sockserve", "--scenarios", "S1"],
        join(work, "out"),
        { env: { TMPDIR: tmp }, timeoutMs: E2E_TIMEOUT_MS },
      );
      const short = await stdoutOf("git", ["rev-parse", "--short", "HEAD"]);
      const baseline = `sockserve@${short}` as const;
      assert.equal(result.baseline?.commit, HEAD_COMMIT);
      assert.equal(result.baseline?.ref, "HEAD");
      assert.equal(result.baseline?.server, baseline);
      assert.deepEqual(result.load.map((entry) => entry.server), ["sockserve", baseline]);
      for (const entry of result.load) {
        assert.equal(entry.skipped, undefined, `${entry.server}: ${entry.skipped}`);
        assert.equal(entry.samples.length, 1);
        assert.ok((entry.samples[0]?.requests ?? 0) > 0, `${entry.server} served nothing`);
        assert.equal(entry.samples[0]?.errors, 0, entry.server);
      }
      const [comparison] = result.baseline?.comparisons ?? [];
      assert.equal(comparison?.scenario, "S1");
      assert.equal(comparison?.rounds.length, 1);
      assert.ok((comparison?.ratio ?? 0) > 0);
      assert.match(stdout, new RegExp(`\\| S1 hello, keep-alive \\| ${baseline} \\| `));
      assert.match(stdout, new RegExp(`\\| Scenario \\| req/s sockserve ÷ ${baseline} \\|`));
      // No Deno.serve here, so no ratios to chart; the chart with a baseline is tested above.
      assert.ok((await Deno.readTextFile(join(work, "out", "latest.svg"))).includes("</svg>"));
      // The old tree (and everything else of the run) is gone.
      const left = [];
      for await (const entry of Deno.readDir(tmp)) left.push(entry.name);
      assert.deepEqual(left, []);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
