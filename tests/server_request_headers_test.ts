/**
 * The headers of the `Request` a handler receives cannot be changed, as with `Deno.serve`:
 * `set`, `append` and `delete` throw a `TypeError`, `request.clone()` keeps them immutable and
 * `new Request(request)` makes a copy that may be changed. Every way the engine makes a request
 * is sent over a real socket (a lazy GET and HEAD, an absolute-form GET, bodies with
 * Content-Length and chunked, HTTP/1.0, pipelined requests), and what the handler saw is
 * compared with what the same handler sees under `Deno.serve` for the same bytes.
 */

import assert from "node:assert/strict";
import { type ParsedResponse, RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";
import { attempt } from "./support/attempt.ts";

/**
 * What a handler finds when it tries to change its request's headers, and the headers
 * afterwards; the body as read through `new Request(request)`, which takes it over.
 */
async function report(request: Request): Promise<string> {
  const headers = request.headers;
  const result = {
    set: attempt(() => headers.set("x-new", "1")),
    append: attempt(() => headers.append("x-new", "1")),
    delete: attempt(() => headers.delete("host")),
    deleteAbsent: attempt(() => headers.delete("x-absent")),
    badName: attempt(() => headers.set("bad name", "1")),
    sameObject: request.headers === headers,
    clone: attempt(() => request.clone().headers.set("x-new", "1")),
    cloneOfClone: attempt(() => request.clone().clone().headers.append("x-new", "1")),
    after: [...request.headers],
    copy: "",
    copyHeaders: [] as [string, string][],
    body: "",
  };
  const copy = new Request(request);
  result.copy = attempt(() => copy.headers.set("x-new", "1"));
  result.copyHeaders = [...copy.headers];
  result.body = copy.body === null ? "(none)" : await copy.text();
  return JSON.stringify(result);
}

/** The handler: its report in a response field (HEAD responses have no body). */
async function handler(request: Request): Promise<Response> {
  return new Response("ok", { headers: { "x-report": await report(request) } });
}

/** Sends `wire` on one connection and returns the reports of the `methods.length` responses. */
async function reports(port: number, wire: string, methods: string[]): Promise<unknown[]> {
  await using client = await RawClient.connect(port, methods);
  await client.write(wire);
  const responses: ParsedResponse[] = await client.readResponses(methods.length);
  return responses.map((response) => {
    assert.equal(response.status, 200, response.head);
    const field = response.headers.find(([name]) => name.toLowerCase() === "x-report");
    assert.ok(field !== undefined, response.head);
    return JSON.parse(field[1]);
  });
}

const IMMUTABLE = "TypeError: Cannot change headers: headers are immutable";
const IMMUTABLE_APPEND = "TypeError: Cannot change header: headers are immutable";

const CASES: { name: string; wire: string; methods: string[] }[] = [
  {
    name: "GET",
    wire: "GET /a?b HTTP/1.1\r\nHost: x\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n",
    methods: ["GET"],
  },
  { name: "HEAD", wire: "HEAD /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", methods: ["HEAD"] },
  {
    name: "absolute-form GET",
    wire: "GET http://x/abs HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
    methods: ["GET"],
  },
  {
    name: "HTTP/1.0 GET",
    wire: "GET /old HTTP/1.0\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n",
    methods: ["GET"],
  },
  {
    name: "POST with Content-Length",
    wire:
      "POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    methods: ["POST"],
  },
  {
    name: "PUT chunked",
    wire: "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    methods: ["PUT"],
  },
  {
    name: "pipelined GET, POST, HEAD, GET",
    wire: "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
      "HEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /4 HTTP/1.1\r\nHost: x\r\nX-Last: 1\r\n\r\n",
    methods: ["GET", "POST", "HEAD", "GET"],
  },
];

Deno.test("a_handler_cannot_change_its_request_s_headers_on_any_request_as_with_deno_serve", async () => {
  await using sockserve = startServer(handler);
  const deno = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    for (const { name, wire, methods } of CASES) {
      const ours = await reports(sockserve.port, wire, methods);
      for (const seen of ours as Record<string, unknown>[]) {
        assert.equal(seen.set, IMMUTABLE, name);
        assert.equal(seen.append, IMMUTABLE_APPEND, name);
        assert.equal(seen.delete, IMMUTABLE, name);
        assert.equal(seen.deleteAbsent, IMMUTABLE, name);
        assert.equal(seen.badName, 'TypeError: Invalid header name: "bad name"', name);
        assert.equal(seen.sameObject, true, name);
        assert.equal(seen.clone, IMMUTABLE, name);
        assert.equal(seen.cloneOfClone, IMMUTABLE_APPEND, name);
        assert.equal(seen.copy, "changed", name);
      }
      assert.deepEqual(ours, await reports(deno.addr.port, wire, methods), name);
    }
    assert.deepEqual(sockserve.errors, []);
  } finally {
    await deno.shutdown();
  }
});

Deno.test("the_request_s_headers_and_body_are_unchanged_by_the_attempts", async () => {
  await using sockserve = startServer(handler);
  const [post, get] = await reports(
    sockserve.port,
    "POST /2 HTTP/1.1\r\nHost: x\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\nContent-Length: 3\r\n\r\nabc" +
      "GET /4 HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
    ["POST", "GET"],
  ) as Record<string, unknown>[];
  assert.deepEqual(post!.after, [["content-length", "3"], ["host", "x"], ["x-a", "2"], [
    "x-b",
    "1, 3",
  ]]);
  assert.deepEqual(post!.copyHeaders, [["content-length", "3"], ["host", "x"], ["x-a", "2"], [
    "x-b",
    "1, 3",
  ], ["x-new", "1"]]);
  assert.equal(post!.body, "abc");
  assert.deepEqual(get!.after, [["cookie", "a=1; b=2"], ["host", "x"]]);
  assert.equal(get!.body, "(none)");
});
