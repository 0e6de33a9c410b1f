/**
 * Generated requests through a real server: pipelined batches of valid requests (bodies by
 * length and chunked, with extensions and trailers, random field order and whitespace), written
 * in random splits, must reach the handler exactly as built and be answered in order. DELETE
 * handlers ignore their body, so the server's discard path runs too.
 *
 * FUZZ_SEED replays a failure; the counterexample is printed by fast-check.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";
import { cutsArb, requestArb } from "./support/generators.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
const RUNS = 300;

/** Requests that keep the connection open, so that a whole batch is answered on it. */
const keptAliveRequestArb = requestArb.filter(({ expected }) =>
  expected.minorVersion === 1 && expected.keepAlive &&
  (["POST", "PUT", "PATCH", "OPTIONS"].includes(expected.method) ||
    // An ignored body is discarded only when it has a length (a chunked one closes).
    (expected.method === "DELETE" && expected.framing !== "chunked") ||
    (["GET", "HEAD"].includes(expected.method) && expected.framing === "none"))
);

Deno.test("generated pipelined requests in random splits reach the handler exactly as built", async () => {
  await using test = startServer(async (request) => {
    let body = "";
    if (request.method !== "DELETE") {
      for (const byte of new Uint8Array(await request.arrayBuffer())) {
        body += String.fromCharCode(byte);
      }
    }
    const url = new URL(request.url);
    return new Response(JSON.stringify({
      method: request.method,
      target: url.pathname + url.search,
      headers: [...request.headers],
      body,
    }));
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(keptAliveRequestArb, { minLength: 1, maxLength: 5 }).chain((requests) =>
        fc.tuple(fc.constant(requests), cutsArb(requests.map((r) => r.wire).join("").length))
      ),
      async ([requests, cuts]) => {
        const wire = requests.map((r) => r.wire).join("");
        const client = await RawClient.connect(test.port, requests.map((r) => r.expected.method));
        try {
          const bounds = [0, ...cuts, wire.length];
          for (let i = 0; i + 1 < bounds.length; i++) {
            await client.write(wire.slice(bounds[i], bounds[i + 1]));
          }
          const responses = await client.readResponses(requests.length);
          responses.forEach((response, i) => {
            const expected = requests[i]!.expected;
            assert.equal(response.status, 200, client.receivedText.slice(0, 300));
            if (expected.method === "HEAD") return;
            const seen = JSON.parse(new TextDecoder().decode(response.body));
            // The handler sees the URL the server builds from Host and the target.
            const host = expected.fields.find(([name]) => name === "host")![1];
            const url = new URL(`http://${host}${expected.target}`);
            assert.equal(seen.method, expected.method);
            assert.equal(seen.target, url.pathname + url.search);
            assert.equal(seen.body, expected.method === "DELETE" ? "" : expected.body);
            assert.deepEqual(seen.headers, [...new Headers(expected.fields)]);
          });
        } finally {
          await client.dispose();
        }
      },
    ),
    { numRuns: RUNS, seed: SEED },
  );
});
