/**
 * The served directory: the path it was configured with, through which every file is reached, and
 * its real path, against which containment is decided.
 *
 * Files are reached through the configured path (a deployment's `current -> releases/42` symlink
 * unresolved), so that a swap of that symlink is followed at once, and so that Deno's
 * `--allow-read=ROOT` (which checks the path as written) covers every access. Containment is
 * decided on real paths: a file's real path must lie below the root's. The root's real path is
 * resolved at most once per {@linkcode ROOT_RECHECK_MS}, and again at once when a path seems to lie
 * outside it (the root may just have been swapped).
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import type { StaticFileSystem } from "./file_system.ts";

/** How long the root's resolved real path is reused (a system call saved per request). */
export const ROOT_RECHECK_MS = 1000;

/** The root of a file server. */
export class ServedRoot {
  /** The configured root, absolute, without a trailing "/" (empty for "/" itself). */
  readonly base: string;
  readonly #fs: StaticFileSystem;
  readonly #now: () => number;
  #real: string | null = null;
  #checkedAt = -Infinity;

  /**
   * @param root The directory to serve, absolute or relative to the working directory.
   * @param now Clock in ms (tests may pass their own).
   */
  constructor(root: string, fs: StaticFileSystem, now: () => number = Date.now) {
    const absolute = isAbsolute(root) ? root : resolve(root);
    this.base = absolute.endsWith("/") ? absolute.slice(0, -1) : absolute;
    this.#fs = fs;
    this.#now = now;
  }

  /** The configured root itself ("/" for the file-system root). */
  get path(): string {
    return this.base === "" ? "/" : this.base;
  }

  /** The root's real path, or null while it does not exist (then everything is 404). */
  real(): string | null {
    const now = this.#now();
    if (this.#real !== null && now - this.#checkedAt < ROOT_RECHECK_MS) return this.#real;
    try {
      this.#real = this.#fs.realPath(this.path);
      this.#checkedAt = now;
    } catch {
      this.#real = null;
    }
    return this.#real;
  }

  /**
   * The part of `realPath` below the root's real path ("" for the root itself, else "a/b"), or
   * null when it lies outside. A path outside makes the root's real path be resolved again first,
   * so that a root swapped a moment ago is judged by its new target: the old release is never
   * served once the swap is seen.
   */
  relative(realPath: string): string | null {
    const real = this.real();
    if (real !== null) {
      const inside = below(realPath, real);
      if (inside !== null) return inside;
    }
    this.#checkedAt = -Infinity;
    const fresh = this.real();
    return fresh === null || fresh === real ? null : below(realPath, fresh);
  }

  /** The path through the configured root of a path relative to it ("" is the root). */
  pathOf(relative: string): string {
    return relative === "" ? this.path : `${this.base}/${relative}`;
  }
}

/** `path` relative to the directory `dir` ("" when equal), or null when it is not below it. */
function below(path: string, dir: string): string | null {
  if (path === dir) return "";
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  return path.startsWith(prefix) ? path.slice(prefix.length) : null;
}
