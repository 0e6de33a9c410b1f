/**
 * Mutation fuzzing of the request parser: valid requests from a corpus, damaged by bit flips,
 * inserted CR, LF, NUL, spaces and colons, duplicated lines, deletions and truncations, then
 * parsed whole and in a random split. Every case must give events or an HttpError (never another
 * exception, never a hang), and a split must not change what the input completes.
 *
 * FUZZ_CASES sets the number of cases (default 100,000) and FUZZ_SEED replays a failure.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { bytes, completeMessages, parseInPieces, parseWhole } from "./support/http1_harness.ts";
import { requestArb } from "./support/generators.ts";
import { CORPUS, mutate, mutationsArb, positionArb } from "./support/mutations.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 100_000);
/** The time bound of the run; a slower machine runs fewer cases and the test says so. */
const TIME_LIMIT_MS = Number(Deno.env.get("FUZZ_TIME_LIMIT_MS") ?? 120_000);

const seedArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CORPUS) },
  { weight: 1, arbitrary: requestArb.map((request) => request.wire) },
);

const caseArb = fc.record({
  wire: seedArb,
  mutations: mutationsArb,
  cut: positionArb,
});

Deno.test(`mutation fuzzing: ${CASES} damaged requests never throw outside HttpError nor hang`, () => {
  const outcomes = new Map<string, number>();
  const start = performance.now();
  const details = fc.check(
    fc.property(caseArb, ({ wire, mutations, cut }) => {
      const input = bytes(mutate(wire, mutations));
      const whole = parseWhole(input);
      const at = Math.floor(cut * input.length);
      const split = parseInPieces(input, at > 0 && at < input.length ? [at] : []);
      assert.deepEqual(completeMessages(split), completeMessages(whole));
      assert.equal(split.errorStatus === null, whole.errorStatus === null);
      const key = whole.errorStatus === null ? "accepted or incomplete" : `${whole.errorStatus}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }),
    { seed: SEED, numRuns: CASES, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true },
  );
  const seconds = (performance.now() - start) / 1000;
  if (details.failed) {
    throw new Error(fc.defaultReportMessage(details) ?? `failed with seed ${SEED}`);
  }
  const summary = [...outcomes].sort().map(([k, v]) => `${k}: ${v}`).join(", ");
  // deno-lint-ignore no-console -- the figure the README reports
  console.log(
    `fuzz: ${details.numRuns} cases in ${seconds.toFixed(1)} s (seed ${SEED}); ${summary}`,
  );
  assert.ok(
    details.numRuns >= CASES,
    `only ${details.numRuns} of ${CASES} cases ran within ${TIME_LIMIT_MS} ms`,
  );
  // The corpus and mutations must reach both outcomes, or the fuzzer is not exercising much.
  const accepted = outcomes.get("accepted or incomplete") ?? 0;
  assert.ok(accepted > details.numRuns / 10, `only ${accepted} inputs accepted`);
  assert.ok(details.numRuns - accepted > details.numRuns / 10, "almost nothing rejected");
});
