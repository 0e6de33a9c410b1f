/**
 * A site of files in a temporary directory and a file server over it, with a file system that
 * counts what the server asks of it: for the file cache's tests, whose evidence is what clients
 * receive and what the file system was asked, never timing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createFileServer, type FileServerOptions } from "../../server/mod.ts";
import { denoFileSystem, type StaticFileSystem } from "../../server/static/file_system.ts";
import { exchange, type ParsedResponse } from "./http_client.ts";
import { startServer, type TestServer } from "./test_server.ts";

export const YEAR_AGO = new Date(Date.now() - 365 * 24 * 3600 * 1000);

/** Writes `content` at `path` with an mtime a year ago (old enough to be cached). */
export async function writeOld(path: string, content: string | Uint8Array): Promise<void> {
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  await Deno.utime(path, YEAR_AGO, YEAR_AGO);
}

/** Replaces `path` by rename, as deploys do (a new inode), with an old mtime. */
export async function replace(path: string, content: string): Promise<void> {
  await writeOld(path + ".new", content);
  await Deno.rename(path + ".new", path);
}

/** A file system that counts stats and bytes read per path, and can hold reads back. */
export function countingFileSystem() {
  const stats = new Map<string, number>();
  const opens = new Map<string, number>();
  const bytesRead = new Map<string, number>();
  const closes = new Map<string, number>();
  const readCalls = new Map<string, number>();
  const count = (map: Map<string, number>, path: string, n = 1) =>
    map.set(path, (map.get(path) ?? 0) + n);
  /** Reads wait for this before they start (set by a test; null: they do not wait). */
  let gate: Promise<void> | null = null;
  const openWatchers: { path: string; count: number; resolve: () => void }[] = [];
  const closeWatchers: { path: string; count: number; resolve: () => void }[] = [];
  const readWatchers: { path: string; count: number; resolve: () => void }[] = [];
  const notify = (
    watchers: { path: string; count: number; resolve: () => void }[],
    map: Map<string, number>,
    path: string,
  ) => {
    for (const watcher of watchers) {
      if (watcher.path === path && map.get(path)! >= watcher.count) watcher.resolve();
    }
  };
  const watch = (
    watchers: { path: string; count: number; resolve: () => void }[],
    map: Map<string, number>,
    path: string,
    count: number,
  ) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    if ((map.get(path) ?? 0) >= count) resolve();
    else watchers.push({ path, count, resolve });
    return promise;
  };
  const fileSystem: StaticFileSystem = {
    ...denoFileSystem,
    stat: (path) => {
      count(stats, path);
      return Deno.statSync(path);
    },
    open: async (path) => {
      const file = await Deno.open(path);
      count(opens, path);
      notify(openWatchers, opens, path);
      return {
        read: async (buffer: Uint8Array) => {
          count(readCalls, path);
          notify(readWatchers, readCalls, path);
          if (gate !== null) await gate;
          const read = await file.read(buffer);
          count(bytesRead, path, read ?? 0);
          return read;
        },
        seek: (offset: number, whence: Deno.SeekMode) => file.seek(offset, whence),
        statSync: () => file.statSync(),
        close: () => {
          file.close();
          count(closes, path);
          notify(closeWatchers, closes, path);
        },
      };
    },
  };
  return {
    fileSystem,
    stats,
    opens,
    bytesRead,
    closes,
    /** Resolves once `path` has been opened `count` times in all. */
    whenOpened(path: string, count: number): Promise<void> {
      return watch(openWatchers, opens, path, count);
    },
    /**
     * Resolves once reads of `path` have been asked for `count` times in all (before they wait
     * for {@linkcode hold}): the file was opened and its version made by then.
     */
    whenReading(path: string, count: number): Promise<void> {
      return watch(readWatchers, readCalls, path, count);
    },
    /** Resolves once descriptors of `path` have been closed `count` times in all. */
    whenClosed(path: string, count: number): Promise<void> {
      return watch(closeWatchers, closes, path, count);
    },
    /** Holds every read back until `until` resolves. */
    hold(until: Promise<void>) {
      gate = until.then(() => {
        gate = null;
      });
    },
  };
}

/** One request on its own connection; `Connection: close` ends it. */
export async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<ParsedResponse> {
  let raw = `GET ${path} HTTP/1.1\r\nHost: localhost\r\n`;
  for (const [name, value] of Object.entries(headers)) raw += `${name}: ${value}\r\n`;
  const { responses } = await exchange(port, raw + "Connection: close\r\n\r\n");
  assert.equal(responses.length, 1);
  return responses[0]!;
}

export async function withSite(
  files: Record<string, string | Uint8Array>,
  test: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "sockserve_cache_e2e_" });
  try {
    for (const [name, content] of Object.entries(files)) await writeOld(join(root, name), content);
    await test(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

export function serveFiles(
  root: string,
  fileSystem: StaticFileSystem,
  options: Partial<FileServerOptions> = {},
): TestServer {
  // cacheMinAgeMs 0: the files were just written (their ctime is now), cache them all the same.
  return startServer(createFileServer({ root, fileSystem, cacheMinAgeMs: 0, ...options }));
}
