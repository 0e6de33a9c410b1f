/**
 * The rule that turns the batches of M1 and M2 into one figure per server, and two servers'
 * batches into one ratio. Pure (no I/O), so that tests/bench_idle_memory_test.ts checks it on fixed
 * readings; bench/idle_memory.ts takes the readings and bench/README.md states the rule.
 *
 * - Batch 1 is held but never counted: its growth holds one-time costs (JIT compiler threads'
 *   malloc arenas, heap sizing) and is reported beside the figure. The reading with it held is
 *   where the figure starts.
 * - A batch is rejected when the server had not gained at least {@linkcode HELD_MIN_SHARE} of its
 *   connections by its reading (its own still open, less those of earlier batches it closed
 *   meanwhile): the server closed connections, so the readings no longer measure connections held.
 *   RSS that fell or stayed put is not a reason: it is garbage collected, and counts as it is.
 * - The figure is the slope over batches 2..N: RSS at the reading after batch N less RSS at the
 *   reading after batch 1, over the connections batches 2..N added. N is the last batch before the
 *   first rejected one (or before the measurement stopped); with no such batch there is no figure.
 * - Two servers are compared over the batches both have in their figures (the shorter span), so a
 *   ratio never sets a slope over batches 2–4 against one over 2–2.
 *
 * @module
 */

import type { MemoryBatch, MemoryResult } from "./report.ts";

/**
 * Share of a batch's connections the server must have gained when its RSS is read: the batch's
 * connections still open less the earlier batches' it closed meanwhile.
 */
export const HELD_MIN_SHARE = 0.95;

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
 * The batch as reported: its own KiB per connection (listed for the spread; negative when garbage
 * was collected meanwhile) and, when the server closed its connections, why it is rejected.
 *
 * @example
 * ```ts
 * judgeBatch({ batch: 2, requested: 1000, held: 900, earlierClosed: 0, rssBeforeKiB: 50_000,
 *   rssAfterKiB: 59_000, fdsGained: 900 }).problem; // "the server held 900 of its 1000 …"
 * ```
 */
export function judgeBatch(reading: BatchReading): MemoryBatch {
  const { batch, requested, held, earlierClosed, rssBeforeKiB, rssAfterKiB, fdsGained } = reading;
  const gained = held - earlierClosed;
  const problem = gained < requested * HELD_MIN_SHARE
    ? `the server held ${held} of its ${requested} connections${
      earlierClosed > 0 ? ` and closed ${earlierClosed} of earlier batches'` : ""
    } when RSS was read (fewer than ${HELD_MIN_SHARE * 100}% gained; an idle timeout or a ` +
      "connection limit closed them)"
    : undefined;
  return {
    batch,
    opened: requested,
    held,
    earlierClosed,
    rssBeforeKiB,
    rssAfterKiB,
    kibPerConnection: gained > 0 ? (rssAfterKiB - rssBeforeKiB) / gained : null,
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
  /** KiB per connection over batches 2..{@linkcode throughBatch}; NaN when there is no figure. */
  kibPerConnection: number;
  /** Last batch of the figure (at least 2), or null when there is no figure. */
  throughBatch: number | null;
  /** Connections batches 2..throughBatch added (held less earlier ones closed); 0 without a figure. */
  connectionsAdded: number;
  /** File descriptors the server gained over batches 2..throughBatch; 0 without a figure. */
  fdsGained: number;
  /**
   * The first rejected batch after the first (held rule, or its client failed), or null; batch 1's
   * problem only flags its own figure, since the slope starts at its reading.
   */
  firstRejected: number | null;
  /** Why there is no figure, or null. */
  problem: string | null;
}

/**
 * The slope over batches 2..N, N the last batch before the first rejected one (every batch
 * listed has a reading unless it is rejected).
 *
 * @example
 * ```ts
 * declare const batches: import("./report.ts").MemoryBatch[];
 * const { kibPerConnection, throughBatch, problem } = summarizeBatches(batches);
 * ```
 */
export function summarizeBatches(batches: readonly MemoryBatch[]): BatchSummary {
  const firstRejected =
    batches.find((batch) => batch.batch > 1 && batch.problem !== undefined)?.batch ?? null;
  const none = (problem: string): BatchSummary => ({
    kibPerConnection: NaN,
    throughBatch: null,
    connectionsAdded: 0,
    fdsGained: 0,
    firstRejected,
    problem,
  });
  const first = batches.find((batch) => batch.batch === 1);
  if (first === undefined || first.rssAfterKiB <= 0) {
    return none(
      first === undefined ? "no batch was opened" : "no reading was taken with batch 1 held",
    );
  }
  const counted: MemoryBatch[] = [];
  for (const batch of batches) {
    if (batch.batch === 1) continue;
    if (batch.problem !== undefined) break;
    counted.push(batch);
  }
  const last = counted.at(-1);
  if (last === undefined) {
    return none(
      firstRejected === null
        ? "no batch after the first was read"
        : `batch ${firstRejected} was rejected, so no batch after the first can be counted`,
    );
  }
  const connectionsAdded = counted.reduce(
    (sum, batch) => sum + batch.held - batch.earlierClosed,
    0,
  );
  return {
    kibPerConnection: (last.rssAfterKiB - first.rssAfterKiB) / connectionsAdded,
    throughBatch: last.batch,
    connectionsAdded,
    fdsGained: counted.reduce((sum, batch) => sum + batch.fdsGained, 0),
    firstRejected,
    problem: null,
  };
}

/** The fields of a memory result that its batches decide. */
export type IdleFigure = Pick<
  MemoryResult,
  | "baselineRssKiB"
  | "loadedRssKiB"
  | "kibPerConnection"
  | "throughBatch"
  | "plannedBatches"
  | "firstBatchKiBPerConnection"
  | "batches"
  | "fdsGained"
  | "skipped"
  | "stopped"
>;

/**
 * A server's result from its batches and why the measurement stopped early, if it did. No figure
 * (`skipped`, with every reason) when the warm-up failed or no batch after the first was read
 * before a rejected one or before the stop; a figure over the batches read before a stop is kept,
 * and the stop is said beside it (`stopped`).
 *
 * @example
 * ```ts
 * declare const batches: import("./report.ts").MemoryBatch[];
 * const figure = idleFigure(batches, null, 4); // { kibPerConnection, throughBatch: 4, … }
 * ```
 */
export function idleFigure(
  batches: MemoryBatch[],
  stopped: string | null,
  plannedBatches: number,
): IdleFigure {
  const summary = summarizeBatches(batches);
  const first = batches.find((batch) => batch.batch === 1);
  const last = batches.find((batch) => batch.batch === summary.throughBatch);
  const skipped = summary.problem === null
    ? null
    : stopped === null
    ? summary.problem
    : batches.length === 0
    ? stopped
    : `${stopped} (${summary.problem})`;
  return {
    baselineRssKiB: first?.rssAfterKiB ?? 0,
    loadedRssKiB: last?.rssAfterKiB ?? 0,
    kibPerConnection: Number.isFinite(summary.kibPerConnection) ? summary.kibPerConnection : 0,
    ...(summary.throughBatch === null ? {} : { throughBatch: summary.throughBatch }),
    plannedBatches,
    ...(first === undefined || first.kibPerConnection === null
      ? {}
      : { firstBatchKiBPerConnection: first.kibPerConnection }),
    batches,
    fdsGained: summary.fdsGained,
    ...(skipped === null ? {} : { skipped }),
    ...(skipped === null && stopped !== null ? { stopped } : {}),
  };
}

/** A ratio of two servers' idle memory, and the batches it is over. */
export interface IdleRatio {
  /** KiB per connection of one ÷ the other's, over the same batches; null when not computable. */
  ratio: number | null;
  /**
   * Last batch of the span both are compared over (batches 2..throughBatch); null for results
   * written before batches, compared by their figures alone.
   */
  throughBatch: number | null;
}

/**
 * `server`'s KiB per connection ÷ `reference`'s, each recomputed over batches 2..M, M the last
 * batch both figures include. Null ratio when either has no figure or the reference's RSS did not
 * grow over those batches. Results written before batches compare their figures as they are.
 *
 * @example
 * ```ts
 * declare const sockserve: import("./report.ts").MemoryResult;
 * declare const denoServe: import("./report.ts").MemoryResult;
 * const { ratio, throughBatch } = idleRatio(sockserve, denoServe); // e.g. 0.85, 4
 * ```
 */
export function idleRatio(server: MemoryResult, reference: MemoryResult): IdleRatio {
  if (server.skipped !== undefined || reference.skipped !== undefined) {
    return { ratio: null, throughBatch: null };
  }
  if (
    server.batches === undefined || reference.batches === undefined ||
    server.throughBatch === undefined || reference.throughBatch === undefined
  ) {
    return {
      ratio: reference.kibPerConnection > 0
        ? server.kibPerConnection / reference.kibPerConnection
        : null,
      throughBatch: null,
    };
  }
  const through = Math.min(server.throughBatch, reference.throughBatch);
  const upTo = (batches: readonly MemoryBatch[]) =>
    summarizeBatches(batches.filter((batch) => batch.batch <= through)).kibPerConnection;
  const mine = upTo(server.batches);
  const theirs = upTo(reference.batches);
  return {
    ratio: Number.isFinite(mine) && Number.isFinite(theirs) && theirs > 0 ? mine / theirs : null,
    throughBatch: through,
  };
}
