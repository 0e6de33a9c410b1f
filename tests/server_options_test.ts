/**
 * `serve()` ignores nothing: every option of `Deno.serve` (read from this Deno's own type
 * declarations) is implemented or refused with a TypeError naming it, unknown names and options
 * of the other kind of listener are refused too, and all of it happens before anything is bound.
 */

import assert from "node:assert/strict";
import { REFUSED_OPTIONS, SERVE_OPTIONS } from "../server/serve_options.ts";
import { DEFAULT_SERVER_LIMITS, serve, type ServeTcpOptions } from "../server/mod.ts";

const hello = () => new Response("hello");

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Asserts that `port` can be bound, i.e. that a refused call bound nothing. */
function assertNotBound(port: number): void {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
}

/** Calls serve() with options the types may not allow (that is the point). */
function serveUnchecked(options: Record<string, unknown>): void {
  serve(options as never, hello);
}

/**
 * Property names of the interfaces `deno types` declares for `Deno.serve`, read from the
 * declarations of the Deno running the tests, so that an option a Deno upgrade adds makes this
 * file fail until it is implemented or refused.
 */
async function denoServeOptionNames(): Promise<Map<string, string[]>> {
  const output = await new Deno.Command(Deno.execPath(), { args: ["types"], stdout: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  const names = new Map<string, string[]>();
  const wanted = [
    "ServeOptions",
    "ServeTcpOptions",
    "ServeUnixOptions",
    "ServeVsockOptions",
    "ServeInit",
    "TlsCertifiedKeyPem",
    "HttpServer",
  ];
  for (const name of wanted) {
    const start = text.search(new RegExp(`export interface ${name}\\b[^{]*\\{`));
    assert.ok(start !== -1, `deno types declares ${name}`);
    const open = text.indexOf("{", start);
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    const body = text.slice(open + 1, end);
    // Members at the interface's own level: a name at the start of a line, then ?: or : or (.
    const members = [...body.matchAll(/^ {4}(\w+)\??[:(]/gm)].map((match) => match[1]!);
    names.set(name, members);
  }
  return names;
}

/** A value for each refused option that asks for something. */
const REFUSED_SAMPLES: Record<string, unknown> = {
  cid: 3,
  cert: "-----BEGIN CERTIFICATE-----",
  key: "-----BEGIN PRIVATE KEY-----",
  keyFormat: "pem",
  certFile: "cert.pem",
  keyFile: "key.pem",
  alpnProtocols: ["h2"],
};

Deno.test("every option of Deno.serve in this Deno's types is implemented or refused", async () => {
  const declared = await denoServeOptionNames();
  const options = new Set([
    ...declared.get("ServeOptions")!,
    ...declared.get("ServeTcpOptions")!,
    ...declared.get("ServeUnixOptions")!,
    ...declared.get("ServeVsockOptions")!,
    ...declared.get("ServeInit")!,
    ...declared.get("TlsCertifiedKeyPem")!,
  ]);
  assert.ok(options.has("port") && options.has("path") && options.has("cert"), [...options].join());
  for (const name of options) {
    assert.ok(
      name in SERVE_OPTIONS || name in REFUSED_OPTIONS,
      `Deno.serve option ${name} is neither implemented nor refused`,
    );
  }
});

Deno.test("the server has every member of Deno.serve's HttpServer, and await using", async () => {
  const declared = await denoServeOptionNames();
  const members = declared.get("HttpServer")!;
  assert.ok(members.includes("shutdown") && members.includes("addr"), members.join());
  await using server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, hello);
  for (const member of members) assert.ok(member in server, `server.${member}`);
  assert.equal(typeof server[Symbol.asyncDispose], "function");
});

Deno.test("each refused Deno.serve option throws a TypeError naming it, before binding", () => {
  const port = freePort();
  for (const [name, reason] of Object.entries(REFUSED_OPTIONS)) {
    assert.ok(name in REFUSED_SAMPLES, `a sample value for ${name}`);
    assert.throws(
      () => serveUnchecked({ hostname: "127.0.0.1", port, [name]: REFUSED_SAMPLES[name] }),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes(name) &&
        error.message.includes(reason),
      name,
    );
  }
  assertNotBound(port);
});

Deno.test("a refused option set to undefined asks for nothing and is accepted", async () => {
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, cid: undefined } as ServeTcpOptions,
    hello,
  );
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(await response.text(), "hello");
});

Deno.test("automaticCompression: true and transport vsock are refused; false is what happens", async () => {
  assert.throws(
    () => serveUnchecked({ port: 0, automaticCompression: true }),
    /automaticCompression: true: sockserve does not compress responses on its own/,
  );
  assert.throws(() => serveUnchecked({ port: 0, transport: "vsock" }), /"vsock".*not VSOCK/);
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, automaticCompression: false },
    () => new Response("x".repeat(4096)),
  );
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
    headers: { "accept-encoding": "gzip" },
  });
  assert.equal(response.headers.get("content-encoding"), null);
  assert.equal((await response.text()).length, 4096);
});

Deno.test("an unknown option is refused by name, with the closest known one", () => {
  const port = freePort();
  const cases: [string, RegExp][] = [
    ["prot", /unknown option "prot" \(did you mean "port"\?\)/],
    ["hostName", /unknown option "hostName" \(did you mean "hostname"\?\)/],
    ["maxConnection", /unknown option "maxConnection" \(did you mean "maxConnections"\?\)/],
    ["onRequestEnded", /unknown option "onRequestEnded" \(did you mean "onRequestEnd"\?\)/],
    ["tunnel", /unknown option "tunnel"/],
    ["zzzzzzzz", /^TypeError: serve\(\): unknown option "zzzzzzzz"$/],
  ];
  for (const [name, message] of cases) {
    assert.throws(() => serveUnchecked({ hostname: "127.0.0.1", port, [name]: 1 }), message);
    // A typo is refused even when its value is undefined: it may be a setting that matters.
    assert.throws(
      () => serveUnchecked({ hostname: "127.0.0.1", port, [name]: undefined }),
      TypeError,
    );
  }
  assertNotBound(port);
});

Deno.test("options of the other listener are refused: TCP options with a Unix socket", () => {
  for (const name of ["port", "hostname", "reusePort", "tcpBacklog"]) {
    const value = { port: 8080, hostname: "127.0.0.1", reusePort: true, tcpBacklog: 16 }[name];
    assert.throws(
      () => serveUnchecked({ path: "/tmp/sockserve-never.sock", [name]: value }),
      new RegExp(`^TypeError: serve\\(\\): ${name} is for TCP; a Unix socket \\(path\\) has none$`),
    );
  }
  assert.throws(() => serveUnchecked({ transport: "unix" }), /transport "unix" needs a path/);
  assert.throws(
    () => serveUnchecked({ transport: "tcp", path: "/tmp/sockserve-never.sock" }),
    /path is for a Unix socket, but transport is "tcp"/,
  );
});

Deno.test("values of the wrong type or out of range are refused, naming the option", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
    [{ port: "8080" }, TypeError, /port must be a number/],
    [{ port: 70_000 }, RangeError, /port must be an integer from 0 to 65535, got 70000/],
    [{ port: 1.5 }, RangeError, /port must be an integer/],
    [{ hostname: "" }, TypeError, /hostname must be a non-empty string/],
    [{ path: "" }, TypeError, /path must be a non-empty string/],
    [{ reusePort: "yes" }, TypeError, /reusePort must be a boolean/],
    [{ tcpBacklog: 0 }, RangeError, /tcpBacklog must be an integer from 1/],
    [{ signal: {} }, TypeError, /signal must be an AbortSignal/],
    [{ onListen: "log" }, TypeError, /onListen must be a function/],
    [{ onError: 1 }, TypeError, /onError must be a function/],
    [{ onRequestEnd: {} }, TypeError, /onRequestEnd must be a function/],
    [{ automaticCompression: "no" }, TypeError, /automaticCompression must be a boolean/],
    [{ transport: "udp" }, TypeError, /transport must be "tcp" or "unix", got "udp"/],
    [{ headerTimeoutMs: -1 }, RangeError, /headerTimeoutMs must be a non-negative integer/],
    [
      { headerTimeoutMs: "5" },
      TypeError,
      /^limit headerTimeoutMs must be a number \(a non-negative integer\), got a string \("5"\)$/,
    ],
    [{ maxConnections: null }, TypeError, /limit maxConnections must be a number .*got null$/],
    [{ idleTimeoutMs: [5] }, TypeError, /limit idleTimeoutMs must be a number .*got an array$/],
    [{ gracePeriodMs: true }, TypeError, /limit gracePeriodMs must be a number .*got a boolean$/],
    [{ bodyTimeoutMs: Number.NaN }, RangeError, /bodyTimeoutMs must be a non-negative integer/],
    [{ maxDiscardBytes: 1.5 }, RangeError, /maxDiscardBytes must be a non-negative integer/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(() => serveUnchecked(options), (error: unknown) => {
      assert.ok(error instanceof type, `${JSON.stringify(options)}: ${error}`);
      assert.match((error as Error).message, message);
      return true;
    });
  }
});

Deno.test("two different handlers are refused; the same one twice is fine", async () => {
  assert.throws(
    () => serve({ port: 0, handler: () => new Response("a") }, () => new Response("b")),
    /two handlers given/,
  );
  assert.throws(() => serve({ port: 0, onListen() {} }), /needs a handler function/);
  assert.throws(() => serve(null as never), /needs a handler function/);
  const handler = () => new Response("same");
  await using server = serve({ hostname: "127.0.0.1", port: 0, onListen() {}, handler }, handler);
  assert.equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "same");
});

Deno.test("every limit is an option of any listener", async () => {
  const limits = Object.fromEntries(
    Object.entries(DEFAULT_SERVER_LIMITS).map(([name, value]) => [name, value]),
  );
  await using server = serve({ hostname: "127.0.0.1", port: 0, onListen() {}, ...limits }, hello);
  assert.equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "hello");
});

Deno.test("tcpBacklog is passed to the listener, which serves", async () => {
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, tcpBacklog: 4, onListen() {} },
    hello,
  );
  const texts = await Promise.all(
    Array.from(
      { length: 8 },
      () => fetch(`http://127.0.0.1:${server.addr.port}/`).then((r) => r.text()),
    ),
  );
  assert.deepEqual(texts, Array(8).fill("hello"));
});

Deno.test("await using shuts the server down at the end of the block", async () => {
  let port = 0;
  let finished: Promise<void> | undefined;
  {
    await using server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, hello);
    port = server.addr.port;
    finished = server.finished;
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "hello");
  }
  await finished;
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});
