/**
 * Interop with a real client: curl against the server (GET, POST, keep-alive reuse, chunked in
 * both directions, HEAD, HTTP/1.0, 100-continue).
 */

import assert from "node:assert/strict";
import type { ServeHandlerInfo } from "../server/mod.ts";
import { findBinary, runProgram } from "./support/binaries.ts";
import { startServer } from "./support/test_server.ts";

const CURL = findBinary("curl", "/usr/bin/curl");
const suffix = CURL === null ? " (ignored: curl is not installed)" : "";
const ignore = CURL === null;

function curl(args: string[], stdin?: Uint8Array | string) {
  return runProgram(CURL!, ["--silent", "--show-error", "--max-time", "20", ...args], {
    ...(stdin === undefined ? {} : { stdin }),
  });
}

/** Echo server: method, path, selected headers and the body length and text. */
function echoHandler(remotePorts: number[] = []) {
  return async (request: Request, info: ServeHandlerInfo) => {
    remotePorts.push(info.remoteAddr.port);
    const url = new URL(request.url);
    if (url.pathname === "/stream") {
      const encoder = new TextEncoder();
      let i = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (i === 5) return controller.close();
            controller.enqueue(encoder.encode(`part ${i++};`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    }
    const body = await request.text();
    return new Response(
      JSON.stringify({
        method: request.method,
        path: url.pathname + url.search,
        contentType: request.headers.get("content-type"),
        transferEncoding: request.headers.get("transfer-encoding"),
        length: body.length,
        head: body.slice(0, 20),
      }),
      { headers: { "content-type": "application/json" } },
    );
  };
}

Deno.test({ name: `curl_get${suffix}`, ignore }, async () => {
  await using test = startServer(echoHandler());
  const out = await curl(["--include", `http://127.0.0.1:${test.port}/hello?x=1`]);
  assert.equal(out.code, 0, out.stderr);
  const [head, body] = out.stdout.split("\r\n\r\n");
  assert.match(head!, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head!, /\r\ncontent-type: application\/json\r\n/);
  assert.match(head!, /\r\ncontent-length: \d+/);
  assert.deepEqual(JSON.parse(body!), {
    method: "GET",
    path: "/hello?x=1",
    contentType: null,
    transferEncoding: null,
    length: 0,
    head: "",
  });
});

Deno.test({ name: `curl_post_with_body${suffix}`, ignore }, async () => {
  await using test = startServer(echoHandler());
  const out = await curl([
    "--data-binary",
    "@-",
    "-H",
    "content-type: text/plain",
    `http://127.0.0.1:${test.port}/submit`,
  ], "posted text");
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), {
    method: "POST",
    path: "/submit",
    contentType: "text/plain",
    transferEncoding: null,
    length: 11,
    head: "posted text",
  });
});

Deno.test({ name: `curl_large_post_with_expect_100_continue${suffix}`, ignore }, async () => {
  await using test = startServer(echoHandler());
  const body = "y".repeat(3 * 1024 * 1024);
  const out = await curl([
    "--verbose",
    "--data-binary",
    "@-",
    "-H",
    "Expect: 100-continue",
    `http://127.0.0.1:${test.port}/big`,
  ], body);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout).length, body.length);
  assert.match(out.stderr, /< HTTP\/1\.1 100 Continue/);
});

Deno.test({ name: `curl_chunked_upload${suffix}`, ignore }, async () => {
  await using test = startServer(echoHandler());
  const out = await curl([
    "--data-binary",
    "@-",
    "-H",
    "Transfer-Encoding: chunked",
    `http://127.0.0.1:${test.port}/chunked`,
  ], "z".repeat(100_000));
  assert.equal(out.code, 0, out.stderr);
  const echo = JSON.parse(out.stdout);
  assert.equal(echo.transferEncoding, "chunked");
  assert.equal(echo.length, 100_000);
});

Deno.test({ name: `curl_reuses_the_keep_alive_connection${suffix}`, ignore }, async () => {
  const remotePorts: number[] = [];
  await using test = startServer(echoHandler(remotePorts));
  const base = `http://127.0.0.1:${test.port}`;
  const out = await curl([
    "--write-out",
    "\\n%{num_connects}\\n",
    `${base}/one`,
    `${base}/two`,
    `${base}/three`,
  ]);
  assert.equal(out.code, 0, out.stderr);
  const connects = out.stdout.split("\n").filter((line) => /^\d+$/.test(line));
  assert.deepEqual(connects, ["1", "0", "0"]);
  assert.equal(remotePorts.length, 3);
  assert.equal(new Set(remotePorts).size, 1, "all three requests on one connection");
});

Deno.test({ name: `curl_chunked_response${suffix}`, ignore }, async () => {
  await using test = startServer(echoHandler());
  const url = `http://127.0.0.1:${test.port}/stream`;
  const decoded = await curl(["--include", url]);
  assert.equal(decoded.code, 0, decoded.stderr);
  const [head, body] = decoded.stdout.split("\r\n\r\n");
  assert.match(head!, /\r\ntransfer-encoding: chunked(\r\n|$)/);
  assert.equal(body, "part 0;part 1;part 2;part 3;part 4;");
  const raw = await curl(["--raw", url]);
  // --raw shows the chunk framing as sent: one chunk per stream read, then the last chunk.
  const chunks = [0, 1, 2, 3, 4].map((i) => `7\r\npart ${i};\r\n`).join("");
  assert.equal(raw.stdout, `${chunks}0\r\n\r\n`);
});

Deno.test({ name: `curl_head_and_http_10${suffix}`, ignore }, async () => {
  await using test = startServer(() => new Response("ten bytes!"));
  const url = `http://127.0.0.1:${test.port}/`;
  const head = await curl(["--head", url]);
  assert.equal(head.code, 0, head.stderr);
  assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head.stdout, /\r\ncontent-length: 10\r\n/);
  const old = await curl(["--http1.0", "--include", url]);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stdout, /\r\nconnection: close\r\n/);
  assert.ok(old.stdout.endsWith("\r\n\r\nten bytes!"));
});

Deno.test({ name: `curl_gets_431_for_a_huge_header${suffix}`, ignore }, async () => {
  await using test = startServer(() => new Response("never"));
  const out = await curl([
    "--include",
    "-H",
    `X-Huge: ${"h".repeat(20 * 1024)}`,
    `http://127.0.0.1:${test.port}/`,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(out.stdout, /\r\nconnection: close\r\n/);
});

Deno.test({ name: `curl_gets_413_while_still_sending_a_body${suffix}`, ignore }, async () => {
  await using test = startServer(async (request) => new Response(await request.text()), {
    maxBodyBytes: 64 * 1024,
  });
  for (const expect of ["Expect: 100-continue", "Expect:"]) {
    // With "Expect:" (none) curl sends all 4 MiB while the server has already answered 413: the
    // server must drain (lingering close) so that curl reads the 413 instead of a reset.
    const out = await curl([
      "--include",
      "--data-binary",
      "@-",
      "-H",
      expect,
      `http://127.0.0.1:${test.port}/`,
    ], new Uint8Array(4 * 1024 * 1024));
    assert.equal(out.code, 0, `${expect}: ${out.stderr}`);
    assert.match(out.stdout, /^HTTP\/1\.1 413 Content Too Large\r\n/);
  }
});
