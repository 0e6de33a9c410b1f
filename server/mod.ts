/**
 * sockserve: an HTTP/1.1 server over raw TCP with a `Deno.serve`-shaped API.
 *
 * @example
 * ```ts
 * import { serve } from "./server/mod.ts";
 * const server = serve({ port: 0 }, () => new Response("Hello, World!"));
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { serve } from "./listener.ts";
export type {
  Handler,
  ListenAddr,
  RequestRecord,
  ServeHandlerInfo,
  ServeOptions,
  Server,
} from "./types.ts";
export * from "./limits.ts";
export { createFileServer, type FileServerOptions } from "./static/file_server.ts";
export { type HeadersLike, markAcceptsRequestLike, type RequestLike } from "./request_like.ts";
export { type AccessLogFormat, createAccessLogger } from "./access_log.ts";
