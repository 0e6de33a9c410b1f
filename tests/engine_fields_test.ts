/**
 * Issue 14, section F (items 16 and 17): request fields as the handler sees them. Several
 * `Cookie` lines are one cookie-string joined with "; " (RFC 6265 §5.4, RFC 9113 §8.2.3), for a
 * `Request` and for a marked handler's lighter request alike; an absolute-form target with
 * userinfo is refused with 400 like a Host with userinfo (RFC 9110 §4.2.4).
 */

import assert from "node:assert/strict";
import { markAcceptsRequestLike, type RequestLike } from "../server/mod.ts";
import { bodyText, RawClient } from "./support/http_client.ts";
import { startServerBounded } from "./support/engine_support.ts";

const READY_MS = 3_000;

const TWO_COOKIE_LINES = "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n";

Deno.test("two_cookie_lines_reach_the_handler_joined_with_a_semicolon", async () => {
  await using test = startServerBounded((request) =>
    new Response(JSON.stringify(request.headers.get("cookie")))
  );
  await using client = await RawClient.connect(test.port);
  await client.write(TWO_COOKIE_LINES);
  assert.equal(bodyText(await client.readResponse(READY_MS)), JSON.stringify("a=1; b=2"));
});

Deno.test("two_cookie_lines_reach_a_marked_handler_joined_with_a_semicolon", async () => {
  await using test = startServerBounded(
    markAcceptsRequestLike((request: RequestLike) =>
      new Response(JSON.stringify(request.headers.get("cookie")))
    ),
  );
  await using client = await RawClient.connect(test.port);
  await client.write(TWO_COOKIE_LINES);
  assert.equal(bodyText(await client.readResponse(READY_MS)), JSON.stringify("a=1; b=2"));
});

const USERINFO_TARGETS = [
  "http://user:pw@host/",
  "http://user@host/",
  "http://:pw@host/",
  "http://@host/",
  "https://user:pw@host/a?b",
];

for (const target of USERINFO_TARGETS) {
  Deno.test(`an_absolute_form_target_with_userinfo_gets_400_without_calling_the_handler: ${target}`, async () => {
    let calls = 0;
    await using test = startServerBounded((request) => {
      calls++;
      return new Response(request.url);
    });
    await using client = await RawClient.connect(test.port);
    await client.write(`GET ${target} HTTP/1.1\r\nHost: host\r\n\r\n`);
    const response = await client.readResponse(READY_MS);
    assert.equal(response.status, 400, client.receivedText.slice(0, 300));
    assert.equal(calls, 0);
    // Then the close (every rejection closes), with nothing more.
    const { responses, closedBy } = await client.readUntilClose(READY_MS);
    assert.equal(responses.length, 0);
    assert.ok(closedBy !== null);
    assert.ok(!client.receivedText.includes("pw"), "the credentials were echoed");
  });
}

Deno.test("an_absolute_form_target_without_userinfo_is_served", async () => {
  await using test = startServerBounded((request) => new Response(request.url));
  await using client = await RawClient.connect(test.port);
  await client.write("GET http://host/path?q HTTP/1.1\r\nHost: host\r\n\r\n");
  const response = await client.readResponse(READY_MS);
  assert.equal(response.status, 200);
  assert.equal(bodyText(response), "http://host/path?q");
});

Deno.test("a_get_request_built_on_the_fast_path_has_the_same_headers_as_the_general_path", async () => {
  // GET is built with appends on a bare Request (dispatch.ts); DELETE and OPTIONS through the
  // init dictionary. Same fields on the wire: the handler must see the same Headers either way.
  const seen: string[] = [];
  await using test = startServerBounded((request) => {
    seen.push(JSON.stringify([...request.headers]));
    return new Response("ok");
  });
  const fields = "Host: x\r\nZ-Last: 1\r\nAccept: text/html\r\nX-Dup: a\r\nCookie: a=1\r\n" +
    "X-Dup: b\r\nCookie: b=2\r\nUser-Agent: t  \r\nA-First: \r\n\r\n";
  await using client = await RawClient.connect(test.port);
  for (const method of ["GET", "DELETE", "OPTIONS"]) {
    await client.write(`${method} /p?q=1 HTTP/1.1\r\n${fields}`);
    assert.equal((await client.readResponse(READY_MS)).status, 200);
  }
  assert.equal(seen.length, 3);
  assert.equal(seen[0], seen[1]);
  assert.equal(seen[0], seen[2]);
  assert.match(seen[0]!, /"cookie","a=1; b=2"/);
});
