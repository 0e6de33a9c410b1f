/**
 * Issue 14, section A: order on the wire. A finished response leaves before the connection
 * waits for more input (a later request's body, a 100-continue, the rest of an ignored body),
 * and responses — interim ones included — leave in request order (RFC 9112 §9.3.2).
 *
 * The waits on the client side are upper bounds: on a correct engine each response is on the
 * wire within milliseconds; on the engine of issue 14 it never comes while the client holds back
 * the bytes the server is (wrongly) waiting for.
 */

import assert from "node:assert/strict";
import { makeSite, startSockserve } from "./cli_helpers.ts";
import { bodyText, header, RawClient } from "./support/http_client.ts";
import { startServerBounded } from "./support/engine_support.ts";

/** Bound on a response that is ready on the server: generous for a loaded machine. */
const READY_MS = 3_000;

/** GET answers with its path; POST echoes its body after reading all of it. */
async function echoHandler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "POST") return new Response(`${url.pathname}:${await request.text()}`);
  return new Response(url.pathname);
}

Deno.test("pipelined_get_is_answered_before_the_next_requests_body_arrives", async () => {
  await using test = startServerBounded(echoHandler);
  await using client = await RawClient.connect(test.port);
  await client.write(
    "GET /hello.html HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
  );
  const get = await client.readResponse(READY_MS);
  assert.equal(get.status, 200);
  assert.equal(bodyText(get), "/hello.html");
  // Only now does the POST body leave the client; it is answered on the same connection.
  await client.write("abcde");
  const post = await client.readResponse(READY_MS);
  assert.equal(post.status, 200);
  assert.equal(bodyText(post), "/x:abcde");
  assert.equal(client.closedBy, null);
});

Deno.test("pipelined_get_response_precedes_the_100_continue_of_the_request_behind_it", async () => {
  await using test = startServerBounded(echoHandler);
  await using client = await RawClient.connect(test.port);
  await client.write(
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
  );
  const first = await client.readResponse(READY_MS);
  assert.equal(first.status, 200, `first on the wire: ${JSON.stringify(first.head)}`);
  assert.equal(bodyText(first), "/a");
  const interim = await client.readResponse(READY_MS);
  assert.equal(interim.status, 100);
  // Byte order on the wire: all of /a's response, then exactly the interim response.
  assert.equal(client.receivedText, first.raw + "HTTP/1.1 100 Continue\r\n\r\n");
  await client.write("hello");
  const post = await client.readResponse(READY_MS);
  assert.equal(post.status, 200);
  assert.equal(bodyText(post), "/x:hello");
  assert.equal(client.receivedText, first.raw + interim.raw + post.raw);
});

Deno.test("an_answer_given_without_reading_a_partly_sent_body_leaves_before_the_rest_arrives", async () => {
  let calls = 0;
  await using test = startServerBounded((request) => {
    calls++;
    if (request.method === "POST") {
      return new Response("405 Method Not Allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    return new Response(`next ${calls}`);
  });
  await using client = await RawClient.connect(test.port);
  // 500 of 1,000 announced bytes.
  await client.write(
    "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + "a".repeat(500),
  );
  const refused = await client.readResponse(READY_MS);
  assert.equal(refused.status, 405);
  assert.equal(header(refused, "allow"), "GET");
  // The rest of the body, then the next request on the same connection.
  await client.write("b".repeat(500) + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  const next = await client.readResponse(READY_MS);
  assert.equal(next.status, 200);
  assert.equal(bodyText(next), "next 2");
});

Deno.test("an_answer_given_without_reading_a_partly_sent_body_lets_a_kept_alive_request_follow", async () => {
  // The same as a new request written after the body's last byte rather than in its write.
  await using test = startServerBounded((request) =>
    request.method === "PUT" ? new Response(null, { status: 405 }) : new Response("kept")
  );
  await using client = await RawClient.connect(test.port);
  await client.write(
    "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + "a".repeat(500),
  );
  assert.equal((await client.readResponse(READY_MS)).status, 405);
  await client.write("b".repeat(500));
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const next = await client.readResponse(READY_MS);
  assert.equal(bodyText(next), "kept");
});

Deno.test("static_cli_answers_a_slow_post_or_put_with_405_without_waiting_for_its_body", async () => {
  const site = await makeSite({ "index.html": "<p>hi</p>" });
  const server = await startSockserve([site, "--port", "0", "--host", "127.0.0.1"]);
  try {
    for (const method of ["POST", "PUT"]) {
      await using client = await RawClient.connect(server.port);
      // A slow upload: the head and the first bytes; the rest would follow at the client's pace.
      await client.write(
        `${method} /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n` +
          "x".repeat(10),
      );
      const response = await client.readResponse(READY_MS);
      assert.equal(response.status, 405, method);
      assert.match(header(response, "allow") ?? "", /GET/);
    }
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});
