/**
 * Opening what a request path names, once: the file is opened, its metadata taken from the open
 * descriptor, and the descriptor proven to be the file linked at a real path inside the root
 * (`containment.ts`). Everything the answer says and sends then comes from that descriptor: no
 * name is looked up again between the check and the bytes (Go's `serveFile` does the same).
 *
 * @module
 */

import { holdPath, type Retry, RETRY_NOW, retryFor, untilProven } from "./containment.ts";
import { identityOf, sameIdentity } from "./file_cache.ts";
import type { StaticFile, StaticFileSystem } from "./file_system.ts";
import type { ServedRoot } from "./served_root.ts";

/** What a path under the root names, opened and proven inside the root. */
export type Opened =
  /** A regular file, open; the receiver owns `file` and must close it. */
  | {
    kind: "file";
    file: StaticFile;
    /** Metadata of the open file (`fstat`). */
    info: Deno.FileInfo;
    /**
     * Its number of names (`nlink`) as the `lstat` that proved it linked at the path saw it, or
     * -1 when not reported. Read at the path, not from the descriptor: a file renamed away between
     * the open and its `fstat` has one name fewer there.
     */
    names: number;
    /** Its real path relative to the root's real path. */
    relative: string;
  }
  /** A directory (relative to the root's real path, "" for the root). */
  | { kind: "directory"; relative: string }
  /** It kept changing under every attempt (the answer is 503). */
  | { kind: "busy" }
  | LookupFailure;

/** Why a path cannot be served. */
export type LookupFailure =
  /** Nothing there that may be served: missing, outside the root, hidden, not a regular file. */
  | { kind: "missing" }
  /** The operating system refused access (EACCES/EPERM). */
  | { kind: "forbidden" }
  /** An unexpected I/O error (the answer is 500). */
  | { kind: "failed"; error: unknown };

const MISSING: LookupFailure = Object.freeze({ kind: "missing" });
const FORBIDDEN: LookupFailure = Object.freeze({ kind: "forbidden" });

/** Error codes that mean "there is nothing to serve at this path". */
const NOTHING_THERE = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG"]);

/**
 * Maps a file-system failure to what the client may learn: never the error text. "Nothing there"
 * and "not allowed" are the client's answers (404, 403); anything else is the server's failure
 * (500), to be reported. (`NotCapable` from an open file is judged by {@linkcode openInRoot}.)
 */
export function lookupFailure(error: unknown): LookupFailure {
  if (error instanceof Deno.errors.PermissionDenied) return FORBIDDEN;
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return MISSING;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && NOTHING_THERE.has(code)) return MISSING;
  return { kind: "failed", error };
}

/** Options of {@linkcode openInRoot}. */
export interface OpenOptions {
  /** Whether a real path with a segment starting with "." may be served. */
  allowDotfiles: boolean;
  /** Clock in ms. */
  now?: () => number;
}

function hasDotSegment(relative: string): boolean {
  return relative.startsWith(".") || relative.includes("/.");
}

function parentOf(relative: string): string {
  const slash = relative.lastIndexOf("/");
  return slash === -1 ? "" : relative.slice(0, slash);
}

/**
 * Opens what `requestPath` (a path under the configured root, symlinks unresolved) names:
 *
 * 1. its real path, which must lie below the root's real path (and, unless dotfiles are allowed,
 *    have no segment starting with "." either: a symlink does not unhide a dotfile);
 * 2. what is linked there (`lstat`), proven inside the root (`holdPath`): a directory, a file, or
 *    something not served;
 * 3. a file is opened by that path (through the configured root), and its metadata read from the
 *    descriptor must be those of the file proven in step 2 — device, inode, size, mtime, ctime:
 *    the same file, unchanged — or else those of the file proven linked there right after the
 *    open (a file replaced by rename between the two steps).
 *
 * A file replaced twice or a directory swapped meanwhile makes it start again, at once; after
 * `MAX_ATTEMPTS` attempts (`containment.ts`) it answers "busy". It never waits on a timer.
 *
 * An open file whose metadata Deno refuses (`NotCapable`: Deno checks an open file's `fstat`
 * against its real path, which `--allow-read` does not cover) was reached outside what the
 * process may read: through a directory swapped with a symlink during the open, since the real
 * path was found inside the root. That is "missing" (404), like any path that leads outside.
 * Only when the root itself now leads where `--allow-read` does not reach (a deploy switched
 * `current` to a directory not granted) is it a configuration problem: "failed" with a
 * {@linkcode RootNotReadableError} (500, and one line saying which `--allow-read` is needed).
 *
 * @example
 * ```ts
 * import { denoFileSystem } from "./file_system.ts";
 * import { openInRoot } from "./open_file.ts";
 * import { ServedRoot } from "./served_root.ts";
 * const root = new ServedRoot(Deno.cwd(), denoFileSystem);
 * const opened = await openInRoot(denoFileSystem, root, root.pathOf("deno.json"), {
 *   allowDotfiles: false,
 * });
 * if (opened.kind === "file") opened.file.close();
 * ```
 */
export function openInRoot(
  fs: StaticFileSystem,
  root: ServedRoot,
  requestPath: string,
  options: OpenOptions,
): Promise<Opened> {
  const now = options.now ?? Date.now;
  return untilProven<Opened>(
    () => attempt(fs, root, requestPath, options.allowDotfiles, now),
  ).then((outcome) => outcome === "busy" ? { kind: "busy" } : outcome);
}

async function attempt(
  fs: StaticFileSystem,
  root: ServedRoot,
  requestPath: string,
  allowDotfiles: boolean,
  now: () => number,
): Promise<Opened | Retry> {
  let relative: string | null;
  try {
    relative = root.relative(fs.realPath(requestPath));
  } catch (error) {
    return lookupFailure(error);
  }
  if (relative === null || (!allowDotfiles && hasDotSegment(relative))) return MISSING;
  if (relative === "") return { kind: "directory", relative };
  const path = root.pathOf(relative);
  const parent = parentOf(relative);
  const linked = () => {
    try {
      return fs.lstat(path);
    } catch (error) {
      return lookupFailure(error);
    }
  };
  // What is linked at the real path, proven inside the root.
  const before = await holdPath(fs, root, parent, linked, now);
  const retry = retryFor(before.verdict);
  if (retry !== null) return retry;
  const found = before.value;
  if ("kind" in found) return found;
  if (found.isSymlink) return RETRY_NOW; // changed since realPath resolved it
  if (found.isDirectory) return { kind: "directory", relative };
  // Sockets, FIFOs and devices are not files: opening a FIFO would block until a writer comes.
  if (!found.isFile) return MISSING;
  let file: StaticFile;
  let info: Deno.FileInfo;
  try {
    file = await fs.open(path);
  } catch (error) {
    return lookupFailure(error);
  }
  try {
    info = file.statSync();
  } catch (error) {
    file.close();
    if (error instanceof Deno.errors.NotCapable) return outsidePermissions(root);
    return lookupFailure(error);
  }
  // The descriptor is the version proven before the open (same inode, size, mtime, ctime: its
  // bytes have not changed since), or else the one proven right after it.
  if (sameIdentity(identityOf(found), info)) {
    return { kind: "file", file, info, relative, names: found.nlink ?? -1 };
  }
  const after = await holdPath(fs, root, parent, linked, now);
  const linkedAfter = after.value;
  if (
    after.verdict.kind === "proven" && !("kind" in linkedAfter) &&
    sameIdentity(identityOf(linkedAfter), info)
  ) {
    return { kind: "file", file, info, relative, names: linkedAfter.nlink ?? -1 };
  }
  file.close();
  return retryFor(after.verdict) ?? RETRY_NOW;
}

/**
 * The root leads where `--allow-read` does not reach: every file under it is refused, which only
 * the operator can fix. `message` is one line naming the permission needed; no stack trace.
 *
 * @example
 * ```ts
 * import { RootNotReadableError } from "./open_file.ts";
 * const error = new RootNotReadableError("/srv/current", "/srv/releases/43");
 * // error.message: "ROOT /srv/current now leads to /srv/releases/43, which --allow-read does
 * // not cover: run deno with --allow-read=/srv/current,/srv/releases/43 (or a directory above
 * // both)"
 * ```
 */
export class RootNotReadableError extends Error {
  /**
   * @param root The configured root.
   * @param real Where it leads now.
   */
  constructor(root: string, real: string) {
    super(
      `ROOT ${root} now leads to ${real}, which --allow-read does not cover: run deno with ` +
        `--allow-read=${root},${real} (or a directory above both)`,
    );
    this.name = "RootNotReadableError";
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** What a `NotCapable` open means: see {@linkcode openInRoot}. */
function outsidePermissions(root: ServedRoot): LookupFailure {
  const real = root.real();
  if (real === null) return MISSING;
  const state = Deno.permissions.querySync({ name: "read", path: real }).state;
  return state === "granted"
    ? MISSING
    : { kind: "failed", error: new RootNotReadableError(root.path, real) };
}
