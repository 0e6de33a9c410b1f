/**
 * The file-system operations the file server uses, as an interface so that tests (and embedders)
 * can substitute them — for instance to reproduce files embedded in a `deno compile` binary,
 * whose `mtime` is null.
 *
 * @module
 */

/** An open file: the subset of `Deno.FsFile` the server needs. */
export interface StaticFile {
  /** Reads into `buffer`; resolves to the bytes read, or null at end of file. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Moves the position; see `Deno.FsFile.seek`. */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Releases the file descriptor. */
  close(): void;
}

/** The file-system calls of the file server (all paths absolute). */
export interface StaticFileSystem {
  /** Resolves symlinks, `.` and `..`; rejects like `Deno.realPath`. */
  realPath(path: string): Promise<string>;
  /** Metadata, following symlinks; rejects like `Deno.stat`. */
  stat(path: string): Promise<Deno.FileInfo>;
  /** Opens a file for reading. */
  open(path: string): Promise<StaticFile>;
  /** Lists a directory. */
  readDir(path: string): AsyncIterable<Deno.DirEntry>;
}

/**
 * The real file system through `Deno.*`.
 *
 * @example
 * ```ts
 * import { denoFileSystem } from "./file_system.ts";
 * const info = await denoFileSystem.stat(Deno.cwd());
 * ```
 */
export const denoFileSystem: StaticFileSystem = Object.freeze({
  realPath: (path: string) => Deno.realPath(path),
  stat: (path: string) => Deno.stat(path),
  open: (path: string) => Deno.open(path, { read: true }),
  readDir: (path: string) => Deno.readDir(path),
});
