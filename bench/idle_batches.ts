/**
 * The rule that turns the batches of M1 and M2 into one figure per server. Pure (no I/O), so that
 * tests/bench_idle_memory_test.ts checks it on fixed readings; bench/idle_memory.ts takes the
 * readings and bench/README.md states the rule.
 *
 * - Batch 1 is held but never counted: its growth holds one-time costs (JIT compiler threads'
 *   malloc arenas, heap sizing) and is reported beside the figure.
 * - A later batch counts when the server gained at least {@linkcode HELD_MIN_SHARE} of its
 *   connections by the reading (its own still open, less those of earlier batches it closed
 *   meanwhile) and RSS grew. A reading where RSS shrank or stayed put (garbage was collected while
 *   the batch was opened) is listed with its problem, not averaged.
 * - The figure is the mean of the counted batches' KiB per connection; with fewer than
 *   {@linkcode MIN_COUNTED_BATCHES} there is none, and that is the server's problem in the report.
 *
 * @module
 */

import type { MemoryBatch } from "./report.ts";

/**
 * Share of a batch's connections the server must have gained when its RSS is read: the batch's
 * connections still open less the earlier batches' it closed meanwhile.
 */
export const HELD_MIN_SHARE = 0.95;

/** Counted batches (from the second on) a figure needs: one reading is one GC moment. */
export const MIN_COUNTED_BATCHES = 2;

/** What the harness read around one batch whose connections all completed a request. */
export interface BatchReading {
  /** 1-based batch number. */
  batch: number;
  /** Connections the batch asked for (and opened: a batch with failures is {@linkcode failedBatch}). */
  requested: number;
  /** The batch's connections still open at the reading, by the idle client's count. */
  held: number;
  /** Connections of earlier batches the server closed since the previous reading. */
  earlierClosed: number;
  /** Server RSS in KiB at the previous reading. */
  rssBeforeKiB: number;
  /** Server RSS in KiB with the batch held. */
  rssAfterKiB: number;
  /** File descriptors the server gained over the batch. */
  fdsGained: number;
}

/**
 * The batch as reported: its KiB per connection and, when it must not be counted, why.
 *
 * @example
 * ```ts
 * judgeBatch({ batch: 2, requested: 1000, held: 1000, earlierClosed: 0, rssBeforeKiB: 50_000,
 *   rssAfterKiB: 48_000, fdsGained: 1000 }).problem; // "RSS shrank by 2000 KiB …"
 * ```
 */
export function judgeBatch(reading: BatchReading): MemoryBatch {
  const { batch, requested, held, earlierClosed, rssBeforeKiB, rssAfterKiB, fdsGained } = reading;
  const gained = held - earlierClosed;
  const growthKiB = rssAfterKiB - rssBeforeKiB;
  let problem: string | undefined;
  if (gained < requested * HELD_MIN_SHARE) {
    problem =
      `the server held ${held} of its ${requested} connections${
        earlierClosed > 0 ? ` and closed ${earlierClosed} of earlier batches'` : ""
      } when RSS was read (fewer than ${HELD_MIN_SHARE * 100}% gained; an idle timeout or a ` +
      "connection limit closed them)";
  } else if (growthKiB < 0) {
    problem = `RSS shrank by ${-growthKiB} KiB while the batch was opened (garbage collected)`;
  } else if (growthKiB === 0) {
    problem = "RSS did not grow while the batch was opened (garbage collected, or under a page)";
  }
  return {
    batch,
    opened: requested,
    held,
    earlierClosed,
    rssBeforeKiB,
    rssAfterKiB,
    kibPerConnection: gained > 0 ? growthKiB / gained : null,
    fdsGained,
    ...(problem === undefined ? {} : { problem }),
  };
}

/**
 * A batch whose idle client failed (did not report, or some connections did not complete their
 * request): no reading, and no further batch is opened.
 *
 * @example
 * ```ts
 * failedBatch(3, 980, 61_000, "only 980 of 1000 connections completed a request");
 * ```
 */
export function failedBatch(
  batch: number,
  opened: number,
  rssBeforeKiB: number,
  problem: string,
): MemoryBatch {
  return {
    batch,
    opened,
    held: 0,
    earlierClosed: 0,
    rssBeforeKiB,
    rssAfterKiB: 0,
    kibPerConnection: null,
    fdsGained: 0,
    problem,
  };
}

/** One server's figure from its batches. */
export interface BatchSummary {
  /** Mean KiB per connection of the counted batches; NaN when none counted. */
  kibPerConnection: number;
  /** Batches in the mean. */
  counted: number;
  /** Batches after the first that were opened (counted or not). */
  measured: number;
  /** Why there is no figure (fewer than {@linkcode MIN_COUNTED_BATCHES} counted), or null. */
  problem: string | null;
}

/**
 * The mean of the counted batches after the first, and whether there are enough of them.
 *
 * @example
 * ```ts
 * declare const batches: import("./report.ts").MemoryBatch[];
 * const { kibPerConnection, counted, problem } = summarizeBatches(batches);
 * ```
 */
export function summarizeBatches(batches: readonly MemoryBatch[]): BatchSummary {
  const later = batches.filter((batch) => batch.batch > 1);
  const values = later.flatMap((batch) =>
    batch.problem === undefined && batch.kibPerConnection !== null ? [batch.kibPerConnection] : []
  );
  const mean = values.length === 0
    ? NaN
    : values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    kibPerConnection: mean,
    counted: values.length,
    measured: later.length,
    problem: values.length >= MIN_COUNTED_BATCHES
      ? null
      : later.length === 0
      ? "no batch after the first was opened"
      : `${values.length} of the ${later.length} batches after the first could be counted, ` +
        `fewer than the ${MIN_COUNTED_BATCHES} a mean needs (each batch's reason is listed)`,
  };
}
