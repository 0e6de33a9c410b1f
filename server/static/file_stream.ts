/**
 * Streaming a file (or parts of it) from disk in bounded memory.
 *
 * The stream is pull-based: a chunk is read only when the consumer (the socket writer) has taken
 * the previous one (the default high-water mark of one chunk reads one ahead, so disk and socket
 * overlap), so a slow client holds at most two chunks in memory however large the file. The file
 * is closed exactly once: at the end, on cancel (client gone) or on error.
 *
 * @module
 */

import type { StaticFile } from "./file_system.ts";

/**
 * Bytes read from disk per chunk of a streamed file (and the size of the chunks a default reader
 * gets). Deno's own `FsFile.readable` uses 64 KiB too; nginx sends with `sendfile` in chunks of
 * up to 2 MiB. Measured on loopback, 256 KiB chunks were no faster and each one is garbage that
 * V8 collects late, which raised the peak RSS of a 1 GiB download.
 */
export const DEFAULT_STREAM_CHUNK_BYTES = 64 * 1024;

/** One piece of a streamed body: literal bytes (multipart headers) or a byte range of the file. */
export type BodyPart = Uint8Array<ArrayBuffer> | { start: number; length: number };

/** Raised inside the stream when the file ended before the announced length (it shrank). */
export class FileChangedError extends Error {
  constructor() {
    super("file changed while it was being sent");
    this.name = "FileChangedError";
  }
}

/**
 * A stream of the given parts of an already open file. The file is owned by the stream from now
 * on. A file that shrinks while being sent errors the stream (the server then closes the
 * connection, since fewer bytes than `Content-Length` can only be signalled that way); one that
 * grows is sent up to the announced length.
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
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      file.close();
    } catch {
      // Already closed by the runtime (e.g. at shutdown): nothing left to release.
    }
  };
  let partIndex = 0;
  let literalOffset = 0; // bytes of the current literal part already sent
  let remaining = -1; // bytes left in the current file range; -1 = not started
  let position = 0; // where the file position is now, to skip needless seeks
  return new ReadableStream({
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
            if (target === null) {
              controller.enqueue(part.slice(literalOffset));
              literalOffset = part.length;
            } else {
              const count = Math.min(target.length, part.length - literalOffset);
              target.set(part.subarray(literalOffset, literalOffset + count));
              literalOffset += count;
              controller.byobRequest!.respond(count);
            }
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
          if (filled < buffer.length) throw new FileChangedError();
          remaining -= filled;
          position += filled;
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
