/** PreparedResponse: a prepared head is used only while nobody has touched the headers. */
import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import { PreparedHead, PreparedResponse } from "../server/prepared_response.ts";

const HEAD = new PreparedHead([["content-type", "text/plain; charset=utf-8"], ["etag", '"abc"']]);
const BODY = new TextEncoder().encode("prepared body");

async function get(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return text;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

function startServer(handler: (request: Request) => Response) {
  return serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
}

Deno.test("a prepared response is written with its prepared head", async () => {
  const server = startServer(() => new PreparedResponse(BODY, 200, HEAD, false));
  try {
    const text = await get(
      server.addr.port,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(
      text,
      /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain; charset=utf-8\r\netag: "abc"\r\ndate: [^\r]+ GMT\r\ncontent-length: 13\r\nconnection: close\r\n\r\nprepared body$/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("a header added by a middleware is honoured", async () => {
  const server = startServer(() => {
    const response = new PreparedResponse(BODY, 200, HEAD, false);
    response.headers.set("x-added", "yes");
    return response;
  });
  try {
    const text = await get(
      server.addr.port,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(text, /\r\nx-added: yes\r\n/);
    assert.match(text, /\r\netag: "abc"\r\n/);
    assert.match(text, /\r\n\r\nprepared body$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a HEAD prepared response announces the length and sends no body", async () => {
  const server = startServer(() => new PreparedResponse(BODY, 200, HEAD, true));
  try {
    const text = await get(
      server.addr.port,
      "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(text, /\r\ncontent-length: 13\r\nconnection: close\r\n\r\n$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("PreparedHead refuses fields that could split a response", () => {
  assert.throws(() => new PreparedHead([["x", "a\r\nb"]]), TypeError);
  assert.throws(() => new PreparedHead([["x y", "a"]]), TypeError);
});

Deno.test("PreparedResponse reads like any Response", async () => {
  const response = new PreparedResponse(BODY, 200, HEAD, false);
  assert.equal(response.headers.get("etag"), '"abc"');
  const copy = response.clone();
  assert.equal(copy.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await copy.text(), "prepared body");
  assert.equal(await response.text(), "prepared body");
});
