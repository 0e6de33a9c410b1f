/**
 * A request body the handler ignores is read and dropped up to maxDiscardBytes so the connection
 * can serve the next request; past that the connection is closed after the response.
 */
import assert from "node:assert/strict";
import { bodyText, header, RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";

const ignoreBody = (request: Request) => new Response(`saw ${new URL(request.url).pathname}`);

Deno.test("an ignored chunked body is discarded and the pipelined request answered", async () => {
  await using test = startServer(ignoreBody);
  await using client = await RawClient.connect(test.port);
  await client.write(
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" +
      "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const { responses, closedBy } = await client.readUntilClose();
  assert.deepEqual(responses.map(bodyText), ["saw /upload", "saw /next"]);
  assert.equal(header(responses[0]!, "connection"), null);
  assert.ok(closedBy !== null);
});

Deno.test("an ignored chunked body larger than maxDiscardBytes closes the connection", async () => {
  await using test = startServer(ignoreBody, { maxDiscardBytes: 64 });
  await using client = await RawClient.connect(test.port);
  const chunk = "x".repeat(100);
  // The body is not complete when the handler answers: finishing it would mean reading and
  // dropping more than maxDiscardBytes, so the server closes after the response instead.
  await client.write(
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
  );
  const [response] = await client.readResponses(1);
  assert.equal(bodyText(response!), "saw /upload");
  assert.equal(header(response!, "connection"), "close");
  await client.write(
    `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n`,
  )
    .catch(() => {});
  const { responses, closedBy } = await client.readUntilClose();
  // The request after the oversized body is never answered.
  assert.deepEqual(responses.map(bodyText), []);
  assert.ok(closedBy !== null);
});

Deno.test("an ignored body already received whole keeps the connection, whatever its size", async () => {
  await using test = startServer(ignoreBody, { maxDiscardBytes: 64 });
  await using client = await RawClient.connect(test.port);
  const chunk = "x".repeat(100);
  await client.write(
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n` +
      "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  const { responses } = await client.readUntilClose();
  assert.deepEqual(responses.map(bodyText), ["saw /upload", "saw /next"]);
});
