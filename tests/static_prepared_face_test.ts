/**
 * The file server has two faces (server/prepared_response.ts): the prepared one, which
 * sockserve's connection calls for in-memory files, and the ordinary `(Request) => Response`
 * one that everything else sees. Served the same requests, they must put the same bytes on the
 * wire; and the ordinary face must stand on its own under Deno.serve.
 */
import assert from "node:assert/strict";
import { createFileServer, serve } from "../server/mod.ts";

const encoder = new TextEncoder();

async function site(): Promise<string> {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/index.html`, "<h1>home</h1>");
  await Deno.writeTextFile(`${root}/a.txt`, "hello world\n");
  await Deno.mkdir(`${root}/docs`);
  await Deno.writeTextFile(`${root}/docs/index.html`, "docs");
  // Compressible and over 1 KiB: br and gzip are made on the fly (once), zstd comes from its
  // sidecar.
  await Deno.writeTextFile(`${root}/app.js`, "export const answer = 42;\n".repeat(100));
  await Deno.writeTextFile(`${root}/app.css`, "p { margin: 0 }\n".repeat(100));
  await Deno.writeTextFile(`${root}/app.css.zst`, "zstd sidecar bytes");
  return root;
}

/** One connection, the requests pipelined, every byte until the server closes. */
async function wire(
  handler: (request: Request) => Promise<Response>,
  requests: string,
): Promise<string> {
  const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(encoder.encode(requests));
    const text = new TextDecoder().decode(await new Response(conn.readable).bytes());
    return text.replaceAll(/date: [^\r]+/g, "date: <date>");
  } finally {
    await server.shutdown();
  }
}

for (const [name, cacheMinAgeMs] of [["fresh", undefined], ["cached", 0]] as const) {
  Deno.test(`static_prepared_and_ordinary_faces_write_the_same_bytes_${name}`, async () => {
    await sameBytesBothFaces(cacheMinAgeMs);
  });
}

/**
 * The same requests through both faces, on files just written (not cached yet: every answer is
 * made anew) or with the cache taking them at once (the synchronous path of cached files).
 */
async function sameBytesBothFaces(cacheMinAgeMs: number | undefined): Promise<void> {
  const root = await site();
  try {
    const files = createFileServer({
      root,
      headers: [["cache-control", "no-cache"]],
      ...(cacheMinAgeMs === undefined ? {} : { cacheMinAgeMs }),
    });
    // Warm the cache, then take an ETag for the conditional requests.
    const first = await files(new Request("http://x/a.txt"));
    const etag = first.headers.get("etag")!;
    const modified = first.headers.get("last-modified")!;
    await first.body?.cancel();
    const targets = [
      "GET /a.txt HTTP/1.1",
      "HEAD /a.txt HTTP/1.1",
      "GET / HTTP/1.1",
      `GET /a.txt HTTP/1.1\r\nIf-None-Match: ${etag}`,
      `GET /a.txt HTTP/1.1\r\nIf-Modified-Since: ${modified}`,
      "GET /a.txt HTTP/1.1\r\nRange: bytes=0-4",
      "GET /a.txt HTTP/1.1\r\nRange: bytes=99-",
      "GET /a.txt HTTP/1.1\r\nAccept-Encoding: gzip",
      "GET /app.js HTTP/1.1\r\nAccept-Encoding: gzip",
      "GET /app.js HTTP/1.1\r\nAccept-Encoding: gzip, deflate, br, zstd",
      "GET /app.js HTTP/1.1\r\nAccept-Encoding: gzip, deflate, br, zstd",
      "HEAD /app.js HTTP/1.1\r\nAccept-Encoding: br",
      "GET /app.js HTTP/1.1\r\nAccept-Encoding: br;q=0, gzip;q=0",
      "GET /app.css HTTP/1.1\r\nAccept-Encoding: zstd, br",
      "GET /app.css HTTP/1.1\r\nAccept-Encoding: gzip",
      "GET /missing HTTP/1.1",
      "GET /docs HTTP/1.1",
      "POST /a.txt HTTP/1.1\r\nContent-Length: 0",
      "OPTIONS /a.txt HTTP/1.1",
    ];
    // An HTTP/1.0 request closes the connection: it comes last.
    const requests = targets.map((line) => `${line}\r\nHost: x\r\n\r\n`).join("") +
      "GET /a.txt HTTP/1.0\r\nHost: x\r\n\r\n";
    const ordinary = (request: Request) => files(request); // the wrapper hides the prepared face
    const viaPrepared = await wire(files, requests);
    const viaOrdinary = await wire(ordinary, requests);
    assert.ok(viaPrepared.includes("hello world"), viaPrepared);
    const statuses = [...viaPrepared.matchAll(/HTTP\/1\.1 (\d{3}) [A-Z]/g)].map((match) =>
      match[1]
    );
    assert.equal(statuses.length, targets.length + 1, "every request answered");
    for (const coding of ["gzip", "br", "zstd"]) {
      assert.ok(viaPrepared.includes(`content-encoding: ${coding}`), coding);
    }
    assert.equal(viaPrepared, viaOrdinary);
    // And again, now that every coding is made and kept: the same bytes once more.
    assert.equal(await wire(files, requests), viaPrepared);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("static_file_server_under_deno_serve_sends_its_fields_and_content", async () => {
  const root = await site();
  const files = createFileServer({ root });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, files);
  try {
    for (let i = 0; i < 2; i++) { // the second answer comes from the cache
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/a.txt`);
      assert.equal(await response.text(), "hello world\n");
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.ok(response.headers.get("etag") !== null);
      assert.ok(response.headers.get("last-modified") !== null);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
