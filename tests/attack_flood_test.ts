/**
 * Connection flood beyond `maxConnections`: excess connections are closed at once without a
 * response, the accepted ones keep being served, and the server's sockets return to baseline.
 */

import assert from "node:assert/strict";
import { RawClient } from "./support/http_client.ts";
import { quickStatus, startServerProcess, waitFor } from "./support/server_process.ts";

const MAX_CONNECTIONS = 50;
const EXCESS = 300;
/** Bound on how long an excess connection may wait for its close ("promptly"). */
const REFUSAL_BOUND_MS = 2000;

Deno.test("flood beyond maxConnections: excess connections are closed at once, accepted ones keep being served", async () => {
  await using server = await startServerProcess({
    maxConnections: MAX_CONNECTIONS,
    idleTimeoutMs: 30_000,
    headerTimeoutMs: 30_000,
  });
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const baselineFds = server.fdCount();

  // Fill the server with keep-alive connections that each completed one request.
  const accepted: RawClient[] = [];
  for (let i = 0; i < MAX_CONNECTIONS; i++) {
    const client = await RawClient.connect(server.port);
    await client.write(`GET /echo-target?first=${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    accepted.push(client);
  }
  await waitFor(
    () => server.tcpSocketCount() === baselineTcp + MAX_CONNECTIONS,
    "the server to hold every accepted connection",
  );

  // The flood: each excess connection is closed by the server without a byte of response.
  const refused = await Promise.all(Array.from({ length: EXCESS }, async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.write("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n").catch(() => {});
      const { responses } = await client.readUntilClose(REFUSAL_BOUND_MS);
      return { responses: responses.length, bytes: client.receivedBytes.length };
    } finally {
      await client.dispose();
    }
  }));
  assert.deepEqual(
    refused.filter((r) => r.responses !== 0 || r.bytes !== 0),
    [],
    "an excess connection was answered",
  );

  // Every accepted connection is still served, in order, on the same socket.
  await Promise.all(accepted.map(async (client, i) => {
    await client.write(`GET /echo-target?second=${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(new TextDecoder().decode(response.body), `/echo-target?second=${i}`);
  }));
  for (const client of accepted) await client.dispose();

  await waitFor(
    () => server.tcpSocketCount() === baselineTcp,
    "server TCP sockets back to baseline",
  );
  assert.ok(server.fdCount() <= baselineFds + 4, `fds ${server.fdCount()} vs ${baselineFds}`);
  // Room again: a new client is served.
  assert.equal(await quickStatus(server.port), 200);
  assert.ok(server.alive);
});

Deno.test({
  name: "out of file descriptors: the server survives and serves again once fds free up " +
    "(ignored: Deno 2.9.6 itself panics in ext/signals about a second after a process hits " +
    "EMFILE, whatever the program does; keep maxConnections well below RLIMIT_NOFILE)",
  ignore: true,
  async fn() {
    await using server = await startServerProcess({ headerTimeoutMs: 2000 });
    assert.equal(await quickStatus(server.port), 200);
    // Leave the server room for only a few more descriptors, then exceed it.
    const limit = server.fdCount() + 8;
    const prlimit = new Deno.Command("prlimit", {
      args: [`--pid=${server.pid}`, `--nofile=${limit}`],
    }).outputSync();
    assert.ok(prlimit.success);
    const conns: Deno.TcpConn[] = [];
    for (let i = 0; i < 40; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    await waitFor(() => server.fdCount() >= limit - 1, "the server to run out of descriptors");
    // The header timeout (2 s) answers the first accepted connection with 408: the server lived
    // through two seconds without descriptors.
    const first = await conns[0]!.read(new Uint8Array(1024)).catch(() => null);
    assert.ok(server.alive && first !== null, `server died: ${server.stderr().slice(0, 300)}`);
    for (const conn of conns) conn.close();
    await waitFor(() => server.fdCount() < limit - 4, "descriptors freed", 10_000);
    assert.ok(server.alive, `server died: ${server.stderr().slice(0, 300)}`);
    assert.equal(await quickStatus(server.port), 200);
  },
});
