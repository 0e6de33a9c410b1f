/**
 * The file-system operations the file server uses, as an interface so that tests (and embedders)
 * can substitute them: to reproduce files embedded in a `deno compile` binary (whose `mtime` is
 * null), to count opens, or to change the tree between two steps of a request.
 *
 * @module
 */

/**
 * An open file: the subset of `Deno.FsFile` the server needs (a `Deno.FsFile` is one). Its
 * metadata comes from the descriptor (`fstat`), so it describes the file that was opened whatever
 * its name leads to by now.
 */
export interface StaticFile {
  /** Reads into `buffer`; resolves to the bytes read, or null at end of file. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Moves the position; see `Deno.FsFile.seek`. */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Metadata of the open file (`fstat`); throws like `Deno.FsFile.statSync`. */
  statSync(): Deno.FileInfo;
  /** Releases the file descriptor. */
  close(): void;
}

/**
 * The file-system calls of the file server (all paths absolute).
 *
 * Metadata calls are synchronous, as in nginx (which calls `stat`/`open` blocking in its event
 * loop): on a local file system they take about a microsecond from the kernel's caches, while
 * Deno's async variants cost a thread-pool round trip (measured here: `Deno.stat` 17 µs,
 * `Deno.statSync` 1.9 µs; `Deno.realPath` 5.7 µs, `Deno.realPathSync` 0.9 µs). Opening is
 * asynchronous: a name that became a FIFO between the `stat` and the `open` would block the
 * opening thread until a writer comes, which must not be the event loop. Reads, which can wait
 * for the disk, are asynchronous too.
 */
export interface StaticFileSystem {
  /** Resolves symlinks, `.` and `..`; throws like `Deno.realPathSync`. */
  realPath(path: string): string;
  /** Metadata, following symlinks; throws like `Deno.statSync`. */
  stat(path: string): Deno.FileInfo;
  /** Metadata of the last component itself (a symlink is not followed); like `Deno.lstatSync`. */
  lstat(path: string): Deno.FileInfo;
  /** Opens a file for reading; rejects like `Deno.open`. */
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
 * const info = denoFileSystem.stat(Deno.cwd());
 * ```
 */
export const denoFileSystem: StaticFileSystem = Object.freeze({
  realPath: (path: string) => Deno.realPathSync(path),
  stat: (path: string) => Deno.statSync(path),
  lstat: (path: string) => Deno.lstatSync(path),
  open: (path: string) => Deno.open(path, { read: true }),
  readDir: (path: string) => Deno.readDir(path),
});
