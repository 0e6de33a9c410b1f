/**
 * A sockserve server in its own process for the attack and soak tests, so that its file
 * descriptors and memory can be measured from outside (/proc/<pid>) and a crash is visible as
 * the process exiting. Options come as JSON in the first argument; it prints `PORT <n>` once
 * listening. Routes:
 *
 * - `/hello`: a short text body.
 * - `/bytes?n=N`: a stream of N bytes produced on demand (pull), for slow readers.
 * - `/upload`: reads the request body to its end and answers with its byte count.
 * - `/throw`, `/reject`, `/not-a-response`, `/hang`: handler faults.
 * - `/echo-target`: answers with the request-target, for telling requests apart.
 *
 * Killed by the test that started it.
 *
 * @module
 */

import { serve } from "../../server/mod.ts";
import type { ServeOptions } from "../../server/mod.ts";

const STREAM_PIECE_BYTES = 64 * 1024;

const options: ServeOptions = JSON.parse(Deno.args[0] ?? "{}");
let faults = 0;

serve({
  hostname: "127.0.0.1",
  port: 0,
  ...options,
  onListen({ port }) {
    // deno-lint-ignore no-console
    console.log(`PORT ${port}`);
  },
  onError() {
    faults++;
    return new Response(`500 Internal Server Error (fault ${faults})\n`, { status: 500 });
  },
}, async (request) => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/hello":
      return new Response("hello\n");
    case "/bytes": {
      let remaining = Number(url.searchParams.get("n") ?? "0");
      const piece = new Uint8Array(STREAM_PIECE_BYTES).fill(0x61);
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (remaining <= 0) return controller.close();
            const size = Math.min(remaining, piece.length);
            remaining -= size;
            controller.enqueue(piece.slice(0, size));
          },
        }, { highWaterMark: 0 }),
      );
    }
    case "/blob":
      // In memory, written with the head (no backpressure of its own).
      return new Response(new Uint8Array(Number(url.searchParams.get("n") ?? "0")));
    case "/upload": {
      let total = 0;
      if (request.body !== null) {
        for await (const chunk of request.body) total += chunk.length;
      }
      return new Response(`${total}`);
    }
    case "/throw":
      throw new Error("handler threw");
    case "/reject":
      return await Promise.reject(new Error("handler rejected"));
    case "/not-a-response":
      return "not a response" as unknown as Response;
    case "/hang":
      return await new Promise<Response>(() => {});
    case "/echo-target":
      return new Response(`${url.pathname}${url.search}`);
    default:
      return new Response("not found\n", { status: 404 });
  }
});
