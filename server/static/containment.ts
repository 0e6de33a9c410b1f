/**
 * Proving that what a path reached lies inside the root, while any directory below the root may
 * be replaced by a symbolic link to elsewhere at any moment.
 *
 * Deno has neither `openat` nor `O_NOFOLLOW`, so every lookup is by path and resolves the path's
 * directories again. A check by name before or after the open proves nothing on its own: a
 * directory swapped with a symlink to an outside directory and back between two system calls (a
 * `renameat2(RENAME_EXCHANGE)` loop does it every few microseconds) lets the open reach the
 * outside file while the checks see the inside one. Measured here: open, then `realPath` and an
 * `lstat` of the real path compared with the open file's (device, inode), still let one request
 * in twelve read the outside file under such a loop.
 *
 * The proof rests on two facts:
 * - `lstat(path)` does not follow the last component: if it returns the open file's (device,
 *   inode), the file was linked at that name, in the directory that path's directories led to,
 *   at that instant.
 * - A directory entry cannot change without changing the ctime of the directory that holds it
 *   (and, when a directory is moved, of that directory too): `rename`, `RENAME_EXCHANGE`,
 *   `unlink`, `rmdir`, `symlink` all stamp it, on Linux, macOS and the BSDs. Unlike mtime, ctime
 *   cannot be set back by the owner.
 *
 * A directory only trusted users may change (owned by root or by this process's user, writable by
 * nobody else: {@linkcode DirectoryState.sealed}) needs no ctime: whoever could swap its entries
 * could read any file this process reads anyway. The freshly deployed tree of a site owned by
 * root, or by the user the server runs as, is proven at once.
 *
 * So the directories from the root R down to the file's parent Dk are lstat'ed before and after
 * the lookup being proven (`lstat` of the file, or a directory listing). Each link — the entry
 * naming D(i) in D(i-1) — needs one end whose identity and ctime did not move across that window
 * and whose ctime was already in a finished second when the window opened: Deno reports ctime in
 * whole seconds, so a change within the second of the previous one would not show, while any
 * change after that second carries a later one. Then no entry on the path changed during the
 * lookup, and the path was all real directories inside the root.
 *
 * When both ends of a link changed within the current second, nothing can be proven before that
 * second is over. The lookup is tried again at once, up to {@linkcode MAX_ATTEMPTS} times (the
 * second may end meanwhile, and a directory swapped by rename shows at once); then the answer is
 * "busy" (503 with `Retry-After: 1`, by when the second is over). A request never waits on a
 * timer: an earlier version waited for the second to end, up to three times, and under nested
 * directories that changed every 50 ms a request took 2.8 s to end in 503 all the same. On a file
 * system that reports no ctime (Windows; the read-only site embedded in an executable) identities
 * alone are compared.
 *
 * What remains: a hard link inside the tree to a file elsewhere is that file (it is served); a
 * clock stepped backwards can hide a change from the ctime comparison.
 *
 * @module
 */

import type { StaticFileSystem } from "./file_system.ts";
import type { ServedRoot } from "./served_root.ts";

/**
 * How long after a ctime's second is over that ctime counts as past. The kernel stamps times from
 * a coarse clock that may lag the wall clock by one tick (1 to 10 ms).
 */
export const CTIME_MARGIN_MS = 50;

/**
 * Attempts before giving up on a path that keeps changing (the answer is then 503). Each costs a
 * few system calls, and none waits. A file replaced by rename thousands of times a second still
 * gets an answer from nearly every request (measured here: 5 requests in 1,600 answered 503 while
 * the file was replaced 5,000 to 100,000 times a second; with 4 attempts, 11 in 800). On a busier
 * machine (2026-11-30, the race test's swapper renaming as fast as it could while the server read
 * 300 KB answers), 1 to 43 of 128 requests answered 503 in a run.
 */
export const MAX_ATTEMPTS = 8;

/** What a directory of the path looked like (from `lstat`; the root from `stat`). */
export interface DirectoryState {
  dev: number;
  ino: number;
  /** ctime in ms since the epoch (whole seconds in Deno), or null when not reported. */
  ctime: number | null;
  isDirectory: boolean;
  /**
   * Whether only trusted users can change its entries: it is owned by root or by the user this
   * process runs as (when Deno may tell: `--allow-sys=uid`), and neither its group nor others may
   * write to it (an ACL granting write to anyone else shows in the group bits, as its mask).
   * Changing an entry takes write permission on the directory that holds it, so nobody else can
   * swap what such a directory holds, and those who can could read any file this process reads
   * anyway. Absent: false.
   */
  sealed?: boolean;
}

/** Owners whose directories are trusted: root, and this process's user when Deno may say. */
function trustedOwners(): readonly number[] {
  try {
    const uid = Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted"
      ? Deno.uid()
      : null;
    return uid === null || uid === 0 ? [0] : [0, uid];
  } catch {
    return [0];
  }
}

const TRUSTED_OWNERS = trustedOwners();

/** The state of a directory as `stat`/`lstat` report it. */
export function directoryState(info: Deno.FileInfo): DirectoryState {
  return {
    dev: info.dev,
    ino: info.ino ?? -1,
    ctime: info.ctime === null ? null : info.ctime.getTime(),
    isDirectory: info.isDirectory,
    sealed: info.uid !== null && info.mode !== null && (info.mode & 0o022) === 0 &&
      TRUSTED_OWNERS.includes(info.uid),
  };
}

/** What the snapshots around a lookup prove. */
export type Verdict =
  /** No entry on the path changed during the lookup. */
  | { kind: "proven" }
  /** A directory was replaced or moved meanwhile: look again now. */
  | { kind: "changed" }
  /** Too recent to prove anything: look again from `until` (ms since the epoch). */
  | { kind: "wait"; until: number };

const PROVEN: Verdict = Object.freeze({ kind: "proven" });
const CHANGED: Verdict = Object.freeze({ kind: "changed" });

function sameState(a: DirectoryState, b: DirectoryState | null): boolean {
  return b !== null && b.isDirectory && a.dev === b.dev && a.ino === b.ino && a.ctime === b.ctime;
}

/**
 * Judges the snapshots of the directories R, D1 … Dk taken before and after a lookup (pure).
 *
 * @param before States before the lookup, root first.
 * @param after States after it (null: could not be read), in the same order.
 * @param openedAt When the first snapshot started (ms since the epoch).
 *
 * @example
 * ```ts
 * import { judgeSnapshots } from "./containment.ts";
 * const old = { dev: 1, ino: 2, ctime: 0, isDirectory: true };
 * const sub = { dev: 1, ino: 3, ctime: 0, isDirectory: true };
 * judgeSnapshots([old, sub], [old, sub], Date.now()); // { kind: "proven" }
 * ```
 */
export function judgeSnapshots(
  before: readonly DirectoryState[],
  after: readonly (DirectoryState | null)[],
  openedAt: number,
): Verdict {
  let until = -Infinity;
  for (const state of before) if (!state.isDirectory) return CHANGED;
  const stable = (i: number) => sameState(before[i]!, after[i] ?? null);
  // A ctime whose second was over (with a margin) when the window opened.
  const past = (i: number) => {
    const ctime = before[i]!.ctime;
    return ctime === null || Math.floor(ctime / 1000) * 1000 + 1000 + CTIME_MARGIN_MS <= openedAt;
  };
  // A sealed parent whose entry still names the same directory: nobody untrusted changed it.
  const held = (i: number) => {
    const a = before[i]!;
    const b = after[i] ?? null;
    return b !== null && b.isDirectory && a.dev === b.dev && a.ino === b.ino;
  };
  for (let i = 1; i < before.length; i++) {
    if (before[i - 1]!.sealed === true && held(i - 1) && held(i)) continue;
    const upper = past(i - 1);
    const lower = past(i);
    if ((upper && stable(i - 1)) || (lower && stable(i))) continue;
    if (upper || lower) return CHANGED; // an end that could prove it moved
    const earliest = Math.min(before[i - 1]!.ctime!, before[i]!.ctime!);
    until = Math.max(until, Math.floor(earliest / 1000) * 1000 + 1000 + CTIME_MARGIN_MS);
  }
  return until === -Infinity ? PROVEN : { kind: "wait", until };
}

/** The outcome of {@linkcode holdPath}: the lookup's value, valid only when proven. */
export interface Held<T> {
  verdict: Verdict;
  value: T;
}

/**
 * Runs `lookup` between two snapshots of the directories from the root down to `directory` (a
 * path relative to the root, "" for the root itself) and judges them. When `directory` is the
 * root there is no link to prove: the root is trusted (its own path is the administrator's).
 *
 * @param now Clock in ms.
 */
export async function holdPath<T>(
  fs: StaticFileSystem,
  root: ServedRoot,
  directory: string,
  lookup: () => T | Promise<T>,
  now: () => number = Date.now,
): Promise<Held<T>> {
  if (directory === "") return { verdict: PROVEN, value: await lookup() };
  const paths = [root.path];
  let prefix = "";
  for (const name of directory.split("/")) {
    prefix = prefix === "" ? name : `${prefix}/${name}`;
    paths.push(root.pathOf(prefix));
  }
  const openedAt = now();
  const before: DirectoryState[] = [];
  try {
    before.push(directoryState(fs.stat(paths[0]!)));
    for (let i = 1; i < paths.length; i++) before.push(directoryState(fs.lstat(paths[i]!)));
  } catch {
    return { verdict: CHANGED, value: await lookup() };
  }
  const value = await lookup();
  const after = paths.map((path, i) => {
    try {
      return directoryState(i === 0 ? fs.stat(path) : fs.lstat(path));
    } catch {
      return null;
    }
  });
  return { verdict: judgeSnapshots(before, after, openedAt), value };
}

/** What one attempt of {@linkcode untilProven} yields besides a result. */
export type Retry = { retry: "now" } | { retry: "at"; until: number };

/** Look again at once. */
export const RETRY_NOW: Retry = Object.freeze({ retry: "now" });

/**
 * Runs `attempt` until it yields a result, at most {@linkcode MAX_ATTEMPTS} times, then resolves
 * to "busy". Never waits: a retry "at" a later time (a change too recent to judge) is tried again
 * at once like any other, since a request must not hold its connection on a timer.
 */
export async function untilProven<T>(attempt: () => Promise<T | Retry>): Promise<T | "busy"> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const outcome = await attempt();
    if (!isRetry(outcome)) return outcome;
  }
  return "busy";
}

function isRetry(value: unknown): value is Retry {
  return typeof value === "object" && value !== null && "retry" in value;
}

/** The verdict as a retry, or null when proven. */
export function retryFor(verdict: Verdict): Retry | null {
  if (verdict.kind === "proven") return null;
  return verdict.kind === "changed" ? RETRY_NOW : { retry: "at", until: verdict.until };
}
