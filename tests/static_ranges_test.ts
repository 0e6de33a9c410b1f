import assert from "node:assert/strict";
import { contentRange, parseRange, type RangeResult } from "../server/static/ranges.ts";

const ignore: RangeResult = { kind: "ignore" };
const unsatisfiable: RangeResult = { kind: "unsatisfiable" };
const ranges = (...pairs: [number, number][]): RangeResult => ({
  kind: "ranges",
  ranges: pairs.map(([start, end]) => ({ start, end })),
});

// Go-style table: [name, header, size, expected].
const ROWS: [string, string, number, RangeResult][] = [
  ["single closed range", "bytes=0-99", 1000, ranges([0, 99])],
  ["single byte", "bytes=5-5", 10, ranges([5, 5])],
  ["last byte by offset", "bytes=9-9", 10, ranges([9, 9])],
  ["open-ended range", "bytes=500-", 1000, ranges([500, 999])],
  ["open-ended from zero is the whole file", "bytes=0-", 10, ranges([0, 9])],
  ["suffix range", "bytes=-100", 1000, ranges([900, 999])],
  ["suffix longer than the file is the whole file", "bytes=-5000", 1000, ranges([0, 999])],
  ["last-pos past the end is clamped", "bytes=990-5000", 1000, ranges([990, 999])],
  ["unit is case-insensitive", "Bytes=0-0", 10, ranges([0, 0])],
  ["two ranges", "bytes=0-1,5-6", 10, ranges([0, 1], [5, 6])],
  ["whitespace around commas", "bytes=0-1 ,\t5-6", 10, ranges([0, 1], [5, 6])],
  ["empty list elements are skipped", "bytes=,0-1,,", 10, ranges([0, 1])],
  ["first-pos at size is unsatisfiable", "bytes=1000-", 1000, unsatisfiable],
  ["first-pos past size is unsatisfiable", "bytes=5000-6000", 1000, unsatisfiable],
  ["suffix of zero is unsatisfiable", "bytes=-0", 1000, unsatisfiable],
  ["unsatisfiable parts are dropped, others kept", "bytes=0-1,2000-3000", 10, ranges([0, 1])],
  ["all parts unsatisfiable", "bytes=20-30,40-", 10, unsatisfiable],
  ["empty file ignores Range", "bytes=0-0", 0, ignore],
  ["empty file ignores even unsatisfiable", "bytes=5-", 0, ignore],
  ["unknown unit ignored", "items=0-1", 10, ignore],
  ["no equals sign ignored", "bytes 0-1", 10, ignore],
  ["space before equals ignored", "bytes =0-1", 10, ignore],
  ["last before first is invalid", "bytes=5-1", 10, ignore],
  ["no dash is invalid", "bytes=5", 10, ignore],
  ["negative numbers are invalid", "bytes=-1-5", 10, ignore],
  ["signs are invalid", "bytes=+1-5", 10, ignore],
  ["letters are invalid", "bytes=a-b", 10, ignore],
  ["only a dash is invalid", "bytes=-", 10, ignore],
  ["nothing after the unit is invalid", "bytes=", 10, ignore],
  ["one invalid part ignores the whole header", "bytes=0-1,x-y", 10, ignore],
  ["overlapping ranges summing past the size are ignored", "bytes=0-7,2-9", 10, ignore],
  ["many repeats of the whole file are ignored", "bytes=0-,0-,0-", 10, ignore],
  ["overlap that stays within the size is served", "bytes=0-2,1-3", 10, ranges([0, 2], [1, 3])],
  ["huge numbers do not overflow", "bytes=0-99999999999999999999999", 10, ranges([0, 9])],
  ["huge first-pos is unsatisfiable", "bytes=99999999999999999999999-", 10, unsatisfiable],
];

for (const [name, header, size, expected] of ROWS) {
  Deno.test(`parseRange: ${name} (${JSON.stringify(header)}, size ${size})`, () => {
    assert.deepEqual(parseRange(header, size), expected);
  });
}

Deno.test("parseRange: more ranges than the limit are ignored", () => {
  const header = "bytes=" + Array.from({ length: 5 }, (_, i) => `${i * 2}-${i * 2}`).join(",");
  assert.equal(parseRange(header, 100, 5).kind, "ranges");
  assert.deepEqual(parseRange(header + ",50-50", 100, 5), ignore);
});

Deno.test("contentRange formats inclusive ends and the complete length", () => {
  assert.equal(contentRange({ start: 0, end: 99 }, 1000), "bytes 0-99/1000");
});
