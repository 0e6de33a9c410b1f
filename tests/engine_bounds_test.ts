/**
 * Issue 14, section D: bounds that hold. The handler timeout keeps running while the handler
 * reads a trickled body, and a whole body is bounded by a minimum data rate after a grace
 * period (`bodyMinRate`, `bodyMinRateGraceMs`) besides the per-read stall (`bodyTimeoutMs`).
 *
 * The clients trickle bytes on timers because the scenarios are trickles; what they wait
 * for is the server's own answer, with an upper bound.
 */

import assert from "node:assert/strict";
import { bodyText, header, RawClient } from "./support/http_client.ts";
import { patternBytes, startServerBounded, trickle } from "./support/engine_support.ts";

Deno.test("the_handler_timeout_fires_while_the_handler_reads_a_trickled_body", async () => {
  const HANDLER_TIMEOUT_MS = 1_000;
  await using test = startServerBounded(
    async (request) => new Response(`read ${(await request.text()).length}`),
    { handlerTimeoutMs: HANDLER_TIMEOUT_MS },
  );
  await using client = await RawClient.connect(test.port);
  await client.write("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  const start = performance.now();
  // 1 byte every 300 ms: the whole body would take 30 s.
  const bytes = trickle(client, "x".repeat(100), 300);
  try {
    // Bound: the handler timeout plus ticks and a loaded machine, far below the 30 s body.
    const response = await client.readResponse(HANDLER_TIMEOUT_MS + 3_000);
    const elapsed = performance.now() - start;
    assert.equal(response.status, 503);
    assert.equal(header(response, "connection"), "close");
    assert.ok(bytes.sent < 100, "the whole body arrived first");
    // Not something else that answers at once (timeouts fire on a 250 ms tick, so not exact).
    assert.ok(elapsed >= HANDLER_TIMEOUT_MS / 2, `503 after only ${elapsed.toFixed(0)} ms`);
  } finally {
    await bytes.stop();
  }
  await client.closeWrite();
  const { responses, closedBy } = await client.readUntilClose(3_000);
  assert.equal(responses.length, 0);
  assert.ok(closedBy !== null);
});

Deno.test("a_body_slower_than_body_min_rate_after_its_grace_period_is_cut_with_408", async () => {
  let readBytes = 0;
  await using test = startServerBounded(async (request) => {
    for await (const chunk of request.body!) readBytes += chunk.length;
    return new Response(`read ${readBytes}`);
  }, { bodyMinRate: 100, bodyMinRateGraceMs: 1_000 });
  await using client = await RawClient.connect(test.port);
  await client.write("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  // 10 bytes/s, well under the 100 bytes/s minimum; never a stall of bodyTimeoutMs (60 s).
  const bytes = trickle(client, "x".repeat(1000), 100);
  try {
    const response = await client.readResponse(3_000);
    assert.equal(response.status, 408);
    assert.equal(header(response, "connection"), "close");
    assert.ok(bytes.sent < 1000);
  } finally {
    await bytes.stop();
  }
  await client.closeWrite();
  const { closedBy } = await client.readUntilClose(3_000);
  assert.ok(closedBy !== null);
});

Deno.test("a_body_at_a_normal_rate_is_not_cut_by_body_min_rate", async () => {
  await using test = startServerBounded(
    async (request) => new Response(await request.text()),
    { bodyMinRate: 100, bodyMinRateGraceMs: 1_000 },
  );
  await using client = await RawClient.connect(test.port);
  const body = patternBytes(1000);
  await client.write("POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  // The same size at 500 bytes/s (50 bytes every 100 ms): it lasts past the grace period, above
  // the minimum rate all along.
  const pieces = trickle(client, body, 100, 50);
  const response = await client.readResponse(5_000);
  await pieces.stop();
  assert.equal(response.status, 200);
  assert.equal(bodyText(response), body);
});
