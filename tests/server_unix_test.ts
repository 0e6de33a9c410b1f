/**
 * `serve({ path })`: HTTP/1.1 over a Unix socket, as `Deno.serve` does it: the address shapes
 * (`server.addr`, `onListen`, `info.remoteAddr`), real clients (curl `--unix-socket`, Node's
 * http with `socketPath`, raw bytes), keep-alive and pipelining, the access log, and the socket
 * file removed at shutdown.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createAccessLogger, type RequestRecord, serve } from "../server/mod.ts";
import { findBinary, runProgram } from "./support/binaries.ts";
import { bodyText, RawClient } from "./support/http_client.ts";

const curl = findBinary("curl");
const node = findBinary("node");

async function socketPath(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_unix_" });
  return { dir, path: join(dir, "app.sock") };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("unix: addresses have Deno.serve's shapes, and the request reaches the handler", async () => {
  const { dir, path } = await socketPath();
  try {
    let listened: Deno.UnixAddr | undefined;
    const seen: Deno.UnixAddr[] = [];
    const records: RequestRecord<Deno.UnixAddr>[] = [];
    {
      await using server = serve({
        path,
        onListen(addr) {
          listened = addr;
        },
        onRequestEnd: (record) => records.push(record),
      }, (request, info) => {
        seen.push(info.remoteAddr);
        return new Response(`${request.method} ${request.url}`);
      });
      assert.deepEqual(server.addr, { transport: "unix", path });
      assert.deepEqual(listened, { transport: "unix", path });
      assert.ok(Deno.lstatSync(path).isSocket);

      const conn = await Deno.connect({ transport: "unix", path });
      await using client = RawClient.over(conn);
      // Two requests pipelined in one write, then an HTTP/1.0 one without Host.
      await client.write(
        "GET /a HTTP/1.1\r\nHost: app\r\n\r\n" +
          "GET /b?x=1 HTTP/1.1\r\nHost: app\r\n\r\n" +
          "GET /c HTTP/1.0\r\n\r\n",
      );
      const { responses } = await client.readUntilClose();
      assert.deepEqual(responses.map(bodyText), [
        "GET http://app/a",
        "GET http://app/b?x=1",
        "GET http://localhost/c",
      ]);
    }
    assert.deepEqual(seen, Array(3).fill({ transport: "unix", path }));
    assert.equal(records.length, 3);
    assert.deepEqual(records[0]!.remoteAddr, { transport: "unix", path });
    // The socket file is gone with the server, as with Deno.serve.
    assert.equal(exists(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "unix: curl --unix-socket gets the response, twice on one connection",
  ignore: curl === null,
  async fn() {
    const { dir, path } = await socketPath();
    try {
      await using server = serve({ path, onListen() {} }, (request) => {
        return new Response(`hello ${new URL(request.url).pathname}\n`);
      });
      const result = await runProgram(curl!, [
        "-sS",
        "-v",
        "--unix-socket",
        path,
        "http://localhost/one",
        "http://localhost/two",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "hello /one\nhello /two\n");
      assert.match(result.stderr, /Re-using existing connection/);
      assert.equal(server.connectionCount <= 1, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "unix: Node's http client with socketPath gets the response",
  ignore: node === null,
  async fn() {
    const { dir, path } = await socketPath();
    try {
      await using _server = serve({ path, onListen() {} }, async (request) => {
        return new Response(`${request.method} ${await request.text()}`);
      });
      const script = `
        const http = require("node:http");
        const request = http.request({ socketPath: ${JSON.stringify(path)}, path: "/upload",
          method: "POST", headers: { "content-type": "text/plain" } }, (response) => {
          let body = "";
          response.on("data", (chunk) => body += chunk);
          response.on("end", () => console.log(response.statusCode + " " + body));
        });
        request.end("posted over a socket");
      `;
      const result = await runProgram(node!, ["-e", script]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), "200 POST posted over a socket");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("unix: the access log writes unix: for the client", async () => {
  const { dir, path } = await socketPath();
  try {
    const lines: string[] = [];
    {
      await using _server = serve({
        path,
        onListen() {},
        onRequestEnd: createAccessLogger("json", (line) => lines.push(line)),
      }, () => new Response("ok"));
      const conn = await Deno.connect({ transport: "unix", path });
      await using client = RawClient.over(conn);
      await client.write("GET /logged HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n");
      await client.readUntilClose();
    }
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.remote_addr, "unix:");
    assert.equal(entry.remote_port, null);
    assert.equal(entry.target, "/logged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix: a path that exists is refused synchronously and left alone", async () => {
  const { dir, path } = await socketPath();
  try {
    Deno.writeTextFileSync(path, "not a socket");
    assert.throws(
      () => serve({ path, onListen() {} }, () => new Response()),
      Deno.errors.AddrInUse,
    );
    assert.equal(Deno.readTextFileSync(path), "not a socket");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix: shutdown lets the request in flight finish, then removes the socket", async () => {
  const { dir, path } = await socketPath();
  try {
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const server = serve({ path, onListen() {} }, async () => {
      entered.resolve();
      await release.promise;
      return new Response("finished");
    });
    const conn = await Deno.connect({ transport: "unix", path });
    const client = RawClient.over(conn);
    await client.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    await entered.promise;
    const shutdown = server.shutdown();
    // No new connection once shutting down.
    await assert.rejects(Deno.connect({ transport: "unix", path }));
    release.resolve();
    const { responses } = await client.readUntilClose();
    assert.equal(bodyText(responses[0]!), "finished");
    assert.match(responses[0]!.head, /connection: close/i);
    await client.dispose();
    await shutdown;
    assert.equal(exists(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
