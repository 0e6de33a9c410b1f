/**
 * sockserve: an HTTP/1.1 server over raw TCP with a `Deno.serve`-shaped API, and a static file
 * server that is an ordinary handler.
 *
 * - {@linkcode serve} binds a TCP port and calls a `(Request, info) => Response` handler for each
 *   request, like `Deno.serve` (and like its requests, the handler's has immutable headers: see
 *   {@linkcode Handler}); every limit and timeout is one of its options.
 * - {@linkcode createFileServer} returns the handler the `sockserve` command runs: files of a
 *   directory with ranges, conditional requests, compression and directory listings.
 * - {@linkcode createAccessLogger} formats the records `serve()` passes to `onRequestEnd`.
 *
 * Needs `--allow-net` (and `--allow-read` for the files served). Documentation:
 * docs/embedding.md and docs/file_server.md in the repository.
 *
 * @example Serve a directory, with one route of your own
 * ```ts
 * import { createFileServer, serve } from "@sockserve/sockserve";
 *
 * const files = createFileServer({ root: "." });
 * const server = serve({ port: 0, hostname: "127.0.0.1" }, (request) =>
 *   new URL(request.url).pathname === "/hello"
 *     ? new Response("Hello, World!\n")
 *     : files(request));
 * console.log(`listening on http://127.0.0.1:${server.addr.port}/`);
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { serve } from "./listener.ts";
export { HandlerTimeoutError } from "./connection/dispatch.ts";
export { TlsHandshakeError } from "./tls/tls_socket.ts";
export type {
  Handler,
  RequestRecord,
  ServeAddr,
  ServeCommonOptions,
  ServeHandlerInfo,
  ServeOptions,
  Server,
  ServeTcpOptions,
  ServeUnixOptions,
} from "./types.ts";
export * from "./limits.ts";
export { createFileServer, type FileServerOptions } from "./static/file_server.ts";
export type { StaticFile, StaticFileSystem } from "./static/file_system.ts";
export { FileChangedError, StaticFileError } from "./static/file_errors.ts";
export { type HeadersLike, markAcceptsRequestLike, type RequestLike } from "./request_like.ts";
export { type AccessLogFormat, createAccessLogger } from "./access_log.ts";
export {
  upgradeWebSocket,
  type UpgradeWebSocketOptions,
  WebSocketHandshakeError,
  type WebSocketUpgrade,
} from "./websocket/upgrade.ts";
