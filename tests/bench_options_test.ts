/**
 * `deno task bench` command line (bench/options.ts, pure): `--baseline` with the options it is
 * combined with, `--retries`, and the one-line messages for missing programs.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_RETRIES,
  INSTALL_HINTS,
  missingTool,
  parseBenchArgs,
  QUICK,
  USAGE,
} from "../bench/options.ts";

Deno.test("parseBenchArgs: no baseline and the default retries unless asked", () => {
  const options = parseBenchArgs([]);
  assert.equal(options.baseline, null);
  assert.equal(options.retries, DEFAULT_RETRIES);
});

Deno.test("parseBenchArgs: --baseline combines with --quick, --servers and --scenarios", () => {
  const expected = {
    baseline: "HEAD",
    rounds: QUICK.rounds,
    durationSec: QUICK.durationSec,
    warmupSec: QUICK.warmupSec,
    servers: ["sockserve", "deno-serve"],
    scenarios: ["S1", "S3"],
  };
  const orders = [
    ["--quick", "--baseline", "HEAD", "--servers", "sockserve,deno-serve", "--scenarios", "S1,S3"],
    ["--scenarios=S1,S3", "--servers=sockserve,deno-serve", "--baseline=HEAD", "--quick"],
    ["--servers", "sockserve,deno-serve", "--quick", "--scenarios", "S1,S3", "--baseline", "HEAD"],
  ];
  for (const argv of orders) {
    const options = parseBenchArgs(argv);
    assert.deepEqual(
      {
        baseline: options.baseline,
        rounds: options.rounds,
        durationSec: options.durationSec,
        warmupSec: options.warmupSec,
        servers: options.servers,
        scenarios: options.scenarios,
      },
      expected,
      argv.join(" "),
    );
  }
});

Deno.test("parseBenchArgs: --baseline takes any commit-ish git understands, as given", () => {
  for (const ref of ["HEAD", "main~1", "HEAD^", "f9eb5b5", "v1.0.0", "origin/main"]) {
    assert.equal(parseBenchArgs(["--baseline", ref]).baseline, ref);
    assert.equal(parseBenchArgs([`--baseline=${ref}`]).baseline, ref);
  }
  // A later --rounds still applies after --quick, with a baseline or without.
  assert.equal(parseBenchArgs(["--quick", "--baseline", "HEAD", "--rounds", "3"]).rounds, 3);
});

Deno.test("parseBenchArgs: --baseline without a commit, or twice, is a one-line error", () => {
  for (
    const argv of [
      ["--baseline"],
      ["--baseline="],
      ["--baseline", ""],
      // The next flag is not taken for the commit (and never reaches git as an option).
      ["--baseline", "--quick"],
      ["--baseline=-p"],
    ]
  ) {
    assert.throws(
      () => parseBenchArgs(argv),
      (error: Error) =>
        /^--baseline needs a git commit/.test(error.message) &&
        !error.message.includes("\n"),
      JSON.stringify(argv),
    );
  }
  assert.throws(
    () => parseBenchArgs(["--baseline", "HEAD", "--baseline", "main"]),
    /--baseline given twice \(HEAD, main\)/,
  );
});

Deno.test("parseBenchArgs: --retries takes zero and up, nothing else", () => {
  assert.equal(parseBenchArgs(["--retries", "0"]).retries, 0);
  assert.equal(parseBenchArgs(["--retries=5"]).retries, 5);
  for (const argv of [["--retries"], ["--retries", "-1"], ["--retries", "1.5"], ["--retries="]]) {
    assert.throws(() => parseBenchArgs(argv), /--retries needs a non-negative integer/);
  }
});

Deno.test("missingTool: one line naming the program and the command that installs it", () => {
  assert.equal(
    missingTool("wrk", "S1, S3 need it"),
    "wrk is not installed (apt-get install -y wrk): S1, S3 need it",
  );
  assert.equal(missingTool("nginx"), "nginx is not installed (apt-get install -y nginx)");
  for (const program of Object.keys(INSTALL_HINTS) as (keyof typeof INSTALL_HINTS)[]) {
    const message = missingTool(program);
    assert.match(
      message,
      new RegExp(`^${program} is not installed \\(apt-get install -y \\S+\\)$`),
    );
  }
});

Deno.test("the usage text documents --baseline and --retries", () => {
  assert.match(USAGE, /--baseline REF/);
  assert.match(USAGE, /--retries N/);
  assert.match(USAGE, /deno task bench --baseline HEAD/);
});
