/**
 * Soak: a server process under a bounded mix of keep-alive GETs, uploads (by length and
 * chunked), pipelined batches, garbage connections and client resets. Zero unexpected 5xx, no
 * crash, and after warm-up the server's RSS and file descriptors end within a small margin.
 *
 * SOAK_SECONDS sets the duration (default 20 s in the test suite; `deno task soak` runs 60 s).
 * The figures are printed at the end (requests, errors, RSS and fds at warm-up and at the end).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { RawClient } from "./support/http_client.ts";
import { CORPUS, mutate, mutationsArb } from "./support/mutations.ts";
import { quickStatus, startServerProcess, waitFor } from "./support/server_process.ts";

const SOAK_SECONDS = Number(Deno.env.get("SOAK_SECONDS") ?? 20);
/**
 * Part of the run whose highest RSS is the reference for the end (heaps and caches reach their
 * size in it). The highest sample, not one sample at a fixed time: on a loaded machine the heap
 * still grows after a quarter of the run, because fewer requests have been served by then; a
 * leak, in contrast, keeps growing through the second half.
 */
const WARM_UP_FRACTION = 0.5;
const MIB = 1024 * 1024;
/** RSS may move a little with GC timing; a leak over the whole run would exceed this. */
const RSS_MARGIN_BYTES = 48 * MIB;
/** Runtime files opened lazily; a leak of connections would exceed it by far. */
const FD_MARGIN = 4;

const KEEP_ALIVE_WORKERS = 4;
const UPLOAD_WORKERS = 2;
const PIPELINE_WORKERS = 2;
const GARBAGE_WORKERS = 1;
const RESET_WORKERS = 1;
const PIPELINE_BATCH = 20;
const REQUESTS_PER_CONNECTION = 200;
/** Statuses the garbage may legitimately earn; a 500 or 503 is never expected. */
const GARBAGE_STATUSES = new Set([200, 400, 404, 408, 413, 414, 417, 431, 501, 505]);

interface Tally {
  requests: number;
  unexpected: string[];
  garbage: number;
  resets: number;
}

Deno.test(`soak: ${SOAK_SECONDS} s of mixed traffic, no unexpected 5xx, no crash, flat RSS and fds`, async () => {
  await using server = await startServerProcess({
    headerTimeoutMs: 2000,
    idleTimeoutMs: 2000,
    lingerTimeoutMs: 300,
  });
  for (let i = 0; i < 3; i++) assert.equal(await quickStatus(server.port), 200);
  const baselineTcp = server.tcpSocketCount();
  const idleFdsBefore = server.fdCount();
  const start = performance.now();
  const deadline = start + SOAK_SECONDS * 1000;
  const running = () => performance.now() < deadline;
  const tally: Tally = { requests: 0, unexpected: [], garbage: 0, resets: 0 };
  const fail = (what: string) => {
    if (tally.unexpected.length < 20) tally.unexpected.push(what);
  };
  const decoder = new TextDecoder();
  let seed = 1;

  const keepAlive = async () => {
    while (running()) {
      const client = await RawClient.connect(server.port);
      try {
        for (let i = 0; i < REQUESTS_PER_CONNECTION && running(); i++) {
          await client.write(`GET /echo-target?i=${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
          const response = await client.readResponse();
          tally.requests++;
          if (response.status !== 200 || decoder.decode(response.body) !== `/echo-target?i=${i}`) {
            fail(`keep-alive: ${response.status} ${decoder.decode(response.body)}`);
          }
        }
      } finally {
        await client.dispose();
      }
    }
  };

  const uploads = async () => {
    let round = 0;
    while (running()) {
      const size = (round * 7919) % 300_000;
      const chunked = round++ % 2 === 0;
      const body = new Uint8Array(size).fill(0x62);
      const client = await RawClient.connect(server.port);
      try {
        if (chunked) {
          await client.write(
            "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
          );
          for (let offset = 0; offset < size; offset += 65_536) {
            const piece = body.subarray(offset, Math.min(size, offset + 65_536));
            await client.write(`${piece.length.toString(16)}\r\n`);
            await client.write(piece);
            await client.write("\r\n");
          }
          await client.write("0\r\n\r\n");
        } else {
          await client.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\n\r\n`);
          await client.write(body);
        }
        const response = await client.readResponse();
        tally.requests++;
        if (response.status !== 200 || decoder.decode(response.body) !== String(size)) {
          fail(`upload ${size}: ${response.status} ${decoder.decode(response.body)}`);
        }
      } finally {
        await client.dispose();
      }
    }
  };

  const pipelines = async () => {
    while (running()) {
      const client = await RawClient.connect(server.port);
      try {
        for (let batch = 0; batch < 10 && running(); batch++) {
          const requests = Array.from(
            { length: PIPELINE_BATCH },
            (_, i) => `GET /echo-target?b=${batch}&i=${i} HTTP/1.1\r\nHost: a\r\n\r\n`,
          );
          await client.write(requests.join(""));
          const responses = await client.readResponses(PIPELINE_BATCH);
          tally.requests += responses.length;
          responses.forEach((response, i) => {
            if (decoder.decode(response.body) !== `/echo-target?b=${batch}&i=${i}`) {
              fail(`pipeline: response ${i} out of order: ${decoder.decode(response.body)}`);
            }
          });
        }
      } finally {
        await client.dispose();
      }
    }
  };

  const garbage = async () => {
    while (running()) {
      const [wire, mutations] = fc.sample(
        fc.tuple(fc.constantFrom(...CORPUS), mutationsArb),
        { seed: seed++, numRuns: 1 },
      )[0]!;
      const client = await RawClient.connect(server.port);
      try {
        await client.write(mutate(wire, mutations)).catch(() => {});
        await client.closeWrite().catch(() => {});
        // Whatever comes back must be well-formed and never a server fault.
        const { responses } = await client.readUntilClose().catch(() => ({ responses: [] }));
        tally.garbage++;
        for (const response of responses) {
          if (!GARBAGE_STATUSES.has(response.status)) fail(`garbage got ${response.status}`);
        }
      } finally {
        await client.dispose();
      }
    }
  };

  const resets = async () => {
    let round = 0;
    while (running()) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const encoder = new TextEncoder();
      try {
        switch (round++ % 3) {
          case 0: // Close mid-head.
            await conn.write(encoder.encode("GET /hello HTTP/1.1\r\nHost: a\r\nX-Half: "));
            break;
          case 1: // Close mid-body.
            await conn.write(
              encoder.encode(
                "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nxx",
              ),
            );
            break;
          default: { // Close mid-response with unread bytes (the kernel sends a reset).
            await conn.write(encoder.encode("GET /bytes?n=5000000 HTTP/1.1\r\nHost: a\r\n\r\n"));
            await conn.read(new Uint8Array(1024));
          }
        }
      } catch {
        // The server may already have closed; that is fine.
      } finally {
        conn.close();
        tally.resets++;
      }
    }
  };

  // RSS once a second; the highest in the warm-up part is the reference for the end.
  const rssSamples: number[] = [];
  let warm: { rss: number; fds: number; requests: number } | null = null;
  const sampler = (async () => {
    while (running()) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const rss = server.rssBytes();
      rssSamples.push(rss);
      if (warm === null && performance.now() >= start + SOAK_SECONDS * 1000 * WARM_UP_FRACTION) {
        warm = { rss: Math.max(...rssSamples), fds: server.fdCount(), requests: tally.requests };
      }
    }
  })();

  const workers = [
    ...Array.from({ length: KEEP_ALIVE_WORKERS }, keepAlive),
    ...Array.from({ length: UPLOAD_WORKERS }, uploads),
    ...Array.from({ length: PIPELINE_WORKERS }, pipelines),
    ...Array.from({ length: GARBAGE_WORKERS }, garbage),
    ...Array.from({ length: RESET_WORKERS }, resets),
  ];
  const results = await Promise.allSettled(workers);
  await sampler;
  const workerErrors = results.filter((r) => r.status === "rejected").map((r) =>
    String((r as PromiseRejectedResult).reason)
  );

  // Every connection ends (idle and linger timeouts included), then the end figures.
  await waitFor(() => server.tcpSocketCount() === baselineTcp, "server sockets back to baseline");
  const end = { rss: server.rssBytes(), fds: server.fdCount() };
  const seconds = (performance.now() - start) / 1000;
  const warmFigures = warm as { rss: number; fds: number; requests: number } | null;
  assert.ok(warmFigures !== null);
  // deno-lint-ignore no-console -- the figures the README reports
  console.log(
    `soak: ${SOAK_SECONDS} s, ${tally.requests} requests (${
      Math.round(tally.requests / SOAK_SECONDS)
    }/s), ${tally.garbage} garbage connections, ${tally.resets} resets, ` +
      `${tally.unexpected.length} unexpected answers, ${workerErrors.length} client errors; ` +
      `RSS ${(warmFigures.rss / MIB).toFixed(1)} MiB, the highest in the first half -> ${
        (end.rss / MIB).toFixed(1)
      } MiB at end (peak ${
        (Math.max(...rssSamples) / MIB).toFixed(1)
      } MiB); open fds idle ${idleFdsBefore} before -> ${end.fds} after, ${warmFigures.fds} under load (${
        seconds.toFixed(1)
      } s total)`,
  );
  assert.deepEqual(workerErrors, [], "client operations failed");
  assert.deepEqual(tally.unexpected, [], "unexpected answers");
  assert.ok(server.alive, "the server process died");
  assert.doesNotMatch(server.stderr(), /uncaught|unhandled|panic/i);
  assert.ok(tally.requests > SOAK_SECONDS * 100, `only ${tally.requests} requests`);
  assert.ok(end.fds <= idleFdsBefore + FD_MARGIN, `idle fds ${idleFdsBefore} -> ${end.fds}`);
  assert.ok(
    end.rss <= warmFigures.rss + RSS_MARGIN_BYTES,
    `RSS ${warmFigures.rss} -> ${end.rss}`,
  );
  assert.equal(await quickStatus(server.port), 200);
});
