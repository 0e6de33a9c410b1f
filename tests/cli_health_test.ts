// The health path (server/cli/health.ts) in-process, and the state file through which
// `sockserve healthcheck --state-file` finds the server it probes (server/cli/state_file.ts).
import assert from "node:assert/strict";
import { formatState, localHost, parseState, type ServerState } from "../server/cli/state_file.ts";
import { skipHealthRecords, targetPath, urlPath, withHealthPath } from "../server/cli/health.ts";
import type { RequestRecord } from "../server/types.ts";

Deno.test("urlPath and targetPath: the path without query or fragment", () => {
  const urls: [string, string][] = [
    ["http://h/healthz", "/healthz"],
    ["http://h:8000/healthz?x=1", "/healthz"],
    ["http://h/a/b#frag", "/a/b"],
    ["http://h", "/"],
    ["http://[::1]:80/x?y#z", "/x"],
  ];
  for (const [url, path] of urls) assert.equal(urlPath(url), path, url);
  const targets: [string, string][] = [
    ["/healthz", "/healthz"],
    ["/healthz?probe=1", "/healthz"],
    ["http://example.com/healthz?x", "/healthz"],
    ["*", "/"],
  ];
  for (const [target, path] of targets) assert.equal(targetPath(target), path, target);
});

function site(request: Request): Promise<Response> {
  return Promise.resolve(new Response(`site ${request.method} ${urlPath(request.url)}`));
}

Deno.test("withHealthPath: answers its path itself, passes everything else to the site", async () => {
  let rootThere = true;
  const handler = withHealthPath(site, { path: "/healthz", rootAvailable: () => rootThere });
  const call = (method: string, url: string) => handler(new Request(url, { method }));

  const ok = await call("GET", "http://h/healthz?from=probe");
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("cache-control"), "no-store");
  assert.equal(ok.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await ok.text(), "ok\n");
  assert.equal((await call("HEAD", "http://h/healthz")).status, 200);
  const post = await call("POST", "http://h/healthz");
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  // Other paths, including neighbours of the health path, are the site's.
  for (const path of ["/", "/healthz/", "/healthz.html", "/HEALTHZ", "/x/healthz"]) {
    assert.equal(await (await call("GET", `http://h${path}`)).text(), `site GET ${path}`);
  }
  rootThere = false;
  const gone = await call("GET", "http://h/healthz");
  assert.equal(gone.status, 503);
  await gone.body?.cancel();
});

Deno.test("skipHealthRecords: the health path's requests stay out of the log", () => {
  const logged: string[] = [];
  const onRequestEnd = skipHealthRecords((record) => logged.push(record.target), "/healthz");
  for (const target of ["/", "/healthz", "/healthz?x=1", "http://h/healthz", "/healthz/x"]) {
    onRequestEnd({ target } as RequestRecord);
  }
  assert.deepEqual(logged, ["/", "/healthz/x"]);
});

Deno.test("state file: written for a bound address, read back by healthcheck", () => {
  const rows: [string, number, string | undefined, ServerState][] = [
    ["0.0.0.0", 9000, "/healthz", {
      pid: 7,
      url: "http://127.0.0.1:9000/",
      health: "http://127.0.0.1:9000/healthz",
    }],
    ["::", 80, "/-/ready", { pid: 7, url: "http://[::1]/", health: "http://[::1]/-/ready" }],
    ["10.0.0.5", 8080, undefined, { pid: 7, url: "http://10.0.0.5:8080/", health: null }],
  ];
  for (const [host, port, path, state] of rows) {
    const text = formatState(7, { transport: "tcp", hostname: host, port, tls: false }, path);
    assert.ok(text.endsWith("}\n") && !text.slice(0, -1).includes("\n"), "one line");
    assert.deepEqual(parseState(text), state, host);
  }
  assert.equal(localHost("192.0.2.1"), "192.0.2.1");
  // Anything else is no state: a partial write, another file.
  for (
    const text of [
      "",
      '{"pid":7,"url":"http://127.0.0.1:9000/"',
      "[]",
      "null",
      '{"pid":"7","url":"http://127.0.0.1:1/","health":null}',
      '{"pid":7,"url":"file:///etc/passwd","health":null}',
      '{"pid":7,"url":"http://127.0.0.1:1/","health":"ftp://x/"}',
    ]
  ) {
    assert.equal(parseState(text), undefined, text);
  }
});
