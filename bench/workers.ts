/**
 * How throughput scales with `--workers N`: runs the CLI (`main.ts`) on a directory with N = 1,
 * 2, … workers and drives it with wrk, S1-like (a small static file over 64 keep-alive
 * connections). Nothing is pinned: N workers need N cores, and on a small machine wrk competes
 * with them for the same cores, which this script reports rather than hides.
 *
 * Usage: `deno run --allow-all bench/workers.ts [--workers 1,2] [--duration 5] [--rounds 3]
 * [--wrk-threads 1]`.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { missingTool, SMALL_FILE_BYTES, SMALL_FILE_NAME } from "./options.ts";
import { freePort } from "./nginx.ts";
import { hasProgram, startServer } from "./processes.ts";
import { median } from "./report.ts";
import { runWrk } from "./wrk.ts";

const BENCH_DIR = import.meta.dirname as string;
const REPO_DIR = join(BENCH_DIR, "..");

/** Keep-alive connections, as in S1 and S3. */
const CONNECTIONS = 64;

/** Seconds of warm-up before the measured rounds of each worker count. */
const WARMUP_SEC = 2;

function parseList(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const values = text.split(",").map(Number);
  return values.every((value) => Number.isSafeInteger(value) && value >= 1) ? values : null;
}

async function main(): Promise<number> {
  let workerCounts = [1, 2];
  let durationSec = 5;
  let rounds = 3;
  let wrkThreads = 1;
  const args = [...Deno.args];
  while (args.length > 0) {
    const flag = args.shift();
    const value = args.shift();
    const list = parseList(value);
    if (flag === "--workers" && list !== null) workerCounts = list;
    else if (flag === "--duration" && list?.length === 1) durationSec = list[0] as number;
    else if (flag === "--rounds" && list?.length === 1) rounds = list[0] as number;
    else if (flag === "--wrk-threads" && list?.length === 1) wrkThreads = list[0] as number;
    else {
      console.error(
        "usage: bench/workers.ts [--workers 1,2] [--duration 5] [--rounds 3] [--wrk-threads 1]",
      );
      return 2;
    }
  }
  if (!await hasProgram("wrk")) {
    console.error(`bench/workers.ts: ${missingTool("wrk")}`);
    return 1;
  }
  const tempDir = await Deno.makeTempDir({ prefix: "sockserve-workers-" });
  try {
    await Deno.writeTextFile(join(tempDir, SMALL_FILE_NAME), "x".repeat(SMALL_FILE_BYTES));
    const rows: string[] = [];
    let baseline: number | null = null;
    for (const workers of workerCounts) {
      const port = freePort();
      const server = await startServer({
        name: `sockserve --workers ${workers}`,
        command: [
          Deno.execPath(),
          "run",
          "--no-prompt",
          "--allow-net=127.0.0.1",
          "--allow-read",
          "--allow-env=PORT,HOST",
          join(REPO_DIR, "main.ts"),
          tempDir,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--workers",
          String(workers),
          "--log",
          "off",
        ],
        fixedPort: port,
        readyPath: `/${SMALL_FILE_NAME}`,
        core: null,
        cwd: REPO_DIR,
      });
      try {
        const options = {
          port,
          path: `/${SMALL_FILE_NAME}`,
          connections: CONNECTIONS,
          threads: wrkThreads,
          script: join(BENCH_DIR, "wrk", "report.lua"),
          headers: [],
          core: null,
        };
        await runWrk({ ...options, durationSec: WARMUP_SEC });
        const rates: number[] = [];
        for (let round = 1; round <= rounds; round++) {
          const summary = await runWrk({ ...options, durationSec });
          const rate = summary.requests / (summary.durationUs / 1e6);
          rates.push(rate);
          console.error(`[workers] N=${workers} round ${round}: ${Math.round(rate)} req/s`);
        }
        const rate = median(rates);
        baseline ??= rate;
        rows.push(
          `| ${workers} | ${Math.round(rate).toLocaleString("en-US")} | ${
            (rate / baseline).toFixed(2)
          }× |`,
        );
      } finally {
        await server.stop();
      }
    }
    console.log(
      `${navigator.hardwareConcurrency} CPUs, wrk with ${wrkThreads} thread(s) on the same ` +
        `CPUs, 1 KiB file over ${CONNECTIONS} keep-alive connections, median of ${rounds} × ` +
        `${durationSec} s\n\n| workers | req/s | vs 1 worker |\n|--:|--:|--:|\n${rows.join("\n")}`,
    );
    return 0;
  } finally {
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
