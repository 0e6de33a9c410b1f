/**
 * The public `serve()` API: the three call shapes of `Deno.serve`, `onListen`, and the errors a
 * wrong configuration gives at start.
 */

import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";

import { bodyText, exchange } from "./support/http_client.ts";

const GET = "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

Deno.test("serve_accepts_the_handler_in_the_options", async () => {
  let listened: Deno.NetAddr | null = null;
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen(addr) {
      listened = addr;
    },
    handler: () => new Response("from options"),
  });
  try {
    assert.deepEqual(listened, server.addr);
    assert.equal(server.addr.transport, "tcp");
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.ok(server.addr.port > 0);
    const { responses } = await exchange(server.addr.port, GET);
    assert.equal(bodyText(responses[0]!), "from options");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve_accepts_options_then_handler", async () => {
  const server = serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => new Response(new URL(request.url).pathname),
  );
  try {
    const { responses } = await exchange(server.addr.port, GET);
    assert.equal(bodyText(responses[0]!), "/x");
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve_without_a_handler_throws_a_type_error", () => {
  assert.throws(() => serve({ port: 0, onListen() {} }), TypeError);
});

Deno.test("serve_with_a_nonsense_limit_throws_before_listening", () => {
  assert.throws(
    () => serve({ port: 0, onListen() {}, headerTimeoutMs: -1 }, () => new Response()),
    RangeError,
  );
  assert.throws(
    () => serve({ port: 0, onListen() {}, maxBodyBytes: 1.5 }, () => new Response()),
    RangeError,
  );
});

Deno.test("serve_on_a_port_in_use_throws_addr_in_use_synchronously", async () => {
  const first = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response());
  try {
    assert.throws(
      () =>
        serve(
          { port: first.addr.port, hostname: "127.0.0.1", onListen() {} },
          () => new Response(),
        ),
      Deno.errors.AddrInUse,
    );
  } finally {
    await first.shutdown();
  }
});

Deno.test("unref_and_ref_are_callable_and_the_server_keeps_serving", async () => {
  const server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response("ok"));
  try {
    server.unref();
    server.ref();
    const { responses } = await exchange(server.addr.port, GET);
    assert.equal(bodyText(responses[0]!), "ok");
  } finally {
    await server.shutdown();
  }
});

Deno.test("the default onListen line is Deno.serve's, on stderr like Deno.serve's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_onlisten_" });
  try {
    // Each address served by Deno.serve and by serve(), one after the other, in one process.
    const script = `
      import { serve } from ${JSON.stringify(new URL("../server/mod.ts", import.meta.url).href)};
      const handler = () => new Response("x");
      for (const options of [
        { port: 0, hostname: "127.0.0.1" },
        { port: 0, hostname: "0.0.0.0" },
        { path: ${JSON.stringify(dir)} + "/SERVER.sock" },
      ]) {
        for (const [name, start] of [["deno", Deno.serve], ["ours", serve]]) {
          const given = "path" in options
            ? { path: options.path.replace("SERVER", name) }
            : options;
          await start(given, handler).shutdown();
        }
      }
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout), "", "nothing on stdout");
    const lines = stderr.trimEnd().split("\n").map((line) =>
      line.replace(/:\d+\//g, ":PORT/").replace(/(deno|ours)\.sock$/, "SERVER.sock")
    );
    assert.deepEqual(lines, [
      "Listening on http://127.0.0.1:PORT/",
      "Listening on http://127.0.0.1:PORT/",
      "Listening on http://0.0.0.0:PORT/ (http://localhost:PORT/)",
      "Listening on http://0.0.0.0:PORT/ (http://localhost:PORT/)",
      `Listening on ${dir}/SERVER.sock`,
      `Listening on ${dir}/SERVER.sock`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
