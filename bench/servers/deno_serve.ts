/**
 * The reference server: `Deno.serve` (hyper, in Rust) with the smallest handler that does the
 * job, and `Deno.upgradeWebSocket` for the WebSocket echo. Usage:
 * `deno run --allow-net --allow-read deno_serve.ts hello [--cert=FILE --key=FILE]|websocket|static
 * [dir]` (with a certificate, hello over TLS). Prints
 * `LISTENING <port>` once bound to 127.0.0.1 on a port chosen by the OS.
 *
 * The static handler is the "async file read" baseline of issue 5: stat, then read small files
 * whole and stream large ones; scripts are gzipped on the fly (`CompressionStream`) for clients
 * that accept it, as S6 and S7 ask. The standard library's file server (`jsr:@std/http/file-server`)
 * would be the other natural baseline, but JSR is unreachable from this machine.
 *
 * @module
 */

import { parseServerArgs, resolveStaticPath, WEBSOCKET_PATH } from "./server_args.ts";

/** Files up to this size are read whole; larger ones are streamed from the file handle. */
const READ_WHOLE_MAX_BYTES = 64 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

async function serveFile(root: string, request: Request): Promise<Response> {
  const path = resolveStaticPath(root, new URL(request.url).pathname);
  if (path === null) return new Response("Not Found", { status: 404 });
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return new Response("Not Found", { status: 404 });
  }
  if (!info.isFile) return new Response("Not Found", { status: 404 });
  const extension = path.slice(path.lastIndexOf("."));
  const contentType = CONTENT_TYPES[extension] ?? "application/octet-stream";
  if (extension === ".js" && (request.headers.get("accept-encoding") ?? "").includes("gzip")) {
    const file = await Deno.open(path);
    return new Response(file.readable.pipeThrough(new CompressionStream("gzip")), {
      headers: { "content-type": contentType, "content-encoding": "gzip", vary: "Accept-Encoding" },
    });
  }
  const headers = { "content-type": contentType, "content-length": String(info.size) };
  if (info.size <= READ_WHOLE_MAX_BYTES) {
    return new Response(await Deno.readFile(path), { headers });
  }
  const file = await Deno.open(path);
  return new Response(file.readable, { headers });
}

/** Echoes every message of a WebSocket at WEBSOCKET_PATH; says hello to anything else. */
function webSocketEcho(request: Request): Response {
  if (new URL(request.url).pathname !== WEBSOCKET_PATH) return new Response("Hello, World!");
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

const args = parseServerArgs(Deno.args);
const root = args.mode === "static" ? args.root : "";
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
Deno.serve(
  {
    hostname: "127.0.0.1",
    port: 0,
    ...(args.mode === "hello" && args.tls !== undefined ? args.tls : {}),
    // deno-lint-ignore no-console
    onListen: ({ port }) => console.log(`LISTENING ${port}`),
  },
  args.mode === "hello"
    ? () => new Response("Hello, World!")
    : args.mode === "websocket"
    ? webSocketEcho
    : (request) => serveFile(root, request),
);
