/**
 * Measures the memory the sockserve command uses serving a site, for sizing deployments (the
 * figures next to `resources` in deploy/kubernetes.yaml come from here).
 *
 *   deno run -A tools/measure_memory.ts [SITE] [--rounds N] [--concurrency N] [--executable PATH]
 *
 * Starts the command line as the container runs it (the compile task's permissions, one
 * isolate, the default access log, the image's `MALLOC_ARENA_MAX=2`), reads its resident memory
 * from /proc (Linux) when idle, then fetches every file of SITE `--rounds` times with
 * `--concurrency` clients, as browsers ask for them (gzip and br accepted; large files also by a
 * range), and reads it again once the responses are done. Prints idle, after-serving and peak (VmHWM) RSS.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_DIR = fileURLToPath(new URL("../", import.meta.url));
const MIB = 1024 * 1024;

/** What to measure. */
export interface MeasureOptions {
  /** The site to serve (default: the demo in site/). */
  readonly site: string;
  /** Times every file is fetched. */
  readonly rounds: number;
  /** Clients fetching at the same time. */
  readonly concurrency: number;
  /** A compiled sockserve executable to measure instead of `deno run main.ts`. */
  readonly executable: string | undefined;
}

/** Memory figures in bytes, and what was served. */
export interface MemoryReport {
  readonly idleRss: number;
  readonly servedRss: number;
  readonly peakRss: number;
  readonly files: number;
  readonly requests: number;
  /** Requests sent again after a connection closed under them. */
  readonly retries: number;
  /** Body bytes received, after the client's decompression. */
  readonly bytes: number;
}

/**
 * Reads the arguments; throws a `TypeError` with a one-line message on a bad one.
 *
 * @example
 * ```ts
 * import { parseMeasureArgs } from "./measure_memory.ts";
 * parseMeasureArgs(["/srv/www", "--rounds", "5"]).rounds; // 5
 * ```
 */
export function parseMeasureArgs(args: readonly string[]): MeasureOptions {
  let site = join(REPO_DIR, "site");
  let rounds = 3;
  let concurrency = 32;
  let executable: string | undefined;
  const count = (name: string, value: string | undefined) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) {
      throw new TypeError(`${name} needs a whole number from 1 to 10000, got ${value}`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--rounds") rounds = count(arg, args[++i]);
    else if (arg === "--concurrency") concurrency = count(arg, args[++i]);
    else if (arg === "--executable") {
      executable = args[++i];
      if (executable === undefined) throw new TypeError("--executable needs a path");
    } else if (arg.startsWith("-")) throw new TypeError(`unknown option ${arg}`);
    else site = arg;
  }
  return { site, rounds, concurrency, executable };
}

/** `VmRSS` and `VmHWM` (peak) of a process, in bytes, from /proc/PID/status. */
export function readRss(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Every file below `dir`, as URL paths. */
function sitePaths(dir: string): { path: string; size: number }[] {
  const files: { path: string; size: number }[] = [];
  const visit = (current: string) => {
    for (const entry of Deno.readDirSync(current)) {
      const full = join(current, entry.name);
      if (entry.isDirectory) visit(full);
      else if (entry.isFile && !entry.name.startsWith(".")) {
        const path = "/" + relative(dir, full).split("/").map(encodeURIComponent).join("/");
        files.push({ path, size: Deno.statSync(full).size });
      }
    }
  };
  visit(dir);
  return files;
}

/** Serves `options.site` with the command line and measures it. */
export async function measure(options: MeasureOptions): Promise<MemoryReport> {
  const files = sitePaths(options.site);
  if (files.length === 0) throw new Error(`${options.site} holds no files`);
  const compileTask = (JSON.parse(Deno.readTextFileSync(join(REPO_DIR, "deno.json"))) as {
    tasks: Record<string, string>;
  }).tasks["compile"] ?? "";
  const flags = compileTask.split(/\s+/).filter((w) => /^--(allow-|unstable)/.test(w));
  const [program, prefix] = options.executable === undefined
    ? [Deno.execPath(), ["run", ...flags, join(REPO_DIR, "main.ts")]]
    : [options.executable, []];
  const child = new Deno.Command(program, {
    args: [...prefix, options.site, "--host", "127.0.0.1", "--port", "0"],
    env: { MALLOC_ARENA_MAX: "2" }, // as the Dockerfile sets it
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    // The start line gives the URL; the access log after it is read and dropped.
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let url: URL | undefined;
    while (url === undefined) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`sockserve exited before listening:\n${text}`);
      text += value;
      const match = / at (http:\/\/\S+)/.exec(text);
      if (match) url = new URL(match[1] ?? "");
    }
    const drained = (async () => {
      while (!(await lines.read()).done);
    })();
    const base = url;

    // Idle: after one request (the server's lazy start-up paths have run).
    await (await fetch(new URL(files[0]?.path ?? "/", base))).arrayBuffer();
    const idleRss = readRss(child.pid).rss;

    let requests = 0;
    let bytes = 0;
    let retries = 0;
    // A GET on a kept-alive connection the server closed for idleness at the same moment fails
    // in the client; browsers retry such a request once, and so does this.
    const get = async (path: string, headers: Headers): Promise<Response> => {
      try {
        return await fetch(new URL(path, base), { headers });
      } catch {
        retries++;
        return await fetch(new URL(path, base), { headers });
      }
    };
    const queue = Array.from({ length: options.rounds }, () => files).flat();
    const client = async () => {
      for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
        const headers = new Headers({ "accept-encoding": "gzip, deflate, br" });
        const response = await get(file.path, headers);
        // Read before adding: `bytes += await ...` would add to a value read before the await.
        const body = (await response.arrayBuffer()).byteLength;
        bytes += body;
        requests++;
        if (!response.ok) throw new Error(`${file.path}: ${response.status}`);
        if (file.size > 1024 * 1024) {
          headers.set("range", `bytes=${Math.floor(file.size / 2)}-`);
          const part = (await (await get(file.path, headers)).arrayBuffer()).byteLength;
          bytes += part;
          requests++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, client));
    const { rss: servedRss, peak: peakRss } = readRss(child.pid);
    child.kill("SIGTERM");
    await child.status;
    await drained;
    return { idleRss, servedRss, peakRss, files: files.length, requests, retries, bytes };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already stopped.
    }
    await child.status;
  }
}

/**
 * The report as text, figures in MiB.
 *
 * @example
 * ```ts
 * import { formatReport } from "./measure_memory.ts";
 * const mib = 1024 * 1024;
 * formatReport({
 *   idleRss: 48 * mib,
 *   servedRss: 100 * mib,
 *   peakRss: 110 * mib,
 *   files: 1,
 *   requests: 3,
 *   retries: 0,
 *   bytes: 10,
 * });
 * ```
 */
export function formatReport(report: MemoryReport): string {
  const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
  return [
    `served ${report.files} files: ${report.requests} requests (${report.retries} retried), ` +
    `${mib(report.bytes)} of bodies`,
    `RSS idle:          ${mib(report.idleRss)}`,
    `RSS after serving: ${mib(report.servedRss)}`,
    `RSS peak (VmHWM):  ${mib(report.peakRss)}`,
  ].join("\n");
}

if (import.meta.main) {
  let options: MeasureOptions;
  try {
    options = parseMeasureArgs(Deno.args);
  } catch (error) {
    // deno-lint-ignore no-console -- a command-line tool's one error line
    console.error(`measure_memory: ${(error as Error).message}`);
    Deno.exit(2);
  }
  const report = await measure(options);
  // deno-lint-ignore no-console -- the tool's output
  console.log(formatReport(report));
}
