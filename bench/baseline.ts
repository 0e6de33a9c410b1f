/**
 * The baseline of `deno task bench --baseline REF`: sockserve as of an earlier git commit,
 * extracted with `git archive` into a directory of the run's temporary directory, so that it is
 * deleted with it (at the end, on failure and on Ctrl-C) and leaves nothing in the repository
 * (no worktree entry to prune). Its own `bench/servers/sockserve.ts` is started, so the old
 * server code and its benchmark entry always match.
 *
 * @module
 */

import { join } from "node:path";
import { missingTool } from "./options.ts";
import { type BaselineServerName, baselineServerName } from "./report.ts";

/** The benchmark entry the baseline tree must contain, relative to its root. */
export const BASELINE_ENTRY = "bench/servers/sockserve.ts";

/** Longest `git archive | tar -x` may take (a few MB of sources). */
const EXTRACT_TIMEOUT_MS = 60_000;

/** A commit resolved from the `--baseline` argument. */
export interface BaselineCommit {
  /** The argument as given (`HEAD`, `main~1`, a hash). */
  ref: string;
  /** Full commit hash. */
  commit: string;
  /** Abbreviated hash, unique in the repository (git's `--short`). */
  shortCommit: string;
  /** Name of the server in the results: `sockserve@<shortCommit>`. */
  server: BaselineServerName;
}

/** A baseline commit extracted to a directory. */
export interface BaselineTree extends BaselineCommit {
  /** Root of the extracted tree (holds its own deno.json, server/ and bench/). */
  dir: string;
}

/** What went wrong preparing the baseline, as one line for the command line. */
export class BaselineError extends Error {
  override name = "BaselineError";
}

async function git(
  repoDir: string,
  args: string[],
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  try {
    const output = await new Deno.Command("git", {
      args: ["-C", repoDir, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      success: output.success,
      stdout: decoder.decode(output.stdout).trim(),
      stderr: decoder.decode(output.stderr).trim(),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BaselineError(missingTool("git", "--baseline needs it"));
    }
    throw error;
  }
}

/**
 * Resolves `ref` to a commit of the repository at `repoDir` and checks that it has the
 * benchmark entry {@linkcode BASELINE_ENTRY}.
 *
 * @throws {BaselineError} git missing, `repoDir` not a git checkout, `ref` not a commit, or the
 * commit older than the benchmark.
 * @example
 * ```ts
 * const { server } = await resolveBaseline("/work/main", "HEAD"); // "sockserve@f9eb5b5"
 * ```
 */
export async function resolveBaseline(repoDir: string, ref: string): Promise<BaselineCommit> {
  if (ref === "" || ref.startsWith("-")) {
    throw new BaselineError(`--baseline needs a git commit, got ${JSON.stringify(ref)}`);
  }
  const inside = await git(repoDir, ["rev-parse", "--is-inside-work-tree"]);
  if (!inside.success) {
    throw new BaselineError(`--baseline ${ref}: ${repoDir} is not a git checkout`);
  }
  const full = await git(repoDir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  if (!full.success || !/^[0-9a-f]{40,64}$/.test(full.stdout)) {
    throw new BaselineError(`--baseline ${ref}: not a commit in this repository`);
  }
  const short = await git(repoDir, ["rev-parse", "--short", full.stdout]);
  const shortCommit = short.success ? short.stdout : full.stdout.slice(0, 7);
  const entry = await git(repoDir, ["cat-file", "-e", `${full.stdout}:${BASELINE_ENTRY}`]);
  if (!entry.success) {
    throw new BaselineError(
      `--baseline ${ref}: commit ${shortCommit} has no ${BASELINE_ENTRY} (older than the benchmark)`,
    );
  }
  return { ref, commit: full.stdout, shortCommit, server: baselineServerName(shortCommit) };
}

/**
 * Extracts the commit's tree (`git archive | tar -x`) into a new directory under `parentDir`,
 * which the caller deletes.
 *
 * @throws {BaselineError} when git or tar fails.
 * @example
 * ```ts
 * const tree = await extractBaseline("/work/main", await resolveBaseline("/work/main", "HEAD"),
 *   await Deno.makeTempDir());
 * ```
 */
export async function extractBaseline(
  repoDir: string,
  baseline: BaselineCommit,
  parentDir: string,
): Promise<BaselineTree> {
  const dir = join(parentDir, `baseline-${baseline.shortCommit}`);
  await Deno.mkdir(dir);
  const signal = AbortSignal.timeout(EXTRACT_TIMEOUT_MS);
  const archive = new Deno.Command("git", {
    args: ["-C", repoDir, "archive", "--format=tar", baseline.commit],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).spawn();
  const tar = new Deno.Command("tar", {
    args: ["-x", "-C", dir],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    signal,
  }).spawn();
  const errors = [new Response(archive.stderr).text(), new Response(tar.stderr).text()];
  // If tar stops early the pipe breaks, git's output is cancelled and git exits too.
  const piped = archive.stdout.pipeTo(tar.stdin).catch(() => {});
  const [archived, extracted] = await Promise.all([archive.status, tar.status]);
  await piped;
  const [archiveErrors, tarErrors] = await Promise.all(errors);
  const failure = !archived.success
    ? { what: "git archive", status: archived, stderr: archiveErrors }
    : !extracted.success
    ? { what: "tar -x", status: extracted, stderr: tarErrors }
    : null;
  if (failure !== null) {
    const stderr = (failure.stderr ?? "").replace(/\s+/g, " ").trim();
    throw new BaselineError(
      `--baseline ${baseline.ref}: ${failure.what} failed (code ${failure.status.code})${
        stderr === "" ? "" : `: ${stderr}`
      }`,
    );
  }
  return { ...baseline, dir };
}

/**
 * The order in which the servers run in one round (1-based). The order rotates each round so
 * that no server always runs first or last. With a `pair` (current sockserve, baseline), the two
 * run back to back, the current one first in odd rounds and second in even ones, so that they see
 * the same load from the rest of the machine and neither always gets the warmer moment.
 *
 * @example
 * ```ts
 * roundOrder(["sockserve", "sockserve@f9eb5b5", "deno-serve"], 2,
 *   ["sockserve", "sockserve@f9eb5b5"]);
 * // ["deno-serve", "sockserve@f9eb5b5", "sockserve"]
 * ```
 */
export function roundOrder<T>(
  servers: readonly T[],
  round: number,
  pair: readonly [T, T] | null,
): T[] {
  const rotated = servers.map((_, i) => servers[(i + round - 1) % servers.length] as T);
  if (pair === null) return rotated;
  const [current, baseline] = pair;
  if (!rotated.includes(current) || !rotated.includes(baseline)) return rotated;
  const order = rotated.filter((server) => server !== baseline);
  const at = order.indexOf(current);
  order.splice(round % 2 === 1 ? at + 1 : at, 0, baseline);
  return order;
}
