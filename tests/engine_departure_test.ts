/**
 * Issue 14, section C: knowing when a client is gone, and settling. A client that leaves while
 * its response is idle (an event stream between events), while its body is unread, or on a
 * connection that will close is noticed: the stream's `cancel()` runs, `request.signal` aborts,
 * the slot is freed, and `shutdown()` / `finished` settle.
 *
 * The engine takes a client's EOF as departure once the response has made no progress for 1 s
 * after it (a half-closing client whose response keeps flowing is still served), so the bounds
 * below allow a few seconds per wait; each is an upper bound on an event, not a sleep.
 */

import assert from "node:assert/strict";
import { bodyText, RawClient } from "./support/http_client.ts";
import { readHead, settlesWithin, startServerBounded, within } from "./support/engine_support.ts";
import { waitFor } from "./support/server_process.ts";
import { deferred } from "./support/test_server.ts";

const encoder = new TextEncoder();

/** Bound on the server noticing that clients left (1 s of stall after EOF, plus ticks). */
const DEPARTURE_MS = 3_000;

/**
 * An event-stream handler: each response sends one comment, then its `pull` waits until the
 * stream is cancelled. Counts the streams started and cancelled; `cancelled(n)` resolves when
 * `n` cancels have run.
 */
function eventStreams() {
  let started = 0;
  let cancels = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const handler = (request: Request) => {
    if (new URL(request.url).pathname !== "/events") return new Response("plain");
    started++;
    const cancelledHere = deferred();
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode(": connected\n\n"));
        },
        async pull() {
          await cancelledHere.promise; // The next event never comes.
        },
        cancel() {
          cancels++;
          cancelledHere.resolve();
          for (const waiter of waiters.filter((w) => cancels >= w.n)) waiter.resolve();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  };
  const cancelled = (n: number) =>
    new Promise<void>((resolve) => {
      if (cancels >= n) resolve();
      else waiters.push({ n, resolve });
    });
  return {
    handler,
    cancelled,
    get started() {
      return started;
    },
    get cancels() {
      return cancels;
    },
  };
}

Deno.test("fifty_departed_event_stream_clients_are_all_cancelled_and_free_their_slots", async () => {
  const MAX_CONNECTIONS = 20;
  const CLIENTS = 50;
  const streams = eventStreams();
  await using test = startServerBounded(streams.handler, { maxConnections: MAX_CONNECTIONS });
  // Waves of at most maxConnections clients: each connects, reads the head, and leaves; the next
  // wave starts once the server has noticed every departure so far (cancel() ran for each).
  for (let done = 0; done < CLIENTS;) {
    const wave = Math.min(MAX_CONNECTIONS, CLIENTS - done);
    await Promise.all(Array.from({ length: wave }, async () => {
      const client = await RawClient.connect(test.port);
      try {
        await client.write("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
        const head = await readHead(client);
        assert.match(head, /^HTTP\/1\.1 200 /, `a client after ${done} departures was not served`);
      } finally {
        await client.dispose();
      }
    }));
    done += wave;
    await within(
      streams.cancelled(done),
      DEPARTURE_MS,
      `cancel() after ${done} clients left (${streams.cancels} ran)`,
    );
    // Their slots are free before the next wave (the count drops as each socket closes).
    await waitFor(
      () => test.server.connectionCount === 0,
      `connectionCount back to 0 after ${done} departures (${test.server.connectionCount})`,
      2_000,
    );
  }
  assert.equal(streams.started, CLIENTS);
  assert.equal(streams.cancels, CLIENTS);
  // A fresh client is served.
  await using fresh = await RawClient.connect(test.port);
  await fresh.write("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(bodyText(await fresh.readResponse(DEPARTURE_MS)), "plain");
});

Deno.test("shutdown_and_finished_settle_after_the_grace_period_while_an_event_stream_is_open", async () => {
  const GRACE_MS = 300;
  const streams = eventStreams();
  await using test = startServerBounded(streams.handler, { gracePeriodMs: GRACE_MS });
  await using client = await RawClient.connect(test.port);
  await client.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  await readHead(client);
  // The client stays connected and reading; the stream waits for an event that never comes.
  const shutdown = test.server.shutdown();
  assert.ok(
    await settlesWithin(shutdown, GRACE_MS + 2_000),
    "shutdown() did not settle after the grace period",
  );
  assert.ok(
    await settlesWithin(test.server.finished, 500),
    "finished did not settle after shutdown()",
  );
  await within(streams.cancelled(1), 1_000, "the open stream's cancel()");
  assert.equal(test.server.connectionCount, 0);
});

/**
 * Byte streams (`type: "bytes"`) that end by `close()` from `pull()`. Closing while a BYOB read
 * is pending does not settle that read (the Streams standard wants `byobRequest.respond(0)`
 * too), which a handler's stream cannot be expected to know: the engine must still end the body.
 */
const BYTE_STREAMS: { name: string; make: (payload: Uint8Array) => ReadableStream<Uint8Array> }[] =
  [
    {
      name: "enqueue_and_close_in_one_pull",
      make: (payload) =>
        new ReadableStream({
          type: "bytes",
          pull(controller) {
            controller.enqueue(payload.slice());
            controller.close();
          },
        }),
    },
    {
      name: "enqueue_in_one_pull_close_in_the_next",
      make: (payload) => {
        let sent = false;
        return new ReadableStream({
          type: "bytes",
          pull(controller) {
            if (sent) return controller.close();
            sent = true;
            controller.enqueue(payload.slice());
          },
        });
      },
    },
    {
      name: "enqueue_in_start_close_in_pull",
      make: (payload) =>
        new ReadableStream({
          type: "bytes",
          start(controller) {
            controller.enqueue(payload.slice());
          },
          pull(controller) {
            controller.close();
          },
        }),
    },
  ];

for (const row of BYTE_STREAMS) {
  Deno.test(`a_byte_stream_closed_by_pull_ends_with_the_last_chunk: ${row.name}`, async () => {
    const payload = encoder.encode("all of the bytes of a byte stream");
    await using test = startServerBounded(() => new Response(row.make(payload)));
    await using client = await RawClient.connect(test.port);
    await client.write("GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n");
    const response = await client.readResponse(DEPARTURE_MS);
    assert.equal(response.framing, "chunked");
    assert.equal(bodyText(response), "all of the bytes of a byte stream");
    assert.ok(response.raw.endsWith("\r\n0\r\n\r\n"), JSON.stringify(response.raw));
    // The connection goes on.
    await client.write("GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(bodyText(await client.readResponse(DEPARTURE_MS)), bodyText(response));
  });
}

/** Requests whose client leaves while the handler waits on request.signal. */
const LEAVING_CLIENTS: { name: string; request: string }[] = [
  {
    name: "connection_close_request",
    request: "GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  },
  { name: "http_1_0_request", request: "GET /wait HTTP/1.0\r\n\r\n" },
  {
    name: "post_whose_small_body_the_handler_has_not_read",
    request: "POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
  },
];

for (const row of LEAVING_CLIENTS) {
  Deno.test(`request_signal_aborts_when_the_client_leaves: ${row.name}`, async () => {
    const running = deferred();
    const aborted = deferred();
    const release = deferred();
    await using test = startServerBounded(async (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      if (request.signal.aborted) aborted.resolve();
      running.resolve();
      await Promise.race([aborted.promise, release.promise]);
      return new Response("nobody is listening");
    });
    try {
      const client = await RawClient.connect(test.port);
      await client.write(row.request);
      await running.promise;
      await client.dispose();
      await within(aborted.promise, DEPARTURE_MS, "request.signal aborting");
    } finally {
      release.resolve();
    }
  });
}

// Found in review: departure while pipelined bytes or an unread body wait in the parser, and
// while a 100 Continue is owed; streams returned after their exchange ended; a handler abandoned
// at its deadline; a client leaving mid-echo.

for (
  const [name, extra] of [
    ["a_pipelined_request_behind_it", "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["one_byte_of_a_next_request_behind_it", "G"],
  ] as const
) {
  Deno.test(`an_event_stream_client_that_leaves_with_${name}_is_noticed`, async () => {
    const streams = eventStreams();
    await using test = startServerBounded(streams.handler, { maxConnections: 1 });
    const client = await RawClient.connect(test.port);
    await client.write(`GET /events HTTP/1.1\r\nHost: x\r\n\r\n${extra}`);
    await readHead(client);
    await client.dispose();
    await within(streams.cancelled(1), DEPARTURE_MS, "the stream's cancel()");
    await waitFor(() => test.server.connectionCount === 0, "the slot freed");
  });
}

for (
  const [name, head, body] of [
    [
      // Up to the body queue (16 KiB): a larger body the handler has not begun to read is not
      // read on (memory stays bounded), so its client's departure waits for the handler.
      "an_unread_12_kb_body",
      "POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 12000\r\n\r\n",
      "x".repeat(12_000),
    ],
    [
      "a_100_continue_owed",
      "POST /wait HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
      "",
    ],
  ] as const
) {
  Deno.test(`a_long_poll_client_that_leaves_with_${name}_is_noticed`, async () => {
    const aborted = deferred();
    const started = deferred();
    await using test = startServerBounded(async (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      started.resolve();
      await aborted.promise;
      return new Response("too late");
    });
    const client = await RawClient.connect(test.port);
    await client.write(head + body);
    await started.promise;
    await client.dispose();
    await within(aborted.promise, DEPARTURE_MS, "request.signal aborted");
  });
}

Deno.test("a_stream_returned_after_its_client_left_is_cancelled", async () => {
  const cancelled = deferred();
  const left = deferred();
  await using test = startServerBounded(async (request) => {
    await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
    left.resolve();
    return new Response(new ReadableStream({ cancel: () => cancelled.resolve() }));
  });
  const client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await client.dispose();
  await within(left.promise, DEPARTURE_MS, "the handler saw the client leave");
  await within(cancelled.promise, DEPARTURE_MS, "the late stream's cancel()");
});

Deno.test("a_stream_returned_after_the_handler_timeout_is_cancelled", async () => {
  const cancelled = deferred();
  await using test = startServerBounded(async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    return new Response(new ReadableStream({ cancel: () => cancelled.resolve() }));
  }, { handlerTimeoutMs: 500 });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const response = await client.readResponse();
  assert.equal(response.status, 503);
  await within(cancelled.promise, 5_000, "the late stream's cancel()");
});

Deno.test("after_the_handler_timeout_the_connection_closes_though_the_handler_still_reads", async () => {
  await using test = startServerBounded(async (request) => {
    const reader = request.body!.getReader();
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) break;
    return new Response("read it all");
  }, { handlerTimeoutMs: 1_000, bodyMinRate: 0 });
  await using client = await RawClient.connect(test.port);
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  let stop = false;
  const trickling = (async () => {
    while (!stop) {
      await client.write("x").catch(() => stop = true);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  try {
    const response = await client.readResponse();
    assert.equal(response.status, 503);
    // The server half-closes at once after the 503, whatever the abandoned handler does.
    const { closedBy } = await client.readUntilClose(5_000);
    assert.ok(closedBy !== null);
  } finally {
    stop = true;
    await trickling;
  }
});

Deno.test("a_client_that_leaves_in_the_middle_of_an_echo_is_not_a_handler_failure", async () => {
  await using test = startServerBounded((request) => new Response(request.body));
  const client = await RawClient.connect(test.port);
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  await client.write("x".repeat(10_000));
  await readHead(client);
  await client.dispose();
  await waitFor(() => test.server.connectionCount === 0, "the connection closed");
  assert.deepEqual(test.errors, []);
});

Deno.test("a_client_that_resets_during_an_idle_event_stream_aborts_the_request_signal", async () => {
  // Found by a newcomer's probe: after a reset (not a FIN) the stream was cancelled but
  // request.signal stayed unaborted in most runs, so handlers that clean up on it leaked.
  const RESETS = 10;
  const aborted: Promise<void>[] = [];
  const handler = (request: Request) => {
    const signal = request.signal;
    aborted.push(new Promise((resolve) => signal.addEventListener("abort", () => resolve())));
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("data: hi\n\n")); // then nothing: the stream idles
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  };
  await using test = startServerBounded(handler);
  const script = new URL("./support/reset_client.mjs", import.meta.url).pathname;
  const output = await new Deno.Command("node", {
    args: [script, String(test.port), "mid-response", String(RESETS)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  assert.equal(aborted.length, RESETS);
  await within(Promise.all(aborted), 5_000, "every request's signal aborted");
});
