/**
 * sockserve under benchmark: `serve()` from server/mod.ts with a "Hello, World!" handler, or
 * `createFileServer()` with its defaults. Usage:
 * `deno run --allow-net --allow-read sockserve.ts hello|static <dir>`.
 * Prints `LISTENING <port>` once bound to 127.0.0.1 on a port chosen by the OS.
 *
 * @module
 */

import { type Handler, serve } from "../../server/mod.ts";
import { createFileServer } from "../../server/static/file_server.ts";
import { parseServerArgs } from "./server_args.ts";

const args = parseServerArgs(Deno.args);
const handler: Handler = args.mode === "hello"
  ? () => new Response("Hello, World!")
  : createFileServer({ root: args.root });
const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  // deno-lint-ignore no-console
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, handler);
Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().finally(() => Deno.exit(0));
});
