/**
 * The engine's fast paths read Deno's private `Response` fields (server/connection/
 * response_source.ts). These tests fail loudly when a Deno upgrade renames or drops them, so the
 * loss of a fast path is seen at once instead of as a silent slowdown; the byte-for-byte
 * equality of the fast and general paths is tests/engine_one_encoder_test.ts's.
 */
import assert from "node:assert/strict";
import { bodySource, textResponseParts } from "../server/connection/response_source.ts";

const UPGRADE_HINT =
  `Deno ${Deno.version.deno} no longer exposes the private Response fields the engine's fast ` +
  "paths read: update server/connection/response_source.ts (responses are still correct, " +
  "only slower)";

Deno.test("deno_still_records_a_plain_text_response_without_building_headers", () => {
  const parts = textResponseParts(new Response("hello"));
  assert.ok(parts !== null, UPGRADE_HINT);
  assert.deepEqual(parts, {
    status: 200,
    contentType: "text/plain;charset=UTF-8",
    body: "hello",
  });
  const json = textResponseParts(Response.json({ a: 1 }));
  assert.ok(json !== null, UPGRADE_HINT);
  assert.equal(json.contentType, "application/json");
  assert.equal(json.body, '{"a":1}');
});

Deno.test("the_text_record_is_not_used_once_the_response_was_touched", () => {
  const touched = new Response("hello");
  touched.headers.set("x-extra", "1");
  assert.equal(textResponseParts(touched), null);
  const read = new Response("hello");
  void read.body;
  assert.equal(textResponseParts(read), null);
  class Custom extends Response {}
  assert.equal(textResponseParts(new Custom("hello")), null);
});

Deno.test("deno_still_exposes_in_memory_bodies_without_a_stream", () => {
  const bytes = bodySource(new Response(new Uint8Array([1, 2, 3])));
  assert.equal(bytes.kind, "bytes", UPGRADE_HINT);
  const text = bodySource(new Response("héllo", { headers: { "x-a": "1" } }));
  assert.equal(text.kind, "bytes", UPGRADE_HINT);
  if (text.kind === "bytes") assert.equal(new TextDecoder().decode(text.bytes), "héllo");
  assert.equal(bodySource(new Response(null)).kind, "empty");
  const stream = bodySource(new Response(new ReadableStream()));
  assert.equal(stream.kind, "stream");
});
