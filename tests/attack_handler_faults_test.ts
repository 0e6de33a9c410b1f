/**
 * Handler faults: a handler that throws, rejects, returns something that is not a Response, or
 * hangs past `handlerTimeoutMs`. The client gets 500 (503 for the hang, then the close), the
 * error text never reaches the wire, and other connections are served meanwhile.
 */

import assert from "node:assert/strict";
import { RawClient } from "./support/http_client.ts";
import { deferred, startServer } from "./support/test_server.ts";

const HANDLER_TIMEOUT_MS = 1000;
const SECRET = "internal detail 7f3a";

function faultyHandler(hangAborted: PromiseWithResolvers<void>) {
  return async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/throw":
        throw new Error(SECRET);
      case "/reject":
        return await Promise.reject(new Error(SECRET));
      case "/string":
        return SECRET as unknown as Response;
      case "/null":
        return null as unknown as Response;
      case "/object":
        return { status: 200, body: SECRET } as unknown as Response;
      case "/throw-non-error":
        throw SECRET;
      case "/hang":
        request.signal.addEventListener("abort", () => hangAborted.resolve());
        return await new Promise<Response>(() => {});
      default:
        return new Response("fine\n");
    }
  };
}

Deno.test("handler faults give 500 without the error text, and the connection goes on serving", async (t) => {
  const hangAborted = deferred();
  await using test = startServer(faultyHandler(hangAborted), {
    handlerTimeoutMs: HANDLER_TIMEOUT_MS,
  });
  for (const path of ["/throw", "/reject", "/string", "/null", "/object", "/throw-non-error"]) {
    await t.step(path, async () => {
      const client = await RawClient.connect(test.port);
      try {
        await client.write(
          `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n`,
        );
        const [fault] = await client.readResponses(1);
        assert.equal(fault!.status, 500);
        assert.ok(!client.receivedText.includes(SECRET), "error text reached the client");
        // The same connection still works unless the server chose to close after the fault.
        if (!/connection: close/i.test(fault!.head)) {
          const [next] = await client.readResponses(1);
          assert.equal(new TextDecoder().decode(next!.body), "fine\n");
        }
      } finally {
        await client.dispose();
      }
    });
  }
  assert.equal(test.errors.length, 6, "onError saw each fault once");
});

Deno.test("a handler that hangs past handlerTimeoutMs gets 503 and the close, while other connections are served", async () => {
  const hangAborted = deferred();
  await using test = startServer(faultyHandler(hangAborted), {
    handlerTimeoutMs: HANDLER_TIMEOUT_MS,
  });
  const hanging = await RawClient.connect(test.port);
  try {
    await hanging.write(
      "GET /hang HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    const hangResult = hanging.readUntilClose();
    // While the handler hangs, ten other connections are served, each before the 503 arrives.
    let served = 0;
    for (let i = 0; i < 10; i++) {
      const other = await RawClient.connect(test.port);
      try {
        await other.write("GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
        const response = await other.readResponse();
        assert.equal(response.status, 200);
        served++;
      } finally {
        await other.dispose();
      }
    }
    assert.equal(hanging.receivedBytes.length, 0, "the 503 came before the others were served");
    const { responses } = await hangResult;
    assert.equal(served, 10);
    // Exactly the 503: the pipelined request behind the hung one is not served on this
    // connection, because the hung handler may still be running.
    assert.deepEqual(responses.map((r) => r.status), [503]);
    assert.match(responses[0]!.head, /\r\nconnection: close\r\n/i);
    // The hung handler is told to give up.
    await hangAborted.promise;
  } finally {
    await hanging.dispose();
  }
});
