/**
 * End to end over raw sockets: persistence (RFC 9112 §9.3), pipelining and split writes.
 */

import assert from "node:assert/strict";
import { exchange, header, normalizeDate, RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";

const HELLO = "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\n" +
  "date: <date>\r\ncontent-length: 5\r\n\r\nhello";

Deno.test("http_11_keeps_the_connection_open_by_default", async () => {
  await using test = startServer(() => new Response("hello"));
  await using client = await RawClient.connect(test.port);
  for (let i = 0; i < 3; i++) {
    await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(normalizeDate(response.raw), HELLO);
  }
  assert.equal(client.closedBy, null);
  assert.equal(test.server.connectionCount, 1);
});

Deno.test("http_11_connection_close_from_client_is_answered_with_close_and_eof", async () => {
  await using test = startServer(() => new Response("hello"));
  const { responses, raw, closedBy } = await exchange(
    test.port,
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(responses.length, 1);
  assert.equal(
    normalizeDate(raw),
    HELLO.replace("content-length: 5\r\n", "content-length: 5\r\nconnection: close\r\n"),
  );
  assert.equal(closedBy, "eof");
});

Deno.test("http_11_connection_close_token_in_a_list_is_honoured", async () => {
  await using test = startServer(() => new Response("hello"));
  const { responses, closedBy } = await exchange(
    test.port,
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n",
  );
  assert.equal(header(responses[0]!, "connection"), "close");
  assert.equal(closedBy, "eof");
});

Deno.test("http_11_connection_close_from_handler_closes_after_the_response", async () => {
  await using test = startServer(() =>
    new Response("bye", { headers: { connection: "close", "x-a": "1" } })
  );
  await using client = await RawClient.connect(test.port);
  // A second request is pipelined behind: it must not be answered.
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 1);
  assert.equal(
    normalizeDate(responses[0]!.raw),
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\nx-a: 1\r\n" +
      "date: <date>\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye",
  );
  assert.equal(closedBy, "eof");
});

Deno.test("http_10_closes_by_default_and_says_so", async () => {
  await using test = startServer(() => new Response("hello"));
  const { responses, raw, closedBy } = await exchange(test.port, "GET / HTTP/1.0\r\n\r\n");
  assert.equal(responses.length, 1);
  assert.equal(
    normalizeDate(raw),
    HELLO.replace("content-length: 5\r\n", "content-length: 5\r\nconnection: close\r\n"),
  );
  assert.equal(closedBy, "eof");
});

Deno.test("http_10_keep_alive_is_kept_and_the_response_says_keep_alive", async () => {
  await using test = startServer(() => new Response("hello"));
  await using client = await RawClient.connect(test.port);
  for (let i = 0; i < 2; i++) {
    await client.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const response = await client.readResponse();
    assert.equal(
      normalizeDate(response.raw),
      HELLO.replace("content-length: 5\r\n", "content-length: 5\r\nconnection: keep-alive\r\n"),
    );
  }
  // Without keep-alive the next one closes.
  await client.write("GET / HTTP/1.0\r\n\r\n");
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 1);
  assert.equal(header(responses[0]!, "connection"), "close");
  assert.equal(closedBy, "eof");
});

Deno.test("a_text_head_is_reused_only_for_the_same_decisions_and_closes_alike", async () => {
  // The text fast path keeps its last head with the decisions it came from
  // (server/connection/response_writer.ts): each request below differs from the one before in one
  // input, and the same one twice in a row reuses the head (and its decision to close).
  await using test = startServer(() => new Response("hello"));
  const close = HELLO.replace(
    "content-length: 5\r\n",
    "content-length: 5\r\nconnection: close\r\n",
  );
  const keepAlive = HELLO.replace(
    "content-length: 5\r\n",
    "content-length: 5\r\nconnection: keep-alive\r\n",
  );
  const cases: [string, string, boolean][] = [
    ["GET / HTTP/1.0\r\n\r\n", close, true],
    ["GET / HTTP/1.0\r\n\r\n", close, true],
    ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", HELLO, false],
    ["HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", HELLO.replace("hello", ""), false],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", keepAlive, false],
    ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", close, true],
    ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", close, true],
    ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", HELLO, false],
  ];
  for (const [request, expected, closes] of cases) {
    await using client = await RawClient.connect(test.port, [request.slice(0, 4).trim()]);
    if (closes) {
      // A request pipelined behind one that closes must not be answered.
      await client.write(request + "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
      const { responses, closedBy } = await client.readUntilClose();
      assert.deepEqual(responses.map((r) => normalizeDate(r.raw)), [expected], request);
      assert.equal(closedBy, "eof", request);
    } else {
      await client.write(request);
      assert.equal(normalizeDate((await client.readResponse()).raw), expected, request);
    }
  }
});

Deno.test("http_10_request_without_host_gets_a_url_with_the_server_authority", async () => {
  let url = "";
  await using test = startServer((request) => {
    url = request.url;
    return new Response("ok");
  });
  const { responses } = await exchange(test.port, "GET /a?b=1 HTTP/1.0\r\n\r\n");
  assert.equal(responses[0]!.status, 200);
  assert.equal(url, `http://127.0.0.1:${test.port}/a?b=1`);
});

Deno.test("one_hundred_pipelined_requests_in_one_write_are_answered_in_order", async () => {
  await using test = startServer(async (request) => {
    const n = Number(new URL(request.url).searchParams.get("n"));
    // Later requests finish sooner: order must come from the connection, not from timing.
    if (n % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    return new Response(`response ${n}`);
  });
  await using client = await RawClient.connect(test.port);
  let requests = "";
  for (let n = 0; n < 100; n++) requests += `GET /?n=${n} HTTP/1.1\r\nHost: x\r\n\r\n`;
  await client.write(requests);
  const responses = await client.readResponses(100);
  assert.deepEqual(
    responses.map((response) => new TextDecoder().decode(response.body)),
    Array.from({ length: 100 }, (_, n) => `response ${n}`),
  );
  for (const response of responses) assert.equal(header(response, "connection"), null);
  assert.equal(client.closedBy, null);
});

Deno.test("pipelined_requests_with_bodies_are_answered_in_order", async () => {
  await using test = startServer(async (request) => new Response(`got ${await request.text()}`));
  await using client = await RawClient.connect(test.port);
  let requests = "";
  for (let n = 0; n < 20; n++) {
    const body = `body-${n}`;
    requests += n % 2 === 0
      ? `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      : `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${
        body.length.toString(16)
      }\r\n${body}\r\n0\r\n\r\n`;
  }
  await client.write(requests);
  const responses = await client.readResponses(20);
  assert.deepEqual(
    responses.map((response) => new TextDecoder().decode(response.body)),
    Array.from({ length: 20 }, (_, n) => `got body-${n}`),
  );
});

Deno.test("pipelined_head_and_get_frame_correctly", async () => {
  await using test = startServer(() => new Response("twelve bytes"));
  await using client = await RawClient.connect(test.port, ["HEAD", "GET", "HEAD"]);
  await client.write(
    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n" +
      "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const [head1, get, head2] = await client.readResponses(3);
  assert.equal(head1!.body.length, 0);
  assert.equal(header(head1!, "content-length"), "12");
  assert.equal(new TextDecoder().decode(get!.body), "twelve bytes");
  // HEAD: the same head as GET, no body.
  assert.equal(normalizeDate(head1!.raw), normalizeDate(get!.head));
  assert.equal(normalizeDate(head2!.raw), normalizeDate(get!.head));
});

Deno.test("a_request_written_one_byte_at_a_time_is_served", async () => {
  let seen = "";
  await using test = startServer(async (request) => {
    seen = `${request.method} ${request.url} ${request.headers.get("x-long")} ${await request
      .text()}`;
    return new Response("hello");
  });
  await using client = await RawClient.connect(test.port);
  await client.writeByteByByte(
    "POST /path?q=1 HTTP/1.1\r\nHost: example.test\r\nX-Long: a b  c\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n",
  );
  const response = await client.readResponse();
  assert.equal(normalizeDate(response.raw), HELLO);
  assert.equal(seen, "POST http://example.test/path?q=1 a b  c abcde");
  // And the connection is still usable.
  await client.writeByteByByte("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal((await client.readResponse()).status, 200);
});

Deno.test("empty_lines_before_a_request_line_are_ignored", async () => {
  await using test = startServer(() => new Response("hello"));
  const { responses } = await exchange(
    test.port,
    "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 200);
});

Deno.test("date_header_is_an_imf_fixdate_of_now_and_a_handler_date_wins", async () => {
  let handlerDate = false;
  await using test = startServer(() =>
    handlerDate
      ? new Response("x", { headers: { date: "Sun, 06 Nov 1994 08:49:37 GMT" } })
      : new Response("x")
  );
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  const date = header(response, "date")!;
  assert.match(
    date,
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/,
  );
  // The clock ticks at most a few seconds behind, never ahead.
  const skew = Date.now() - Date.parse(date);
  assert.ok(skew >= -1000 && skew < 5000, `Date is ${skew} ms off`);
  handlerDate = true;
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const second = await client.readResponse();
  assert.equal(header(second, "date"), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(second.headers.filter(([name]) => name.toLowerCase() === "date").length, 1);
});

Deno.test("a_client_that_half_closes_after_its_requests_gets_every_response", async () => {
  // Raw-socket clients (nc, scripts) often send, shut down their sending side, and read to EOF.
  const encoder = new TextEncoder();
  await using test = startServer(async (request) => {
    const path = new URL(request.url).pathname;
    if (request.body !== null) return new Response(`body ${await request.text()}`);
    if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 20));
    if (path === "/stream") {
      let parts = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            if (parts++ === 3) controller.close();
            else controller.enqueue(encoder.encode("s"));
          },
        }),
      );
    }
    return new Response(path);
  });
  const cases: [string, string[]][] = [
    ["GET /a HTTP/1.1\r\nHost: x\r\n\r\n", ["/a"]],
    ["GET /slow HTTP/1.0\r\n\r\n", ["/slow"]],
    ["POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", ["body abc"]],
    [
      "GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
      ["sss", "/slow", "/b"],
    ],
  ];
  for (const [requests, bodies] of cases) {
    await using client = await RawClient.connect(test.port);
    await client.write(requests);
    await client.closeWrite();
    const { responses } = await client.readUntilClose();
    assert.deepEqual(responses.map((response) => new TextDecoder().decode(response.body)), bodies);
  }
});

Deno.test("http_10_keep_alive_post_with_an_unread_body_keeps_the_connection", async () => {
  await using test = startServer((request) => new Response(new URL(request.url).pathname));
  await using client = await RawClient.connect(test.port);
  await client.write(
    "POST /1 HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nbody" +
      "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  );
  const [first, second] = await client.readResponses(2);
  assert.equal(new TextDecoder().decode(first!.body), "/1");
  assert.equal(header(first!, "connection"), "keep-alive");
  assert.equal(new TextDecoder().decode(second!.body), "/2");
  assert.equal(client.closedBy, null);
});
