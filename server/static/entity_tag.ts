/**
 * The strong ETag of a file version (RFC 9110 §8.8.3): made of the fields that identify the
 * version on disk, which the file cache compares on each hit, or of a hash of its content for files
 * whose modification time is unknown (embedded in a `deno compile` executable).
 *
 * @module
 */

import type { FileIdentity } from "./file_cache.ts";
import type { StaticFile } from "./file_system.ts";

/**
 * Most content hashes remembered for files without mtime (an embedded site has a fixed, usually
 * small set of files; the bound only matters if something else reports null mtimes). About 150
 * bytes each.
 */
const MAX_CONTENT_HASHES = 10_000;

const HASH_CHUNK_BYTES = 1024 * 1024;

/**
 * The strong ETag of a file version: every field of its identity (`file_cache.ts`), which the
 * cache also compares on each hit, so that the ETag and the cache tell versions apart alike; or
 * size and a content hash for files without mtime (embedded in an executable). Base 36, no hash
 * to compute: a few hundred nanoseconds per version.
 */
export function identityEtag(identity: FileIdentity, contentHash: string | null): string {
  const size = identity.size.toString(36);
  if (contentHash !== null) return `"${size}-h${contentHash}"`;
  const part = (value: number) => Math.max(0, value).toString(36);
  return `"${size}-${part(identity.mtime)}-${part(identity.ino)}-${part(identity.dev)}-` +
    `${part(identity.ctime)}-${part(identity.birthtime)}"`;
}

/** Hash of content read in chunks: SHA-256 over the SHA-256 of each 1 MiB chunk. */
async function contentHash(
  chunks: AsyncIterable<Uint8Array<ArrayBuffer>> | Iterable<Uint8Array<ArrayBuffer>>,
): Promise<string> {
  const digests: Uint8Array[] = [];
  for await (const chunk of chunks) {
    digests.push(new Uint8Array(await crypto.subtle.digest("SHA-256", chunk)));
  }
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((digest, i) => all.set(digest, i * 32));
  const final = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  let hex = "";
  for (let i = 0; i < 12; i++) hex += final[i]!.toString(16).padStart(2, "0");
  return hex;
}

function* bytesInChunks(bytes: Uint8Array<ArrayBuffer>): Iterable<Uint8Array<ArrayBuffer>> {
  for (let offset = 0; offset < bytes.length || offset === 0; offset += HASH_CHUNK_BYTES) {
    yield bytes.subarray(offset, offset + HASH_CHUNK_BYTES);
    if (bytes.length === 0) break;
  }
}

/** Raised when a file ended before the size its descriptor reported. */
export class ShrankWhileRead extends Error {}

async function* fileInChunks(
  file: StaticFile,
  size: number,
): AsyncIterable<Uint8Array<ArrayBuffer>> {
  let offset = 0;
  if (size === 0) yield new Uint8Array(0);
  while (offset < size) {
    const buffer = new Uint8Array(Math.min(HASH_CHUNK_BYTES, size - offset));
    let filled = 0;
    while (filled < buffer.length) {
      const read = await file.read(buffer.subarray(filled));
      if (read === null || read === 0) throw new ShrankWhileRead();
      filled += read;
    }
    offset += filled;
    yield buffer;
  }
}

/**
 * Content hashes of files without mtime, remembered by path, size and inode: such files (embedded
 * in an executable) never change.
 */
export class ContentHashes {
  readonly #hashes = new Map<string, string>();

  /**
   * The content hash of a file whose identity is `identity`, from its bytes in memory or read
   * through its descriptor, which is then rewound for the body. Throws {@linkcode ShrankWhileRead}
   * when the file ends before its size.
   */
  async of(
    requestPath: string,
    identity: FileIdentity,
    content: Uint8Array<ArrayBuffer> | StaticFile,
  ): Promise<string> {
    const key = `${requestPath}\0${identity.size}\0${identity.ino}`;
    let hash = this.#hashes.get(key);
    if (hash === undefined) {
      if (content instanceof Uint8Array) hash = await contentHash(bytesInChunks(content));
      else {
        hash = await contentHash(fileInChunks(content, identity.size));
        await content.seek(0, Deno.SeekMode.Start);
      }
      if (this.#hashes.size >= MAX_CONTENT_HASHES) this.#hashes.clear();
      this.#hashes.set(key, hash);
    }
    return hash;
  }
}
