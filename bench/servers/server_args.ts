/**
 * Command-line contract shared by the benchmark servers written for Deno: `hello` answers every
 * request with "Hello, World!", `static <dir>` serves the files of a directory, `websocket`
 * echoes every message of a WebSocket opened at {@linkcode WEBSOCKET_PATH} (and says
 * "Hello, World!" to other requests, for the readiness check).
 *
 * @module
 */

import { join, normalize } from "node:path";

/** What a benchmark server was asked to serve. */
export type ServerArgs = { mode: "hello" } | { mode: "websocket" } | {
  mode: "static";
  root: string;
};

/** Where the `websocket` servers upgrade. */
export const WEBSOCKET_PATH = "/ws";

/**
 * Parses `hello`, `websocket` or `static <dir>`; exits with a usage message otherwise.
 *
 * @example
 * ```ts
 * const args = parseServerArgs(["static", "/tmp/files"]);
 * ```
 */
export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const [mode, root] = argv;
  if ((mode === "hello" || mode === "websocket") && argv.length === 1) return { mode };
  if (mode === "static" && root !== undefined && argv.length === 2) return { mode, root };
  // deno-lint-ignore no-console
  console.error("usage: <server> hello | websocket | static <dir>");
  Deno.exit(2);
}

/**
 * Maps a URL path to a file under root, or null for paths that would escape it. The benchmark
 * servers only ever see paths the harness sends, but they should not be file-disclosure toys.
 *
 * @example
 * ```ts
 * resolveStaticPath("/srv", "/a.html"); // "/srv/a.html"
 * ```
 */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const relative = normalize(decoded).replace(/^\/+/, "");
  if (relative === "" || relative.startsWith("..")) return null;
  return join(root, relative);
}
