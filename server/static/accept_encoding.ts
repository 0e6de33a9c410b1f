/**
 * Content-coding negotiation (RFC 9110 §12.5.3) for the codings sockserve can send.
 *
 * @module
 */

/** The content codings the file server can produce (from sidecars or on the fly). */
export type ContentCoding = "br" | "gzip";

/** Quality values (0–1) of the codings the server cares about. */
export interface CodingPreferences {
  /** q of `br`. */
  br: number;
  /** q of `gzip` (or its alias `x-gzip`). */
  gzip: number;
  /**
   * q of the identity (no coding) when the client states it (`identity;q=…` or `*;q=…`), else 0:
   * an unstated identity is acceptable but must not outrank a coding the client asked for.
   */
  identity: number;
}

const NO_CODINGS: Readonly<CodingPreferences> = Object.freeze({ br: 0, gzip: 0, identity: 0 });

/** A qvalue (RFC 9110 §12.4.2): "0", "1", "0.xxx" or "1.000"; NaN when malformed. */
function parseQValue(text: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return NaN;
  return Number(text);
}

/**
 * Parses `Accept-Encoding` into the quality of br, gzip and identity. An absent header gives no
 * coding: RFC 9110 would allow any, but clients that do not ask (curl, wrk, old proxies) are
 * better served uncompressed. Unknown codings and malformed members are ignored.
 *
 * @example
 * ```ts
 * import { parseAcceptEncoding } from "./accept_encoding.ts";
 * parseAcceptEncoding("gzip, br;q=0.5"); // { br: 0.5, gzip: 1, identity: 0 }
 * ```
 */
export function parseAcceptEncoding(header: string | null): CodingPreferences {
  if (header === null) return NO_CODINGS;
  let br = -1;
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
    else if (coding === "gzip" || coding === "x-gzip") gzip = Math.max(gzip, q);
    else if (coding === "identity") identity = Math.max(identity, q);
    else if (coding === "*") star = Math.max(star, q);
  }
  return {
    br: br >= 0 ? br : star >= 0 ? star : 0,
    gzip: gzip >= 0 ? gzip : star >= 0 ? star : 0,
    identity: identity >= 0 ? identity : star >= 0 ? star : 0,
  };
}

/**
 * Picks the coding to send among those available: the acceptable one (q > 0) with the highest q,
 * br before gzip on a tie, and a coding before identity on a tie (smaller is better when the
 * client likes both equally). Returns null for identity. When identity is excluded and nothing
 * else is available, identity is still sent (RFC 9110 §12.5.3 allows it; a 406 helps nobody).
 *
 * @example
 * ```ts
 * import { chooseCoding, parseAcceptEncoding } from "./accept_encoding.ts";
 * chooseCoding(parseAcceptEncoding("gzip, br"), { br: true, gzip: true }); // "br"
 * chooseCoding(parseAcceptEncoding("br;q=0, gzip"), { br: true, gzip: false }); // null
 * ```
 */
export function chooseCoding(
  preferences: CodingPreferences,
  available: { br: boolean; gzip: boolean },
): ContentCoding | null {
  let best: ContentCoding | null = null;
  let bestQ = 0;
  if (available.br && preferences.br > bestQ) {
    best = "br";
    bestQ = preferences.br;
  }
  if (available.gzip && preferences.gzip > bestQ) {
    best = "gzip";
    bestQ = preferences.gzip;
  }
  if (best !== null && bestQ < preferences.identity) return null;
  return best;
}
