/**
 * The listener: accept loop, connection limit and graceful shutdown.
 *
 * @module
 */

import type { Handler, ServeOptions, Server } from "./types.ts";

/**
 * Starts an HTTP/1.1 server. Same shapes as `Deno.serve`: `serve(handler)`,
 * `serve(options, handler)` or `serve({ ...options, handler })`.
 */
export function serve(
  optionsOrHandler: ServeOptions | Handler,
  maybeHandler?: Handler,
): Server {
  void optionsOrHandler;
  void maybeHandler;
  throw new Error("not implemented yet");
}
