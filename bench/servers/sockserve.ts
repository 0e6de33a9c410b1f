/**
 * sockserve under benchmark: `serve()` from server/mod.ts with a "Hello, World!" handler (over
 * TLS with `--cert=FILE --key=FILE`), `createFileServer()` with its defaults, or a WebSocket echo
 * with `upgradeWebSocket()`. Usage:
 * `deno run --allow-net --allow-read sockserve.ts hello [--cert=FILE --key=FILE]|websocket|static
 * <dir> [--cache-max-total-bytes=N] [--idle-timeout-ms=N]` (the first option sets the file cache's
 * budget; S7 makes it too small to keep a compressed file; the second `idleTimeoutMs`, which M1
 * and M2 raise so that idle connections are kept while they measure). Prints `LISTENING <port>`
 * once bound to 127.0.0.1 on a port chosen by the OS.
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

/** The value of `--NAME=N`, or undefined when not given, and the arguments without it. */
function numberOption(argv: string[], prefix: string): [number | undefined, string[]] {
  const option = argv.find((arg) => arg.startsWith(prefix));
  if (option === undefined) return [undefined, argv];
  return [Number(option.slice(prefix.length)), argv.filter((arg) => arg !== option)];
}

const [cacheMaxTotalBytes, withoutCache] = numberOption(Deno.args, "--cache-max-total-bytes=");
const [idleTimeoutMs, rest] = numberOption(withoutCache, "--idle-timeout-ms=");
const args = parseServerArgs(rest);
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
  ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
  ...(args.mode === "hello" && args.tls !== undefined ? args.tls : {}),
  // deno-lint-ignore no-console
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, handler);
Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().finally(() => Deno.exit(0));
});
