/**
 * The benchmark is a tool, not a test: nothing here measures speed. These tests check that the
 * report generation (table, chart, README splice) turns a fixed fake result into well-formed
 * output, so that `deno task bench` does not fail after minutes of measuring. `--baseline` has
 * its own file, tests/bench_baseline_test.ts.
 */
import assert from "node:assert/strict";
import {
  BENCH_README,
  type BenchResult,
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
      firstBatchKiBPerConnection: 7.5,
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
  // The first batch's figure beside the measured one; "–" for the batches of results written
  // before batches (tests/bench_idle_memory_test.ts renders results with batches).
  assert.match(
    text,
    /\| sockserve \| 5\.0 \| – \| 0\.25× \| – \| 7\.5 \| 39\.1 MiB \| 43\.9 MiB \| 1000 \|/,
  );
  assert.match(text, /\| deno-serve \| 20\.0 \| – \| 1\.00× \| – \| – \| 39\.1 MiB \|/);
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
  assert.deepEqual(defaults.scenarios, [
    "S1",
    "S2",
    "S3",
    "S4",
    "S5",
    "S6",
    "S7",
    "T1",
    "W1",
    "M1",
    "M2",
  ]);
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
