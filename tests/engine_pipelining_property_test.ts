/**
 * Issue 14: the pipelining property, extended to the bodies the engine got wrong. A generated
 * batch of requests on one connection mixes requests without a body, bodies the handler reads,
 * bodies it ignores, bodies that are still incomplete when the earlier requests must be
 * answered, 100-continue bodies, and a GET whose chunked body is malformed. The client writes
 * what a real client would have in hand at each point, and asserts that:
 *
 * - responses come in request order, each one as soon as it can be given (before the client
 *   sends a later request's body, and before a 100 Continue for a later request);
 * - a request's body reaches the handler whole;
 * - a malformed chunked body gets exactly one 400, then the close: no response after it.
 *
 * FUZZ_SEED replays a failure; the counterexample is printed by fast-check.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { bodyText, RawClient } from "./support/http_client.ts";
import { startServerBounded } from "./support/engine_support.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
const RUNS = 120;
/** Upper bound on each response the client waits for (they are ready within milliseconds). */
const READY_MS = 2_000;

type Kind =
  | "get"
  | "read"
  | "ignore"
  | "read_late"
  | "ignore_late"
  | "continue"
  | "malformed";

interface Generated {
  kind: Kind;
  chunked: boolean;
  body: string;
  /** For `malformed`: which broken chunked body. */
  malformed: number;
}

const MALFORMED_BODIES = [
  "zz\r\nhello\r\n0\r\n\r\n",
  "10000000000000000000\r\nhello\r\n0\r\n\r\n",
  "0x5\r\nhello\r\n0\r\n\r\n",
  "-5\r\nhello\r\n0\r\n\r\n",
  "+5\r\nhello\r\n0\r\n\r\n",
  "5\r\nhelloXX\r\n0\r\n\r\n",
  "5\r\nhel\r\n0\r\n\r\n",
  "5;a=b\rc\r\nhello\r\n0\r\n\r\n",
];

const requestArb: fc.Arbitrary<Generated> = fc.record({
  kind: fc.constantFrom<Kind>(
    "get",
    "read",
    "ignore",
    "read_late",
    "ignore_late",
    "continue",
    "malformed",
  ),
  chunked: fc.boolean(),
  body: fc.string({
    unit: fc.constantFrom(..."abcdefghij0123456789"),
    minLength: 2,
    maxLength: 24,
  }),
  malformed: fc.nat(MALFORMED_BODIES.length - 1),
});

/** The body framed by length or chunked (two chunks). */
function framed(body: string, chunked: boolean): string {
  if (!chunked) return body;
  const half = body.length >> 1;
  const chunk = (part: string) => `${part.length.toString(16)}\r\n${part}\r\n`;
  return chunk(body.slice(0, half)) + chunk(body.slice(half)) + "0\r\n\r\n";
}

function postHead(path: string, request: Generated, expect = false): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\n` +
    (request.chunked
      ? "Transfer-Encoding: chunked\r\n"
      : `Content-Length: ${request.body.length}\r\n`) +
    (expect ? "Expect: 100-continue\r\n" : "") + "\r\n";
}

/** What the client does: write bytes, or read responses and check them. */
type Action =
  | { write: string }
  | { read: { status: number; body?: string }[] }
  | { closed: true };

/** Turns a batch into the client's script, writing only what a client would have in hand. */
function script(requests: Generated[]): Action[] {
  const actions: Action[] = [];
  let pending = "";
  let expected: { status: number; body?: string }[] = [];
  const flush = (extra: { status: number; body?: string }[] = []) => {
    if (pending !== "") actions.push({ write: pending });
    pending = "";
    expected.push(...extra);
    if (expected.length > 0) actions.push({ read: expected });
    expected = [];
  };
  for (let i = 0; i < requests.length; i++) {
    const request = requests[i]!;
    const body = framed(request.body, request.chunked);
    switch (request.kind) {
      case "get":
        pending += `GET /get/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
        expected.push({ status: 200, body: `${i}:get` });
        break;
      case "read":
        pending += postHead(`/read/${i}`, request) + body;
        expected.push({ status: 200, body: `${i}:read:${request.body}` });
        break;
      case "ignore":
        pending += postHead(`/ignore/${i}`, request) + body;
        expected.push({ status: 200, body: `${i}:ignored` });
        break;
      case "read_late":
        // Everything before must be answered before this body leaves the client.
        pending += postHead(`/read/${i}`, request);
        flush();
        pending = body;
        expected.push({ status: 200, body: `${i}:read:${request.body}` });
        break;
      case "ignore_late": {
        // Half the body now; the response needs none of it, so it comes before the rest.
        const half = body.length >> 1;
        pending += postHead(`/ignore/${i}`, request) + body.slice(0, half);
        flush([{ status: 200, body: `${i}:ignored` }]);
        pending = body.slice(half);
        break;
      }
      case "continue":
        // Earlier responses first, then the 100, and only then the body.
        pending += postHead(`/read/${i}`, request, true);
        flush([{ status: 100 }]);
        pending = body;
        expected.push({ status: 200, body: `${i}:read:${request.body}` });
        break;
      case "malformed": {
        // The broken body is in the same write as its head; what follows is never answered.
        pending += `GET /get/${i} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` +
          MALFORMED_BODIES[request.malformed]!;
        for (let j = i + 1; j < requests.length; j++) {
          pending += `GET /get/${j} HTTP/1.1\r\nHost: x\r\n\r\n`;
        }
        flush([{ status: 400 }]);
        actions.push({ closed: true });
        return actions;
      }
    }
  }
  flush();
  return actions;
}

Deno.test("pipelined_batches_with_incomplete_ignored_malformed_and_100_continue_bodies_are_answered_in_request_order", async () => {
  await using test = startServerBounded(async (request) => {
    const [, kind, index] = new URL(request.url).pathname.split("/");
    if (kind === "read") return new Response(`${index}:read:${await request.text()}`);
    if (kind === "ignore") return new Response(`${index}:ignored`);
    return new Response(`${index}:get`);
  });
  await fc.assert(
    fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 6 }), async (requests) => {
      const client = await RawClient.connect(test.port);
      try {
        for (const action of script(requests)) {
          if ("write" in action) {
            await client.write(action.write);
          } else if ("read" in action) {
            const responses = await client.readResponses(action.read.length, READY_MS);
            assert.deepEqual(
              responses.map((r) => ({
                status: r.status,
                ...(r.status === 200 ? { body: bodyText(r) } : {}),
              })),
              action.read,
              client.receivedText.slice(-600),
            );
          } else {
            const { responses, closedBy } = await client.readUntilClose(READY_MS);
            assert.equal(responses.length, 0, "a response after the 400");
            assert.ok(closedBy !== null);
          }
        }
      } finally {
        await client.dispose();
      }
    }),
    // On an engine that fails, every failing run waits out a read bound: shrinking is capped.
    { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
  );
});
