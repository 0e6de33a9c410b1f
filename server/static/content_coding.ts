/**
 * Content coding (RFC 9110 §8.4): which representation of a file to send for the request's
 * `Accept-Encoding` — a precompressed sidecar (`file.br`, `file.gz`), gzip made on the fly, or
 * the file as it is — and the ETag of each.
 *
 * @module
 */

import type { RequestLike } from "../request_like.ts";
import {
  chooseCoding,
  type CodingPreferences,
  type ContentCoding,
  parseAcceptEncoding,
} from "./accept_encoding.ts";
import { type OpenVersion, release } from "./file_version.ts";

/**
 * Files compressed on the fly must be larger than this. Up to about 1 KiB the gzip framing and
 * the CPU cost more than the bytes saved, and a small response fits one TCP segment anyway
 * (nginx `gzip_min_length` is 20 bytes; CDNs skip bodies under ~1 KiB; issue 3 asks for 1 KiB).
 */
export const DEFAULT_GZIP_MIN_BYTES = 1024;

/** The representation chosen for a request. */
export interface Selected {
  /** The file whose bytes are sent (the file itself, or its sidecar). */
  source: OpenVersion;
  /** The content coding, or null for the file as it is. */
  coding: ContentCoding | null;
  /** gzip made on the fly from `source`. */
  onTheFly: boolean;
  /** The ETag of this representation. */
  etag: string;
  /** Whether the answer depends on Accept-Encoding (`Vary`). */
  vary: boolean;
}

/** A tag derived from another, so that each content coding has its own ETag. */
export function variantEtag(etag: string, suffix: string, weak: boolean): string {
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return `${weak ? "W/" : ""}${opaque.slice(0, -1)}-${suffix}"`;
}

/** gzip of `bytes`. */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).bytes();
}

/**
 * Opens the file at `path` (a path under the root) as the server opens any file, or resolves to
 * null when there is none to serve.
 */
export type FindFile = (path: string) => Promise<OpenVersion | null>;

/**
 * Chooses the representation of `original` to send. Ranges are served from the file as it is
 * only (never compressed), and types that do not compress are never encoded. A sidecar not
 * chosen is closed; `original` stays the caller's. Synchronous when no coding is wanted (the
 * common case: no file is looked for).
 *
 * @param findFile Opens a sidecar (`file.br`, `file.gz`).
 * @param gzipMinBytes Files up to this size are not compressed on the fly.
 */
export function selectRepresentation(
  request: RequestLike,
  original: OpenVersion,
  findFile: FindFile,
  gzipMinBytes: number,
): Selected | Promise<Selected> {
  const file = original.version;
  const identity: Selected = {
    source: original,
    coding: null,
    onTheFly: false,
    etag: file.etag,
    vary: file.compressible,
  };
  if (!file.compressible || request.headers.has("range")) return identity;
  const preferences = parseAcceptEncoding(request.headers.get("accept-encoding"));
  if (preferences.br <= 0 && preferences.gzip <= 0) return identity;
  return selectCoding(original, preferences, identity, findFile, gzipMinBytes);
}

async function selectCoding(
  original: OpenVersion,
  preferences: CodingPreferences,
  identity: Selected,
  findFile: FindFile,
  gzipMinBytes: number,
): Promise<Selected> {
  const file = original.version;
  const br = preferences.br > 0 ? await findFile(file.requestPath + ".br") : null;
  // A br sidecar the client likes at least as much as gzip wins without looking for .gz.
  const gz = preferences.gzip > 0 && (br === null || preferences.gzip > preferences.br)
    ? await findFile(file.requestPath + ".gz")
    : null;
  const onTheFly = gz === null && file.size > gzipMinBytes;
  const coding = chooseCoding(preferences, { br: br !== null, gzip: gz !== null || onTheFly });
  if (coding === "br" && br !== null) {
    release(gz);
    return {
      source: br,
      coding,
      onTheFly: false,
      etag: variantEtag(br.version.etag, "br", false),
      vary: true,
    };
  }
  release(br);
  if (coding === "gzip" && gz !== null) {
    return {
      source: gz,
      coding,
      onTheFly: false,
      etag: variantEtag(gz.version.etag, "gz", false),
      vary: true,
    };
  }
  release(gz);
  if (coding === "gzip") {
    // Weak: another gzip implementation or level would give other bytes for the same file.
    return {
      source: original,
      coding,
      onTheFly: true,
      etag: variantEtag(file.etag, "gzip", true),
      vary: true,
    };
  }
  return identity;
}
