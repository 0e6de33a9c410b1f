/**
 * Issue 14, section E: one encoder, fast paths that cannot disagree. The same logical response
 * produces the same head whichever path writes it (Deno's fast text record, the general path, a
 * stream, the static server's cached and streamed files); a response read by a wrapping
 * handler is complete; a 101 the engine cannot honour never reaches the wire.
 */

import assert from "node:assert/strict";
import { createFileServer, markAcceptsRequestLike } from "../server/mod.ts";
import { makeSite } from "./cli_helpers.ts";
import {
  bodyText,
  header,
  IMF_FIXDATE,
  normalizeDate,
  type ParsedResponse,
  RawClient,
} from "./support/http_client.ts";
import { startServerBounded } from "./support/engine_support.ts";

const READY_MS = 3_000;
const encoder = new TextEncoder();

/** Lower-cased field names of a response, sorted (a repeated field appears twice). */
function fieldNames(response: ParsedResponse): string[] {
  return response.headers.map(([name]) => name.toLowerCase()).sort();
}

/** One request on a new connection; the response. */
async function fetchRaw(port: number, request: string, method = "GET"): Promise<ParsedResponse> {
  await using client = await RawClient.connect(port, [method]);
  await client.write(request);
  return await client.readResponse(READY_MS);
}

// ---------------------------------------------------------------------------------------------
// Item 13: the static server's cached (in-memory) and streamed files.

const SMALL = "small file\n";
const LARGE = "large file line\n".repeat(512); // 8 KiB, over the 1 KiB cache limit below.

async function fileServerSite(headers: [string, string][]) {
  const site = await makeSite({ "small.txt": SMALL, "large.txt": LARGE });
  const handler = createFileServer({
    root: site,
    headers,
    cacheMinAgeMs: 0,
    cacheMaxFileBytes: 1024,
    compression: false,
  });
  return { site, handler };
}

/** Fields whose values legitimately differ between two files. */
const PER_FILE_FIELDS = new Set([
  "content-length",
  "content-type",
  "etag",
  "last-modified",
  "date",
]);

for (const method of ["GET", "HEAD"]) {
  Deno.test(`cached_and_streamed_files_carry_the_same_fields_for_the_same_configured_headers: ${method}`, async () => {
    const { site, handler } = await fileServerSite([
      ["Keep-Alive", "timeout=99"],
      ["X-Custom", "1"],
    ]);
    try {
      await using test = startServerBounded(handler);
      const get = (path: string) =>
        fetchRaw(test.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, method);
      await get("/small.txt"); // The first request fills the cache.
      const small = await get("/small.txt");
      const large = await get("/large.txt");
      assert.equal(small.status, 200);
      assert.equal(large.status, 200);
      assert.equal(header(small, "content-length"), String(SMALL.length));
      assert.equal(header(large, "content-length"), String(LARGE.length));
      if (method === "GET") {
        assert.equal(bodyText(small), SMALL);
        assert.equal(bodyText(large), LARGE);
      }
      assert.deepEqual(fieldNames(small), fieldNames(large), `${small.head}\nvs\n${large.head}`);
      for (const [name, value] of small.headers) {
        if (PER_FILE_FIELDS.has(name.toLowerCase())) continue;
        assert.equal(header(large, name), value, `${name} differs`);
      }
      for (const response of [small, large]) {
        // Keep-Alive is the server's to say (it manages persistence): a configured one is dropped.
        assert.equal(header(response, "keep-alive"), null, response.head);
        assert.equal(header(response, "x-custom"), "1");
        assert.match(header(response, "date") ?? "", IMF_FIXDATE);
      }
    } finally {
      await Deno.remove(site, { recursive: true });
    }
  });
}

Deno.test("a_configured_date_is_treated_alike_on_the_cached_and_streamed_paths", async () => {
  const CONFIGURED_DATE = "Sun, 06 Nov 1994 08:49:37 GMT";
  const { site, handler } = await fileServerSite([["Date", CONFIGURED_DATE]]);
  try {
    await using test = startServerBounded(handler);
    const get = (path: string) => fetchRaw(test.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await get("/small.txt");
    const small = await get("/small.txt");
    const large = await get("/large.txt");
    for (const response of [small, large]) {
      assert.equal(response.headers.filter(([n]) => n.toLowerCase() === "date").length, 1);
    }
    // One rule on every path: a Date the handler's response carries (here from the file
    // server's configured fields) is kept, as for any handler (RFC 9110 §6.6.1 lets the origin
    // generate it); the server writes its own only when there is none.
    assert.equal(header(small, "date"), CONFIGURED_DATE);
    assert.equal(header(large, "date"), CONFIGURED_DATE);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Item 13: handler Responses through the engine's paths, differentially.

const STATUSES = [200, 201, 204, 304, 404, 500];
const NULL_BODY_STATUSES = new Set([204, 304]);

/** Request versions and connection options. */
const VERSIONS: { name: string; line: string; fields: string }[] = [
  { name: "http_1_0_keep_alive", line: "HTTP/1.0", fields: "Connection: keep-alive\r\n" },
  { name: "http_1_0", line: "HTTP/1.0", fields: "" },
  { name: "http_1_1", line: "HTTP/1.1", fields: "" },
  { name: "http_1_1_close", line: "HTTP/1.1", fields: "Connection: close\r\n" },
];

/**
 * Header sets the handler adds to its content type, hop-by-hop and server-managed included. A
 * `content-length` of `<length>` is the body's true length (what a handler lying about it should
 * get is another question than whether the paths agree).
 */
const HEADER_SETS: Record<string, [string, string][]> = {
  none: [],
  custom: [["x-custom", "1"], ["cache-control", "no-store"]],
  hop_by_hop: [["connection", "x-private"], ["keep-alive", "timeout=99"], [
    "transfer-encoding",
    "chunked",
  ]],
  server_managed: [["date", "Sun, 06 Nov 1994 08:49:37 GMT"], ["content-length", "<length>"]],
  handler_asks_to_close: [["connection", "close"]],
};

/** Bodies: ASCII text, empty, non-ASCII text, JSON. */
const BODIES: { name: string; text: string; json?: unknown }[] = [
  { name: "text", text: "text" },
  { name: "empty", text: "" },
  { name: "utf8", text: "héllo wörld" },
  { name: "json", text: JSON.stringify({ a: 1 }), json: { a: 1 } },
];

const DEFAULT_TEXT_TYPE = "text/plain;charset=UTF-8";

interface Case {
  status: number;
  set: string;
  body: number;
}

/** The logical response of a case, built three ways. */
function buildResponse(c: Case, variant: string): Response {
  const body = BODIES[c.body]!;
  const type = body.json === undefined ? DEFAULT_TEXT_TYPE : "application/json";
  const length = String(encoder.encode(body.text).length);
  const extra = HEADER_SETS[c.set]!.map(([name, value]): [string, string] => [
    name,
    value === "<length>" ? length : value,
  ]);
  const nullBody = NULL_BODY_STATUSES.has(c.status);
  if (variant === "stream") {
    const bytes = encoder.encode(body.text);
    const headers: [string, string][] = [["content-type", type], ...extra];
    const filtered = headers.filter(([n]) => n !== "content-length");
    filtered.push(["content-length", String(bytes.length)]);
    return new Response(
      new ReadableStream({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        },
      }),
      { status: c.status, headers: filtered },
    );
  }
  let response: Response;
  if (c.status === 200 && extra.length === 0) {
    // The forms for which Deno keeps its fast text record (status 200, no init).
    response = body.json === undefined ? new Response(body.text) : Response.json(body.json);
  } else {
    response = new Response(nullBody ? null : body.text, {
      status: c.status,
      headers: [["content-type", type], ...extra],
    });
  }
  // Reading the headers makes Deno drop its fast record: the general path writes this one.
  if (variant === "general") response.headers.get("content-type");
  return response;
}

/** A head with Date values normalized and, for `withoutFraming`, framing fields removed. */
function comparable(response: ParsedResponse, withoutFraming: boolean): string {
  let head = normalizeDate(response.head);
  if (withoutFraming) {
    head = head.replace(/\r\n(content-length|transfer-encoding): [^\r\n]*/gi, "");
  }
  return head;
}

Deno.test("the_same_logical_response_gets_the_same_head_on_every_path", async () => {
  const cases: Case[] = [];
  for (const status of STATUSES) {
    for (const set of Object.keys(HEADER_SETS)) {
      for (let body = 0; body < BODIES.length; body++) {
        if (NULL_BODY_STATUSES.has(status) && body !== 0) continue;
        cases.push({ status, set, body });
      }
    }
  }
  await using test = startServerBounded((request) => {
    const url = new URL(request.url);
    const c = cases[Number(url.searchParams.get("case"))]!;
    return buildResponse(c, url.searchParams.get("variant")!);
  });
  const failures: string[] = [];
  const jobs: (() => Promise<void>)[] = [];
  cases.forEach((c, index) => {
    for (const version of VERSIONS) {
      jobs.push(async () => {
        const variants = NULL_BODY_STATUSES.has(c.status)
          ? ["fast", "general"]
          : ["fast", "general", "stream"];
        const label = `${c.status} ${c.set} ${BODIES[c.body]!.name} ${version.name}`;
        const seen: Record<string, ParsedResponse> = {};
        for (const method of ["GET", "HEAD"]) {
          for (const variant of variants) {
            seen[`${method} ${variant}`] = await fetchRaw(
              test.port,
              `${method} /?case=${index}&variant=${variant} ${version.line}\r\nHost: x\r\n` +
                `${version.fields}\r\n`,
              method,
            );
          }
          const fast = seen[`${method} fast`]!;
          const general = seen[`${method} general`]!;
          if (comparable(fast, false) !== comparable(general, false)) {
            failures.push(`${label} ${method}: fast vs general\n${fast.head}---\n${general.head}`);
          }
          if (bodyText(fast) !== bodyText(general)) failures.push(`${label}: bodies differ`);
          const stream = seen[`${method} stream`];
          if (stream !== undefined) {
            if (comparable(fast, true) !== comparable(stream, true)) {
              failures.push(`${label} ${method}: fast vs stream\n${fast.head}---\n${stream.head}`);
            }
            if (bodyText(fast) !== bodyText(stream)) failures.push(`${label}: stream body differs`);
          }
        }
        // RFC 9110 §9.3.2: HEAD gets GET's fields; a Content-Length, if sent, is GET's.
        for (const variant of variants) {
          const get = seen[`GET ${variant}`]!;
          const head = seen[`HEAD ${variant}`]!;
          const headLength = header(head, "content-length");
          if (
            comparable(get, true) !== comparable(head, true) ||
            (headLength !== null && headLength !== header(get, "content-length"))
          ) {
            failures.push(`${label} ${variant}: GET vs HEAD\n${get.head}---\n${head.head}`);
          }
        }
      });
    }
  });
  // A few connections at a time; every job is bounded by the client's read timeout.
  const CONCURRENCY = 8;
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < jobs.length) await jobs[next++]!();
  }));
  assert.deepEqual(
    failures.slice(0, 5),
    [],
    `${failures.length} of ${jobs.length} cases differ; the first ones shown`,
  );
});

// ---------------------------------------------------------------------------------------------
// Item 14: a marked handler that reads what createFileServer() returns.

Deno.test("a_marked_handler_that_reads_the_file_servers_response_gets_the_whole_file", async () => {
  const site = await makeSite({ "hello.txt": "hello world" });
  try {
    const fileServer = createFileServer({ root: site, cacheMinAgeMs: 0 });
    await using test = startServerBounded(markAcceptsRequestLike(async (request: Request) => {
      const text = await (await fileServer(request)).text();
      return new Response(text);
    }));
    await using client = await RawClient.connect(test.port);
    for (let i = 0; i < 2; i++) {
      // Twice: the first response may come from disk, the second from the cache.
      await client.write("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
      const response = await client.readResponse(READY_MS);
      assert.equal(response.status, 200);
      assert.equal(bodyText(response), "hello world", `request ${i + 1}`);
    }
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Item 15: a 101 the engine cannot honour.

const WEBSOCKET_REQUEST = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

const SWITCHING: { name: string; request: string; handler: (request: Request) => Response }[] = [
  {
    name: "new_response_101",
    request: "GET /switch HTTP/1.1\r\nHost: x\r\n\r\n",
    handler: () => new Response(null, { status: 101 }),
  },
  {
    name: "deno_upgrade_websocket",
    request: WEBSOCKET_REQUEST,
    handler: (request) => Deno.upgradeWebSocket(request).response,
  },
];

for (const row of SWITCHING) {
  Deno.test(`a_101_response_becomes_a_500_and_an_error_saying_why: ${row.name}`, async () => {
    await using test = startServerBounded(row.handler);
    await using client = await RawClient.connect(test.port);
    await client.write(row.request);
    const response = await client.readResponse(READY_MS);
    assert.equal(response.status, 500, response.head);
    assert.ok(!client.receivedText.includes(" 101 "), "a 101 reached the wire");
    assert.equal(test.errors.length, 1, `onError calls: ${test.errors.length}`);
    const message = (test.errors[0] as Error)?.message ?? String(test.errors[0]);
    assert.match(message, /switch(ing)? protocols/i);
  });
}
