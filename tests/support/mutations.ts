/**
 * The mutation fuzzer's corpus of valid requests and its mutations, shared by the fuzz test and
 * the differential check against Node.
 *
 * @module
 */

import fc from "fast-check";

/** Valid requests a real client could send, covering every framing and target form. */
export const CORPUS: readonly string[] = [
  "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "GET /index.html?q=1&r=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: fuzz/1.0\r\n" +
  "Accept: text/html, */*;q=0.8\r\nAccept-Encoding: gzip, br\r\nCookie: a=b; c=d\r\n\r\n",
  "HEAD /a HTTP/1.0\r\n\r\n",
  "GET /keep HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
  "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n" +
  "hello world",
  "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
  "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '5\r\nhello\r\n6;ext=1;q="a\\"b"\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n',
  "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
  "A\r\n0123456789\r\n0\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET http://example.com/abs?x HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "DELETE /r HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n",
  "\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
  "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok",
];

/** One damage to apply; positions are fractions of the current length so they always fit. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate-line"; at: number }
  | { kind: "replace"; at: number; byte: number }
  | { kind: "truncate"; at: number };

export const positionArb = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const INSERTIONS = ["\r", "\n", "\r\n", "\0", " ", "\t", ":", ";", ",", "\r\n\r\n", "0", "f", "-"];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: positionArb, bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: positionArb,
    text: fc.constantFrom(...INSERTIONS),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: positionArb,
    length: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant("duplicate-line" as const), at: positionArb }),
  fc.record({ kind: fc.constant("replace" as const), at: positionArb, byte: fc.nat(255) }),
  fc.record({ kind: fc.constant("truncate" as const), at: positionArb }),
);

/**
 * Applies the mutations in order to a wire string (one code unit per byte).
 *
 * @example
 * ```ts
 * import { mutate } from "./mutations.ts";
 * console.log(JSON.stringify(mutate("GET / HTTP/1.1", [{ kind: "insert", at: 0.25, text: "\0" }])));
 * // "GET\u0000 / HTTP/1.1"
 * ```
 */
export function mutate(wire: string, mutations: readonly Mutation[]): string {
  let text = wire;
  for (const mutation of mutations) {
    const at = Math.floor(mutation.at * (text.length + 1));
    switch (mutation.kind) {
      case "flip": {
        if (text.length === 0) break;
        const i = Math.min(at, text.length - 1);
        const flipped = text.charCodeAt(i) ^ (1 << mutation.bit);
        text = text.slice(0, i) + String.fromCharCode(flipped) + text.slice(i + 1);
        break;
      }
      case "insert":
        text = text.slice(0, at) + mutation.text + text.slice(at);
        break;
      case "delete":
        text = text.slice(0, at) + text.slice(at + mutation.length);
        break;
      case "duplicate-line": {
        // Repeat the whole line around `at` (a duplicated header, request line or chunk line).
        const start = text.lastIndexOf("\n", at - 1) + 1;
        const lf = text.indexOf("\n", at);
        const end = lf === -1 ? text.length : lf + 1;
        text = text.slice(0, end) + text.slice(start, end) + text.slice(end);
        break;
      }
      case "replace": {
        if (text.length === 0) break;
        const i = Math.min(at, text.length - 1);
        text = text.slice(0, i) + String.fromCharCode(mutation.byte) + text.slice(i + 1);
        break;
      }
      case "truncate":
        text = text.slice(0, at);
        break;
    }
  }
  return text;
}

/** One to four mutations applied in order. */
export const mutationsArb: fc.Arbitrary<Mutation[]> = fc.array(mutationArb, {
  minLength: 1,
  maxLength: 4,
});
