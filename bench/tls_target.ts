/**
 * Issue 11's target for T1, checked from one run's results: sockserve over TLS keeps at least the
 * ratio to Deno.serve it has in plain S1. Pure, so that the line is tested from a fixed result.
 *
 * @module
 */

import { type LoadResult, summarizeLoad } from "./report.ts";

/** sockserve's ratio to Deno.serve in S1 and in T1 of the same run. */
export interface TlsTarget {
  /** Median ratio to Deno.serve in S1 (plain HTTP). */
  plainRatio: number;
  /** Median ratio to Deno.serve in T1 (the same load over TLS). */
  tlsRatio: number;
  /** tlsRatio ÷ plainRatio: at least 1 meets the target. */
  kept: number;
}

/**
 * sockserve's T1 ratio against its S1 ratio, or null when the run lacks either (a scenario not
 * run, sockserve or Deno.serve skipped).
 *
 * @example
 * ```ts
 * import type { LoadResult } from "./report.ts";
 * declare const load: LoadResult[];
 * const target = tlsTarget(load);
 * ```
 */
export function tlsTarget(load: readonly LoadResult[]): TlsTarget | null {
  const ratioIn = (scenario: "S1" | "T1") =>
    summarizeLoad(load).find((row) => row.scenario === scenario && row.server === "sockserve")
      ?.ratio ?? null;
  const plainRatio = ratioIn("S1");
  const tlsRatio = ratioIn("T1");
  if (plainRatio === null || tlsRatio === null || plainRatio <= 0) return null;
  return { plainRatio, tlsRatio, kept: tlsRatio / plainRatio };
}

/**
 * The report's line for {@linkcode tlsTarget}.
 *
 * @example
 * ```ts
 * describeTlsTarget({ plainRatio: 1.1, tlsRatio: 1.21, kept: 1.1 });
 * // "TLS: sockserve ÷ Deno.serve is 1.21× over TLS (T1) against 1.10× in plain S1, …"
 * ```
 */
export function describeTlsTarget(target: TlsTarget): string {
  return `TLS: sockserve ÷ Deno.serve is ${target.tlsRatio.toFixed(2)}× over TLS (T1) against ` +
    `${target.plainRatio.toFixed(2)}× in plain S1 of the same run: T1 ÷ S1 = ` +
    `${target.kept.toFixed(2)} (issue 11's target: at least 1.00, ${
      target.kept >= 1 ? "met" : "not met"
    })`;
}
