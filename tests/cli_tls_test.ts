/**
 * The command line over HTTPS (`--cert FILE --key FILE`) with real clients: curl with the test CA,
 * Node's fetch with `NODE_EXTRA_CA_CERTS`, pipelined requests and a large file over one TLS
 * connection; a bad certificate or key refused at start in one line; `healthcheck` against the
 * HTTPS server, a self-signed one included; and `healthcheck` on a port that `fetch()` refuses.
 * The certificates are made at test time with openssl (`tests/support/tls_fixtures.ts`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeSite, runSockserve, startSockserve } from "./cli_helpers.ts";
import { findBinary, runProgram } from "./support/binaries.ts";
import { NO_OPENSSL, openssl, tlsFixtures } from "./support/tls_fixtures.ts";

const curl = findBinary("curl", "/usr/bin/curl");
const node = findBinary("node");
const ignore = openssl === null;
const noOpenssl = ignore ? ` (ignored: ${NO_OPENSSL})` : "";
const noCurl = curl === null ? " (ignored: curl is not installed)" : noOpenssl;
const noNode = node === null ? " (ignored: node is not installed)" : noOpenssl;

/** A file big enough to take many TLS records, with bytes that show any reordering. */
const BIG = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 12)) & 0xff);

async function httpsSite(extra: string[] = [], files: Record<string, string | Uint8Array> = {}) {
  const tls = await tlsFixtures();
  const site = await makeSite({ "index.html": "<h1>over TLS</h1>\n", ...files });
  const server = await startSockserve([
    site,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--cert",
    tls.certFile,
    "--key",
    tls.keyFile,
    ...extra,
  ]);
  return { tls, site, server };
}

Deno.test({
  name: "cli https: the start line shows the https:// URL and curl --cacert gets the site" + noCurl,
  ignore: ignore || curl === null,
  async fn() {
    const { tls, server } = await httpsSite();
    try {
      assert.match(server.startLine, / at https:\/\/127\.0\.0\.1:\d+\/$/);
      assert.equal(server.url.protocol, "https:");
      const url = `https://localhost:${server.port}/`;
      const result = await runProgram(curl!, ["-sS", "-v", "--cacert", tls.caFile, url, url]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "<h1>over TLS</h1>\n".repeat(2));
      assert.match(result.stderr, /ALPN.*accepted.*http\/1\.1/);
      assert.match(result.stderr, /Re-using existing connection/);
      // The access log names the request like any other.
      await server.stdout.waitFor(/"GET \/ HTTP\/1\.1" 200 /, "the access-log line");
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli https: Node's fetch with NODE_EXTRA_CA_CERTS gets the site" + noNode,
  ignore: ignore || node === null,
  async fn() {
    const { tls, server } = await httpsSite();
    try {
      const script = `
        const response = await fetch("https://localhost:${server.port}/index.html");
        console.log(response.status, JSON.stringify(await response.text()));
      `;
      const result = await runProgram(node!, ["--input-type=module", "-e", script], {
        env: { NODE_EXTRA_CA_CERTS: tls.caFile },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), '200 "<h1>over TLS</h1>\\n"');
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli https: pipelined requests and a 12 MiB file over one TLS connection" + noOpenssl,
  ignore,
  async fn() {
    const { tls, server } = await httpsSite(["--log", "off"], { "big.bin": BIG });
    try {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: server.port,
        caCerts: [tls.ca],
      });
      const requests = ["/index.html", "/big.bin", "/missing", "/index.html"].map((path, i, all) =>
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\n` +
        (i === all.length - 1 ? "Connection: close\r\n" : "") + "\r\n"
      ).join("");
      await conn.write(new TextEncoder().encode(requests));
      const chunks: Uint8Array[] = [];
      for await (const chunk of conn.readable) chunks.push(chunk);
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.length;
      }
      // Parse the four answers in order, each framed by its Content-Length.
      const latin1 = new TextDecoder("latin1");
      const statuses: number[] = [];
      const bodies: Uint8Array[] = [];
      let at = 0;
      while (at < all.length) {
        const headEnd = latin1.decode(all.subarray(at, at + 4096)).indexOf("\r\n\r\n");
        assert.ok(headEnd > 0, `a response head at byte ${at}`);
        const head = latin1.decode(all.subarray(at, at + headEnd));
        statuses.push(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]));
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
        assert.ok(Number.isInteger(length), head);
        bodies.push(all.subarray(at + headEnd + 4, at + headEnd + 4 + length));
        at += headEnd + 4 + length;
      }
      assert.deepEqual(statuses, [200, 200, 404, 200]);
      assert.equal(latin1.decode(bodies[0]), "<h1>over TLS</h1>\n");
      assert.equal(bodies[1]!.length, BIG.length);
      assert.ok(bodies[1]!.every((byte, i) => byte === BIG[i]), "the file arrives byte for byte");
      assert.equal(latin1.decode(bodies[3]), "<h1>over TLS</h1>\n");
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli https: a bad certificate or key is refused at start, in one line, exit 1" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const site = await makeSite({ "index.html": "x" });
    const write = async (name: string, text: string) => {
      const path = join(tls.dir, name);
      await Deno.writeTextFile(path, text);
      return path;
    };
    const otherKey = await write("cli-other.key", tls.otherKey);
    const encrypted = await write("cli-encrypted.key", tls.encryptedKey);
    const notPem = await write("cli-not-pem.pem", "hello\n");
    const missing = join(tls.dir, "no-such.pem");
    const rows: [string, string, string][] = [
      [tls.certFile, otherKey, "key does not match the certificate"],
      [tls.certFile, encrypted, "key is encrypted"],
      [notPem, tls.keyFile, "cert is not PEM"],
      [tls.keyFile, tls.certFile, "are cert and key swapped?"],
      [missing, tls.keyFile, `--cert ${missing} does not exist`],
      [tls.certFile, missing, `--key ${missing} does not exist`],
      [tls.certFile, tls.dir, `--key ${tls.dir} is a directory`],
    ];
    for (const [cert, key, text] of rows) {
      const result = await runSockserve([
        site,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--cert",
        cert,
        "--key",
        key,
      ]);
      assert.equal(result.code, 1, `${text}: ${result.stderr}`);
      assert.equal(result.stdout, "", "nothing was served");
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith("sockserve: "), lines[0]);
      assert.ok(lines[0]!.includes(text), `${lines[0]} mentions ${text}`);
    }
    // Without read permission for the files, the line names the --allow-read to give.
    const denied = await runSockserve(
      [site, "--host", "127.0.0.1", "--port", "0", "--cert", tls.certFile, "--key", tls.keyFile],
      { permissions: ["--allow-net", `--allow-read=${site}`] },
    );
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^sockserve: no permission to read --cert .*--allow-read=/);
    assert.equal(denied.stderr.trimEnd().split("\n").length, 1);
  },
});

Deno.test({
  name: "cli https: --workers 2 serves HTTPS from every isolate" + noCurl,
  ignore: ignore || curl === null,
  async fn() {
    const { tls, server } = await httpsSite(["--workers", "2", "--log", "off"]);
    try {
      assert.match(server.startLine, / with 2 workers at https:\/\//);
      const url = `https://localhost:${server.port}/`;
      // Separate connections, so that the kernel spreads them over both listeners.
      for (let i = 0; i < 6; i++) {
        const result = await runProgram(curl!, ["-sS", "--cacert", tls.caFile, url]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "<h1>over TLS</h1>\n");
      }
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli https: healthcheck follows the state file to HTTPS; a self-signed certificate is " +
    "no failure there, and a URL is verified unless --insecure" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const site = await makeSite({ "index.html": "x" });
    const stateFile = join(await Deno.makeTempDir(), "state.json");
    const server = await startSockserve(
      [
        site,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--cert",
        tls.selfSignedFile,
        "--key",
        tls.selfSignedKeyFile,
        "--state-file",
        stateFile,
      ],
      { permissions: ["--allow-net", "--allow-read", `--allow-write=${stateFile}`] },
    );
    try {
      const state = JSON.parse(await Deno.readTextFile(stateFile));
      assert.equal(state.url, `https://127.0.0.1:${server.port}/`);
      const viaState = await runSockserve(["healthcheck", "--state-file", stateFile]);
      assert.equal(viaState.code, 0, viaState.stderr);
      assert.match(viaState.stdout, /^healthy: https:\/\/127\.0\.0\.1:\d+\/healthz answered 200/);
      // Given as a URL, the certificate is verified: a self-signed one fails, and says why.
      const url = `https://127.0.0.1:${server.port}/healthz`;
      const verified = await runSockserve(["healthcheck", url]);
      assert.equal(verified.code, 1);
      assert.match(verified.stderr, /^unhealthy: https:\/\/127\.0\.0\.1:\d+\/healthz: .*cert/i);
      for (const flag of ["--insecure", "-k"]) {
        const insecure = await runSockserve(["healthcheck", flag, url]);
        assert.equal(insecure.code, 0, insecure.stderr);
      }
      // An HTTPS server probed over plain HTTP answers no status line: unhealthy, not a hang.
      const plain = await runSockserve(["healthcheck", `http://127.0.0.1:${server.port}/healthz`]);
      assert.equal(plain.code, 1);
    } finally {
      await server.close();
    }
  },
});

/** A port `fetch()` refuses to connect to (the Fetch standard's "bad ports") that is free here. */
function freeBadPort(): number | undefined {
  for (const port of [6000, 6665, 6666, 6667, 6668, 6669, 6697, 10080, 4190, 5060]) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // In use here: try the next one.
    }
  }
  return undefined;
}

const badPort = freeBadPort();

Deno.test({
  name: `cli: healthcheck works on a port fetch() blocks (${badPort ?? "none free"})` +
    (badPort === undefined ? " (ignored: every fetch-blocked port tried is in use here)" : ""),
  ignore: badPort === undefined,
  async fn() {
    // fetch() itself refuses this port: the probe must not depend on it.
    await assert.rejects(fetch(`http://127.0.0.1:${badPort}/`), /port|blocked|bad/i);
    const site = await makeSite({ "index.html": "x" });
    const server = await startSockserve([site, "--host", "127.0.0.1", "--port", String(badPort)]);
    try {
      const result = await runSockserve(["healthcheck", `http://127.0.0.1:${badPort}/healthz`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `healthy: http://127.0.0.1:${badPort}/healthz answered 200 OK\n`);
    } finally {
      await server.close();
    }
  },
});

/** The `openssl` command of docs/cli.md's HTTPS recipe, as a user would paste it. */
function recipeCommand(): string {
  const doc = Deno.readTextFileSync(new URL("../docs/cli.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## HTTPS and Unix sockets"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  // Continuation lines joined, comments dropped; the command ends where a line does not continue.
  const lines = block.split("\n");
  const start = lines.findIndex((line) => line.startsWith("openssl "));
  assert.ok(start >= 0, "docs/cli.md's HTTPS section has an openssl command");
  let command = "";
  for (const line of lines.slice(start)) {
    const text = line.replace(/\s+#.*$/, "");
    command += text.replace(/\\$/, " ");
    if (!text.endsWith("\\")) break;
  }
  return command;
}

Deno.test({
  name:
    "cli https: docs/cli.md's self-signed certificate recipe, run as written, serves Deno's fetch" +
    noOpenssl,
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sockserve_recipe_" });
    const site = await makeSite({ "index.html": "<h1>self-signed</h1>\n" });
    try {
      const made = await runProgram("/bin/sh", ["-c", recipeCommand()], { cwd: dir });
      assert.equal(made.code, 0, made.stderr);
      const certFile = join(dir, "cert.pem");
      const server = await startSockserve([
        site,
        "--host=127.0.0.1",
        "--port=0",
        "--cert",
        certFile,
        "--key",
        join(dir, "key.pem"),
      ]);
      // Deno's client (rustls, webpki) refuses a CA certificate as the server's own
      // (CaUsedAsEndEntity): the recipe must make an end-entity certificate for localhost.
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certFile)] });
      try {
        const response = await fetch(`https://localhost:${server.port}/`, { client });
        assert.equal(await response.text(), "<h1>self-signed</h1>\n");
        const ip = await fetch(`https://127.0.0.1:${server.port}/`, { client });
        assert.equal(ip.status, 200);
        await ip.body?.cancel();
      } finally {
        client.close();
        await server.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(site, { recursive: true });
    }
  },
});
