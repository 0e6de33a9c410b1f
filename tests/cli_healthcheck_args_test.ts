// The arguments of `sockserve healthcheck`, through the same parseCommandLine as the server's.
import assert from "node:assert/strict";
import { type CliEnv, EXIT_USAGE, parseCommandLine } from "../server/cli/config.ts";

Deno.test("healthcheck subcommand defaults to the health path on 127.0.0.1, PORT or 8000, 3 s", () => {
  assert.deepEqual(parseCommandLine(["healthcheck"], {}), {
    ok: true,
    command: {
      kind: "healthcheck",
      url: "http://127.0.0.1:8000/healthz",
      timeoutMs: 3000,
      stateFile: undefined,
      unixSocket: undefined,
      insecure: false,
    },
  });
  assert.deepEqual(parseCommandLine(["healthcheck"], { PORT: "8080" }), {
    ok: true,
    command: {
      kind: "healthcheck",
      url: "http://127.0.0.1:8080/healthz",
      timeoutMs: 3000,
      stateFile: undefined,
      unixSocket: undefined,
      insecure: false,
    },
  });
  // HOST naming one address is probed instead of the loopback; wildcards mean the loopback.
  const hosts: [string, string][] = [
    ["0.0.0.0", "http://127.0.0.1:8000/healthz"],
    ["", "http://127.0.0.1:8000/healthz"],
    ["::", "http://[::1]:8000/healthz"],
    ["::1", "http://[::1]:8000/healthz"],
    ["10.1.2.3", "http://10.1.2.3:8000/healthz"],
    ["localhost", "http://localhost:8000/healthz"],
  ];
  for (const [host, url] of hosts) {
    assert.deepEqual(parseCommandLine(["healthcheck"], { HOST: host }), {
      ok: true,
      command: {
        kind: "healthcheck",
        url,
        timeoutMs: 3000,
        stateFile: undefined,
        unixSocket: undefined,
        insecure: false,
      },
    }, host);
  }
  assert.deepEqual(
    parseCommandLine(["healthcheck", "http://localhost:1234/health", "--timeout=500ms"], {}),
    {
      ok: true,
      command: {
        kind: "healthcheck",
        url: "http://localhost:1234/health",
        timeoutMs: 500,
        stateFile: undefined,
        unixSocket: undefined,
        insecure: false,
      },
    },
  );
  assert.deepEqual(parseCommandLine(["healthcheck", "--timeout", "10s"], {}), {
    ok: true,
    command: {
      kind: "healthcheck",
      url: "http://127.0.0.1:8000/healthz",
      timeoutMs: 10_000,
      stateFile: undefined,
      unixSocket: undefined,
      insecure: false,
    },
  });
  assert.deepEqual(parseCommandLine(["healthcheck", "--help"], {}), {
    ok: true,
    command: { kind: "healthcheck-help" },
  });
});

Deno.test("healthcheck --unix-socket and --insecure, as curl spells them", () => {
  const command = (argv: string[]) => {
    const result = parseCommandLine(["healthcheck", ...argv], {});
    assert.ok(result.ok, result.ok ? "" : result.message);
    return result.command;
  };
  assert.deepEqual(command(["--unix-socket", "/run/s.sock"]), {
    kind: "healthcheck",
    url: "http://localhost/healthz",
    timeoutMs: 3000,
    stateFile: undefined,
    unixSocket: "/run/s.sock",
    insecure: false,
  });
  assert.deepEqual(command(["--unix-socket=/s", "http://x/ready"]), {
    kind: "healthcheck",
    url: "http://x/ready",
    timeoutMs: 3000,
    stateFile: undefined,
    unixSocket: "/s",
    insecure: false,
  });
  for (const flag of ["--insecure", "-k"]) {
    assert.deepEqual(command([flag, "https://127.0.0.1:8443/healthz"]), {
      kind: "healthcheck",
      url: "https://127.0.0.1:8443/healthz",
      timeoutMs: 3000,
      stateFile: undefined,
      unixSocket: undefined,
      insecure: true,
    });
  }
});

Deno.test("healthcheck subcommand rejects bad URLs, options and PORT with exit 2", () => {
  const rows: [string[], CliEnv, string][] = [
    [["healthcheck", "not a url"], {}, "invalid healthcheck URL"],
    [["healthcheck", "ftp://127.0.0.1/"], {}, "must be http or https"],
    [["healthcheck", "--timeout"], {}, "--timeout needs a value"],
    [["healthcheck", "--timeout", "0"], {}, "invalid --timeout"],
    // A negative number is the value, refused as such, not a missing value.
    [
      ["healthcheck", "--timeout", "-1s"],
      {},
      'invalid --timeout: expected a duration like 3s, got "-1s"',
    ],
    [["healthcheck", "--state-file", "-1"], {}, 'option --state-file needs a path, got "-1"'],
    [["healthcheck", "--verbose"], {}, "unknown healthcheck option --verbose"],
    [["healthcheck", "http://a/", "http://b/"], {}, "unexpected argument"],
    [["healthcheck"], { PORT: "x" }, "invalid PORT environment variable"],
    [["healthcheck"], { PORT: "0" }, "invalid PORT environment variable"],
    [["healthcheck", "--unix-socket"], {}, "--unix-socket needs a path"],
    [["healthcheck", "--unix-socket", "/s", "--state-file", "/f"], {}, "not both"],
    [["healthcheck", "--unix-socket", "/s", "https://x/"], {}, "takes an http URL"],
  ];
  for (const [argv, env, text] of rows) {
    const result = parseCommandLine(argv, env);
    assert.equal(result.ok, false, JSON.stringify(argv));
    if (result.ok) continue;
    assert.equal(result.exitCode, EXIT_USAGE);
    assert.ok(result.message.includes(text), `${result.message} mentions ${text}`);
  }
});
