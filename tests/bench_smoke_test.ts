/**
 * The benchmark is a tool, not a test: nothing here measures speed. These tests check that the
 * report generation (table, chart, README splice) turns a fixed fake result into well-formed
 * output, so that `deno task bench` does not fail after minutes of measuring, and that one short
 * real run with `--baseline HEAD` (two servers, one scenario, 1 s each) completes and cleans up.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  BENCH_README,
  type BenchResult,
  compareWithBaseline,
  median,
  README_BEGIN_MARKER,
  README_END_MARKER,
  renderMarkdownTables,
  replaceReadmeTables,
  summarizeLoad,
} from "../bench/report.ts";
import { escapeXml, renderSvgChart } from "../bench/chart.ts";
import { parseBenchArgs } from "../bench/options.ts";
import { nginxConfig } from "../bench/nginx.ts";
import { parseWrkOutput, totalErrors } from "../bench/wrk.ts";
import { oneLine, wrapCommand } from "../bench/processes.ts";
import { selfTimeByFunction } from "../bench/profile.ts";

function sample(round: number, requestsPerSec: number, ratio: number | null) {
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
  };
}

const FAKE: BenchResult = {
  date: "2026-11-24T01:00:00.000Z",
  machine: {
    cpuModel: "Fake <CPU> & Co",
    cores: 2,
    kernel: "6.1.0",
    versions: { deno: "2.9.6" },
  },
  settings: { rounds: 3, durationSec: 5, warmupSec: 2, pinned: true },
  scenarios: [
    { id: "S1", title: "hello, keep-alive", connections: 64 },
    { id: "S3", title: "1 KiB static file", connections: 64 },
    { id: "M1", title: "idle keep-alive memory", connections: 1000 },
  ],
  load: [
    {
      scenario: "S1",
      server: "deno-serve",
      samples: [sample(1, 100, 1), sample(2, 110, 1), sample(3, 90, 1)],
    },
    {
      scenario: "S1",
      server: "sockserve",
      samples: [sample(1, 50, 0.5), sample(2, 66, 0.6), sample(3, 63, 0.7)],
    },
    { scenario: "S3", server: "nginx", samples: [], skipped: "nginx is not installed" },
    { scenario: "S3", server: "deno-serve", samples: [sample(1, 10, 1)] },
  ],
  memory: [
    {
      server: "deno-serve",
      connections: 1000,
      baselineRssKiB: 40_000,
      loadedRssKiB: 60_000,
      kibPerConnection: 20,
      fdsGained: 1000,
      ratioToReference: 1,
    },
    {
      server: "sockserve",
      connections: 1000,
      baselineRssKiB: 40_000,
      loadedRssKiB: 45_000,
      kibPerConnection: 5,
      fdsGained: 1000,
      ratioToReference: 0.25,
    },
  ],
  micro: [
    { group: "parse", name: "parse browser head", avgNs: 3668, p99Ns: 6610 },
    { group: "serialize", name: "serialize head", avgNs: 363.3, p99Ns: 388 },
  ],
  notes: ["a note"],
};

Deno.test("median of odd, even and empty lists", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarizeLoad takes medians per server and scenario and leaves out skipped ones", () => {
  const rows = summarizeLoad(FAKE.load);
  assert.deepEqual(rows.map((row) => `${row.scenario}/${row.server}`), [
    "S1/deno-serve",
    "S1/sockserve",
    "S3/deno-serve",
  ]);
  const sockserve = rows[1];
  assert.equal(sockserve?.requestsPerSec, 63);
  assert.equal(sockserve?.ratio, 0.6);
});

Deno.test("the Markdown tables have one row per measured pair and list what was skipped", () => {
  const text = renderMarkdownTables(FAKE);
  const loadRows = text.split("\n").filter((line) => /^\| S\d /.test(line));
  assert.equal(loadRows.length, 3);
  for (const row of loadRows) assert.equal(row.split("|").length, 10, row);
  assert.match(text, /\| S1 hello, keep-alive \| sockserve \| 63 \| 0\.60× \|/);
  assert.match(text, /\| sockserve \| 5\.0 \| 0\.25× \|/);
  assert.match(text, /skipped S3 nginx: nginx is not installed/);
  assert.match(text, /\| parse browser head \| 3\.67 µs \| 6\.61 µs \|/);
  assert.match(text, /\| serialize head \| 363 ns \| 388 ns \|/);
  assert.match(text, /2026-11-24 01:00 UTC on Fake <CPU> & Co, 2 cores/);
});

Deno.test("the SVG chart is well-formed, escaped and has one bar per ratio", () => {
  const svg = renderSvgChart(FAKE);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("Fake &lt;CPU&gt; &amp; Co, 2 cores"));
  assert.ok(!svg.includes("<CPU>"));
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  // S1: two servers, S3: one, M1: two.
  assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 5);
  // Every opened element is closed (self-closing tags aside).
  const opened = (svg.match(/<(svg|text|title|rect)[ >]/g) ?? []).length;
  const selfClosed =
    (svg.match(/<(rect|line)[^>]*\/>/g) ?? []).filter((tag) => tag.startsWith("<rect")).length;
  const closed = (svg.match(/<\/(svg|text|title|rect)>/g) ?? []).length;
  assert.equal(opened - selfClosed, closed);
});

/** FAKE plus sockserve from commit abc1234 in S1 (rounds 1–3; round 3 without sockserve) and M1. */
const WITH_BASELINE: BenchResult = {
  ...FAKE,
  scenarios: [...FAKE.scenarios, { id: "S4", title: "10 MiB static file", connections: 8 }],
  load: [
    ...FAKE.load.filter((entry) => !(entry.scenario === "S1" && entry.server === "sockserve")),
    {
      scenario: "S1",
      server: "sockserve",
      samples: [sample(1, 50, 0.5), sample(2, 66, 0.6)],
    },
    {
      scenario: "S1",
      server: "sockserve@abc1234",
      samples: [sample(1, 40, 0.4), sample(2, 60, 0.55), sample(3, 70, 0.7)],
    },
    { scenario: "S3", server: "sockserve@abc1234", samples: [sample(1, 12, 1.2)] },
    { scenario: "S4", server: "sockserve", samples: [sample(1, 5, null)] },
    { scenario: "S4", server: "sockserve@abc1234", samples: [], skipped: "did not start" },
  ],
  memory: [
    ...FAKE.memory,
    {
      server: "sockserve@abc1234",
      connections: 1000,
      baselineRssKiB: 40_000,
      loadedRssKiB: 44_000,
      kibPerConnection: 4,
      fdsGained: 1000,
      ratioToReference: 0.2,
    },
  ],
};

Deno.test("compareWithBaseline pairs the rounds and leaves out what one of the two lacks", () => {
  const rows = compareWithBaseline(WITH_BASELINE, "sockserve@abc1234");
  assert.deepEqual(rows.map((row) => row.scenario), ["S1", "S3", "M1", "S4"]);
  const [s1, s3, m1, s4] = rows;
  // Rounds 1 and 2 have both; round 3 has no current sockserve and is not compared.
  assert.deepEqual(s1?.perRound, [50 / 40, 66 / 60]);
  assert.equal(s1?.ratio, (50 / 40 + 66 / 60) / 2);
  // The current sockserve was not measured in S3; the baseline was skipped in S4.
  assert.deepEqual(s3, { scenario: "S3", ratio: null, perRound: [] });
  assert.deepEqual(s4, { scenario: "S4", ratio: null, perRound: [] });
  // Memory: current ÷ baseline KiB per connection.
  assert.deepEqual(m1?.perRound, [5 / 4]);
});

Deno.test("a baseline appears in the table and chart like any server, plus its own ratios", () => {
  const result: BenchResult = {
    ...WITH_BASELINE,
    baseline: {
      ref: "HEAD~1",
      commit: "abc1234" + "0".repeat(33),
      server: "sockserve@abc1234",
      comparisons: compareWithBaseline(WITH_BASELINE, "sockserve@abc1234"),
    },
  };
  const text = renderMarkdownTables(result);
  assert.match(text, /\| S1 hello, keep-alive \| sockserve@abc1234 \| 60 \| 0\.55× \|/);
  assert.match(text, /\| sockserve@abc1234 \| 4\.0 \| 0\.20× \|/);
  assert.match(text, /against `--baseline HEAD~1` \(commit abc12340{33}\)/);
  assert.match(text, /\| Scenario \| sockserve ÷ sockserve@abc1234 \| per round \|/);
  assert.match(text, /\| S1 hello, keep-alive \| 1\.175× \| 1\.250, 1\.100 \|/);
  assert.match(text, /\| S3 1 KiB static file \| – \| not measured for both \|/);
  assert.match(text, /\| M1 idle keep-alive memory \| 1\.250× \| 1\.250 \|/);
  const svg = renderSvgChart(result);
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  assert.match(svg, /<title>S1 sockserve@abc1234: 0\.55×<\/title>/);
  // Legend and bars: the baseline right after sockserve, in its own colour.
  const legend = [...svg.matchAll(/<text x="[\d.]+" y="64">([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(legend, ["sockserve", "sockserve@abc1234", "deno-serve"]);
  const s1Bars = [...svg.matchAll(/<title>S1 ([^:]+):/g)].map((m) => m[1]);
  assert.deepEqual(s1Bars, ["sockserve", "sockserve@abc1234", "deno-serve"]);
  const colours = new Set([...svg.matchAll(/fill="(#[0-9a-f]{6})"><title>/g)].map((m) => m[1]));
  assert.equal(colours.size, 3);
});

Deno.test("escapeXml escapes the five XML specials", () => {
  assert.equal(escapeXml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
});

Deno.test("replaceReadmeTables splices between the markers and leaves the rest alone", () => {
  const readme = `# Title\n\nintro\n\n${README_BEGIN_MARKER}\nold\n${README_END_MARKER}\nafter\n`;
  const updated = replaceReadmeTables(readme, "| new |\n");
  assert.equal(
    updated,
    `# Title\n\nintro\n\n${README_BEGIN_MARKER}\n\n| new |\n\n${README_END_MARKER}\nafter\n`,
  );
  assert.equal(replaceReadmeTables("no markers", "x"), "no markers");
});

Deno.test("--update-readme has markers to splice between in bench/README.md", async () => {
  const page = await Deno.readTextFile(new URL(`../${BENCH_README}`, import.meta.url));
  const begin = page.indexOf(README_BEGIN_MARKER);
  assert.ok(begin >= 0, `${BENCH_README} has the begin marker`);
  assert.ok(page.indexOf(README_END_MARKER) > begin, `${BENCH_README} has the end marker after it`);
  assert.notEqual(replaceReadmeTables(page, "| new |\n"), page);
});

Deno.test("parseBenchArgs: defaults, --quick, lists, and clear errors", () => {
  const defaults = parseBenchArgs([]);
  assert.equal(defaults.rounds, 3);
  assert.equal(defaults.durationSec, 5);
  assert.deepEqual(defaults.scenarios, ["S1", "S2", "S3", "S4", "S5", "M1"]);
  const quick = parseBenchArgs(["--quick", "--servers=sockserve,deno-serve", "--scenarios", "S1"]);
  assert.equal(quick.rounds, 1);
  assert.deepEqual(quick.servers, ["sockserve", "deno-serve"]);
  assert.deepEqual(quick.scenarios, ["S1"]);
  assert.throws(() => parseBenchArgs(["--rounds", "0"]), /positive integer/);
  assert.throws(() => parseBenchArgs(["--servers", "apache"]), /unknown apache/);
  assert.throws(() => parseBenchArgs(["--fast"]), /unknown option --fast/);
});

Deno.test("parseWrkOutput reads the summary line of report.lua", () => {
  const summary = parseWrkOutput(
    "Running 1s test\n  1 threads\nWRK_JSON " +
      '{"requests":10,"bytes":100,"durationUs":1000000,"p50Us":5,"p99Us":9,"maxUs":12,' +
      '"connectErrors":1,"readErrors":0,"writeErrors":0,"statusErrors":2,"timeouts":0,' +
      '"cpuSec":0.5}\n',
  );
  assert.equal(summary.requests, 10);
  assert.equal(totalErrors(summary), 3);
  assert.throws(() => parseWrkOutput("no summary"), /no summary/);
});

Deno.test("nginxConfig keeps everything in the prefix and runs one process in the foreground", () => {
  const text = nginxConfig({
    prefix: "/tmp/p",
    port: 1234,
    mode: "hello",
    root: "/tmp/files",
    workerConnections: 4096,
  });
  assert.match(text, /^daemon off;$/m);
  assert.match(text, /^master_process off;$/m);
  assert.match(text, /^pid \/tmp\/p\/nginx\.pid;$/m);
  assert.match(text, /listen 127\.0\.0\.1:1234;/);
  assert.match(text, /return 200 "Hello, World!";/);
});

Deno.test("wrapCommand pins with taskset and keeps the argv intact", () => {
  assert.deepEqual(wrapCommand(["wrk", "-H", "a b"], 1).slice(3), [
    "sh",
    "taskset",
    "-c",
    "1",
    "wrk",
    "-H",
    "a b",
  ]);
  assert.deepEqual(wrapCommand(["x"], null).slice(3), ["sh", "x"]);
  assert.equal(oneLine("\x1b[31merror\x1b[0m:\n   at x"), "error: at x");
});

Deno.test("selfTimeByFunction sums samples per function, leaves out idle, and shares add up", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(idle)", url: "", lineNumber: -1, columnNumber: -1 } },
      {
        id: 2,
        callFrame: {
          functionName: "parse",
          url: "file:///repo/a.ts",
          lineNumber: 9,
          columnNumber: 0,
        },
      },
      {
        id: 3,
        callFrame: {
          functionName: "parse",
          url: "file:///repo/a.ts",
          lineNumber: 9,
          columnNumber: 0,
        },
      },
      { id: 4, callFrame: { functionName: "", url: "ext:x.js", lineNumber: 0, columnNumber: 0 } },
    ],
    samples: [1, 2, 3, 4, 2],
    timeDeltas: [500, 100, 100, 200, 100],
  };
  const rows = selfTimeByFunction(profile, "/repo");
  assert.deepEqual(rows.map((row) => [row.functionName, row.location, row.selfMs]), [
    ["parse", "a.ts:10", 0.3],
    ["(anonymous)", "ext:x.js:1", 0.2],
  ]);
  assert.equal(rows.reduce((sum, row) => sum + row.share, 0), 1);
});

// ---------------------------------------------------------------------------------------------
// One real run: the current sockserve and sockserve as of HEAD, S1 only, 1 s each, no warm-up.

const REPO_DIR = dirname(import.meta.dirname as string);

async function succeeds(program: string, args: string[]): Promise<string | null> {
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

const HAS_WRK = (await succeeds("sh", ["-c", "command -v wrk"])) !== null;
const HEAD_COMMIT = await succeeds("git", ["rev-parse", "HEAD"]);
const E2E_SKIP_REASON = !HAS_WRK
  ? " (ignored: wrk is not installed; apt-get install -y wrk)"
  : HEAD_COMMIT === null
  ? " (ignored: not a git checkout, so there is no HEAD to build a baseline from)"
  : "";

/** Bound on the whole run (it takes about 5 s; a loaded machine may triple that). */
const E2E_TIMEOUT_MS = 90_000;

Deno.test({
  name: "deno task bench --quick --baseline HEAD measures both builds and removes the old tree" +
    E2E_SKIP_REASON,
  ignore: E2E_SKIP_REASON !== "",
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "bench-smoke-" });
    try {
      // The run's own temporary directory (and the baseline tree in it) goes under work/tmp, so
      // that what is left afterwards can be checked.
      const tmp = join(work, "tmp");
      await Deno.mkdir(tmp);
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "bench/run.ts",
          "--quick",
          "--baseline",
          "HEAD",
          "--servers",
          "sockserve",
          "--scenarios",
          "S1",
          "--warmup",
          "0",
          "--duration",
          "1",
          "--retries",
          "0",
          "--no-micro",
          "--out",
          join(work, "out"),
        ],
        cwd: REPO_DIR,
        env: { TMPDIR: tmp, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(E2E_TIMEOUT_MS),
      }).output();
      const stdout = new TextDecoder().decode(output.stdout);
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, `bench failed:\n${stderr}\n${stdout}`);
      const result = JSON.parse(
        await Deno.readTextFile(join(work, "out", "latest.json")),
      ) as BenchResult;
      const short = await succeeds("git", ["rev-parse", "--short", "HEAD"]);
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
      assert.equal(comparison?.perRound.length, 1);
      assert.ok((comparison?.ratio ?? 0) > 0);
      assert.match(stdout, new RegExp(`\\| S1 hello, keep-alive \\| ${baseline} \\| `));
      assert.match(
        stdout,
        new RegExp(`\\| Scenario \\| sockserve ÷ ${baseline} \\| per round \\|`),
      );
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
