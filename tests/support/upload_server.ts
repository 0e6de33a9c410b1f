/**
 * A sockserve server in its own process, for measuring the memory the server needs to stream a
 * large upload. It prints `PORT <n>` once listening; every request body is read to its end and
 * counted, and the answer is the byte count. Killed by the test that started it.
 *
 * @module
 */

import { serve } from "../../server/mod.ts";

const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen({ port }) {
    // deno-lint-ignore no-console
    console.log(`PORT ${port}`);
  },
}, async (request) => {
  let total = 0;
  if (request.body !== null) {
    for await (const chunk of request.body) total += chunk.length;
  }
  return new Response(`${total}`);
});
await server.finished;
