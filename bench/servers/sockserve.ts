/**
 * sockserve under benchmark: `serve()` from server/mod.ts with a "Hello, World!" handler (over
 * TLS with `--cert=FILE --key=FILE`), `createFileServer()` with its defaults, or a WebSocket echo
 * with `upgradeWebSocket()`. Usage:
 * `deno run --allow-net --allow-read sockserve.ts hello [--cert=FILE --key=FILE]|websocket|static
 * <dir> [--cache-max-total-bytes=N]` (the option sets the file cache's budget; S7 makes it too small
 * to keep a compressed file). Prints `LISTENING <port>` once bound to 127.0.0.1 on a port chosen
 * by the OS.
 *
 * @module
 */

import { type Handler, serve, upgradeWebSocket } from "../../server/mod.ts";
import { createFileServer } from "../../server/static/file_server.ts";
import { parseServerArgs, WEBSOCKET_PATH } from "./server_args.ts";

/** Echoes every message of a WebSocket at WEBSOCKET_PATH; says hello to anything else. */
const webSocketEcho: Handler = (request) => {
  if (new URL(request.url).pathname !== WEBSOCKET_PATH) return new Response("Hello, World!");
  const { socket, response } = upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
};

const CACHE_OPTION = "--cache-max-total-bytes=";
const cacheOption = Deno.args.find((arg) => arg.startsWith(CACHE_OPTION));
const cacheMaxTotalBytes = cacheOption === undefined
  ? undefined
  : Number(cacheOption.slice(CACHE_OPTION.length));
const args = parseServerArgs(Deno.args.filter((arg) => arg !== cacheOption));
const handler: Handler = args.mode === "hello"
  ? () => new Response("Hello, World!")
  : args.mode === "websocket"
  ? webSocketEcho
  : createFileServer({
    root: args.root,
    ...(cacheMaxTotalBytes === undefined ? {} : { cacheMaxTotalBytes }),
  });
const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  ...(args.mode === "hello" && args.tls !== undefined ? args.tls : {}),
  // deno-lint-ignore no-console
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, handler);
Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().finally(() => Deno.exit(0));
});
