/**
 * The Deno permission flags that error messages advise, where Deno's own rules are not obvious.
 *
 * @module
 */

import { resolve } from "node:path";

/**
 * The flags Deno (2.9) needs to listen on or connect to the Unix socket at `path`: read and write
 * access to the path, and net access to `unix:` and the path, which Deno takes only absolute
 * (`--allow-net=unix:relative.sock` is refused at start). A relative `path` is resolved against the
 * working directory.
 *
 * @example
 * ```ts
 * import { unixSocketPermissionFlags } from "./permissions.ts";
 * console.log(unixSocketPermissionFlags("/run/sockserve/site.sock"));
 * // --allow-read=/run/sockserve/site.sock --allow-write=/run/sockserve/site.sock --allow-net=unix:/run/sockserve/site.sock
 * ```
 */
export function unixSocketPermissionFlags(path: string): string {
  return `--allow-read=${path} --allow-write=${path} --allow-net=unix:${resolve(path)}`;
}
