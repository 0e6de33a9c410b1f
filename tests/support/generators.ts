/**
 * fast-check arbitraries for HTTP/1.1 requests: each generated request comes with its exact wire
 * bytes and with what the parser must report for it, so a property can compare the two.
 *
 * @module
 */

import fc from "fast-check";
import type { ParsedMessage } from "./http1_harness.ts";

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Field names the parser gives a meaning to; random fields must not collide with them. */
const SPECIAL_FIELDS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
]);

/** A token (RFC 9110 §5.6.2). */
export const tokenArb = (maxLength = 16): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength });

/** field-vchar: VCHAR or obs-text (as latin1 code units). */
const vcharArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
).map((code) => String.fromCharCode(code));

/** A field value with no leading or trailing whitespace, inner SP/HTAB allowed. */
export const fieldValueArb: fc.Arbitrary<string> = fc.array(
  fc.tuple(
    fc.string({ unit: vcharArb, minLength: 1, maxLength: 12 }),
    fc.constantFrom(" ", "\t", "  "),
  ),
  { maxLength: 4 },
).chain((words) =>
  fc.string({ unit: vcharArb, minLength: 0, maxLength: 12 }).map((last) =>
    words.map(([word, space]) => word + space).join("") + last
  )
).map((value) => value.replace(/[ \t]+$/, ""));

/** Optional whitespace as sent on the wire. */
const owsArb = fc.constantFrom("", "", " ", "\t", "  ", " \t");

/** A random header field whose name means nothing special to the parser. */
export const plainFieldArb: fc.Arbitrary<[string, string]> = fc.tuple(tokenArb(), fieldValueArb)
  .filter(([name]) => !SPECIAL_FIELDS.has(name.toLowerCase()));

/** request-target in origin-form with bytes the parser accepts. */
const TARGET_CHARS = (() => {
  let chars = "";
  for (let code = 0x21; code < 0x7f; code++) {
    if (code !== 0x23 && code !== 0x3c && code !== 0x3e && code !== 0x22) {
      chars += String.fromCharCode(code);
    }
  }
  return chars;
})();
export const originTargetArb: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...TARGET_CHARS),
  maxLength: 40,
}).map((rest) => "/" + rest);

/** Body bytes as a latin1 string (every byte value). */
const bodyBytesArb = (minLength: number, maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    minLength,
    maxLength,
  });

/** A chunk extension as sent: `;name`, `;name=token` or `;name="quoted"`, with BWS. */
const qdtextChars = (() => {
  let chars = "\t ";
  for (let code = 0x21; code <= 0x7e; code++) {
    if (code !== 0x22 && code !== 0x5c) chars += String.fromCharCode(code);
  }
  return chars;
})();
const quotedStringArb = fc.array(
  fc.oneof(
    fc.constantFrom(...qdtextChars),
    fc.constantFrom('\\"', "\\\\", "\\a", "\\ "),
  ),
  { maxLength: 10 },
).map((parts) => `"${parts.join("")}"`);
const chunkExtensionArb: fc.Arbitrary<string> = fc.tuple(
  fc.constantFrom("", " ", "\t"),
  tokenArb(8),
  fc.option(fc.oneof(tokenArb(8), quotedStringArb), { nil: undefined }),
  fc.constantFrom("", " "),
).map(([bws, name, value, bws2]) =>
  `${bws};${bws2}${name}${value === undefined ? "" : `${bws2}=${bws2}${value}`}`
);

/** A chunk-size in hex, in random case and with optional leading zeros. */
function hexSize(size: number, upper: boolean, zeros: number): string {
  const hex = size.toString(16);
  return "0".repeat(zeros) + (upper ? hex.toUpperCase() : hex);
}

/** A generated request: its wire form and what the parser must report. */
export interface GeneratedRequest {
  wire: string;
  expected: ParsedMessage;
}

const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/**
 * Arbitrary valid requests in origin-form, with bodies by length or chunked (1.1 only).
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { requestArb } from "./generators.ts";
 * const [request] = fc.sample(requestArb, { seed: 1, numRuns: 1 });
 * console.log(request!.wire.includes(" HTTP/1.")); // true
 * ```
 */
export const requestArb: fc.Arbitrary<GeneratedRequest> = fc.record({
  method: fc.oneof(fc.constantFrom(...KNOWN_METHODS), tokenArb(10)).filter((m) => m !== "CONNECT"),
  target: originTargetArb,
  minorVersion: fc.constantFrom(0, 1),
  hostFirst: fc.boolean(),
  host: fc.constantFrom("a", "example.com", "example.com:8080", "127.0.0.1:1", "[::1]:80"),
  hostOnHttp10: fc.boolean(),
  connection: fc.constantFrom(null, "close", "keep-alive", "Keep-Alive, Upgrade"),
  fields: fc.array(fc.tuple(plainFieldArb, owsArb, owsArb), { maxLength: 8 }),
  bodyKind: fc.constantFrom("none", "length", "chunked"),
  body: bodyBytesArb(0, 300),
  chunkCuts: fc.array(fc.nat(300), { maxLength: 6 }),
  extensions: fc.array(fc.array(chunkExtensionArb, { maxLength: 2 }), { maxLength: 8 }),
  hexUpper: fc.boolean(),
  hexZeros: fc.nat(3),
  trailers: fc.array(fc.tuple(plainFieldArb, owsArb, owsArb), { maxLength: 3 }),
  leadingEmptyLines: fc.nat(2),
}).map((g) => {
  const bodyKind = g.minorVersion === 0 && g.bodyKind === "chunked" ? "length" : g.bodyKind;
  const withHost = g.minorVersion === 1 || g.hostOnHttp10;
  const headLines: string[] = [];
  const fields: [string, string][] = [];
  const addField = (name: string, value: string, before = "", after = "") => {
    headLines.push(`${name}:${before}${value}${after}\r\n`);
    fields.push([name.toLowerCase(), value]);
  };
  if (withHost && g.hostFirst) addField("Host", g.host, " ");
  for (const [[name, value], before, after] of g.fields) addField(name, value, before, after);
  if (withHost && !g.hostFirst) addField("host", g.host);
  if (g.connection !== null) addField("Connection", g.connection, " ");
  let framing = "none";
  let bodyWire = "";
  let trailers: [string, string][] | null = null;
  if (bodyKind === "length") {
    addField("Content-Length", String(g.body.length), " ");
    if (g.body.length > 0) framing = `length ${g.body.length}`;
    bodyWire = g.body;
  } else if (bodyKind === "chunked") {
    addField("Transfer-Encoding", "chunked", " ");
    framing = "chunked";
    const cuts = [...new Set(g.chunkCuts.filter((c) => c > 0 && c < g.body.length))].sort((a, b) =>
      a - b
    );
    const pieces: string[] = [];
    let previous = 0;
    for (const cut of [...cuts, g.body.length]) {
      if (cut > previous) pieces.push(g.body.slice(previous, cut));
      previous = cut;
    }
    pieces.forEach((piece, index) => {
      const ext = (g.extensions[index] ?? []).join("");
      bodyWire += `${hexSize(piece.length, g.hexUpper, g.hexZeros)}${ext}\r\n${piece}\r\n`;
    });
    bodyWire += `0${(g.extensions[pieces.length] ?? []).join("")}\r\n`;
    if (g.trailers.length > 0) {
      trailers = [];
      for (const [[name, value], before, after] of g.trailers) {
        bodyWire += `${name}:${before}${value}${after}\r\n`;
        trailers.push([name.toLowerCase(), value]);
      }
    }
    bodyWire += "\r\n";
  }
  const version = `HTTP/1.${g.minorVersion}`;
  const wire = "\r\n".repeat(g.leadingEmptyLines) + `${g.method} ${g.target} ${version}\r\n` +
    headLines.join("") + "\r\n" + bodyWire;
  const connectionTokens = (g.connection ?? "").toLowerCase().split(",").map((t) => t.trim());
  const keepAlive = !connectionTokens.includes("close") &&
    (g.minorVersion === 1 || connectionTokens.includes("keep-alive"));
  const expected: ParsedMessage = {
    method: g.method,
    target: g.target,
    targetForm: "origin",
    minorVersion: g.minorVersion,
    fields,
    framing,
    keepAlive,
    expectContinue: false,
    body: bodyKind === "none" ? "" : g.body,
    trailers,
    complete: true,
  };
  return { wire, expected };
});

/** Cut points for a wire string of the given length: sorted, unique, inside (0, length). */
export function cutsArb(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), {
    maxLength: Math.min(24, length - 1),
  }).map((cuts) => cuts.sort((a, b) => a - b));
}
