/**
 * The engine's fast paths read Deno's private `Response` fields (server/connection/
 * response_source.ts), read accepted connections through Deno's private read op
 * (server/connection/direct_read.ts), make GET and HEAD requests through Deno's private request
 * fields (server/connection/lazy_request.ts) and make requests' headers immutable through Deno's
 * private guard (server/connection/immutable_headers.ts). These tests fail loudly when a Deno
 * upgrade renames or drops them, so the loss of a fast path is seen at once instead of as a
 * silent slowdown; the byte-for-byte equality of the fast and general response paths is
 * tests/engine_one_encoder_test.ts's; that of the two ways of reading, and of making a request,
 * is below.
 */
import assert from "node:assert/strict";
import { buildPublicRequest, buildRequest, ServerRequest } from "../server/connection/dispatch.ts";
import { directReader } from "../server/connection/direct_read.ts";
import { LAZY_REQUEST_TOKEN } from "../server/connection/lazy_request.ts";
import {
  CAN_SEAL_HEADERS,
  ImmutableHeaders,
  sealHeaders,
} from "../server/connection/immutable_headers.ts";
import type { RequestHead } from "../server/http1/request_head.ts";
import { RequestParser } from "../server/http1/request_parser.ts";
import { bodySource, textResponseParts } from "../server/connection/response_source.ts";
import { attempt } from "./support/attempt.ts";

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

// The engine reads accepted connections straight from their resource (server/connection/
// direct_read.ts), skipping `conn.read`'s bookkeeping.

const DIRECT_READ_HINT =
  `Deno ${Deno.version.deno} no longer exposes the read op or the connection's resource id ` +
  "that server/connection/direct_read.ts uses: update it (connections are still served " +
  "through conn.read, only slower)";

/** A connected pair over loopback TCP: the accepted side and the client. */
async function tcpPair(): Promise<{ accepted: Deno.Conn; client: Deno.Conn; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const accepted = await listener.accept();
  listener.close();
  return {
    accepted,
    client,
    close() {
      for (const conn of [accepted, client]) {
        try {
          conn.close();
        } catch {
          // Closed by the test already.
        }
      }
    },
  };
}

/** Everything `read` gives until EOF, as text, and how EOF was told (0 or null). */
async function readAll(
  read: (buffer: Uint8Array) => Promise<number | null>,
): Promise<{ text: string; eof: number | null }> {
  const buffer = new Uint8Array(4);
  let text = "";
  for (;;) {
    const n = await read(buffer);
    if (n === null || n === 0) return { text, eof: n };
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

Deno.test("deno_still_lets_the_engine_read_an_accepted_connection_directly", async () => {
  const tcp = await tcpPair();
  try {
    assert.ok(directReader(tcp.accepted) !== null, DIRECT_READ_HINT);
  } finally {
    tcp.close();
  }
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const client = await Deno.connect({ transport: "unix", path });
  const accepted = await listener.accept();
  try {
    assert.ok(directReader(accepted) !== null, DIRECT_READ_HINT);
  } finally {
    accepted.close();
    client.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a_direct_read_gives_the_bytes_conn_read_gives_and_0_where_it_gives_null", async () => {
  const sent = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const results = [];
  for (const direct of [true, false]) {
    const tcp = await tcpPair();
    try {
      const read = direct ? directReader(tcp.accepted)! : (b: Uint8Array) => tcp.accepted.read(b);
      await tcp.client.write(new TextEncoder().encode(sent));
      await tcp.client.closeWrite();
      results.push(await readAll(read));
    } finally {
      tcp.close();
    }
  }
  assert.deepEqual(results, [{ text: sent, eof: 0 }, { text: sent, eof: null }]);
});

Deno.test("a_direct_read_in_flight_rejects_when_the_connection_is_closed_as_conn_read_does", async () => {
  for (const direct of [true, false]) {
    const tcp = await tcpPair();
    const buffer = new Uint8Array(16);
    const pending = direct ? directReader(tcp.accepted)!(buffer) : tcp.accepted.read(buffer);
    tcp.accepted.close();
    await assert.rejects(pending, direct ? "direct read" : "conn.read");
    tcp.close();
  }
});

Deno.test("only_deno_s_own_connections_are_read_directly", async () => {
  const tcp = await tcpPair();
  try {
    // A wrapper or a double with its own read() is read through it.
    const wrapped = Object.assign(Object.create(tcp.accepted), {
      read: (buffer: Uint8Array) => tcp.accepted.read(buffer),
    });
    assert.equal(directReader(wrapped), null);
    assert.equal(directReader({ read: () => Promise.resolve(null) }), null);
  } finally {
    tcp.close();
  }
});

// GET and HEAD requests are made lazily, as Deno.serve's are (server/connection/lazy_request.ts).

const LAZY_REQUEST_HINT =
  `Deno ${Deno.version.deno} no longer lets server/connection/lazy_request.ts make a Request ` +
  "whose URL and headers come on first use: update it (handlers still get correct requests " +
  "made with new Request, only slower)";

/** The head the engine's parser makes of `wire`. */
function parseHead(wire: string): RequestHead {
  const parser = new RequestParser();
  parser.feed(new TextEncoder().encode(wire));
  const event = parser.next();
  assert.equal(event.type, "head", wire);
  return (event as { head: RequestHead }).head;
}

/**
 * What a handler finds when it tries to change the request's headers, its clone's and a copy's
 * (`new Request(request)`, which takes over its body; made last).
 */
function changes(request: Request): Record<string, unknown> {
  const clone = request.clone();
  const result = {
    set: attempt(() => request.headers.set("x-set", "1")),
    append: attempt(() => request.headers.append("x-added", "1")),
    delete: attempt(() => request.headers.delete("host")),
    badName: attempt(() => request.headers.append("bad name", "1")),
    noArguments: attempt(() => (request.headers.delete as () => void)()),
    clone: attempt(() => clone.headers.set("x-set", "2")),
    cloneOfClone: attempt(() => clone.clone().headers.delete("host")),
    copy: "",
  };
  result.copy = attempt(() => new Request(request).headers.set("x-set", "3"));
  return result;
}

/** Everything a handler can read of a request without its body, as comparable text. */
async function observe(request: Request): Promise<Record<string, unknown>> {
  const headers = [...request.headers];
  const copy = new Request(request);
  copy.headers.append("x-added", "3"); // a copy's headers may be changed
  const changed = new Request(request, { headers: { "x-changed": "1" } });
  const clone = request.clone();
  return {
    url: request.url,
    method: request.method,
    headers,
    get: headers.map(([name]) => request.headers.get(name)),
    body: request.body,
    bodyUsed: request.bodyUsed,
    redirect: request.redirect,
    inspect: Deno.inspect(request),
    copy: [copy.url, copy.method, [...copy.headers]],
    changed: [changed.url, [...changed.headers]],
    clone: [clone.url, clone.method, [...clone.headers], Deno.inspect(clone)],
    changes: changes(request),
    afterChanges: [...request.headers],
    text: await request.text(),
    bodyUsedAfter: request.bodyUsed,
    aborted: request.signal.aborted,
  };
}

/**
 * `observe` of a request made without Deno's private parts, with the names of the classes that
 * make it (`PublicServerRequest`, `ImmutableHeaders`, `ImmutableRequest`) as the inspected text of
 * the other ways shows them: the only difference a handler can see.
 */
async function observePublic(request: Request): Promise<Record<string, unknown>> {
  const seen = await observe(request);
  const names = (text: string) =>
    text.replaceAll("PublicServerRequest {", "ServerRequest {")
      .replaceAll("ImmutableHeaders {", "Headers {")
      .replaceAll("ImmutableRequest {", "Request {");
  seen.inspect = names(seen.inspect as string);
  const clone = seen.clone as unknown[];
  clone[3] = names(clone[3] as string);
  return seen;
}

Deno.test("deno_still_lets_the_engine_make_requests_lazily", () => {
  assert.ok(LAZY_REQUEST_TOKEN !== null, LAZY_REQUEST_HINT);
  const head = parseHead("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  const request = buildRequest(head, "http://h/a", null);
  assert.equal(request.url, "http://h/a", LAZY_REQUEST_HINT);
  assert.deepEqual([...request.headers], [["host", "h"]], LAZY_REQUEST_HINT);
});

Deno.test("a_lazy_request_is_the_request_new_Request_makes_of_the_same_head", async () => {
  const wires = [
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "GET /a/../b/./c?x=1&y=%zz HTTP/1.1\r\nHost: Example.COM\r\nAccept: */*\r\n\r\n",
    "HEAD //double//slash?q HTTP/1.1\r\nHost: [::1]:80\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
    "GET /%7e%41/sp%20ace HTTP/1.1\r\nHost: h:0080\r\nCookie: a=1\r\nX-B: \r\n" +
    "Cookie: b=2, c=3\r\nUser-Agent: t/1\r\n\r\n",
    "GET /x HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
  ];
  for (const wire of wires) {
    const head = parseHead(wire);
    const url = `http://${head.host ?? "127.0.0.1:8000"}${head.target}`;
    const lazy = buildRequest(head, url, null);
    const init = { method: head.method, headers: head.fields.toPairs() };
    const eager = new ServerRequest(url, init, head.minorVersion);
    sealHeaders(eager.headers); // as the engine makes the requests it does not make lazily
    const seen = await observe(lazy);
    assert.deepEqual(seen, await observe(eager), wire);
    // Without Deno's private parts, the same request through the public API.
    const made = buildPublicRequest(head, url, null);
    assert.ok(made.headers instanceof ImmutableHeaders);
    assert.deepEqual(seen, await observePublic(made), wire);
  }
});

// The headers of a request a handler gets cannot be changed, as Deno.serve's
// (server/connection/immutable_headers.ts).

const IMMUTABLE_HINT =
  `Deno ${Deno.version.deno} no longer lets server/connection/immutable_headers.ts give ` +
  "requests Deno's immutable guard: update it (handlers still get immutable headers, made " +
  "through the public API, only slower)";

Deno.test("deno_still_lets_the_engine_make_request_headers_immutable", () => {
  assert.ok(CAN_SEAL_HEADERS, IMMUTABLE_HINT);
  const post = parseHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  const sealed = buildRequest(post, "http://h/", null);
  assert.ok(!(sealed.headers instanceof ImmutableHeaders), IMMUTABLE_HINT);
  assert.throws(() => sealed.headers.set("x", "1"), TypeError, IMMUTABLE_HINT);
  const lazy = buildRequest(parseHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "http://h/", null);
  assert.throws(() => lazy.headers.set("x", "1"), TypeError, LAZY_REQUEST_HINT);
});

Deno.test("every_way_of_making_a_request_changes_headers_as_deno_serve_s_requests_do", async () => {
  const seen: Record<string, unknown>[] = [];
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(changes(request));
    return new Response("ok");
  });
  try {
    const origin = `127.0.0.1:${target.addr.port}`;
    for (const method of ["GET", "HEAD", "POST"]) {
      const response = await fetch(`http://${origin}/`, { method, headers: { "x-a": "1" } });
      await response.body?.cancel();
      const last = seen.at(-1)!;
      assert.equal(last.set, "TypeError: Cannot change headers: headers are immutable", method);
      assert.equal(last.copy, "changed", method);
      const wire = `${method} / HTTP/1.1\r\nHost: ${origin}\r\nX-A: 1\r\n` +
        (method === "POST" ? "Content-Length: 0\r\n" : "") + "\r\n";
      const head = parseHead(wire);
      const absolute = parseHead(wire.replace(" / ", ` http://${origin}/ `));
      const ways = {
        engine: buildRequest(head, `http://${origin}/`, null),
        "engine, absolute-form": buildRequest(absolute, `http://${origin}/`, null),
        "public API": buildPublicRequest(head, `http://${origin}/`, null),
      };
      for (const [way, request] of Object.entries(ways)) {
        assert.deepEqual(changes(request), last, `${method}, ${way}`);
      }
    }
  } finally {
    await target.shutdown();
  }
});

Deno.test("a_lazy_request_can_be_fetched_like_any_other", async () => {
  const seen: string[] = [];
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(`${request.method} ${request.url} ${request.headers.get("x-a")}`);
    return new Response("ok");
  });
  try {
    const origin = `127.0.0.1:${target.addr.port}`;
    const wire = `GET /p?q=1 HTTP/1.1\r\nHost: ${origin}\r\nX-A: 1\r\n\r\n`;
    const head = parseHead(wire);
    const url = `http://${origin}${head.target}`;
    const lazy = buildRequest(head, url, null);
    const eager = new ServerRequest(url, { headers: head.fields.toPairs() }, 1);
    for (const request of [lazy, eager]) {
      const response = await fetch(request);
      assert.equal(await response.text(), "ok");
    }
    assert.deepEqual(seen, [
      `GET http://${origin}/p?q=1 1`,
      `GET http://${origin}/p?q=1 1`,
    ]);
  } finally {
    await target.shutdown();
  }
});
