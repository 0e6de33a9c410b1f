/**
 * Interop with a real client: Node's built-in fetch (undici), run by the machine's `node` in a
 * child process, against the server: GET, POST with a body, a streamed (chunked) upload,
 * keep-alive reuse, a chunked response and HEAD.
 */

import assert from "node:assert/strict";
import type { ServeHandlerInfo } from "../server/mod.ts";
import { findBinary, runProgram } from "./support/binaries.ts";
import { startServer } from "./support/test_server.ts";

const NODE = findBinary("node");

Deno.test({
  name: `node_fetch_get_post_keep_alive_and_chunked${
    NODE === null ? " (ignored: node is not installed)" : ""
  }`,
  ignore: NODE === null,
  async fn() {
    await using test = startServer(async (request: Request, info: ServeHandlerInfo) => {
      const url = new URL(request.url);
      switch (url.pathname) {
        case "/port":
          return Response.json({ remotePort: info.remoteAddr.port });
        case "/stream": {
          const encoder = new TextEncoder();
          let i = 0;
          return new Response(
            new ReadableStream({
              pull(controller) {
                if (i === 3) return controller.close();
                controller.enqueue(encoder.encode(`piece${i++} `));
              },
            }),
          );
        }
        default: {
          const body = await request.text();
          return Response.json({
            method: request.method,
            path: url.pathname + url.search,
            contentType: request.headers.get("content-type"),
            transferEncoding: request.headers.get("transfer-encoding"),
            body,
          });
        }
      }
    });
    const script = new URL("./support/node_fetch_client.mjs", import.meta.url).pathname;
    const out = await runProgram(NODE!, [script, `http://127.0.0.1:${test.port}`]);
    assert.equal(out.code, 0, out.stderr);
    const result = JSON.parse(out.stdout);
    assert.deepEqual(result.get, {
      status: 200,
      type: "application/json",
      body: {
        method: "GET",
        path: "/hello?x=1",
        contentType: null,
        transferEncoding: null,
        body: "",
      },
    });
    assert.deepEqual(result.post, {
      method: "POST",
      path: "/submit",
      contentType: "text/plain",
      transferEncoding: null,
      body: "posted by node",
    });
    assert.equal(result.streamedUpload.transferEncoding, "chunked");
    assert.equal(result.streamedUpload.body, "chunk0chunk1chunk2chunk3");
    assert.equal(result.ports.length, 5);
    // undici keeps two pooled connections busy in turn for back-to-back fetches (it does the same
    // against node:http); reuse means five requests on at most two connections.
    assert.ok(new Set(result.ports).size <= 2, `keep-alive not reused: ${result.ports}`);
    assert.deepEqual(result.stream, {
      transferEncoding: "chunked",
      body: "piece0 piece1 piece2 ",
    });
    assert.equal(result.head.status, 200);
    assert.equal(result.head.body, "");
    assert.equal(
      result.head.length,
      String(
        JSON.stringify({
          method: "HEAD",
          path: "/hello",
          contentType: null,
          transferEncoding: null,
          body: "",
        }).length,
      ),
    );
  },
});
