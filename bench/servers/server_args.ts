/**
 * Command-line contract shared by the benchmark servers written for Deno: `hello` answers every
 * request with "Hello, World!", `static <dir>` serves the files of a directory, `websocket`
 * echoes every message of a WebSocket opened at {@linkcode WEBSOCKET_PATH} (and says
 * "Hello, World!" to other requests, for the readiness check). `hello --cert=FILE --key=FILE`
 * says hello over TLS (T1), with the PEM certificate and key read from the files.
 *
 * @module
 */

import { join, normalize } from "node:path";

/** What a benchmark server was asked to serve. */
export type ServerArgs = { mode: "hello"; tls?: TlsPem } | { mode: "websocket" } | {
  mode: "static";
  root: string;
};

/** A certificate and its key in PEM, as `Deno.serve` and sockserve's `serve()` take them. */
export interface TlsPem {
  /** The certificate (chain), PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
}

const CERT_OPTION = "--cert=";
const KEY_OPTION = "--key=";

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
  const [certFile, keyFile] = [CERT_OPTION, KEY_OPTION].map((option) =>
    argv.find((arg) => arg.startsWith(option))?.slice(option.length)
  );
  if (mode === "hello" && argv.length === 3 && certFile && keyFile) {
    return {
      mode,
      tls: { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) },
    };
  }
  // deno-lint-ignore no-console
  console.error(
    "usage: <server> hello [--cert=FILE --key=FILE] | websocket | static <dir>",
  );
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
