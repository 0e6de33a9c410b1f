/**
 * End to end over raw sockets: graceful shutdown (by `shutdown()` and by `signal`), the grace
 * period, and the connection limit.
 */

import assert from "node:assert/strict";
import { bodyText, exchange, header, RawClient } from "./support/http_client.ts";
import { deferred, startServer } from "./support/test_server.ts";

/**
 * A new connection is not served: refused, or (when it raced the listener's close into the
 * kernel's backlog) reset or closed without a byte.
 */
async function assertNotServed(port: number): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    assert.ok(
      error instanceof Deno.errors.ConnectionRefused ||
        error instanceof Deno.errors.ConnectionReset,
      `unexpected ${error}`,
    );
    return;
  }
  try {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const n = await conn.read(new Uint8Array(1024));
    assert.equal(n, null, "a connection made after shutdown was answered");
  } catch (error) {
    assert.ok(error instanceof Deno.errors.ConnectionReset, `unexpected ${error}`);
  } finally {
    conn.close();
  }
}

Deno.test("shutdown_lets_the_request_in_flight_finish_and_closes_idle_connections", async () => {
  const inFlight = deferred();
  const release = deferred();
  await using test = startServer(async (request) => {
    if (new URL(request.url).pathname === "/slow") {
      inFlight.resolve();
      await release.promise;
      return new Response("finished in flight");
    }
    return new Response("quick");
  });
  await using busy = await RawClient.connect(test.port);
  await using idle = await RawClient.connect(test.port);
  await idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(bodyText(await idle.readResponse()), "quick");
  await busy.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  await inFlight.promise;

  let finished = false;
  test.server.finished.then(() => finished = true);
  const shutdown = test.server.shutdown();
  // The idle keep-alive connection is closed without a response.
  const idleEnd = await idle.readUntilClose();
  assert.equal(idleEnd.responses.length, 0);
  // New connections are refused at once.
  await assertNotServed(test.port);
  assert.equal(finished, false);

  release.resolve();
  const response = await busy.readResponse();
  assert.equal(bodyText(response), "finished in flight");
  assert.equal(header(response, "connection"), "close");
  assert.ok((await busy.readUntilClose()).closedBy !== null);
  // Like a real client, close on EOF (the server lingers until then, up to lingerTimeoutMs).
  busy.close();
  await shutdown;
  await test.server.finished;
  assert.equal(test.server.connectionCount, 0);
});

Deno.test("shutdown_while_a_request_body_is_uploading_lets_it_finish", async () => {
  const started = deferred();
  await using test = startServer(async (request) => {
    started.resolve();
    return new Response(`got ${(await request.text()).length}`);
  });
  await using client = await RawClient.connect(test.port);
  await client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  await started.promise;
  const shutdown = test.server.shutdown();
  await client.write("56789");
  assert.equal(bodyText(await client.readResponse()), "got 10");
  assert.ok((await client.readUntilClose()).closedBy !== null);
  client.close();
  await shutdown;
});

Deno.test("grace_period_expiry_force_closes_the_request_in_flight", async () => {
  const inFlight = deferred();
  const aborted = deferred<string>();
  const never = deferred<Response>();
  await using test = startServer((request) => {
    request.signal.addEventListener("abort", () => aborted.resolve("aborted"));
    inFlight.resolve();
    return never.promise;
  }, { gracePeriodMs: 300 });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await inFlight.promise;
  await test.server.shutdown();
  await test.server.finished;
  // The connection was closed with no response, and the handler was told.
  const { responses, closedBy } = await client.readUntilClose();
  assert.equal(responses.length, 0);
  assert.ok(closedBy !== null);
  assert.equal(await aborted.promise, "aborted");
  assert.equal(test.server.connectionCount, 0);
  never.resolve(new Response("too late"));
});

Deno.test("aborting_the_signal_option_shuts_down_like_shutdown", async () => {
  const controller = new AbortController();
  const inFlight = deferred();
  const release = deferred();
  await using test = startServer(async () => {
    inFlight.resolve();
    await release.promise;
    return new Response("done");
  }, { signal: controller.signal });
  await using client = await RawClient.connect(test.port);
  await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await inFlight.promise;
  controller.abort();
  await assertNotServed(test.port);
  release.resolve();
  const response = await client.readResponse();
  assert.equal(bodyText(response), "done");
  assert.equal(header(response, "connection"), "close");
  assert.ok((await client.readUntilClose()).closedBy !== null);
  client.close();
  await test.server.finished;
});

Deno.test("an_already_aborted_signal_shuts_down_at_once", async () => {
  const controller = new AbortController();
  controller.abort();
  await using test = startServer(() => new Response("never"), { signal: controller.signal });
  await test.server.finished;
  await assertNotServed(test.port);
});

Deno.test("shutdown_with_no_connections_resolves_and_is_idempotent", async () => {
  await using test = startServer(() => new Response("ok"));
  const first = test.server.shutdown();
  const second = test.server.shutdown();
  assert.equal(first, second);
  await first;
  await test.server.finished;
});

Deno.test("max_connections_closes_excess_connections_and_keeps_serving_the_accepted", async () => {
  await using test = startServer(() => new Response("served"), { maxConnections: 2 });
  await using first = await RawClient.connect(test.port);
  await using second = await RawClient.connect(test.port);
  // A request on each proves both were accepted before the third arrives.
  for (const client of [first, second]) {
    await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(bodyText(await client.readResponse()), "served");
  }
  await using excess = await RawClient.connect(test.port);
  await excess.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").catch(() => {});
  const { responses, closedBy } = await excess.readUntilClose();
  assert.equal(responses.length, 0);
  assert.ok(closedBy !== null);
  assert.equal(test.server.connectionCount, 2);
  for (const client of [first, second]) {
    await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(bodyText(await client.readResponse()), "served");
  }
});

Deno.test("shutdown_answers_the_request_in_flight_but_not_one_pipelined_behind_it", async () => {
  const inFlight = deferred();
  const release = deferred();
  const paths: string[] = [];
  await using test = startServer(async (request) => {
    paths.push(new URL(request.url).pathname);
    inFlight.resolve();
    await release.promise;
    return new Response("first");
  });
  await using client = await RawClient.connect(test.port);
  await client.write("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
  await inFlight.promise;
  const shutdown = test.server.shutdown();
  release.resolve();
  const { responses } = await client.readUntilClose();
  client.close();
  await shutdown;
  // The client learns from connection: close that /2 was not processed and may retry it.
  assert.equal(responses.length, 1);
  assert.equal(header(responses[0]!, "connection"), "close");
  assert.deepEqual(paths, ["/1"]);
});

Deno.test("connections_ended_by_clients_leave_nothing_for_shutdown_to_wait_for", async () => {
  await using test = startServer(async (request) => {
    if (request.body !== null) await request.text().catch(() => "");
    return new Response(new Uint8Array(256 * 1024));
  }, { gracePeriodMs: 60_000 });
  // Clients that vanish at every stage of an exchange.
  const stages = [
    "",
    "GET / HTTP/1.1\r\nHo",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  ];
  for (const stage of stages) {
    const client = await RawClient.connect(test.port);
    if (stage !== "") await client.write(stage);
    if (stage.endsWith("\r\n\r\n")) await client.readBytes(1);
    await client.dispose();
  }
  // A served client proves the server is fine; then shutdown must not wait for the grace period
  // (60 s): every connection above has ended on its own.
  const { responses } = await exchange(
    test.port,
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(responses[0]!.body.length, 256 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    test.server.shutdown().then(() => "finished"),
    new Promise<string>((resolve) => timer = setTimeout(() => resolve("stuck"), 10_000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "finished", `connections left open: ${test.server.connectionCount}`);
});
