/**
 * HTTPS flow control and closing, over real TLS sockets, on both ways of accepting
 * (`tls_acceptor.ts`): a client that sends and never reads cannot make the server take more than
 * the kernel's buffers hold (the server stops reading, so the client's writes stop completing),
 * and a connection the server closes ends with TLS's close_notify — bounded in time when the
 * client does not take it.
 */

import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import type { Handler } from "../server/mod.ts";
import { forceTlsPath, type TlsPath } from "../server/tls/tls_acceptor.ts";
import { CLOSE_NOTIFY_TIMEOUT_MS } from "../server/tls/tls_socket.ts";
import { within } from "./support/engine_support.ts";
import { NO_OPENSSL, openssl, tlsFixtures } from "./support/tls_fixtures.ts";

const ignore = openssl === null;
const noOpenssl = ignore ? ` (ignored: ${NO_OPENSSL})` : "";
const PATHS: readonly TlsPath[] = ["node-tcp", "deno-listen"];

/**
 * What the server may take from a client that does not read, at most: the kernel's send and
 * receive buffers on loopback (a few MiB each) plus the server's own bounded queue. Without flow
 * control the server takes hundreds of MiB in a few seconds.
 */
const ACCEPTED_BOUND_BYTES = 16 * 1024 * 1024;
/** The client stops once this much was taken (the bound is exceeded: the test fails). */
const FLOOD_CAP_BYTES = 4 * ACCEPTED_BOUND_BYTES;
/** A write that does not complete within this is blocked by TCP's flow control. */
const STALL_MS = 1_000;

/** A TLS server on `path`, with a test-time certificate. */
async function startOn(path: TlsPath, handler: Handler, gracePeriodMs?: number) {
  const tls = await tlsFixtures();
  forceTlsPath(path);
  try {
    return serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: tls.cert,
      key: tls.key,
      onListen() {},
      ...(gracePeriodMs === undefined ? {} : { gracePeriodMs }),
    }, handler);
  } finally {
    forceTlsPath(undefined);
  }
}

async function connect(port: number): Promise<Deno.TlsConn> {
  const tls = await tlsFixtures();
  return await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [tls.ca],
    alpnProtocols: ["http/1.1"],
  });
}

/**
 * Writes `chunk` over and over without reading until a write stays blocked for
 * {@linkcode STALL_MS} or {@linkcode FLOOD_CAP_BYTES} were taken; resolves with the bytes taken.
 * The blocked write is left pending (it fails when the connection closes).
 */
async function flood(conn: Deno.Conn, chunk: Uint8Array): Promise<number> {
  let written = 0;
  while (written < FLOOD_CAP_BYTES) {
    const write = conn.write(chunk);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), STALL_MS);
    });
    const outcome = await Promise.race([write, stalled]);
    clearTimeout(timer);
    if (outcome === "stalled") {
      write.catch(() => {});
      return written;
    }
    written += outcome;
  }
  return written;
}

/** Reads until `count` occurrences of `marker` arrived; false when the stream ends first. */
async function readsMarkers(conn: Deno.Conn, marker: string, count: number): Promise<boolean> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let seen = 0;
  let tail = ""; // what may be the start of a marker cut in two
  while (seen < count) {
    const n = await conn.read(buffer);
    if (n === null) return false;
    const text = tail + decoder.decode(buffer.subarray(0, n));
    seen += text.split(marker).length - 1;
    const last = text.lastIndexOf(marker);
    tail = text.slice(
      Math.max(last === -1 ? 0 : last + marker.length, text.length - marker.length + 1),
    );
  }
  return true;
}

const encoder = new TextEncoder();
const ANSWER = "a".repeat(1200);

for (const path of PATHS) {
  Deno.test({
    name: `https (${path}): a client that pipelines requests and never reads answers is held ` +
      `to the kernel's buffers` + noOpenssl,
    ignore,
    async fn() {
      // A short grace period: the client's close waits for its own blocked write, so the
      // server's shutdown is what ends the connection.
      const server = await startOn(path, () => new Response(ANSWER), 300);
      const conn = await connect(server.addr.port);
      try {
        const chunk = encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(2000));
        const taken = await flood(conn, chunk);
        assert.ok(
          taken <= ACCEPTED_BOUND_BYTES,
          `the server took ${(taken / 2 ** 20).toFixed(1)} MiB from a client that does not read`,
        );
        // Flow control, not a disconnection: once the client reads, it is answered.
        assert.ok(await within(readsMarkers(conn, "HTTP/1.1 200 OK", 100), 10_000, "answers"));
      } finally {
        conn.close();
        await within(server.shutdown(), 10_000, "shutdown");
      }
    },
  });

  Deno.test({
    name: `https (${path}): a request body the handler does not read is not read past the ` +
      `kernel's buffers` + noOpenssl,
    ignore,
    async fn() {
      const entered = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const server = await startOn(path, async () => {
        entered.resolve();
        await release.promise;
        return new Response("late\n");
      }, 300);
      const conn = await connect(server.addr.port);
      try {
        await conn.write(
          encoder.encode("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 400000000\r\n\r\n"),
        );
        await within(entered.promise, 10_000, "the handler is called");
        const taken = await flood(conn, new Uint8Array(64 * 1024).fill(0x78));
        assert.ok(
          taken <= ACCEPTED_BOUND_BYTES,
          `the server took ${(taken / 2 ** 20).toFixed(1)} MiB of a body nobody reads`,
        );
      } finally {
        release.resolve();
        conn.close();
        await within(server.shutdown(), 10_000, "shutdown");
      }
    },
  });

  Deno.test({
    name: `https (${path}): shutdown closes an idle keep-alive connection with close_notify` +
      noOpenssl,
    ignore,
    async fn() {
      const server = await startOn(path, () => new Response("hello\n"));
      const conn = await connect(server.addr.port);
      try {
        await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert.ok(await readsMarkers(conn, "hello\n", 1));
        const shutdown = server.shutdown();
        // A clean TLS close reads as the end of the stream; a close without close_notify makes
        // the read fail with UnexpectedEof.
        assert.equal(await within(conn.read(new Uint8Array(1024)), 5_000, "the close"), null);
        await within(shutdown, 5_000, "shutdown");
      } finally {
        conn.close();
        await server.shutdown();
      }
    },
  });

  Deno.test({
    name: `https (${path}): closing a client that does not read waits for close_notify only ` +
      `briefly` + noOpenssl,
    ignore,
    async fn() {
      // 32 MiB answered to a client that does not read: the server's writes block, then the
      // grace period ends and the connection is closed with its close_notify still unsent.
      const big = new Uint8Array(32 * 1024 * 1024);
      const gracePeriodMs = 200;
      const server = await startOn(path, () => new Response(big), gracePeriodMs);
      const conn = await connect(server.addr.port);
      try {
        await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert.ok(await readsMarkers(conn, "HTTP/1.1 200 OK", 1));
        const start = performance.now();
        await within(server.shutdown(), 10_000, "shutdown");
        const elapsed = performance.now() - start;
        // The grace period, then at most the close_notify timeout (and a noisy machine's slack).
        assert.ok(
          elapsed < gracePeriodMs + CLOSE_NOTIFY_TIMEOUT_MS + 3_000,
          `shutdown took ${elapsed.toFixed(0)} ms`,
        );
        assert.equal(server.connectionCount, 0);
      } finally {
        conn.close();
      }
    },
  });
}
