// tools/measure_memory.ts, the re-measuring command written next to the Kubernetes resources:
// its arguments, and one real measurement of a small site.
import assert from "node:assert/strict";
import { formatReport, measure, parseMeasureArgs } from "../tools/measure_memory.ts";
import { makeSite } from "./cli_helpers.ts";

Deno.test("measure_memory: arguments", () => {
  const options = parseMeasureArgs(["/srv/www", "--rounds", "5", "--concurrency", "8"]);
  assert.deepEqual(options, { site: "/srv/www", rounds: 5, concurrency: 8, executable: undefined });
  assert.equal(parseMeasureArgs(["--executable", "dist/sockserve"]).executable, "dist/sockserve");
  assert.match(parseMeasureArgs([]).site, /\/site$/, "the demo site by default");
  for (const bad of [["--rounds", "0"], ["--concurrency", "x"], ["--bogus"], ["--executable"]]) {
    assert.throws(() => parseMeasureArgs(bad), TypeError, bad.join(" "));
  }
});

Deno.test({
  name: "measure_memory: serves every file of a site and reads the server's RSS" +
    (Deno.build.os === "linux" ? "" : " (ignored: needs Linux's /proc)"),
  ignore: Deno.build.os !== "linux",
  async fn() {
    const big = new Uint8Array(2 * 1024 * 1024).fill(65);
    const site = await makeSite({
      "index.html": "<p>hi</p>",
      "a/b.js": "let x;\n",
      "big.bin": big,
    });
    try {
      const report = await measure({ site, rounds: 2, concurrency: 2, executable: undefined });
      assert.equal(report.files, 3);
      // Every file twice, and the large one also by a range each time.
      assert.equal(report.requests, 3 * 2 + 2);
      assert.equal(report.bytes, 2 * (9 + 7 + big.length) + 2 * big.length / 2);
      assert.ok(report.idleRss > 10 * 1024 * 1024, `idle RSS ${report.idleRss}`);
      assert.ok(report.peakRss >= report.servedRss, "the peak is at least the last reading");
      assert.match(formatReport(report), /^served 3 files: 8 requests \(\d+ retried\), /);
    } finally {
      await Deno.remove(site, { recursive: true });
    }
  },
});
