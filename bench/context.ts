/**
 * What the parts of one `deno task bench` run share: where the repository is, the pauses
 * between phases, the installed tools, the run's context, and the progress log.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { dirname } from "node:path";
import type { LoadScenario } from "./options.ts";
import type { BaselineTree } from "./baseline.ts";
import { commandOutput, hasProgram } from "./processes.ts";
import { hasSslModule, NGINX_BINARY } from "./nginx.ts";
import type { TlsFiles } from "./tls_cert.ts";

/** The bench/ directory, and the repository around it. */
export const BENCH_DIR = import.meta.dirname as string;
export const REPO_DIR = dirname(BENCH_DIR);

/** Pause after a server starts or a load run ends, so the next reading starts from quiet. */
export const SETTLE_MS = 500;

/** Pause before measuring a disturbed run again, hoping the other work ends. */
export const DISTURBED_RETRY_PAUSE_MS = 3_000;

/** Which kind of server process a load scenario needs. */
export type Mode = LoadScenario["mode"];

/** Writes one line of progress to stderr. */
export function log(message: string): void {
  console.error(`[bench] ${message}`);
}

/** What is installed, decided once at start. */
export interface Tools {
  wrk: boolean;
  taskset: boolean;
  node: boolean;
  nginx: string | null;
  /** Whether that nginx has its TLS module (T1). */
  nginxSsl: boolean;
}

/** Looks for the programs the run may use (nginx also at Debian's path, off PATH). */
export async function detectTools(): Promise<Tools> {
  const [wrk, taskset, node, nginxOnPath] = await Promise.all([
    hasProgram("wrk"),
    hasProgram("taskset"),
    hasProgram("node"),
    hasProgram("nginx"),
  ]);
  let nginx: string | null = nginxOnPath ? "nginx" : null;
  if (nginx === null && await hasProgram(NGINX_BINARY)) nginx = NGINX_BINARY;
  const nginxSsl = nginx !== null && hasSslModule((await commandOutput(nginx, ["-V"])) ?? "");
  return { wrk, taskset, node, nginx, nginxSsl };
}

/** Everything a run decided at start, passed to launching and measuring. */
export interface RunContext {
  tempDir: string;
  filesDir: string;
  tools: Tools;
  serverCore: number | null;
  clientCore: number | null;
  scripts: { report: string; pipeline: string };
  wrkThreads: number;
  /** Extra measurements of a disturbed run. */
  retries: number;
  /** sockserve of `--baseline REF`, extracted into tempDir; null without the option. */
  baseline: BaselineTree | null;
  /** The throwaway certificate of T1, or why there is none. */
  tls: TlsFiles | string;
}
