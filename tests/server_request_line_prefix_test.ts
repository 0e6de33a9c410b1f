/**
 * End to end over raw sockets: a request line that can no longer become valid is refused with 400
 * and the close as soon as its bad byte arrives, not at the header timeout — the case of a TLS
 * client pointed at the plain-HTTP port, whose ClientHello may hold no LF to end a line. Every
 * server here has a 30 s header timeout, and every client gives up after 5 s: an answer that waits
 * for the timeout fails the test.
 */

import assert from "node:assert/strict";
import type { RequestRecord } from "../server/mod.ts";
import { bodyText, header, RawClient } from "./support/http_client.ts";
import { startServer } from "./support/test_server.ts";

/** Far longer than any test here may take. */
const HEADER_TIMEOUT_MS = 30_000;
/** How long a client waits for the answer: well before the header timeout. */
const ANSWER_WITHIN_MS = 5_000;

/**
 * A real ClientHello, as `openssl s_client -tls1_2 -cipher AES128-SHA -noservername -sigalgs
 * RSA+SHA256:RSA-PSS+SHA256 -no_ticket` (OpenSSL 3.0) sent it: a TLS record (0x16) of 72 bytes
 * with no LF in it, so no line ever ends.
 */
const CLIENT_HELLO = Uint8Array.from(
  ("16030100430100003f0303c7ad08fb40f9951c43decc18a297762b17fb91e6ca9c96d40938036446" +
    "89b2e0000004002f00ff010000120016000000170000000d0006000404010804").match(/../g)!,
  (hex) => parseInt(hex, 16),
);

/** Reads to the close; asserts it is one 400 with `connection: close`, ended by EOF. */
async function assertRefused(client: RawClient): Promise<void> {
  const { responses, closedBy } = await client.readUntilClose(ANSWER_WITHIN_MS);
  assert.equal(responses.length, 1);
  const response = responses[0]!;
  assert.equal(response.status, 400);
  assert.equal(header(response, "connection"), "close");
  assert.equal(bodyText(response), "400 Bad Request\n");
  assert.equal(closedBy, "eof", "the answer must not be destroyed by a reset");
}

Deno.test("a_tls_client_hello_on_the_plain_port_gets_400_and_the_close_at_once_and_is_logged", async () => {
  assert.equal(CLIENT_HELLO.length, 72);
  assert.ok(!CLIENT_HELLO.includes(0x0a));
  const records: RequestRecord[] = [];
  let handlerCalls = 0;
  await using test = startServer(() => {
    handlerCalls++;
    return new Response("never");
  }, { headerTimeoutMs: HEADER_TIMEOUT_MS, onRequestEnd: (record) => records.push(record) });
  await using client = await RawClient.connect(test.port);
  await client.write(CLIENT_HELLO);
  await assertRefused(client);
  assert.equal(handlerCalls, 0);
  // Logged like any request refused before its head was complete: the bytes as received.
  assert.equal(records.length, 1);
  const record = records[0]!;
  assert.equal(record.status, 400);
  assert.equal(record.method, "-");
  assert.ok(record.requestLine?.startsWith("\x16\x03\x01\x00\x43"), record.requestLine);
});

Deno.test("a_tls_client_pointed_at_the_plain_port_fails_its_handshake_at_once", async () => {
  await using test = startServer(() => new Response("never"), {
    headerTimeoutMs: HEADER_TIMEOUT_MS,
  });
  const tls = await Deno.connectTls({ hostname: "127.0.0.1", port: test.port });
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      tls.handshake().then(() => "completed", (error: unknown) => error),
      new Promise((resolve) => timer = setTimeout(() => resolve("timed out"), ANSWER_WITHIN_MS)),
    ]);
    clearTimeout(timer);
    // The server's 400 is no TLS record: the client refuses it instead of waiting.
    assert.ok(outcome instanceof Error, String(outcome));
  } finally {
    tls.close();
  }
});

const ARRIVING_BYTE_BY_BYTE: { name: string; bytes: string }[] = [
  { name: "a_method_byte_that_is_no_tchar", bytes: "GE(T / HTTP/1.1" },
  { name: "a_control_character_in_the_target", bytes: "GET /a\x01b HTTP/1.1" },
  { name: "a_version_that_cannot_become_http_1", bytes: "GET / HTTX/1.1" },
];

for (const row of ARRIVING_BYTE_BY_BYTE) {
  Deno.test(`a_request_line_with_${row.name}_arriving_byte_by_byte_gets_400_before_its_end`, async () => {
    await using test = startServer(() => new Response("never"), {
      headerTimeoutMs: HEADER_TIMEOUT_MS,
    });
    await using client = await RawClient.connect(test.port);
    // No line end is ever sent: only the bad byte can make the server answer in time.
    await client.writeByteByByte(row.bytes);
    await assertRefused(client);
  });
}

Deno.test("valid_requests_arriving_byte_by_byte_are_served_on_one_connection", async () => {
  const targets: string[] = [];
  await using test = startServer((request) => {
    targets.push(new URL(request.url).pathname);
    return new Response("served");
  }, { headerTimeoutMs: HEADER_TIMEOUT_MS });
  await using client = await RawClient.connect(test.port);
  // The second one after an empty line (RFC 9112 §2.2): its lone CR waits for its LF.
  for (const wire of ["GET /one HTTP/1.1\r\nHost: x\r\n\r\n", "\r\nGET /two HTTP/1.0\r\n\r\n"]) {
    await client.writeByteByByte(wire);
    const response = await client.readResponse(ANSWER_WITHIN_MS);
    assert.equal(response.status, 200);
    assert.equal(bodyText(response), "served");
  }
  assert.deepEqual(targets, ["/one", "/two"]);
});
