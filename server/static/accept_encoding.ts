/**
 * Content-coding negotiation (RFC 9110 §12.5.3) for the codings sockserve can send.
 *
 * @module
 */

/** The content codings the file server can send (from sidecars, or made on the fly). */
export type ContentCoding = "br" | "zstd" | "gzip";

/** Quality values (0–1) of the codings the server cares about. */
export interface CodingPreferences {
  /** q of `br`. */
  br: number;
  /** q of `zstd`. */
  zstd: number;
  /** q of `gzip` (or its alias `x-gzip`). */
  gzip: number;
  /**
   * q of the identity (no coding) when the client states it (`identity;q=…` or `*;q=…`), else 0:
   * an unstated identity is acceptable but must not outrank a coding the client asked for.
   */
  identity: number;
}

const NO_CODINGS: Readonly<CodingPreferences> = Object.freeze({
  br: 0,
  zstd: 0,
  gzip: 0,
  identity: 0,
});

/** A qvalue (RFC 9110 §12.4.2): "0", "1", "0.xxx" or "1.000"; NaN when malformed. */
function parseQValue(text: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return NaN;
  return Number(text);
}

/** The last header parsed and its result: clients send the same value on every request. */
let lastHeader: string | null = null;
let lastPreferences: Readonly<CodingPreferences> = NO_CODINGS;

/**
 * Parses `Accept-Encoding` into the quality of br, zstd, gzip and identity. An absent header gives no
 * coding: RFC 9110 would allow any, but clients that do not ask (curl, wrk, old proxies) are
 * better served uncompressed. Unknown codings and malformed members are ignored.
 *
 * @example
 * ```ts
 * import { parseAcceptEncoding } from "./accept_encoding.ts";
 * parseAcceptEncoding("gzip, br;q=0.5"); // { br: 0.5, zstd: 0, gzip: 1, identity: 0 }
 * ```
 */
export function parseAcceptEncoding(header: string | null): Readonly<CodingPreferences> {
  if (header === null) return NO_CODINGS;
  if (header === lastHeader) return lastPreferences;
  let br = -1;
  let zstd = -1;
  let gzip = -1;
  let identity = -1;
  let star = -1;
  for (const member of header.split(",")) {
    const parts = member.split(";");
    const coding = parts[0]!.trim().toLowerCase();
    if (coding.length === 0) continue;
    let q = 1;
    for (let i = 1; i < parts.length; i++) {
      const parameter = parts[i]!.trim();
      if (
        parameter.length > 2 && (parameter[0] === "q" || parameter[0] === "Q") &&
        parameter[1] === "="
      ) {
        q = parseQValue(parameter.slice(2).trim());
      }
    }
    if (Number.isNaN(q)) continue;
    if (coding === "br") br = Math.max(br, q);
    else if (coding === "zstd") zstd = Math.max(zstd, q);
    else if (coding === "gzip" || coding === "x-gzip") gzip = Math.max(gzip, q);
    else if (coding === "identity") identity = Math.max(identity, q);
    else if (coding === "*") star = Math.max(star, q);
  }
  lastHeader = header;
  lastPreferences = Object.freeze({
    br: br >= 0 ? br : star >= 0 ? star : 0,
    zstd: zstd >= 0 ? zstd : star >= 0 ? star : 0,
    gzip: gzip >= 0 ? gzip : star >= 0 ? star : 0,
    identity: identity >= 0 ? identity : star >= 0 ? star : 0,
  });
  return lastPreferences;
}

/** Where a coding of a file can come from: a precompressed sidecar, made on the fly, or nowhere. */
export type CodingSource = "sidecar" | "on-the-fly" | null;

/** The source of each coding for one file. */
export interface CodingSources {
  br: CodingSource;
  zstd: CodingSource;
  gzip: CodingSource;
}

/** What {@linkcode chooseCoding} picked. */
export interface ChosenCoding {
  coding: ContentCoding;
  source: "sidecar" | "on-the-fly";
}

/** Codings in the order that breaks a tie of q: smallest output first for web text. */
const TIE_ORDER: readonly ContentCoding[] = ["br", "zstd", "gzip"];

/**
 * Picks the coding to send among those available: the acceptable one (q > 0) with the highest q;
 * on a tie a precompressed sidecar before a coding made on the fly (sidecars first: someone made
 * them, usually at the highest setting), then br, zstd, gzip; and a coding before identity on a
 * tie (smaller is better when the client likes both equally). Returns null for identity. When
 * identity is excluded and nothing else is available, identity is still sent (RFC 9110 §12.5.3
 * allows it; a 406 helps nobody).
 *
 * @example
 * ```ts
 * import { chooseCoding, parseAcceptEncoding } from "./accept_encoding.ts";
 * const sources = { br: "on-the-fly", zstd: null, gzip: "sidecar" } as const;
 * chooseCoding(parseAcceptEncoding("gzip, br"), sources); // { coding: "gzip", source: "sidecar" }
 * chooseCoding(parseAcceptEncoding("br"), sources); // { coding: "br", source: "on-the-fly" }
 * chooseCoding(parseAcceptEncoding("zstd"), sources); // null
 * ```
 */
export function chooseCoding(
  preferences: Readonly<CodingPreferences>,
  sources: CodingSources,
): ChosenCoding | null {
  let best: ChosenCoding | null = null;
  let bestQ = 0;
  for (const coding of TIE_ORDER) {
    const source = sources[coding];
    const q = preferences[coding];
    if (source === null || q <= 0 || q < bestQ) continue;
    if (q === bestQ && (best!.source === "sidecar" || source === "on-the-fly")) continue;
    best = { coding, source };
    bestQ = q;
  }
  if (best !== null && bestQ < preferences.identity) return null;
  return best;
}
