/**
 * sockserve under benchmark: `serve()` from server/mod.ts with a "Hello, World!" handler, or the
 * static file server. Usage: `deno run --allow-net --allow-read sockserve.ts hello|static <dir>`.
 * Prints `LISTENING <port>` once bound to 127.0.0.1 on a port chosen by the OS.
 *
 * @module
 */

import { serve } from "../../server/mod.ts";
import type { Handler } from "../../server/mod.ts";
import { parseServerArgs } from "./server_args.ts";

async function staticHandler(root: string): Promise<Handler> {
  // Loaded only in static mode, so the hello scenarios run even while the file server is missing.
  const specifier = "../../server/static/file_server.ts";
  const module = await import(specifier);
  return module.createFileServer({ root }) as Handler;
}

const args = parseServerArgs(Deno.args);
const handler: Handler = args.mode === "hello"
  ? () => new Response("Hello, World!")
  : await staticHandler(args.root);
const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  // deno-lint-ignore no-console
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, handler);
Deno.addSignalListener("SIGTERM", () => {
  server.shutdown().finally(() => Deno.exit(0));
});
