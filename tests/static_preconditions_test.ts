import assert from "node:assert/strict";
import {
  evaluatePreconditions,
  ifRangeAllowsRange,
  parseEntityTagList,
  type PreconditionResult,
  strongMatch,
  type Validators,
  weakMatch,
} from "../server/static/preconditions.ts";
import { formatHttpDate, parseHttpDate } from "../server/static/http_date.ts";

const MODIFIED = Date.UTC(2024, 0, 15, 12, 0, 0); // Mon, 15 Jan 2024 12:00:00 GMT
const BEFORE = formatHttpDate(MODIFIED - 1000);
const AT = formatHttpDate(MODIFIED);
const AFTER = formatHttpDate(MODIFIED + 1000);
const V: Validators = { etag: '"abc"', lastModified: MODIFIED };
const NO_DATE: Validators = { etag: '"abc"', lastModified: null };
const NO_ETAG: Validators = { etag: null, lastModified: MODIFIED };

// Go-style table: [name, method, request headers, validators, expected].
const ROWS: [string, string, Record<string, string>, Validators, PreconditionResult][] = [
  ["no conditional headers", "GET", {}, V, "proceed"],
  // Step 1: If-Match (strong comparison).
  ["If-Match with the current tag", "GET", { "if-match": '"abc"' }, V, "proceed"],
  ["If-Match in a list", "GET", { "if-match": '"x", "abc"' }, V, "proceed"],
  ["If-Match *", "GET", { "if-match": "*" }, V, "proceed"],
  ["If-Match with another tag", "GET", { "if-match": '"xyz"' }, V, "precondition-failed"],
  ["If-Match weak tag never matches", "GET", { "if-match": 'W/"abc"' }, V, "precondition-failed"],
  [
    "If-Match against a weak current tag",
    "GET",
    { "if-match": '"abc"' },
    { etag: 'W/"abc"', lastModified: null },
    "precondition-failed",
  ],
  ["If-Match malformed", "GET", { "if-match": "abc" }, V, "precondition-failed"],
  // Step 2: If-Unmodified-Since (only without If-Match).
  ["If-Unmodified-Since at mtime", "GET", { "if-unmodified-since": AT }, V, "proceed"],
  ["If-Unmodified-Since after mtime", "GET", { "if-unmodified-since": AFTER }, V, "proceed"],
  [
    "If-Unmodified-Since before mtime",
    "GET",
    { "if-unmodified-since": BEFORE },
    V,
    "precondition-failed",
  ],
  ["If-Unmodified-Since invalid date ignored", "GET", { "if-unmodified-since": "x" }, V, "proceed"],
  [
    "If-Unmodified-Since ignored without Last-Modified",
    "GET",
    { "if-unmodified-since": BEFORE },
    NO_DATE,
    "proceed",
  ],
  [
    "If-Match true makes If-Unmodified-Since irrelevant",
    "GET",
    { "if-match": '"abc"', "if-unmodified-since": BEFORE },
    V,
    "proceed",
  ],
  // Step 3: If-None-Match (weak comparison).
  ["If-None-Match with the current tag", "GET", { "if-none-match": '"abc"' }, V, "not-modified"],
  ["If-None-Match on HEAD", "HEAD", { "if-none-match": '"abc"' }, V, "not-modified"],
  ["If-None-Match weak matches weakly", "GET", { "if-none-match": 'W/"abc"' }, V, "not-modified"],
  ["If-None-Match in a list", "GET", { "if-none-match": '"a", W/"abc"' }, V, "not-modified"],
  ["If-None-Match with a comma inside a tag", "GET", { "if-none-match": '"a,b"' }, V, "proceed"],
  ["If-None-Match *", "GET", { "if-none-match": "*" }, V, "not-modified"],
  ["If-None-Match with another tag", "GET", { "if-none-match": '"xyz"' }, V, "proceed"],
  [
    "If-None-Match on another method fails the precondition",
    "POST",
    { "if-none-match": '"abc"' },
    V,
    "precondition-failed",
  ],
  [
    "If-None-Match takes precedence over If-Modified-Since",
    "GET",
    { "if-none-match": '"xyz"', "if-modified-since": AFTER },
    V,
    "proceed",
  ],
  // Step 4: If-Modified-Since (GET/HEAD only, only without If-None-Match).
  ["If-Modified-Since at mtime", "GET", { "if-modified-since": AT }, V, "not-modified"],
  ["If-Modified-Since after mtime", "GET", { "if-modified-since": AFTER }, V, "not-modified"],
  ["If-Modified-Since before mtime", "GET", { "if-modified-since": BEFORE }, V, "proceed"],
  ["If-Modified-Since invalid date ignored", "GET", { "if-modified-since": "soon" }, V, "proceed"],
  [
    "If-Modified-Since lenient formats are not dates",
    "GET",
    { "if-modified-since": "2099" },
    V,
    "proceed",
  ],
  [
    "If-Modified-Since in RFC 850 format",
    "GET",
    { "if-modified-since": "Monday, 15-Jan-24 12:00:00 GMT" },
    V,
    "not-modified",
  ],
  [
    "If-Modified-Since in asctime format",
    "GET",
    { "if-modified-since": "Mon Jan 15 12:00:00 2024" },
    V,
    "not-modified",
  ],
  ["If-Modified-Since ignored on POST", "POST", { "if-modified-since": AFTER }, V, "proceed"],
  [
    "If-Modified-Since ignored without Last-Modified",
    "GET",
    { "if-modified-since": AFTER },
    NO_DATE,
    "proceed",
  ],
  // Order: 412 from step 1/2 wins over 304 from step 3/4.
  [
    "failed If-Match beats matching If-None-Match",
    "GET",
    { "if-match": '"xyz"', "if-none-match": '"abc"' },
    V,
    "precondition-failed",
  ],
  [
    "failed If-Unmodified-Since beats If-Modified-Since",
    "GET",
    { "if-unmodified-since": BEFORE, "if-modified-since": AFTER },
    V,
    "precondition-failed",
  ],
];

for (const [name, method, headers, validators, expected] of ROWS) {
  Deno.test(`evaluatePreconditions: ${name}`, () => {
    assert.equal(evaluatePreconditions(method, new Headers(headers), validators), expected);
  });
}

// [name, If-Range, validators, expected] (RFC 9110 §13.1.5, with §8.8.2.2's origin-server rule:
// a date is strong only if the server reliably knows the file did not change twice in its second,
// which a file server never does).
const IF_RANGE_ROWS: [string, string | null, Validators, boolean][] = [
  ["absent", null, V, true],
  ["matching strong tag", '"abc"', V, true],
  ["matching strong tag, surrounding whitespace", ' "abc" ', V, true],
  ["other tag", '"xyz"', V, false],
  ["weak tag never matches", 'W/"abc"', V, false],
  ["weak tag against a weak ETag", 'W/"abc"', { etag: 'W/"abc"', lastModified: MODIFIED }, false],
  ["a list is not a validator", '"abc", "xyz"', V, false],
  ["tag without an ETag", '"abc"', { etag: null, lastModified: MODIFIED }, false],
  ["exact date, however old", AT, V, false],
  ["exact date, no ETag", AT, NO_ETAG, false],
  ["exact date in the obsolete RFC 850 form", "Monday, 15-Jan-24 12:00:00 GMT", V, false],
  ["later date", AFTER, V, false],
  ["earlier date", BEFORE, V, false],
  ["date without Last-Modified", AT, NO_DATE, false],
  ["garbage", "yesterday", V, false],
  ["empty", "", V, false],
];
for (const [name, value, validators, expected] of IF_RANGE_ROWS) {
  Deno.test(`ifRangeAllowsRange: ${name}`, () => {
    assert.equal(ifRangeAllowsRange(value, validators), expected);
  });
}

Deno.test("entity-tag lists and comparisons", () => {
  assert.deepEqual(parseEntityTagList(' "a" , W/"b",,"c,d"'), ['"a"', 'W/"b"', '"c,d"']);
  assert.deepEqual(parseEntityTagList('"a", junk, "b"'), ['"a"']);
  assert.equal(strongMatch('"a"', '"a"'), true);
  assert.equal(strongMatch('W/"a"', '"a"'), false);
  assert.equal(weakMatch('W/"a"', '"a"'), true);
  assert.equal(weakMatch('"a"', '"b"'), false);
});

const DATE_ROWS: [string, number][] = [
  ["Sun, 06 Nov 1994 08:49:37 GMT", Date.UTC(1994, 10, 6, 8, 49, 37)],
  ["Sunday, 06-Nov-94 08:49:37 GMT", Date.UTC(1994, 10, 6, 8, 49, 37)],
  ["Sun Nov  6 08:49:37 1994", Date.UTC(1994, 10, 6, 8, 49, 37)],
  ["Sun, 06 Nov 1994 08:49:37 UTC", NaN],
  ["Sun, 31 Feb 1994 08:49:37 GMT", NaN],
  ["Sun, 06 Nov 1994 24:00:00 GMT", NaN],
  ["1994-11-06T08:49:37Z", NaN],
  ["", NaN],
];
for (const [text, expected] of DATE_ROWS) {
  Deno.test(`parseHttpDate(${JSON.stringify(text)})`, () => {
    assert.equal(parseHttpDate(text), expected);
  });
}
