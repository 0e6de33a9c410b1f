/** Handlers marked as reading only a RequestLike get the parsed head; others a real Request. */
import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import { markAcceptsRequestLike, type RequestLike } from "../server/request_like.ts";
import { createFileServer } from "../server/static/file_server.ts";
import { acceptsRequestLike } from "../server/request_like.ts";

async function exchange(port: number, wire: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(wire));
  return new TextDecoder().decode(await new Response(conn.readable).bytes());
}

Deno.test("a marked handler reads method, url and headers from the parsed head", async () => {
  const seen: { isRequest: boolean; method: string; url: string; accept: string | null }[] = [];
  const handler = markAcceptsRequestLike((request: RequestLike) => {
    seen.push({
      isRequest: request instanceof Request,
      method: request.method,
      url: request.url,
      accept: request.headers.has("ACCEPT") ? request.headers.get("Accept") : null,
    });
    return new Response("ok");
  });
  const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const text = await exchange(
      server.addr.port,
      "GET /a/../b%20c?q=1 HTTP/1.1\r\nHost: example.test:8080\r\nAccept: x/y\r\n" +
        "accept: z/w\r\nConnection: close\r\n\r\n",
    );
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    // The URL is what Request.url would be: dot segments resolved, percent-escapes kept.
    assert.deepEqual(seen, [{
      isRequest: false,
      method: "GET",
      url: "http://example.test:8080/b%20c?q=1",
      accept: "x/y, z/w",
    }]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("an unmarked handler, or a wrapped file server, gets a real Request", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/index.html`, "home");
  const files = createFileServer({ root });
  // The file server is an ordinary handler; its prepared face is for the connection alone.
  assert.equal(acceptsRequestLike(files), false);
  let sawRequest = false;
  const wrapped = (request: Request) => {
    sawRequest = request instanceof Request && request.signal instanceof AbortSignal;
    return files(request);
  };
  assert.equal(acceptsRequestLike(wrapped), false);
  const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, wrapped);
  try {
    const text = await exchange(
      server.addr.port,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhome$/);
    assert.equal(sawRequest, true);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
