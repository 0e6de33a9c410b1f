/**
 * Prepared answers (server/prepared_response.ts): a handler made with preparedHandler() answers
 * with complete Responses through its ordinary face, while the connection writes its prepared
 * face's answers with the prepared head — the same bytes either way.
 */
import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import { preparedHandler, PreparedHead, type PreparedResult } from "../server/prepared_response.ts";

const HEAD = new PreparedHead([["content-type", "text/plain; charset=utf-8"], ["etag", '"abc"']]);
const BODY = new TextEncoder().encode("prepared body");
const answer = (): PreparedResult => ({ status: 200, head: HEAD, content: BODY });

/** The raw bytes of one exchange, with the Date value blanked. */
async function exchangeBytes(handler: (request: Request) => Promise<Response>, request: string) {
  const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await conn.write(new TextEncoder().encode(request));
      const bytes = await new Response(conn.readable).bytes();
      return new TextDecoder().decode(bytes).replaceAll(/date: [^\r]+/g, "date: <date>");
    } catch (error) {
      conn.close();
      throw error;
    }
  } finally {
    await server.shutdown();
  }
}

Deno.test("a prepared answer is written with its prepared head", async () => {
  const text = await exchangeBytes(
    preparedHandler(answer),
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(
    text,
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\netag: "abc"\r\n' +
      "date: <date>\r\ncontent-length: 13\r\nconnection: close\r\n\r\nprepared body",
  );
});

Deno.test("the ordinary face and the prepared face put the same bytes on the wire", async () => {
  const prepared = preparedHandler(answer);
  const ordinary = (request: Request) => prepared(request); // a wrapper hides the prepared face
  for (
    const request of [
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    ]
  ) {
    assert.equal(
      await exchangeBytes(prepared, request),
      await exchangeBytes(ordinary, request),
      JSON.stringify(request),
    );
  }
});

Deno.test("the ordinary face answers complete Responses, readable by anyone", async () => {
  const handler = preparedHandler(answer);
  const response = await handler(new Request("http://localhost/"));
  assert.equal(response.headers.get("etag"), '"abc"');
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), "prepared body");
  const head = await handler(new Request("http://localhost/", { method: "HEAD" }));
  assert.equal(head.headers.get("content-length"), "13");
  assert.equal(head.body, null);
});

Deno.test("PreparedHead refuses fields that could split a response", () => {
  assert.throws(() => new PreparedHead([["x", "a\r\nb"]]), TypeError);
  assert.throws(() => new PreparedHead([["x y", "a"]]), TypeError);
});
