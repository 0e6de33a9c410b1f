/**
 * `--header` next to the headers the server sets itself, over real sockets: a configured `Vary`
 * is merged with the server's `Vary: Accept-Encoding` (RFC 9110 §12.5.5: a cache must still know
 * the representation depends on Accept-Encoding), never replaces it; `--header "Cache-Control"`
 * together with `--cache-control` is a usage error rather than one silently winning. The same
 * rules hold for `createFileServer`'s `headers`.
 */

import assert from "node:assert/strict";
import { createFileServer, serve } from "../server/mod.ts";
import { makeSite, runSockserve, startSockserve } from "./cli_helpers.ts";

const TEXT = "compressible text, said again and again. ".repeat(200); // 8 KiB: compressed

Deno.test("cli: --header Vary adds its field names to the server's Vary, on 200, 304 and HEAD", async () => {
  const site = await makeSite({ "page.txt": TEXT, "image.png": "\x89PNG not compressible" });
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--header",
    "Vary: Cookie",
    "--header",
    "vary: accept-encoding, Accept-Language",
  ]);
  try {
    const url = new URL("/page.txt", server.url);
    const gzip = await fetch(url, { headers: { "accept-encoding": "gzip" } });
    await gzip.body?.cancel();
    assert.equal(gzip.headers.get("content-encoding"), "gzip");
    assert.equal(gzip.headers.get("vary"), "Accept-Encoding, Cookie, Accept-Language");
    const identity = await fetch(url, { headers: { "accept-encoding": "identity" } });
    assert.equal(await identity.text(), TEXT);
    assert.equal(identity.headers.get("vary"), "Accept-Encoding, Cookie, Accept-Language");
    const etag = identity.headers.get("etag")!;
    const notModified = await fetch(url, {
      headers: { "if-none-match": etag, "accept-encoding": "identity" },
    });
    await notModified.body?.cancel();
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("vary"), "Accept-Encoding, Cookie, Accept-Language");
    const head = await fetch(url, { method: "HEAD", headers: { "accept-encoding": "br" } });
    await head.body?.cancel();
    assert.equal(head.headers.get("vary"), "Accept-Encoding, Cookie, Accept-Language");
    // A file the server does not compress has no Vary of its own: the configured one alone.
    const image = await fetch(new URL("/image.png", server.url));
    await image.body?.cancel();
    assert.equal(image.headers.get("vary"), "Cookie, accept-encoding, Accept-Language");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --header Cache-Control with --cache-control is a usage error, one line", async () => {
  const site = await makeSite({ "index.html": "hi" });
  try {
    for (
      const argv of [
        ["--cache-control", "max-age=60", "--header", "Cache-Control: no-store"],
        ["-H", "cache-control: no-store", "--cache-control=max-age=60"],
      ]
    ) {
      const result = await runSockserve([site, "--port=0", ...argv]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, "");
      assert.match(
        result.stderr,
        /^sockserve: --header Cache-Control with --cache-control: give Cache-Control once\b[^\n]*\n$/,
      );
    }
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("createFileServer: Vary in headers is merged; Cache-Control twice is a TypeError", async () => {
  const site = await makeSite({ "page.txt": TEXT });
  try {
    assert.throws(
      () =>
        createFileServer({
          root: site,
          cacheControl: "max-age=60",
          headers: [["Cache-Control", "no-store"]],
        }),
      TypeError,
    );
    await using server = serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createFileServer({ root: site, headers: [["Vary", "*"]] }),
    );
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/page.txt`, {
      headers: { "accept-encoding": "gzip" },
    });
    await response.body?.cancel();
    assert.equal(response.headers.get("content-encoding"), "gzip");
    // `*` varies on everything: it says more than any list, Accept-Encoding included.
    assert.equal(response.headers.get("vary"), "*");
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test('cli: a header whose name starts with "-" is given joined with "=", and sent', async () => {
  // A separate "-X: y" reads as an option (cli_process_test.ts); joined, it is the header.
  const site = await makeSite({ "index.html": "hi" });
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "-H=-Short: a",
    "--header=-Long: b",
  ]);
  try {
    const response = await fetch(new URL("/", server.url));
    assert.equal(await response.text(), "hi");
    assert.equal(response.headers.get("-short"), "a");
    assert.equal(response.headers.get("-long"), "b");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});
