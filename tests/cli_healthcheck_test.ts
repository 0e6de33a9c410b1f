// The healthcheck against real sockets: a raw TCP server that answers with canned bytes (or not
// at all), so these tests depend only on the healthcheck itself.
import assert from "node:assert/strict";
import { healthcheck } from "../server/cli/healthcheck.ts";

/** Serves `response` bytes to every connection after reading the request head. */
function cannedServer(response: string | undefined) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      if (response === undefined) continue; // never answer: the client must time out
      const buffer = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) break;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(response));
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}/health`,
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed after answering
        }
      }
      await done.catch(() => {});
    },
  };
}

const ROWS: [string, boolean, string][] = [
  ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, "answered 200 OK"],
  ["HTTP/1.1 204 No Content\r\n\r\n", true, "answered 204"],
  ["HTTP/1.1 301 Moved Permanently\r\nLocation: /x/\r\nContent-Length: 0\r\n\r\n", true, "301"],
  ["HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, "answered 404"],
  ["HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false, "answered 503"],
  // Not HTTP at all (another protocol on the port): unhealthy, and the line says what came.
  ["SSH-2.0-OpenSSH_9.2\r\n", false, "not an HTTP/1.1 answer"],
];

for (const [response, healthy, text] of ROWS) {
  const status = response.split("\r\n")[0];
  Deno.test(`healthcheck: ${status} is ${healthy ? "healthy" : "unhealthy"}`, async () => {
    const server = cannedServer(response);
    try {
      const result = await healthcheck(server.url, 5000);
      assert.equal(result.healthy, healthy, result.message);
      assert.ok(result.message.includes(text), result.message);
      assert.ok(result.message.startsWith(healthy ? "healthy: " : "unhealthy: "));
    } finally {
      await server.close();
    }
  });
}

Deno.test("healthcheck: a server that never answers is unhealthy after the timeout", async () => {
  const server = cannedServer(undefined);
  try {
    const result = await healthcheck(server.url, 200);
    assert.equal(result.healthy, false);
    assert.ok(result.message.includes("no answer") && result.message.includes("200ms"));
  } finally {
    await server.close();
  }
});

Deno.test("healthcheck: a closed port is unhealthy", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await healthcheck(`http://127.0.0.1:${port}/`, 2000);
  assert.equal(result.healthy, false);
  assert.ok(result.message.startsWith("unhealthy: "), result.message);
});
