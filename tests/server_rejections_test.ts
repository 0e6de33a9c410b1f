/**
 * End to end over raw sockets: requests the server answers itself (errors, CONNECT, OPTIONS *),
 * and the rule that every rejection is followed by closing the connection, with a pipelined
 * request behind it left unanswered.
 */

import assert from "node:assert/strict";
import type { ServeOptions } from "../server/mod.ts";
import { bodyText, exchange, header, normalizeDate, RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";

const NEXT = "GET /after HTTP/1.1\r\nHost: x\r\n\r\n";

interface RejectionCase {
  readonly name: string;
  readonly request: string;
  readonly status: number;
  readonly options?: ServeOptions;
  /** The handler reads the body (for errors found inside it). */
  readonly readsBody?: boolean;
}

const REJECTIONS: readonly RejectionCase[] = [
  { name: "missing_host_on_http_11", request: "GET / HTTP/1.1\r\n\r\n", status: 400 },
  {
    name: "two_host_fields",
    request: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    status: 400,
  },
  { name: "invalid_host_value", request: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400 },
  // Hosts the request line's grammar lets through and a URL refuses (the handler's Request
  // would have none): a port out of range, an IPv6 literal that is not one, an IPv4-like host
  // that is not an address. GET and HEAD requests are made lazily (lazy_request.ts): the
  // authority is still checked before the handler runs.
  {
    name: "host_port_out_of_range",
    request: "GET / HTTP/1.1\r\nHost: x:99999\r\n\r\n",
    status: 400,
  },
  { name: "host_bad_ipv6", request: "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", status: 400 },
  { name: "host_bad_ipv4", request: "GET /a HTTP/1.1\r\nHost: 1.2.3.999\r\n\r\n", status: 400 },
  { name: "http_20_version", request: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505 },
  { name: "http_12_version_without_host", request: "GET / HTTP/1.2\r\n\r\n", status: 400 },
  { name: "http_09_style_request", request: "GET /\r\n\r\n", status: 400 },
  { name: "lowercase_version", request: "GET / http/1.1\r\nHost: x\r\n\r\n", status: 400 },
  {
    name: "request_line_too_long",
    request: `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 414,
  },
  {
    name: "request_line_over_a_configured_limit",
    request: `GET /${"a".repeat(100)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 414,
    options: { maxRequestLineBytes: 64 },
  },
  {
    name: "too_many_header_fields",
    request: `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(100)}\r\n`,
    status: 431,
  },
  {
    name: "header_section_too_large",
    request: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(17 * 1024)}\r\n\r\n`,
    status: 431,
  },
  {
    name: "header_section_over_a_configured_limit",
    request: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(200)}\r\n\r\n`,
    status: 431,
    options: { maxHeaderBytes: 128 },
  },
  {
    name: "content_length_over_the_body_limit",
    request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789a",
    status: 413,
    options: { maxBodyBytes: 10 },
  },
  {
    name: "large_body_over_the_limit_is_answered_not_reset",
    request: `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${300 * 1024}\r\n\r\n${
      "z".repeat(300 * 1024)
    }`,
    status: 413,
    options: { maxBodyBytes: 1000 },
  },
  {
    name: "chunked_body_over_the_body_limit",
    request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n",
    status: 413,
    options: { maxBodyBytes: 10 },
    readsBody: true,
  },
  {
    name: "chunk_size_overflow",
    request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "fffffffffffffffffffff\r\n",
    status: 400,
    readsBody: true,
  },
  {
    name: "chunk_without_crlf_after_data",
    request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabcX\r\n0\r\n\r\n",
    status: 400,
    readsBody: true,
  },
  {
    name: "content_length_and_transfer_encoding",
    request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "differing_content_lengths",
    request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    status: 400,
  },
  {
    name: "signed_content_length",
    request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    status: 400,
  },
  {
    name: "chunked_not_final",
    request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    status: 400,
  },
  {
    name: "unknown_transfer_coding",
    request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    status: 501,
  },
  {
    name: "transfer_encoding_in_http_10",
    request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  { name: "bare_lf_line_ending", request: "GET / HTTP/1.1\nHost: x\n\n", status: 400 },
  {
    name: "bare_cr_in_value",
    request: "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
    status: 400,
  },
  {
    name: "obs_fold",
    request: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n",
    status: 400,
  },
  {
    name: "space_before_colon",
    request: "GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
    status: 400,
  },
  {
    name: "nul_in_field_value",
    request: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
    status: 400,
  },
  {
    name: "expectation_other_than_100_continue",
    request: "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n",
    status: 417,
  },
  {
    name: "connect_method",
    request: "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
    status: 501,
  },
  { name: "trace_method", request: "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", status: 501 },
  { name: "track_method", request: "TRACK / HTTP/1.1\r\nHost: x\r\n\r\n", status: 501 },
  {
    name: "lowercase_get_which_a_web_request_would_uppercase",
    request: "get / HTTP/1.1\r\nHost: x\r\n\r\n",
    status: 501,
  },
  { name: "asterisk_form_with_get", request: "GET * HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
  {
    name: "relative_target",
    request: "GET index.html HTTP/1.1\r\nHost: x\r\n\r\n",
    status: 400,
  },
  {
    name: "two_spaces_in_request_line",
    request: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
    status: 400,
  },
  {
    name: "control_byte_in_target",
    request: "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
    status: 400,
  },
];

for (const testCase of REJECTIONS) {
  Deno.test(`rejects_${testCase.name}_with_${testCase.status}_then_closes`, async () => {
    let handlerCalls = 0;
    await using test = startServer(async (request) => {
      handlerCalls++;
      if (testCase.readsBody) await request.arrayBuffer();
      return new Response("handler answered");
    }, testCase.options ?? {});
    const { responses, raw, closedBy } = await exchange(test.port, testCase.request + NEXT);
    assert.equal(responses.length, 1, `one response only, got: ${JSON.stringify(raw)}`);
    const response = responses[0]!;
    assert.equal(response.status, testCase.status, raw.slice(0, 200));
    assert.equal(header(response, "connection"), "close");
    assert.equal(closedBy, "eof", "the error response must not be destroyed by a reset");
    // The body is the fixed text for the status, never internal detail.
    assert.match(bodyText(response), new RegExp(`^${testCase.status} [A-Za-z -]+\\n$`));
    if (!testCase.readsBody) assert.equal(handlerCalls, 0);
  });
}

Deno.test("a_bad_request_gets_exactly_these_bytes", async () => {
  await using test = startServer(() => new Response("never"));
  const { raw, closedBy } = await exchange(test.port, "GET / HTTP/1.1\r\n\r\n");
  assert.equal(
    normalizeDate(raw),
    "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n" +
      "date: <date>\r\ncontent-length: 16\r\nconnection: close\r\n\r\n400 Bad Request\n",
  );
  assert.equal(closedBy, "eof");
});

Deno.test("a_rejection_after_good_pipelined_requests_answers_them_first", async () => {
  await using test = startServer(() => new Response("ok"));
  const { responses, closedBy } = await exchange(
    test.port,
    "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /3 HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n" + NEXT,
  );
  assert.deepEqual(responses.map((response) => response.status), [200, 200, 400]);
  assert.equal(closedBy, "eof");
});

Deno.test("an_incomplete_head_then_eof_gets_400", async () => {
  await using test = startServer(() => new Response("never"));
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n");
  await client.closeWrite();
  const { responses } = await client.readUntilClose();
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 400);
});

Deno.test("eof_on_an_idle_connection_closes_quietly", async () => {
  await using test = startServer(() => new Response("ok"));
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await client.readResponse();
  await client.closeWrite();
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 0);
  assert.equal(closedBy, "eof");
});

Deno.test("options_asterisk_is_answered_200_by_the_server_and_keeps_the_connection", async () => {
  let handlerCalls = 0;
  await using test = startServer(() => {
    handlerCalls++;
    return new Response("handler");
  });
  await using client = await RawClient.connect(test.port);
  await client.write("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  assert.equal(response.status, 200);
  assert.equal(header(response, "connection"), null);
  assert.equal(response.body.length, 0);
  assert.equal(handlerCalls, 0);
  await client.write(NEXT);
  assert.equal(bodyText(await client.readResponse()), "handler");
});

Deno.test("absolute_form_target_uses_its_own_authority_not_host", async () => {
  const urls: string[] = [];
  await using test = startServer((request) => {
    urls.push(request.url);
    return new Response("ok");
  });
  await using client = await RawClient.connect(test.port);
  await client.write(
    "GET http://other.example:8080/p/q?x=1 HTTP/1.1\r\nHost: ignored.example\r\n\r\n",
  );
  assert.equal((await client.readResponse()).status, 200);
  await client.write("GET /origin?y HTTP/1.1\r\nHost: named.example:81\r\n\r\n");
  assert.equal((await client.readResponse()).status, 200);
  assert.deepEqual(urls, ["http://other.example:8080/p/q?x=1", "http://named.example:81/origin?y"]);
});

Deno.test("extension_methods_reach_the_handler_case_preserved", async () => {
  const methods: string[] = [];
  await using test = startServer((request) => {
    methods.push(request.method);
    return new Response("ok");
  });
  await using client = await RawClient.connect(test.port);
  await client.write(
    "PATCH / HTTP/1.1\r\nHost: x\r\n\r\nPROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n" +
      "purge / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  await client.readResponses(3);
  assert.deepEqual(methods, ["PATCH", "PROPFIND", "purge"]);
});

Deno.test("headers_reach_the_handler_with_ows_trimmed_and_repeats_combined", async () => {
  let seen: [string, string][] = [];
  await using test = startServer((request) => {
    seen = [...request.headers];
    return new Response("ok");
  });
  await using client = await RawClient.connect(test.port);
  await client.write(
    "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: \t padded value \t\r\nAccept: a\r\nACCEPT: b\r\n\r\n",
  );
  await client.readResponse();
  assert.deepEqual(seen, [["accept", "a, b"], ["host", "x"], ["x-pad", "padded value"]]);
});

Deno.test("limits_are_inclusive_a_request_exactly_at_each_limit_is_served", async () => {
  const seen: string[] = [];
  await using test = startServer(async (request) => {
    seen.push(`${new URL(request.url).pathname.length} ${(await request.text()).length}`);
    return new Response("ok");
  }, { maxRequestLineBytes: 64, maxHeaderBytes: 100, maxBodyBytes: 10 });
  await using client = await RawClient.connect(test.port);
  // Request line of exactly 64 bytes (without its CRLF).
  const line = `GET /${"a".repeat(64 - "GET / HTTP/1.1".length)} HTTP/1.1`;
  assert.equal(line.length, 64);
  await client.write(`${line}\r\nHost: x\r\n\r\n`);
  assert.equal((await client.readResponse()).status, 200);
  // Field lines of exactly 100 bytes with their CRLFs (the blank line ending the head aside).
  const fields = `Host: x\r\nX: ${"b".repeat(100 - 9 - 5)}\r\n`;
  assert.equal(fields.length, 100);
  await client.write(`GET / HTTP/1.1\r\n${fields}\r\n`);
  assert.equal((await client.readResponse()).status, 200);
  // Bodies of exactly 10 bytes, by length and chunked.
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
  assert.equal((await client.readResponse()).status, 200);
  await client.write(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
  );
  assert.equal((await client.readResponse()).status, 200);
  assert.deepEqual(seen.map((entry) => entry.split(" ")[1]), ["0", "0", "10", "10"]);
});

Deno.test("default_limits_serve_an_8000_byte_target_and_a_15_kib_header_section", async () => {
  let pathLength = 0;
  await using test = startServer((request) => {
    pathLength = new URL(request.url).pathname.length;
    return new Response("ok");
  });
  await using client = await RawClient.connect(test.port);
  await client.write(
    `GET /${"p".repeat(7999)} HTTP/1.1\r\nHost: x\r\nCookie: ${"c".repeat(15 * 1024)}\r\n\r\n`,
  );
  assert.equal((await client.readResponse()).status, 200);
  assert.equal(pathLength, 8000);
});

Deno.test("a_client_connection_close_request_leaves_a_pipelined_one_unanswered", async () => {
  await using test = startServer(() => new Response("ok"));
  const { responses, closedBy } = await exchange(
    test.port,
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + NEXT,
  );
  assert.equal(responses.length, 1);
  assert.equal(header(responses[0]!, "connection"), "close");
  assert.equal(closedBy, "eof");
});

Deno.test("an_http_1_2_request_is_served_as_http_1_1_and_keeps_the_connection", async () => {
  // RFC 9110 §2.5: a higher minor version SHOULD be processed as the highest one implemented.
  await using test = startServer(() => new Response("served"));
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  assert.equal(response.status, 200);
  assert.equal(bodyText(response), "served");
  assert.equal(header(response, "connection"), null);
  await client.write(NEXT);
  assert.equal(bodyText(await client.readResponse()), "served");
});
