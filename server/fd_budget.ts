/**
 * How many connections the process can hold without running out of file descriptors.
 *
 * A process out of descriptors fails every accept and every file open, and Deno 2.9 has been
 * seen to abort soon after (the connection-flood test). So when the process's soft
 * `RLIMIT_NOFILE` can be read, the default connection limit leaves room for the runtime's own
 * descriptors and for one open file per connection (a static file being sent). Deno lets only
 * `--allow-all` processes read `/proc/self/limits`; otherwise (never prompting) the default
 * stays {@linkcode DEFAULT_MAX_CONNECTIONS}, and `--max-connections` should be set below half of
 * `ulimit -n` where that is low.
 *
 * @module
 */

import { DEFAULT_MAX_CONNECTIONS } from "./limits.ts";

/** Descriptors kept for the runtime itself (stdio, the event loop, signals, the listener). */
export const RUNTIME_FD_RESERVE = 64;

/** Descriptors a connection may hold: its socket and one file it is sending. */
export const FDS_PER_CONNECTION = 2;

/** The soft limit on open files of this process, or null when it cannot be read. */
export function softFdLimit(): number | null {
  const path = "/proc/self/limits";
  try {
    if (Deno.build.os !== "linux") return null;
    // Deno allows /proc/self only to --allow-all processes (and says so by throwing).
    if (Deno.permissions.querySync({ name: "read" }).state !== "granted") return null;
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(Deno.readTextFileSync(path));
    if (match === null) return null;
    return match[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return null;
  }
}

/**
 * The default `maxConnections` for `isolates` servers sharing this process's descriptors:
 * {@linkcode DEFAULT_MAX_CONNECTIONS}, or less when the descriptor limit is lower.
 *
 * @example
 * ```ts
 * import { defaultMaxConnections } from "./fd_budget.ts";
 * console.log(defaultMaxConnections(1) >= 1); // true
 * ```
 */
export function defaultMaxConnections(isolates = 1, softLimit = softFdLimit()): number {
  if (softLimit === null) return DEFAULT_MAX_CONNECTIONS;
  const limit = softLimit;
  const budget = Math.floor((limit - RUNTIME_FD_RESERVE) / FDS_PER_CONNECTION / isolates);
  return Math.max(1, Math.min(DEFAULT_MAX_CONNECTIONS, budget));
}
