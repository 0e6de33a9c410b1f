// The command line as users run it: main.ts in a real `deno run` process, talking over real
// sockets. Exit codes, messages on the right stream, the start line, the access log.
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { makeSite, runDeno, runSockserve, startSockserve } from "./cli_helpers.ts";
import { RawClient } from "./support/http_client.ts";

/** Asserts a usage error: exit 2, one line on stderr naming `mention`, nothing on stdout. */
function assertUsageError(
  result: { code: number; stdout: string; stderr: string },
  mention: string,
) {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.ok(lines[0]?.includes(mention), `${lines[0]} mentions ${mention}`);
  assert.match(lines[0] ?? "", / \(run '[^']+ --help' for usage\)$/, "points at --help");
}

/** Runs the command a usage error points to, in `cwd`, as the user would type it there. */
async function runHelpHint(stderr: string, cwd: string): Promise<string> {
  const command = / \(run '([^']+)' for usage\)\n$/.exec(stderr)?.[1];
  assert.ok(command, stderr);
  const [program = "", ...args] = command.split(" ");
  assert.equal(program, "deno", "under deno run, the hint is a deno run command");
  const output = await runDeno(args, { cwd });
  assert.equal(output.code, 0, output.stderr);
  return output.stdout;
}

Deno.test("cli: --help prints usage to stdout and exits 0", async () => {
  const result = await runSockserve(["--help"]);
  assert.equal(result.code, 0);
  assert.equal(result.stderr, "");
  assert.ok(result.stdout.includes("Usage:"));
  for (const option of ["--port", "--host", "--cors", "--spa", "--log", "--grace-period"]) {
    assert.ok(result.stdout.includes(option), `help mentions ${option}`);
  }
});

Deno.test("cli: --version prints the version from deno.json", async () => {
  for (const flag of ["--version", "-V"]) {
    const result = await runSockserve([flag]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `sockserve ${denoJson.version}\n`);
  }
});

Deno.test("cli: an unknown option is one line on stderr and exit 2", async () => {
  assertUsageError(await runSockserve(["--frobnicate"]), "unknown option --frobnicate");
});

Deno.test("cli: the help command a usage error names works from where the user is", async () => {
  const elsewhere = await Deno.makeTempDir({ prefix: "sockserve_cwd_" });
  try {
    for (const cwd of [Deno.cwd(), elsewhere]) {
      const result = await runSockserve(["--frobnicate"], { cwd });
      assertUsageError(result, "unknown option --frobnicate");
      // No `sockserve` command exists under deno run: the hint names what does.
      assert.doesNotMatch(result.stderr, /'sockserve --help'/);
      assert.match(
        await runHelpHint(result.stderr, cwd),
        /^sockserve \S+: serve a directory[^]*\nUsage:\n/,
      );
    }
  } finally {
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("cli: a malformed value is one line on stderr and exit 2", async () => {
  assertUsageError(await runSockserve(["--port", "eighty"]), "--port");
  assertUsageError(await runSockserve(["--log=loud"]), "--log");
  assertUsageError(await runSockserve(["--header", "Bad Header"]), "--header");
});

Deno.test("cli: an option missing its value before another option is one line and exit 2", async () => {
  // Not "--log" taken as the Cache-Control value and then "off" as an unexpected argument.
  const site = await makeSite({ "index.html": "hi" });
  try {
    const result = await runSockserve(["--cache-control", "--log", "off", site]);
    assertUsageError(result, 'option --cache-control needs a value, got "--log"');
    assertUsageError(await runSockserve(["-p", "--cors", site]), "option -p needs a value");
    // The healthcheck's options too: not a probe of a state file named "--insecure".
    assertUsageError(
      await runSockserve(["healthcheck", "--state-file", "--insecure"]),
      "option --state-file needs a path",
    );
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: a negative number after a numeric option is refused as invalid, one line and exit 2", async () => {
  const site = await makeSite({ "index.html": "hi" });
  try {
    const port = 'expected a port from 0 to 65535, got "-1"';
    assertUsageError(await runSockserve(["-p", "-1", site]), `invalid -p: ${port}`);
    assertUsageError(await runSockserve([site, "--port", "-1"]), `invalid --port: ${port}`);
    assertUsageError(
      await runSockserve([site, "--header-timeout", "-5s"]),
      'invalid --header-timeout: expected a duration like 10s or 500ms, got "-5s"',
    );
    assertUsageError(
      await runSockserve(["healthcheck", "--timeout", "-1s"]),
      'invalid --timeout: expected a duration like 3s, got "-1s"',
    );
    // A header value that starts with "-" is joined with "=" (a separate one reads as an option).
    assertUsageError(
      await runSockserve(["-H", "-X: y", site]),
      'option -H needs a value, got "-X: y" (a value that starts with "-" is written -H=VALUE)',
    );
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: an invalid PORT variable is exit 2, and a --port flag overrides it", async () => {
  assertUsageError(await runSockserve([], { env: { PORT: "http" } }), "PORT environment variable");
  const site = await makeSite({ "index.html": "hi" });
  const server = await startSockserve([site, "--port", "0", "--host", "127.0.0.1"], {
    env: { PORT: "http", HOST: "bad host" },
  });
  try {
    assert.notEqual(server.port, 0);
    assert.equal(server.url.hostname, "127.0.0.1");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: PORT and HOST apply when no flag is given", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const server = await startSockserve([site], { env: { PORT: String(port), HOST: "127.0.0.1" } });
  try {
    assert.equal(
      server.startLine,
      `sockserve ${denoJson.version} serving ${site} at ` +
        `http://127.0.0.1:${port}/`,
    );
    const response = await fetch(server.url);
    assert.equal(await response.text(), "hi");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: a ROOT that does not exist is exit 1 with its path named", async () => {
  const site = await makeSite({ "file.txt": "x" });
  try {
    const missing = `${site}/missing`;
    const result = await runSockserve([missing, "--port", "0"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `sockserve: ROOT ${missing} does not exist\n`);

    const file = await runSockserve([`${site}/file.txt`, "--port", "0"]);
    assert.equal(file.code, 1);
    assert.equal(file.stderr, `sockserve: ROOT ${site}/file.txt is not a directory\n`);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: a port in use is exit 1 with a clear message and no stack trace", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const occupier = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = occupier.addr.port;
    const result = await runSockserve([site, "--host", "127.0.0.1", "--port", String(port)]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      new RegExp(`^sockserve: cannot listen on 127\\.0\\.0\\.1:${port}: .*already in use.*\\n$`),
    );
  } finally {
    occupier.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: without --allow-net the error says which permission is missing", async () => {
  const site = await makeSite({ "index.html": "hi" });
  try {
    const result = await runSockserve([site, "--port", "0"], {
      permissions: [`--allow-read=${site}`],
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^sockserve: .*--allow-net.*\n$/);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: an --allow-net narrowed to another address names the one to allow", async () => {
  const site = await makeSite({ "index.html": "hi" });
  try {
    const result = await runSockserve([site, "--host", "127.0.0.1", "--port", "0"], {
      permissions: ["--allow-net=127.0.0.1:1", `--allow-read=${site}`],
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      "sockserve: no permission to listen on 127.0.0.1:0: run deno with " +
        "--allow-net=127.0.0.1:0 (or --allow-net for any address)\n",
    );
    // What the message says to do works.
    const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0"], {
      permissions: ["--allow-net=127.0.0.1:0", `--allow-read=${site}`],
    });
    await server.close();
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: .mts and .cts files are served as TypeScript, like .ts", async () => {
  const source = "export const x: number = 1;\n";
  const site = await makeSite({ "a.ts": source, "b.mts": source, "c.cts": source });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0", "--log", "off"]);
  try {
    const typeOf = async (path: string) => {
      const response = await fetch(new URL(path, server.url));
      assert.equal(await response.text(), source);
      return response.headers.get("content-type");
    };
    const ts = await typeOf("/a.ts");
    assert.match(ts ?? "", /^text\/typescript/);
    assert.equal(await typeOf("/b.mts"), ts);
    assert.equal(await typeOf("/c.cts"), ts);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --workers 2 serves one port from two isolates and stops on SIGTERM", async () => {
  const site = await makeSite({ "index.html": "<h1>workers</h1>" });
  const server = await startSockserve(
    [site, "--host", "127.0.0.1", "--port", "0", "--workers", "2", "--log", "off"],
    { permissions: ["--allow-net", "--allow-read", "--allow-env=PORT,HOST"] },
  );
  try {
    assert.match(server.startLine, / with 2 workers at http:\/\/127\.0\.0\.1:\d+\/$/);
    // Fresh connections from distinct source ports are spread across both accept loops.
    for (let i = 0; i < 40; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      const text = new TextDecoder().decode(await new Response(conn.readable).bytes());
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*<h1>workers<\/h1>$/);
    }
    server.child.kill("SIGTERM");
    const status = await server.status;
    assert.equal(status.code, 0);
    assert.match(server.stdout.text, /shutdown complete/);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: SIGTERM sent as soon as the start line appears is a graceful shutdown (--workers 2)", async () => {
  const site = await makeSite({ "index.html": "x" });
  const server = await startSockserve(
    [site, "--host", "127.0.0.1", "--port", "0", "--workers", "2", "--log", "off"],
  );
  try {
    // No request first: the signal races the workers' start-up if the line comes too early.
    server.child.kill("SIGTERM");
    const status = await server.status;
    assert.equal(status.signal, null, `killed by ${status.signal}: no handler was installed yet`);
    assert.equal(status.code, 0, server.stderr.text);
    assert.match(server.stdout.text, /shutdown complete/);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --workers without read access to sockserve's modules says what to grant", async () => {
  const site = await makeSite({ "index.html": "x" });
  try {
    const result = await runSockserve(
      [site, "--host", "127.0.0.1", "--port", "0", "--workers", "2"],
      { permissions: ["--allow-net", `--allow-read=${site}`, "--allow-env=PORT,HOST"] },
    );
    assert.equal(result.code, 1);
    // One line, before anything listens, naming exactly what to grant.
    assert.equal(result.stdout, "");
    const sockserveDir = new URL("../", import.meta.url).pathname;
    assert.equal(
      result.stderr,
      `sockserve: --workers loads sockserve's files at run time: run deno with ` +
        `--allow-read=${site},${sockserveDir} (a compiled executable needs nothing more)\n`,
    );
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: without read permission for ROOT the error names the --allow-read it needs", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const elsewhere = await makeSite({});
  try {
    const result = await runSockserve([site, "--port", "0"], {
      permissions: ["--allow-net", `--allow-read=${elsewhere}`],
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `sockserve: no permission to read ${site}: run deno with --allow-read=${site} ` +
        `(if it is a symbolic link, with where it leads too: --allow-read=${site},TARGET)\n`,
    );
  } finally {
    await Deno.remove(site, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("cli: serves with the least-privilege permissions docs/cli.md documents", async () => {
  // Large enough to be compressed on the worker thread, which must start without read access to
  // sockserve's own files.
  const script = "export function f(a, b) { return a + b; }\n".repeat(5000);
  const site = await makeSite({ "index.html": "<h1>least privilege</h1>", "app.js": script });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0"], {
    permissions: ["--allow-net", `--allow-read=${site}`, "--allow-env=PORT,HOST"],
  });
  try {
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "<h1>least privilege</h1>");
    const compressed = await fetch(new URL("/app.js", server.url), {
      headers: { "accept-encoding": "br" },
    });
    assert.equal(compressed.headers.get("content-encoding"), "br");
    assert.equal(await compressed.text(), script);
    assert.equal(server.stderr.text, "", "no error: the compression worker ran");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: a request is answered and logged in combined format on stdout", async () => {
  const site = await makeSite({ "hello.txt": "hello" });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0"]);
  try {
    assert.equal(
      server.startLine,
      `sockserve ${denoJson.version} serving ${site} at http://127.0.0.1:${server.port}/`,
    );
    const response = await fetch(new URL("/hello.txt?x=1", server.url), {
      headers: { "user-agent": "cli-test/1.0", "referer": "http://example.test/" },
    });
    assert.equal(await response.text(), "hello");
    const line = await server.stdout.waitFor(/hello\.txt/, "access log line");
    assert.match(
      line,
      /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/hello\.txt\?x=1 HTTP\/1\.1" 200 5 "http:\/\/example\.test\/" "cli-test\/1\.0" \d+(\.\d+)?ms$/,
    );
    const missing = await fetch(new URL("/missing", server.url));
    await missing.body?.cancel();
    assert.match(await server.stdout.waitFor(/missing/), /"GET \/missing HTTP\/1\.1" 404 /);
    assert.equal(server.stderr.text, "");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --log json writes one JSON object per request", async () => {
  const site = await makeSite({ "a.css": "body{}" });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0", "--log=json"]);
  try {
    const response = await fetch(new URL("/a.css", server.url), { method: "HEAD" });
    await response.body?.cancel();
    const record = JSON.parse(await server.stdout.waitFor(/^\{/, "JSON log line"));
    assert.equal(record.method, "HEAD");
    assert.equal(record.target, "/a.css");
    assert.equal(record.status, 200);
    assert.equal(record.bytes, 0);
    assert.equal(typeof record.duration_ms, "number");
    assert.equal(record.completed, true);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: a request refused at its request line is logged with the line as received", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const send = async (port: number, request: string) => {
    await using client = await RawClient.connect(port);
    await client.write(request);
    return (await client.readUntilClose()).responses[0]?.status;
  };
  const long = "/" + "a".repeat(9000);
  for (const format of ["combined", "json"]) {
    const server = await startSockserve([site, "--host=127.0.0.1", "--port=0", `--log=${format}`]);
    try {
      assert.equal(await send(server.port, 'GET /a"b\xff HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
      assert.equal(await send(server.port, `GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`), 414);
      assert.equal(
        await send(server.port, "GET /x HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n"),
        400,
      );
      const lines = [
        await server.stdout.waitFor(/ 400 |"status":400/),
        await server.stdout.waitFor(/ 414 |"status":414/),
        await server.stdout.waitFor(/\/x/),
      ];
      if (format === "combined") {
        assert.match(lines[0]!, /\] "GET \/a\\"b\\xff HTTP\/1\.1" 400 16 "-" "-" [\d.]+ms$/);
        assert.ok(lines[1]!.includes(`] "GET ${long.slice(0, 252)}\u2026" 414 17 "-" "-" `));
        assert.match(lines[2]!, /\] "GET \/x HTTP\/1\.1" 400 16 "-" "-" /);
      } else {
        const [bad, tooLong, badField] = lines.map((line) => JSON.parse(line));
        assert.deepEqual([bad.method, bad.target, bad.protocol], [null, null, null]);
        assert.equal(bad.request_line, 'GET /a"b\xff HTTP/1.1');
        assert.equal(tooLong.request_line, `GET ${long.slice(0, 252)}\u2026`);
        assert.deepEqual([badField.method, badField.target, badField.status], ["GET", "/x", 400]);
        assert.equal("request_line" in badField, false);
      }
    } finally {
      await server.close();
    }
  }
  await Deno.remove(site, { recursive: true });
});

Deno.test("cli: --log off writes no request lines", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0", "--log", "off"]);
  try {
    const response = await fetch(server.url);
    assert.equal(await response.text(), "hi");
    server.child.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
    // Everything on stdout is the start line or a lifecycle line: no request line.
    assert.deepEqual(server.stdout.lines.filter((line) => !line.startsWith("sockserve")), []);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --header, --cors and --cache-control reach the response", async () => {
  const site = await makeSite({ "index.html": "hi" });
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--cors",
    "--cache-control",
    "public, max-age=60",
    "--header",
    "X-Frame-Options: DENY",
    "-H",
    "Strict-Transport-Security: max-age=31536000",
  ]);
  try {
    const response = await fetch(server.url, { headers: { origin: "http://other.test" } });
    await response.body?.cancel();
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("strict-transport-security"), "max-age=31536000");
    assert.equal(response.headers.get("cache-control"), "public, max-age=60");
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: --no-dir-listing and --spa change what directories and unknown paths get", async () => {
  const site = await makeSite({ "index.html": "app shell", "sub/file.txt": "x" });
  const server = await startSockserve([
    site,
    "--host=127.0.0.1",
    "--port=0",
    "--no-dir-listing",
    "--spa",
  ]);
  try {
    const listing = await fetch(new URL("/sub/", server.url), {
      headers: { accept: "application/json" },
    });
    await listing.body?.cancel();
    assert.equal(listing.status, 404);
    const route = await fetch(new URL("/some/client/route", server.url), {
      headers: { accept: "text/html" },
    });
    assert.equal(route.status, 200);
    assert.equal(await route.text(), "app shell");
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: healthcheck exits 0 against a live server and 1 on 404 or no server", async () => {
  const site = await makeSite({ "index.html": "ok" });
  const server = await startSockserve([site, "--host", "127.0.0.1", "--port", "0"]);
  try {
    const healthy = await runSockserve(["healthcheck"], { env: { PORT: String(server.port) } });
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stdout, /^healthy: http:\/\/127\.0\.0\.1:\d+\/healthz answered 200/);

    const explicit = await runSockserve(["healthcheck", new URL("/nope", server.url).href]);
    assert.equal(explicit.code, 1);
    assert.match(explicit.stderr, /^unhealthy: .* answered 404/);
  } finally {
    server.child.kill("SIGTERM");
    await server.status;
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
  const down = await runSockserve(["healthcheck", `http://127.0.0.1:${server.port}/`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^unhealthy: /);
});

Deno.test("cli: the health path is answered by the server, whatever the site holds", async () => {
  // A site whose / is a 404 (no index.html, no listing) and that has a file named healthz.
  const site = await makeSite({ "healthz": "a file of the site", "page.html": "<p>page</p>" });
  const server = await startSockserve([
    site,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--no-dir-listing",
  ]);
  try {
    assert.equal((await fetch(server.url)).status, 404);
    const health = await fetch(new URL("/healthz?probe=1", server.url));
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");
    assert.equal(health.headers.get("cache-control"), "no-store");
    const head = await fetch(new URL("/healthz", server.url), { method: "HEAD" });
    assert.equal(head.status, 200);
    const post = await fetch(new URL("/healthz", server.url), { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    assert.equal(await (await fetch(new URL("/page.html", server.url))).text(), "<p>page</p>");
    // Logged: the site's requests; not the health path's.
    await server.stdout.waitFor(/"GET \/page\.html HTTP\/1\.1" 200 /, "page log line");
    assert.doesNotMatch(server.stdout.text, /healthz/);

    // ROOT gone (an unmounted volume): the health path says so.
    await Deno.remove(site, { recursive: true });
    const gone = await fetch(new URL("/healthz", server.url));
    assert.equal(gone.status, 503);
    await gone.body?.cancel();
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true }).catch(() => {});
  }
});

Deno.test("cli: --health-path moves it, --no-health-path gives the path back, --log-health logs it", async () => {
  const site = await makeSite({ "healthz": "a file of the site" });
  const moved = await startSockserve([
    site,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--health-path",
    "/-/ready",
    "--log-health",
  ]);
  try {
    assert.equal(await (await fetch(new URL("/-/ready", moved.url))).text(), "ok\n");
    assert.equal(await (await fetch(new URL("/healthz", moved.url))).text(), "a file of the site");
    await moved.stdout.waitFor(/"GET \/-\/ready HTTP\/1\.1" 200 /, "health log line");
  } finally {
    await moved.close();
  }
  const off = await startSockserve([
    site,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--no-health-path",
  ]);
  try {
    assert.equal(await (await fetch(new URL("/healthz", off.url))).text(), "a file of the site");
  } finally {
    await off.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: healthcheck --state-file probes the server that wrote it, at its port and path", async () => {
  const site = await makeSite({});
  const dir = await Deno.makeTempDir({ prefix: "sockserve_state_" });
  const stateFile = `${dir}/state.json`;
  const permissions = ["--allow-net", `--allow-read`, "--allow-env=PORT,HOST"];
  // Port from the OS and a moved health path: nothing the probe could guess from PORT.
  const server = await startSockserve(
    [
      site,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--health-path",
      "/ready",
      "--state-file",
      stateFile,
    ],
    { env: { PORT: "1" }, permissions: [...permissions, `--allow-write=${stateFile}`] },
  );
  try {
    // There as soon as the start line is.
    assert.deepEqual(JSON.parse(await Deno.readTextFile(stateFile)), {
      pid: server.child.pid,
      url: `http://127.0.0.1:${server.port}/`,
      health: `http://127.0.0.1:${server.port}/ready`,
    });
    const probe = await runSockserve(["healthcheck", "--state-file", stateFile], {
      env: { PORT: "1" },
    });
    assert.equal(probe.code, 0, probe.stderr);
    assert.equal(probe.stdout, `healthy: http://127.0.0.1:${server.port}/ready answered 200 OK\n`);

    // A graceful stop removes it, and the probe then says the server is not there.
    server.child.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
    await assert.rejects(Deno.stat(stateFile), Deno.errors.NotFound);
    const after = await runSockserve(["healthcheck", "--state-file", stateFile]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^unhealthy: no state file .*state\.json/);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a state file that cannot be written is one line, and the server still serves", async () => {
  const site = await makeSite({ "index.html": "still serving" });
  const server = await startSockserve(
    [site, "--host", "127.0.0.1", "--port", "0", "--state-file", "/nonexistent/dir/state.json"],
    { permissions: ["--allow-net", "--allow-read", "--allow-write=/nonexistent"] },
  );
  try {
    assert.equal(await (await fetch(server.url)).text(), "still serving");
    const line = await server.stderr.waitFor(/--state-file/, "the state file error");
    assert.match(line, /^sockserve: cannot write --state-file \/nonexistent\/dir\/state\.json: /);
  } finally {
    await server.close();
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("cli: healthcheck with a bad URL is a usage error", async () => {
  assertUsageError(await runSockserve(["healthcheck", "::not a url"]), "invalid healthcheck URL");
});
