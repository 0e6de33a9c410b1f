/**
 * The body of a file answer: parts of an already open file, streamed in bounded memory.
 *
 * The stream is pull-based: a chunk is read only when the consumer (the socket writer) has taken
 * the previous one (the default high-water mark of one chunk reads one ahead, so disk and socket
 * overlap), so a slow client holds at most two chunks in memory however large the file. The file
 * is closed exactly once: at the end, on cancel (client gone), on error, or once the stream is
 * collected if it was dropped unread.
 *
 * The bytes come from the descriptor whose `fstat` gave the headers. A file replaced by rename
 * meanwhile does not matter (the descriptor still reads the old one); a file changed in place is
 * noticed: one that ends early errors the stream, and before the last bytes are handed over the
 * descriptor's size and mtime are compared with the headers' (`unchanged`), so that a response is
 * never completed with bytes of two versions. An errored stream makes the server close
 * the connection: a client then sees a response shorter than its Content-Length, never a complete
 * wrong one.
 *
 * @module
 */

import type { StaticFile } from "./file_system.ts";
import type { BodyPart } from "./ranges.ts";

export type { BodyPart } from "./ranges.ts";

/**
 * Bytes read from disk per chunk of a streamed file (and the size of the chunks a default reader
 * gets). Deno's own `FsFile.readable` uses 64 KiB too; nginx sends with `sendfile` in chunks of
 * up to 2 MiB. Measured on loopback, 256 KiB chunks were no faster and each one is garbage that
 * V8 collects late, which raised the peak RSS of a 1 GiB download.
 */
export const DEFAULT_STREAM_CHUNK_BYTES = 64 * 1024;

/** How a stream checks that its file held still, and what it raises when it did not. */
export interface ChangeCheck {
  /** Whether the open file still has the size and mtime the headers were made from. */
  unchanged(): boolean;
  /** The error to raise, given the bytes of the body handed over so far and the total. */
  error(sent: number, total: number): Error;
}

/**
 * A copy of a whole file kept while a stream of it goes (how the file cache admits a large file,
 * `kept_content.ts`): every byte the stream hands over is also written into `bytes` at its offset.
 */
export interface StreamCopy {
  /** Room for the whole file, filled as the stream goes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /**
   * Called once every byte was handed over, the file found unchanged before the last ones (see
   * {@linkcode ChangeCheck}): `bytes` then holds the version the response's headers describe.
   */
  complete(): void;
  /** Called when the stream ends otherwise: cancelled (the client left) or failed. */
  abandon(): void;
}

/** What a stream holds until it is closed: its file, and the copy it keeps, if any. */
interface StreamHoldings {
  readonly file: StaticFile;
  readonly copy: StreamCopy | null;
}

/**
 * Releases what a stream dropped without being read to its end or cancelled (a handler that
 * discards a Response) still holds, once the stream is collected: its file is closed (a
 * descriptor, or a loan of kept bytes whose count would otherwise never come back down, so that
 * evicted content would stay counted in the cache's budget for good) and its copy abandoned (its
 * reservation in the budget given back). Nothing here may refer to the stream itself.
 */
const droppedStreams = new FinalizationRegistry<StreamHoldings>(({ file, copy }) => {
  copy?.abandon(); // a no-op once the copy was settled
  try {
    file.close();
  } catch {
    // Closed already: nothing left to release.
  }
});

/** A check for streams whose file is never compared (the error is a plain one). */
const NO_CHECK: ChangeCheck = Object.freeze({
  unchanged: () => true,
  error: (sent: number, total: number) =>
    new Error(`file changed while it was being sent (${sent} of ${total} bytes)`),
});

/**
 * A stream of the given parts of an already open file, which the stream owns from now on.
 *
 * @param check See {@linkcode ChangeCheck}; by default only a file that ends early is noticed.
 * @param copy Where to keep a copy of the bytes; only for a stream of one part, the whole file
 *   (`{ start: 0, length: copy.bytes.length }`), else a TypeError is thrown (`copy` abandoned).
 *
 * @example
 * ```ts
 * import { fileStream } from "./file_stream.ts";
 * const file = await Deno.open(import.meta.filename!);
 * const body = fileStream(file, [{ start: 0, length: 10 }]);
 * await new Response(body).text();
 * ```
 */
export function fileStream(
  file: StaticFile,
  parts: BodyPart[],
  chunkBytes: number = DEFAULT_STREAM_CHUNK_BYTES,
  check: ChangeCheck = NO_CHECK,
  copy: StreamCopy | null = null,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  if (copy !== null) {
    const only = parts.length === 1 ? parts[0]! : null;
    if (
      only === null || only instanceof Uint8Array || only.start !== 0 ||
      only.length !== copy.bytes.length
    ) {
      copy.abandon();
      throw new TypeError("a copy is kept only of a stream of a whole file");
    }
  }
  /** Settles the copy once: complete when its last bytes are handed over, else abandoned. */
  const settleCopy = (complete: boolean) => {
    if (copy === null) return;
    const settled = copy;
    copy = null;
    if (complete) settled.complete();
    else settled.abandon();
  };
  const holdings: StreamHoldings = { file, copy };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    droppedStreams.unregister(holdings);
    settleCopy(false);
    try {
      file.close();
    } catch {
      // Already closed by the runtime (e.g. at shutdown): nothing left to release.
    }
  };
  let total = 0;
  let lastFilePart = -1;
  parts.forEach((part, index) => {
    if (part instanceof Uint8Array) total += part.length;
    else {
      total += part.length;
      lastFilePart = index;
    }
  });
  let sent = 0;
  let partIndex = 0;
  let literalOffset = 0; // bytes of the current literal part already sent
  let remaining = -1; // bytes left in the current file range; -1 = not started
  let position = 0; // where the file position is now, to skip needless seeks
  const stream: ReadableStream<Uint8Array<ArrayBuffer>> = new ReadableStream({
    // A byte stream: a consumer with a BYOB reader lends one buffer that is filled again and
    // again (no allocation per chunk at all); a default reader gets fresh chunks of
    // `chunkBytes` allocated by the stream.
    type: "bytes",
    autoAllocateChunkSize: chunkBytes,
    async pull(controller) {
      try {
        while (partIndex < parts.length) {
          const part = parts[partIndex]!;
          const view = controller.byobRequest?.view ?? null;
          const target = view === null
            ? null
            : new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength);
          if (part instanceof Uint8Array) {
            let count: number;
            if (target === null) {
              count = part.length - literalOffset;
              controller.enqueue(part.slice(literalOffset));
            } else {
              count = Math.min(target.length, part.length - literalOffset);
              target.set(part.subarray(literalOffset, literalOffset + count));
              controller.byobRequest!.respond(count);
            }
            literalOffset += count;
            sent += count;
            if (literalOffset === part.length) {
              partIndex++;
              literalOffset = 0;
            }
            return;
          }
          if (remaining === -1) {
            remaining = part.length;
            if (position !== part.start) {
              await file.seek(part.start, Deno.SeekMode.Start);
              position = part.start;
            }
          }
          if (remaining === 0) {
            partIndex++;
            remaining = -1;
            continue;
          }
          const buffer = target === null
            ? new Uint8Array(Math.min(chunkBytes, remaining))
            : target.subarray(0, Math.min(target.length, remaining));
          let filled = 0;
          while (filled < buffer.length) {
            const read = await file.read(filled === 0 ? buffer : buffer.subarray(filled));
            if (read === null || read === 0) break;
            filled += read;
          }
          if (filled < buffer.length) throw check.error(sent, total);
          // The last bytes of the file are handed over only if it held still meanwhile.
          if (partIndex === lastFilePart && filled === remaining && !check.unchanged()) {
            throw check.error(sent, total);
          }
          copy?.bytes.set(buffer, position); // before enqueue, which takes the buffer away
          remaining -= filled;
          position += filled;
          sent += filled;
          // Complete as the last bytes go: a consumer that stops at the length cancels the stream
          // instead of reading its end.
          if (sent === total) settleCopy(true);
          if (target === null) controller.enqueue(buffer);
          else controller.byobRequest!.respond(filled);
          return;
        }
        close();
        controller.close();
        // A pending BYOB read is answered with "done" only once its request is released.
        controller.byobRequest?.respond(0);
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel() {
      close();
    },
  });
  droppedStreams.register(stream, holdings, holdings);
  return stream;
}

/**
 * Reads a whole file of known size into memory (for the small-file cache). Resolves to null when
 * the file's length no longer matches `size` (it changed between stat and read).
 */
export async function readExactly(
  file: StaticFile,
  size: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const read = await file.read(bytes.subarray(filled));
    if (read === null || read === 0) return null;
    filled += read;
  }
  // One more read must hit the end, or the file grew.
  const probe = new Uint8Array(1);
  if ((await file.read(probe)) !== null) return null;
  return bytes;
}
