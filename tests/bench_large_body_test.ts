/**
 * The benchmark's large-file scenario (S4) and its load client (bench/large_body_load.ts): the
 * client counts whole responses and their bytes against a real sockserve file server, finds what
 * is not a whole 200 response (a 404, a chunked body, a body unlike the file, a connection closed
 * mid-body, a refused connection), ends within its duration plus its drain bound when a server
 * stalls, and a short real run of `deno task bench --scenarios S4` drives the servers with it.
 * Nothing here measures speed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  driveLargeBodyLoad,
  expectedBodyOf,
  type LargeBodyLoadSummary,
} from "../bench/large_body_load.ts";
import { LOAD_SCENARIOS, usesWrk } from "../bench/options.ts";
import { createFileServer } from "../server/mod.ts";
import { startServer } from "./support/test_server.ts";
import { runShortBench } from "./support/bench_run.ts";

const FILE_BYTES = 3 * 1024 * 1024 + 7;

/** Bytes that differ at every offset near both ends (so a shifted body is caught). */
function patterned(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 8) + seed) & 0xff;
  return bytes;
}

function errorsOf(summary: LargeBodyLoadSummary) {
  const { connectErrors, readErrors, writeErrors, statusErrors, timeouts } = summary;
  return { connectErrors, readErrors, writeErrors, statusErrors, timeouts };
}

const NO_ERRORS = {
  connectErrors: 0,
  readErrors: 0,
  writeErrors: 0,
  statusErrors: 0,
  timeouts: 0,
};

/** A sockserve file server over a temporary directory holding `big.bin`; counts requests. */
async function fileSite(content: Uint8Array) {
  const root = await Deno.makeTempDir({ prefix: "large-body-" });
  await Deno.writeFile(join(root, "big.bin"), content);
  const files = createFileServer({ root });
  let served = 0;
  const test = startServer((request) => {
    served++;
    return files(request);
  });
  return {
    port: test.port,
    served: () => served,
    async [Symbol.asyncDispose]() {
      await test[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * A raw TCP server that answers every request on a connection with `answer(conn)`; the
 * connections it holds are closed when it is disposed.
 */
function rawServer(answer: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = new Set<Deno.Conn>();
  let accepted = 0;
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      held.add(conn);
      tasks.push((async () => {
        try {
          // The request: one read is enough for a GET head this small.
          await conn.read(new Uint8Array(4096));
          await answer(conn);
        } catch {
          // The client went away.
        }
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => accepted,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // Closed by its task.
        }
      }
      await Promise.all(tasks);
    },
  };
}

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("large_body_load counts whole responses and their bytes from a sockserve file server", async () => {
  const content = patterned(FILE_BYTES, 0);
  await using site = await fileSite(content);
  const connections = 4;
  const summary = await driveLargeBodyLoad({
    port: site.port,
    path: "/big.bin",
    connections,
    durationSec: 1,
    expect: expectedBodyOf(content),
  });
  assert.deepEqual(errorsOf(summary), NO_ERRORS);
  assert.ok(summary.requests > 0, "no response counted");
  // Each connection has at most one response in flight at the end, finished but not counted.
  const served = site.served();
  assert.ok(
    served >= summary.requests && served - summary.requests <= connections,
    `the server answered ${served} requests, the client counted ${summary.requests}`,
  );
  // Bytes are heads and bodies of the counted responses: whole bodies, a short head each.
  const headBytes = (summary.bytes - summary.requests * FILE_BYTES) / summary.requests;
  assert.ok(Number.isInteger(headBytes), `bytes ${summary.bytes} are not whole responses`);
  assert.ok(headBytes > 40 && headBytes < 1024, `head of ${headBytes} bytes`);
  assert.equal(summary.durationUs, 1_000_000);
  assert.ok(summary.p50Us > 0 && summary.p50Us <= summary.p99Us);
  assert.ok(summary.p99Us <= summary.maxUs + 10, "p99 within the 10 µs bucket of max");
  assert.ok(summary.cpuSec > 0);
});

Deno.test("large_body_load counts a body unlike the expected file as a read error", async () => {
  const content = patterned(FILE_BYTES, 0);
  await using site = await fileSite(content);
  const load = { port: site.port, path: "/big.bin", connections: 2, durationSec: 1 };
  // Same size, other bytes at the start and at the end.
  for (const other of [patterned(FILE_BYTES, 1), content.slice().fill(9, FILE_BYTES - 3)]) {
    const summary = await driveLargeBodyLoad({ ...load, expect: expectedBodyOf(other) });
    assert.ok(summary.readErrors > 0, "a wrong body went unnoticed");
    assert.equal(summary.requests, 0);
  }
  // Another size.
  const shorter = await driveLargeBodyLoad({
    ...load,
    expect: expectedBodyOf(content.subarray(1)),
  });
  assert.ok(shorter.readErrors > 0);
  assert.equal(shorter.requests, 0);
});

Deno.test("large_body_load counts a 404 as a status error and a chunked body as a read error", async () => {
  const load = { path: "/big.bin", connections: 2, durationSec: 1 };
  {
    await using test = startServer(() => new Response("not here\n", { status: 404 }));
    const summary = await driveLargeBodyLoad({ ...load, port: test.port });
    assert.equal(summary.requests, 0);
    assert.ok(summary.statusErrors > 0, "no status error");
    assert.deepEqual({ ...errorsOf(summary), statusErrors: 0 }, NO_ERRORS);
  }
  {
    // A stream of unknown length goes out chunked (RFC 9112 §7.1), which S4 does not expect.
    await using test = startServer(() =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(encode("part"));
            controller.close();
          },
        }),
      )
    );
    const summary = await driveLargeBodyLoad({ ...load, port: test.port });
    assert.equal(summary.requests, 0);
    assert.ok(summary.readErrors > 0, "a chunked body was taken");
  }
});

Deno.test("large_body_load counts a connection closed mid-body as a read error and reconnects", async () => {
  await using server = rawServer(async (conn) => {
    await conn.write(encode("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n"));
    await conn.write(new Uint8Array(1000));
    conn.close();
  });
  const connections = 2;
  const summary = await driveLargeBodyLoad({
    port: server.port,
    path: "/big.bin",
    connections,
    durationSec: 1,
  });
  assert.equal(summary.requests, 0);
  assert.ok(summary.readErrors > connections, `${summary.readErrors} read errors`);
  assert.ok(server.accepted() > connections, "a failed connection is opened again");
  assert.equal(summary.timeouts, 0);
});

Deno.test("large_body_load ends within its duration and drain bound when a server stalls mid-body", async () => {
  await using server = rawServer(async (conn) => {
    await conn.write(encode("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n"));
    await conn.write(new Uint8Array(1000));
    // …and nothing more: the connection stays open until the test ends.
  });
  const connections = 3;
  const drainMs = 300;
  const started = performance.now();
  const summary = await driveLargeBodyLoad({
    port: server.port,
    path: "/big.bin",
    connections,
    durationSec: 1,
    drainMs,
  });
  const elapsed = performance.now() - started;
  // The bound is 1 s + 300 ms; the margin is for a loaded machine, far below a hang.
  assert.ok(elapsed >= 1000 + drainMs - 50, `ended after ${elapsed} ms, before its bound`);
  assert.ok(elapsed < 1000 + drainMs + 3000, `ended after ${elapsed} ms`);
  assert.equal(summary.timeouts, connections, "each stalled response is a timeout");
  assert.equal(summary.requests, 0);
  assert.equal(summary.readErrors, 0, "a timeout is not also a read error");
});

Deno.test("large_body_load counts a refused connection as a connect error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const summary = await driveLargeBodyLoad({ port, path: "/", connections: 3, durationSec: 1 });
  assert.equal(summary.connectErrors, 3);
  assert.equal(summary.requests, 0);
});

Deno.test("S4 is driven by the large-body client, the other HTTP scenarios by wrk", () => {
  const scripts = Object.fromEntries(LOAD_SCENARIOS.map((s) => [s.id, s.script]));
  assert.equal(scripts.S4, "large-body");
  assert.deepEqual(
    LOAD_SCENARIOS.filter((s) => !usesWrk(s)).map((s) => s.id),
    ["S4", "W1"],
  );
});

Deno.test("deno task bench --scenarios S4 measures sockserve and Deno.serve with the large-body client", async () => {
  const out = await Deno.makeTempDir({ prefix: "bench-s4-" });
  try {
    const { stdout, result } = await runShortBench(
      ["--scenarios", "S4", "--servers", "sockserve,deno-serve"],
      out,
    );
    const measured = result.load.filter((entry) => entry.skipped === undefined);
    assert.deepEqual(measured.map((entry) => entry.server).sort(), ["deno-serve", "sockserve"]);
    for (const entry of measured) {
      const [only] = entry.samples;
      assert.ok((only?.requests ?? 0) > 0, `${entry.server} served nothing`);
      assert.equal(only?.errors, 0, entry.server);
      // Whole 10 MiB bodies (each checked against the file by the client) and their heads.
      const bytesPerResponse = (only?.mbPerSec ?? 0) * 1e6 / (only?.requestsPerSec ?? 1);
      assert.ok(
        bytesPerResponse > 10 * 1024 * 1024 && bytesPerResponse < 10 * 1024 * 1024 + 1024,
        `${entry.server}: ${bytesPerResponse} bytes per response`,
      );
      assert.ok((only?.clientCpuShare ?? 0) > 0, `${entry.server} has the client's CPU`);
    }
    assert.match(stdout, /\| S4 10 MiB static file +\| sockserve +\| [\d,]+ \|/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
