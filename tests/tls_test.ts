/**
 * HTTPS: `serve({ cert, key })` with a throwaway certificate authority made at test time, and
 * real clients (curl, Node's fetch, `Deno.connectTls`, Deno's fetch). What a client sees: the
 * responses (one connection, pipelined, large in both directions), the handshake bounded by the
 * header timeout, failed handshakes reported once each, the connection limit and graceful
 * shutdown as over TCP, certificates refused at start with a clear message, and the two ways of
 * accepting (tls_acceptor.ts) answering byte for byte the same.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import WebSocketFromNpm from "ws";
import { serve, type ServeTcpOptions, TlsHandshakeError, upgradeWebSocket } from "../server/mod.ts";
import type { Handler } from "../server/mod.ts";
import { bindTls, forceTlsPath, nodeTcpWrap } from "../server/tls/tls_acceptor.ts";
import { findBinary, runProgram } from "./support/binaries.ts";
import { within } from "./support/engine_support.ts";
import {
  bodyText,
  header,
  normalizeDate,
  type ParsedResponse,
  RawClient,
} from "./support/http_client.ts";
import { waitFor } from "./support/server_process.ts";
import { NO_OPENSSL, openssl, type TlsFixtures, tlsFixtures } from "./support/tls_fixtures.ts";

const curl = findBinary("curl");
const node = findBinary("node");
const ignore = openssl === null;
/** Appended to the name of a test that is ignored, saying why. */
const why = (missing: string | null) => missing === null ? "" : ` (ignored: ${missing})`;
const noOpenssl = why(ignore ? NO_OPENSSL : null);
const noCurl = why(ignore ? NO_OPENSSL : curl === null ? "curl is not installed" : null);
const noNode = why(ignore ? NO_OPENSSL : node === null ? "node is not installed" : null);

/** A TLS test server and what it reported. */
interface TlsServer extends AsyncDisposable {
  readonly server: ReturnType<typeof serve>;
  readonly port: number;
  readonly handshakeErrors: TlsHandshakeError[];
  readonly handlerErrors: unknown[];
}

async function startTls(
  handler: Handler,
  options: ServeTcpOptions = {},
  fixtures?: TlsFixtures,
): Promise<TlsServer> {
  const tls = fixtures ?? await tlsFixtures();
  const handshakeErrors: TlsHandshakeError[] = [];
  const handlerErrors: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
    onListen() {},
    onHandshakeError: (error) => handshakeErrors.push(error),
    onError(error) {
      handlerErrors.push(error);
      return new Response("500\n", { status: 500 });
    },
    ...options,
  }, handler);
  return {
    server,
    port: server.addr.port,
    handshakeErrors,
    handlerErrors,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A raw client over TLS, trusting the test CA. */
async function tlsClient(port: number, methods: readonly string[] = []): Promise<RawClient> {
  const tls = await tlsFixtures();
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [tls.ca],
    alpnProtocols: ["http/1.1"],
  });
  return RawClient.over(conn, methods);
}

/** Sends `GET path` with `Connection: close` over `client` and asserts the echo handler's answer. */
async function assertEchoes(client: RawClient, path: string): Promise<void> {
  await client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  assert.equal(
    bodyText((await client.readUntilClose()).responses[0]!),
    `GET https://localhost${path} tcp\n`,
  );
}

/** Reads until the server closes the connection; resolves with how long that took. */
async function closedWithin(conn: Deno.Conn, boundMs: number): Promise<number> {
  const start = performance.now();
  const buffer = new Uint8Array(1024);
  await within(
    (async () => {
      for (;;) {
        try {
          if (await conn.read(buffer) === null) return;
        } catch {
          return; // A reset is a close too.
        }
      }
    })(),
    boundMs,
    "the server closes the connection",
  );
  return performance.now() - start;
}

const echo: Handler = (request, info) =>
  new Response(`${request.method} ${request.url} ${info.remoteAddr.transport}\n`);

Deno.test({
  name: "https: curl --cacert gets the responses, TLS 1.3 with ALPN http/1.1, one connection" +
    noCurl,
  ignore: ignore || curl === null,
  async fn() {
    const tls = await tlsFixtures();
    await using test = await startTls(echo);
    const base = `https://localhost:${test.port}`;
    const result = await runProgram(curl!, [
      "-sS",
      "-v",
      "--cacert",
      tls.caFile,
      `${base}/one`,
      `${base}/two?x=1`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `GET ${base}/one tcp\nGET ${base}/two?x=1 tcp\n`);
    assert.match(result.stderr, /SSL connection using TLSv1\.3/);
    assert.match(result.stderr, /ALPN.*accepted.*http\/1\.1/);
    assert.match(result.stderr, /Re-using existing connection/);
    assert.deepEqual(test.handshakeErrors, []);
  },
});

Deno.test({
  name: "https: Node's fetch trusts the CA from NODE_EXTRA_CA_CERTS and gets the response" + noNode,
  ignore: ignore || node === null,
  async fn() {
    const tls = await tlsFixtures();
    await using test = await startTls(async (request) => {
      return Response.json({ method: request.method, body: await request.text() });
    });
    const script = `
      const response = await fetch("https://localhost:${test.port}/post", {
        method: "POST", body: "from node",
      });
      console.log(response.status, await response.text());
    `;
    const result = await runProgram(node!, ["--input-type=module", "-e", script], {
      env: { NODE_EXTRA_CA_CERTS: tls.caFile },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '200 {"method":"POST","body":"from node"}');
  },
});

Deno.test({
  name: "https: Deno.connectTls: pipelined requests are answered in order on one connection" +
    noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo);
    const methods = ["GET", "HEAD", "POST", "GET"];
    await using client = await tlsClient(test.port, methods);
    await client.write(
      "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "HEAD /b HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "POST /c HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc" +
        "GET /d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    const { responses } = await client.readUntilClose();
    assert.equal(responses.length, 4);
    assert.equal(bodyText(responses[0]!), "GET https://localhost/a tcp\n");
    assert.equal(bodyText(responses[1]!), "");
    assert.equal(header(responses[1]!, "content-length"), "29"); // HEAD https://localhost/b tcp\n
    assert.equal(bodyText(responses[2]!), "POST https://localhost/c tcp\n");
    assert.equal(bodyText(responses[3]!), "GET https://localhost/d tcp\n");
  },
});

Deno.test({
  name: "https: a 48 MiB download and a 16 MiB upload arrive whole" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const downloadBytes = 48 * 1024 * 1024;
    const piece = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
    await using test = await startTls(async (request) => {
      if (request.method === "POST") {
        let total = 0;
        let sum = 0;
        for await (const chunk of request.body!) {
          total += chunk.length;
          for (let i = 0; i < chunk.length; i++) {
            sum = (sum + chunk[i]! * ((total - chunk.length + i) % 7 + 1)) >>> 0;
          }
        }
        return new Response(`${total} ${sum}`);
      }
      let sent = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= downloadBytes) return controller.close();
            controller.enqueue(piece.slice());
            sent += piece.length;
          },
        }, { highWaterMark: 0 }),
      );
    });
    const client = Deno.createHttpClient({ caCerts: [tls.ca] });
    try {
      const response = await fetch(`https://localhost:${test.port}/big`, { client });
      let received = 0;
      let mismatch = -1;
      for await (const chunk of response.body!) {
        for (let i = 0; i < chunk.length && mismatch === -1; i += 997) {
          if (chunk[i] !== piece[(received + i) % piece.length]) mismatch = received + i;
        }
        received += chunk.length;
      }
      assert.equal(received, downloadBytes);
      assert.equal(mismatch, -1, `byte ${mismatch} differs`);

      const upload = new Uint8Array(16 * 1024 * 1024).map((_, i) => (i * 13) % 251);
      let sum = 0;
      for (let i = 0; i < upload.length; i++) sum = (sum + upload[i]! * (i % 7 + 1)) >>> 0;
      const answer = await fetch(`https://localhost:${test.port}/up`, {
        client,
        method: "POST",
        body: upload,
      });
      assert.equal(await answer.text(), `${upload.length} ${sum}`);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "https: a client that connects and sends nothing is closed at the header timeout" +
    noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo, { headerTimeoutMs: 500 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    try {
      await waitFor(() => test.server.connectionCount === 1, "the connection is accepted");
      const elapsed = await closedWithin(conn, 5_000);
      assert.ok(elapsed >= 400, `closed after ${elapsed} ms, before the header timeout`);
      await waitFor(() => test.server.connectionCount === 0, "the slot is free");
      assert.deepEqual(test.handshakeErrors, [], "a timeout is not a failed handshake");
    } finally {
      conn.close();
    }
  },
});

Deno.test({
  name: "https: a client that stalls in the middle of its ClientHello is closed at the timeout" +
    noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo, { headerTimeoutMs: 500 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    try {
      // A TLS record header announcing a 512-byte handshake message, and 4 bytes of it.
      await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
      const elapsed = await closedWithin(conn, 5_000);
      assert.ok(elapsed >= 300, `closed after ${elapsed} ms`);
      await waitFor(() => test.server.connectionCount === 0, "the slot is free");
      // The server then serves others as usual.
      await using client = await tlsClient(test.port);
      await client.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      const { responses } = await client.readUntilClose();
      assert.equal(responses[0]!.status, 200);
    } finally {
      conn.close();
    }
  },
});

Deno.test({
  name: "https: each failed handshake is reported once, and the next client is served" + noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo);
    // Plain HTTP to the HTTPS port: the client gets a TLS alert, then the close.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    try {
      await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      await closedWithin(plain, 5_000);
    } finally {
      plain.close();
    }
    await waitFor(() => test.handshakeErrors.length === 1, "the plain-HTTP failure reported");
    // A client that trusts another CA refuses the certificate.
    const untrusting = Deno.connectTls({ hostname: "localhost", port: test.port });
    await assert.rejects(untrusting.then((conn) => conn.handshake()));
    await waitFor(() => test.handshakeErrors.length === 2, "the refused certificate reported");
    // A client that offers only h2 shares no protocol (ALPN, RFC 7301 §3.2).
    const tls = await tlsFixtures();
    const h2 = Deno.connectTls({
      hostname: "localhost",
      port: test.port,
      caCerts: [tls.ca],
      alpnProtocols: ["h2"],
    });
    await assert.rejects(h2.then((conn) => conn.handshake()));
    await waitFor(() => test.handshakeErrors.length === 3, "the ALPN failure reported");
    // A client that leaves in the middle of its handshake is not a failure.
    const leaving = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
    await leaving.write(new Uint8Array([0x16, 0x03, 0x01]));
    leaving.close();
    await waitFor(() => test.server.connectionCount === 0, "every connection closed");

    assert.equal(test.handshakeErrors.length, 3);
    for (const error of test.handshakeErrors) {
      assert.ok(error instanceof TlsHandshakeError);
      assert.match(error.message, /^TLS handshake with 127\.0\.0\.1:\d+ failed: \S/);
      assert.doesNotMatch(error.message, /\n/);
      assert.equal(error.remoteAddr.hostname, "127.0.0.1");
    }
    assert.match(test.handshakeErrors[1]!.message, /UnknownCA|unknown ca/i);
    assert.match(test.handshakeErrors[2]!.message, /protocol/i);
    assert.deepEqual(test.handlerErrors, []);
    await using client = await tlsClient(test.port);
    await assertEchoes(client, "/after");
  },
});

Deno.test({
  name: "https: maxConnections holds: the connection past the limit is closed before any TLS" +
    noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo, { maxConnections: 2 });
    const first = await tlsClient(test.port);
    const second = await tlsClient(test.port);
    try {
      for (const client of [first, second]) {
        await client.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert.equal((await client.readResponses(1))[0]!.status, 200);
      }
      const third = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
      try {
        await third.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05]));
        await closedWithin(third, 5_000);
      } finally {
        third.close();
      }
      await first.dispose();
      await waitFor(() => test.server.connectionCount === 1, "the first connection's slot is free");
      await using fourth = await tlsClient(test.port);
      await assertEchoes(fourth, "/4");
    } finally {
      await first.dispose();
      await second.dispose();
    }
  },
});

Deno.test({
  name: "https: graceful shutdown finishes the request in flight and closes idle connections" +
    noOpenssl,
  ignore,
  async fn() {
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const test = await startTls(async (request) => {
      if (new URL(request.url).pathname === "/slow") {
        entered.resolve();
        await release.promise;
      }
      return new Response("done\n");
    });
    const busy = await tlsClient(test.port);
    const idle = await tlsClient(test.port);
    try {
      await idle.write("GET /fast HTTP/1.1\r\nHost: localhost\r\n\r\n");
      assert.equal((await idle.readResponses(1))[0]!.status, 200);
      await busy.write("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await entered.promise;
      const shutdown = test.server.shutdown();
      // The idle keep-alive connection is closed; no new connection is accepted.
      await idle.readUntilClose();
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: test.port }));
      release.resolve();
      const { responses } = await busy.readUntilClose();
      assert.equal(bodyText(responses[0]!), "done\n");
      assert.equal(header(responses[0]!, "connection"), "close");
      await busy.dispose();
      await within(shutdown, 5_000, "shutdown");
      assert.equal(test.server.connectionCount, 0);
    } finally {
      release.resolve();
      await busy.dispose();
      await idle.dispose();
      await test.server.shutdown();
    }
  },
});

Deno.test({
  name: "https: a certificate or key that cannot serve is refused at start, naming the problem" +
    noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cert: tls.certFile, key: tls.keyFile }, /cert must be the PEM text, not a file name/],
      [{ cert: "hello", key: tls.key }, /cert is not PEM: it has no -----BEGIN CERTIFICATE-----/],
      [{ cert: tls.cert, key: "hello" }, /key is not PEM/],
      [{ cert: tls.key, key: tls.cert }, /cert holds a private key.*swapped/],
      [
        { cert: tls.cert, key: tls.otherKey },
        /key does not match the certificate \(CN=localhost\)/,
      ],
      [{ cert: tls.cert, key: tls.encryptedKey }, /key is encrypted with a passphrase/],
      [{ cert: tls.cert, key: "" }, /key must be the private key in PEM/],
      [{ cert: tls.cert }, /HTTPS needs both cert and key/],
      [{ key: tls.key }, /HTTPS needs both cert and key/],
      [{ cert: tls.cert, key: tls.key, keyFormat: "der" }, /keyFormat must be "pem", got "der"/],
      [{ onHandshakeError() {} }, /onHandshakeError is for HTTPS, with cert and key/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => serve({ hostname: "127.0.0.1", port, onListen() {}, ...options } as never, echo),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `${Object.keys(options)}: ${error}`);
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.throws(
      () => serve({ path: join(tls.dir, "x.sock"), cert: tls.cert, key: tls.key } as never, echo),
      /cert is for TCP; a Unix socket \(path\) has none/,
    );
    // Nothing was bound.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  },
});

Deno.test({
  name: "https: SEC1 EC keys work as well as PKCS#8" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    await using test = await startTls(echo, { key: tls.keySec1 });
    await using client = await tlsClient(test.port);
    await assertEchoes(client, "/sec1");
  },
});

Deno.test({
  name: "https: a client's close_notify after its request still gets the response" + noOpenssl,
  ignore,
  async fn() {
    await using test = await startTls(echo);
    await using client = await tlsClient(test.port);
    await client.write("GET /half HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await client.conn.closeWrite();
    const { responses } = await client.readUntilClose();
    assert.equal(bodyText(responses[0]!), "GET https://localhost/half tcp\n");
  },
});

/** The same exchanges through a server bound with `path` forced; the raw bytes, dates blanked. */
async function exchangesOver(path: "node-tcp" | "deno-listen"): Promise<string[]> {
  forceTlsPath(path);
  try {
    await using test = await startTls((request) => {
      const url = new URL(request.url);
      if (url.pathname === "/stream") {
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode("chunk one\n"));
              controller.enqueue(new TextEncoder().encode("chunk two\n"));
              controller.close();
            },
          }),
        );
      }
      return new Response(`${request.method} ${url.pathname}\n`, {
        headers: { "x-path": url.pathname },
      });
    });
    const methods = ["GET", "HEAD", "GET", "POST"];
    await using client = await tlsClient(test.port, methods);
    await client.write(
      "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "HEAD /b HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "POST /c HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    const { responses } = await client.readUntilClose();
    return responses.map((response: ParsedResponse) => normalizeDate(response.raw));
  } finally {
    forceTlsPath(undefined);
  }
}

Deno.test({
  name: "https: the fast and the general way of accepting answer byte for byte the same" +
    noOpenssl,
  ignore,
  async fn() {
    const fast = await exchangesOver("node-tcp");
    const general = await exchangesOver("deno-listen");
    assert.equal(fast.length, 4);
    assert.deepEqual(general, fast);
  },
});

Deno.test({
  name: "https: this Deno still has Node's TCP binding, so HTTPS takes the fast path" + noOpenssl,
  ignore,
  async fn() {
    assert.ok(
      nodeTcpWrap() !== null,
      `Deno ${Deno.version.deno} no longer has process.binding("tcp_wrap"): HTTPS now runs on ` +
        "the general path (server/tls/tls_acceptor.ts), correct but slower",
    );
    const tls = await tlsFixtures();
    const acceptor = bindTls(
      { transport: "tcp", hostname: "127.0.0.1", port: 0, reusePort: false, tcpBacklog: undefined },
      { certifiedKey: { cert: tls.cert, key: tls.key }, onHandshakeError() {} },
    );
    try {
      assert.equal(acceptor.path, "node-tcp");
      assert.equal(acceptor.addr.hostname, "127.0.0.1");
      assert.ok(acceptor.addr.port > 0);
    } finally {
      acceptor.close();
    }
  },
});

Deno.test({
  name: "https: a port in use is Deno.errors.AddrInUse, thrown synchronously" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      assert.throws(
        () =>
          serve({
            hostname: "127.0.0.1",
            port: taken.addr.port,
            cert: tls.cert,
            key: tls.key,
            onListen() {},
          }, echo),
        Deno.errors.AddrInUse,
      );
    } finally {
      taken.close();
    }
  },
});

Deno.test({
  name: "https: a WebSocket over TLS (wss, the ws package from npm) echoes and closes" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    await using test = await startTls((request) => {
      const { socket, response } = upgradeWebSocket(request);
      socket.addEventListener("message", (event) => socket.send(`echo: ${event.data}`));
      return response;
    });
    const client = new WebSocketFromNpm(`wss://localhost:${test.port}/ws`, { ca: tls.ca });
    const opened = Promise.withResolvers<void>();
    const message = Promise.withResolvers<string>();
    const closed = Promise.withResolvers<number>();
    client.on("open", () => opened.resolve());
    client.on("message", (data: unknown) => message.resolve(String(data)));
    client.on("close", (code: number) => closed.resolve(code));
    client.on("error", (error: Error) => opened.reject(error));
    await within(opened.promise, 5_000, "the wss handshake");
    client.send("over TLS");
    assert.equal(await within(message.promise, 5_000, "the echo"), "echo: over TLS");
    client.close(1000);
    assert.equal(await within(closed.promise, 5_000, "the close"), 1000);
    await waitFor(() => test.server.connectionCount === 0, "the connection closed");
    assert.deepEqual(test.handshakeErrors, []);
  },
});

Deno.test({
  name: "https: by default a failed handshake is one line on stderr, not a stack trace" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const mod = new URL("../server/mod.ts", import.meta.url).href;
    const script = `
      import { serve } from ${JSON.stringify(mod)};
      const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {},
        cert: Deno.readTextFileSync(${JSON.stringify(tls.certFile)}),
        key: Deno.readTextFileSync(${JSON.stringify(tls.keyFile)}) }, () => new Response("x"));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));
      while (await conn.read(new Uint8Array(64)).catch(() => null) !== null);
      conn.close();
      while (server.connectionCount > 0) await new Promise((r) => setTimeout(r, 10));
      await server.shutdown();
    `;
    const result = await runProgram(Deno.execPath(), ["eval", "--ext=ts", script], {
      env: { NO_COLOR: "1" },
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^sockserve: TLS handshake with 127\.0\.0\.1:\d+ failed: \S.*$/);
  },
});
