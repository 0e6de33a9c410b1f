/**
 * End to end over raw sockets: the header (slowloris), idle keep-alive, body-read, handler and
 * write-stall timeouts. Timeouts are set small; the tests wait for the server's own action
 * (a response or the close), never for a fixed time.
 */

import assert from "node:assert/strict";
import { bodyText, RawClient } from "./support/http_client.ts";
import { deferred, startServer } from "./support/test_server.ts";

const SHORT_MS = 300;

Deno.test("slowloris_partial_head_gets_408_then_close", async () => {
  await using test = startServer(() => new Response("never"), { headerTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 408);
  assert.equal(responses[0]!.reason, "Request Timeout");
  assert.ok(closedBy !== null);
});

Deno.test("slowloris_trickling_bytes_does_not_extend_the_header_timeout", async () => {
  await using test = startServer(() => new Response("never"), { headerTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n");
  // One header byte every 50 ms, far inside any per-read timeout, for at most 10 s.
  const trickle = (async () => {
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      try {
        await client.conn.write(new Uint8Array([0x61]));
      } catch {
        return;
      }
    }
  })();
  const { responses } = await client.readUntilClose();
  client.close();
  await trickle;
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 408);
});

Deno.test("a_connection_that_never_sends_is_closed_after_the_header_timeout", async () => {
  await using test = startServer(() => new Response("never"), { headerTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  const { responses, closedBy } = await client.readUntilClose();
  assert.ok(closedBy !== null);
  // Nothing was asked, so nothing is answered (a preconnecting browser must not see a 408).
  assert.equal(responses.length, 0);
  assert.equal(client.receivedText, "");
});

Deno.test("idle_keep_alive_connection_is_closed_after_the_idle_timeout", async () => {
  await using test = startServer(() => new Response("ok"), { idleTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  // Timed from before the request: the server arms the idle wait before it writes the response.
  const sentAt = performance.now();
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  assert.equal(bodyText(response), "ok");
  const before = client.receivedText.length;
  const { responses, closedBy } = await client.readUntilClose();
  const idleMs = performance.now() - sentAt;
  // Closed silently: an idle connection has no request to answer.
  assert.equal(responses.length, 0);
  assert.equal(client.receivedText.length, before);
  assert.equal(closedBy, "eof");
  // The idle wait is armed without reading the time and starts at the next tick: never early,
  // up to two 250 ms ticks late.
  assert.ok(idleMs >= SHORT_MS, `closed after ${idleMs.toFixed(0)} ms`);
});

Deno.test("a_stray_crlf_after_a_request_leaves_the_connection_idle_not_408", async () => {
  // Some clients send CRLF after a POST body; RFC 9112 §2.2 says to ignore empty lines before a
  // request line. The connection is then idle: closed silently, never answered 408.
  await using test = startServer(() => new Response("ok"), {
    idleTimeoutMs: SHORT_MS,
    headerTimeoutMs: 60_000,
  });
  await using client = await RawClient.connect(test.port);
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n");
  assert.equal(bodyText(await client.readResponse()), "ok");
  const before = client.receivedText.length;
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 0);
  assert.equal(client.receivedText.length, before);
  assert.equal(closedBy, "eof");
});

Deno.test("empty_lines_then_a_request_are_served_and_a_partial_head_after_them_gets_408", async () => {
  await using test = startServer(() => new Response("ok"), { headerTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(bodyText(await client.readResponse()), "ok");
  await client.write("\r\nGET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const { responses } = await client.readUntilClose();
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 408);
});

Deno.test("idle_timeout_does_not_cut_a_request_in_progress", async () => {
  // A long header timeout and a short idle one: once a request has started, the header timeout
  // applies, so a head arriving in two parts across the idle timeout is served.
  await using test = startServer(() => new Response("ok"), {
    idleTimeoutMs: SHORT_MS,
    headerTimeoutMs: 10_000,
  });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await client.readResponse();
  await client.write("GET / HTTP/1.1\r\n");
  await new Promise((resolve) => setTimeout(resolve, SHORT_MS * 3));
  await client.write("Host: x\r\n\r\n");
  assert.equal(bodyText(await client.readResponse()), "ok");
});

Deno.test("body_read_stall_gets_408_and_closes", async () => {
  const bodyError = deferred<unknown>();
  await using test = startServer(async (request) => {
    try {
      await request.text();
    } catch (error) {
      bodyError.resolve(error);
      throw error;
    }
    return new Response("never");
  }, { bodyTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  const { responses, closedBy } = await client.readUntilClose();
  assert.ok(closedBy !== null);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 408);
  // The handler's read of the body failed instead of hanging.
  assert.ok(await bodyError.promise instanceof Error);
});

Deno.test("handler_timeout_gives_503_and_closes", async () => {
  const release = deferred();
  await using test = startServer(async () => {
    await release.promise;
    return new Response("late");
  }, { handlerTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  release.resolve();
  assert.equal(response.status, 503);
  assert.equal(response.headers.find(([name]) => name === "connection")?.[1], "close");
  assert.ok((await client.readUntilClose()).closedBy !== null);
  assert.equal(test.errors.length, 1);
});

Deno.test("write_stall_closes_the_connection_and_the_stream_is_not_buffered", async () => {
  const CHUNK_BYTES = 64 * 1024;
  const STREAM_BYTES = 1024 * 1024 * 1024;
  const chunk = new Uint8Array(CHUNK_BYTES).fill(0x62);
  let pulled = 0;
  const cancelled = deferred<number>();
  const completed = deferred<Promise<void>>();
  await using test = startServer((_request, info) => {
    completed.resolve(info.completed);
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= STREAM_BYTES) return controller.close();
          pulled += CHUNK_BYTES;
          controller.enqueue(chunk);
        },
        cancel() {
          cancelled.resolve(pulled);
        },
      }, { highWaterMark: 0 }),
    );
  }, { bodyTimeoutMs: SHORT_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  // The client never reads: the socket buffers fill and the server must give up.
  const pulledAtCancel = await cancelled.promise;
  await (await completed.promise);
  // Backpressure: the server pulled no more than socket buffers can hold, not the whole stream.
  assert.ok(
    pulledAtCancel < 64 * 1024 * 1024,
    `server pulled ${pulledAtCancel} bytes from a stream the client did not read`,
  );
});
