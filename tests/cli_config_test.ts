import assert from "node:assert/strict";
import { type CliEnv, EXIT_USAGE, parseCommandLine, usageHint } from "../server/cli/config.ts";
import { OPTIONS } from "../server/cli/options.ts";
import { defaultServeConfig, type ServeConfig } from "../server/cli/serve_config.ts";
import { parseDuration, parseHeaderOption, parsePort, parseSize } from "../server/cli/values.ts";
import { healthcheckUsage, usage } from "../server/cli/usage.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/limits.ts";

function serveConfig(argv: string[], env: CliEnv = {}): ServeConfig {
  const result = parseCommandLine(argv, env);
  if (!result.ok) throw new Error(`expected success, got: ${result.message}`);
  assert.equal(result.command.kind, "serve");
  if (result.command.kind !== "serve") throw new Error("unreachable");
  return result.command.config;
}

interface OkRow {
  argv: string[];
  env?: CliEnv;
  expect: Partial<ServeConfig>;
}

const OK_ROWS: OkRow[] = [
  { argv: [], expect: defaultServeConfig() },
  { argv: ["public"], expect: { root: "public" } },
  { argv: ["--port", "8080"], expect: { port: 8080 } },
  { argv: ["--port=8080"], expect: { port: 8080 } },
  { argv: ["-p", "8080"], expect: { port: 8080 } },
  { argv: ["-p8080"], expect: { port: 8080 } },
  { argv: ["-p=8080"], expect: { port: 8080 } },
  { argv: ["--port", "0"], expect: { port: 0 } },
  { argv: ["--port", "65535"], expect: { port: 65535 } },
  { argv: ["--port", "1", "--port", "2"], expect: { port: 2 } },
  { argv: ["--host", "127.0.0.1"], expect: { hostname: "127.0.0.1" } },
  { argv: ["--host=::1"], expect: { hostname: "::1" } },
  { argv: ["--cors"], expect: { cors: true } },
  { argv: ["--spa"], expect: { spa: true } },
  { argv: ["--no-dir-listing"], expect: { dirListing: false } },
  { argv: ["--no-compression"], expect: { compression: false } },
  { argv: ["--cache-revalidate", "0"], expect: { cacheRevalidateMs: 0 } },
  { argv: ["--cache-revalidate=2s"], expect: { cacheRevalidateMs: 2000 } },
  { argv: ["--dotfiles", "allow"], expect: { dotfiles: "allow" } },
  { argv: ["--dotfiles=deny"], expect: { dotfiles: "deny" } },
  { argv: ["--log", "json"], expect: { log: "json" } },
  { argv: ["--log=off"], expect: { log: "off" } },
  { argv: ["--log", "common"], expect: { log: "common" } },
  {
    argv: ["--cache-control", "public, max-age=3600"],
    expect: { cacheControl: "public, max-age=3600" },
  },
  { argv: ["--cache-control=no-cache"], expect: { cacheControl: "no-cache" } },
  {
    argv: ["--header", "X-Frame-Options: DENY", "-H", "X-A:b", "--header=X-Empty:"],
    expect: { headers: [["X-Frame-Options", "DENY"], ["X-A", "b"], ["X-Empty", ""]] },
  },
  { argv: ["--grace-period", "30s"], expect: { gracePeriodMs: 30_000 } },
  { argv: ["--grace-period=0"], expect: { gracePeriodMs: 0 } },
  { argv: ["--grace-period", "1.5"], expect: { gracePeriodMs: 1500 } },
  { argv: ["--workers", "4"], expect: { workers: 4 } },
  { argv: ["--workers=auto"], expect: { workers: "auto" } },
  {
    argv: ["--cert", "c.pem", "--key=k.pem"],
    expect: { certFile: "c.pem", keyFile: "k.pem" },
  },
  { argv: ["--unix-socket", "/run/s.sock"], expect: { unixSocket: "/run/s.sock" } },
  // PORT and HOST say where to listen on TCP: a Unix socket leaves them nothing to say.
  {
    argv: ["--unix-socket=/run/s.sock"],
    env: { PORT: "9000", HOST: "127.0.0.1" },
    expect: { unixSocket: "/run/s.sock", port: 8000, hostname: "0.0.0.0" },
  },
  { argv: ["--header-timeout", "5s"], expect: { limits: { headerTimeoutMs: 5000 } } },
  { argv: ["--idle-timeout=250ms"], expect: { limits: { idleTimeoutMs: 250 } } },
  { argv: ["--body-timeout", "2m"], expect: { limits: { bodyTimeoutMs: 120_000 } } },
  { argv: ["--max-connections", "50"], expect: { limits: { maxConnections: 50 } } },
  { argv: ["--handler-timeout=0"], expect: { limits: { handlerTimeoutMs: 0 } } },
  { argv: ["--linger-timeout", "500ms"], expect: { limits: { lingerTimeoutMs: 500 } } },
  { argv: ["--max-body-size", "1MiB"], expect: { limits: { maxBodyBytes: 1024 * 1024 } } },
  { argv: ["--max-body-size", "0"], expect: { limits: { maxBodyBytes: 0 } } },
  { argv: ["--max-header-size", "32k"], expect: { limits: { maxHeaderBytes: 32 * 1024 } } },
  { argv: ["--max-header-count", "20"], expect: { limits: { maxHeaderCount: 20 } } },
  // "--" ends the options: a directory whose name starts with a dash.
  { argv: ["--", "-odd-dir"], expect: { root: "-odd-dir" } },
  { argv: ["--cors", "site", "--spa"], expect: { root: "site", cors: true, spa: true } },
  // Environment variables, and flags beating them.
  {
    argv: [],
    env: { PORT: "9000", HOST: "127.0.0.1" },
    expect: { port: 9000, hostname: "127.0.0.1" },
  },
  { argv: ["--port", "8080"], env: { PORT: "9000" }, expect: { port: 8080 } },
  { argv: ["--host", "::"], env: { HOST: "127.0.0.1" }, expect: { hostname: "::" } },
  // A flag beats an invalid environment variable: the environment is not even read.
  { argv: ["-p", "1234"], env: { PORT: "not-a-port" }, expect: { port: 1234 } },
  // Empty counts as unset; unrelated variables are ignored.
  { argv: [], env: { PORT: "", HOST: "" }, expect: { port: 8000, hostname: "0.0.0.0" } },
  { argv: [], env: { LOG: "json", CORS: "1" }, expect: { log: "combined", cors: false } },
];

for (const row of OK_ROWS) {
  const env = row.env ? ` env ${JSON.stringify(row.env)}` : "";
  Deno.test(`parseCommandLine accepts ${JSON.stringify(row.argv)}${env}`, () => {
    const config = serveConfig(row.argv, row.env);
    const expected = { ...defaultServeConfig(), ...row.expect };
    assert.deepEqual(config, expected);
  });
}

interface ErrorRow {
  argv: string[];
  env?: CliEnv;
  /** Text the one-line message must contain (the offending option or value). */
  mentions: string[];
}

const ERROR_ROWS: ErrorRow[] = [
  { argv: ["--bogus"], mentions: ["unknown option --bogus"] },
  { argv: ["--bogus=1"], mentions: ["unknown option --bogus"] },
  { argv: ["-x"], mentions: ["unknown option -x"] },
  { argv: ["--Port", "80"], mentions: ["unknown option --Port"] },
  { argv: ["--a\nb"], mentions: ['unknown option "--a\\nb"'] },
  { argv: ["--port"], mentions: ["--port needs a value"] },
  { argv: ["--port", "http"], mentions: ["--port", '"http"'] },
  { argv: ["--port", "65536"], mentions: ["--port", "65536"] },
  // A negative number after a numeric option is its value, refused by the option's own check
  // (it used to be reported as a missing value, which hid what was wrong).
  {
    argv: ["--port", "-1"],
    mentions: ['invalid --port: expected a port from 0 to 65535, got "-1"'],
  },
  { argv: ["-p", "-1"], mentions: ['invalid -p: expected a port from 0 to 65535, got "-1"'] },
  { argv: ["-p", "-0"], mentions: ['invalid -p: expected a port from 0 to 65535, got "-0"'] },
  { argv: ["--workers", "-2"], mentions: ["invalid --workers: expected auto or a number", '"-2"'] },
  {
    argv: ["--max-body-size", "-1k"],
    mentions: ["invalid --max-body-size: expected a size", '"-1k"'],
  },
  { argv: ["--max-connections", "-5"], mentions: ["invalid --max-connections", '"-5"'] },
  { argv: ["--port=8080.5"], mentions: ["--port", "8080.5"] },
  { argv: ["-p", ""], mentions: ["-p"] },
  { argv: ["--host", ""], mentions: ["--host"] },
  { argv: ["--host", "a b"], mentions: ["--host"] },
  { argv: ["--cors=yes"], mentions: ["--cors takes no value"] },
  { argv: ["--spa=1"], mentions: ["--spa takes no value"] },
  { argv: ["--dotfiles", "show"], mentions: ["--dotfiles", "allow, deny, ignore", '"show"'] },
  { argv: ["--log", "verbose"], mentions: ["--log", "combined, common, json, off"] },
  { argv: ["--log"], mentions: ["--log needs a value"] },
  { argv: ["--header", "NoColon"], mentions: ["--header", "Name: value"] },
  { argv: ["--header", ": value"], mentions: ["--header"] },
  { argv: ["--header", "Bad Name: x"], mentions: ["--header", "invalid header name"] },
  { argv: ["--header", "X-Evil: a\r\nSet-Cookie: b"], mentions: ["--header", "control character"] },
  { argv: ["--cache-control", "max-age=1\r\nX: y"], mentions: ["--cache-control"] },
  { argv: ["--cache-control", ""], mentions: ["--cache-control"] },
  { argv: ["--grace-period", "soon"], mentions: ["--grace-period", '"soon"'] },
  { argv: ["--cache-revalidate", "-1"], mentions: ["invalid --cache-revalidate", '"-1"'] },
  { argv: ["--grace-period", "-1s"], mentions: ["invalid --grace-period", '"-1s"'] },
  { argv: ["--header-timeout", "-1"], mentions: ["invalid --header-timeout", '"-1"'] },
  // Any other value that starts with "-" is a missing value, a colon or not: "-X: y" reads as
  // the option -X with the value ": y". Written with "=", it is a header like any other.
  { argv: ["-H", "-X: y"], mentions: ['option -H needs a value, got "-X: y"', "-H=VALUE"] },
  { argv: ["--header", "-X: y"], mentions: ['option --header needs a value, got "-X: y"'] },
  { argv: ["--port", "-x1"], mentions: ['option --port needs a value, got "-x1"'] },
  { argv: ["--grace-period", "1y"], mentions: ["--grace-period"] },
  { argv: ["--grace-period", "100000h"], mentions: ["--grace-period"] },
  { argv: ["--header-timeout", "0"], mentions: ["--header-timeout", "at least 1"] },
  { argv: ["--idle-timeout", "5 s"], mentions: ["--idle-timeout"] },
  { argv: ["--max-body-size", "1T"], mentions: ["--max-body-size", '"1T"'] },
  { argv: ["--max-body-size", "1.5MiB"], mentions: ["--max-body-size"] },
  { argv: ["--max-connections", "0"], mentions: ["--max-connections", "at least 1"] },
  { argv: ["--max-connections", "10k"], mentions: ["--max-connections", "whole number"] },
  { argv: ["--workers", "0"], mentions: ["--workers", "auto"] },
  { argv: ["--workers", "many"], mentions: ["--workers"] },
  { argv: ["a", "b"], mentions: ['unexpected argument "b"'] },
  { argv: [""], mentions: ["ROOT must not be empty"] },
  { argv: [], env: { PORT: "eighty" }, mentions: ["PORT environment variable", '"eighty"'] },
  { argv: [], env: { PORT: "70000" }, mentions: ["PORT environment variable"] },
  { argv: [], env: { HOST: "bad host" }, mentions: ["HOST environment variable"] },
  // Fields the server writes per response: one value for all of them would be wrong.
  ...[
    "Connection: close",
    "Keep-Alive: timeout=5",
    "Transfer-Encoding: chunked",
    "content-length: 4",
    "Upgrade: websocket",
    "TE: trailers",
    "Trailer: X",
    "Date: Sun, 06 Nov 1994 08:49:37 GMT",
    'ETag: "x"',
    "Content-Type: text/plain",
  ].map((header) => ({
    argv: ["--header", header],
    mentions: ["--header", `${header.split(":")[0]} cannot be set`],
  })),
  { argv: ["--cert", "c.pem"], mentions: ["--cert needs --key"] },
  { argv: ["--key", "k.pem"], mentions: ["--key needs --cert"] },
  { argv: ["--cert", ""], mentions: ["--cert", "expected a file path"] },
  { argv: ["--unix-socket", "/s", "--port", "80"], mentions: ["--port and --unix-socket"] },
  { argv: ["--host", "::1", "--unix-socket", "/s"], mentions: ["--host and --unix-socket"] },
  {
    argv: ["--unix-socket", "/s", "--cert", "c", "--key", "k"],
    mentions: ["--cert with --unix-socket"],
  },
  { argv: ["--unix-socket", "/s", "--workers", "2"], mentions: ["--workers with --unix-socket"] },
  // The error is reported where it happens, before a later --help.
  { argv: ["--bogus", "--help"], mentions: ["unknown option --bogus"] },
];

for (const row of ERROR_ROWS) {
  const env = row.env ? ` env ${JSON.stringify(row.env)}` : "";
  Deno.test(`parseCommandLine rejects ${JSON.stringify(row.argv)}${env} with exit 2`, () => {
    const result = parseCommandLine(row.argv, row.env ?? {});
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.exitCode, EXIT_USAGE);
    assert.ok(!result.message.includes("\n"), `one line: ${JSON.stringify(result.message)}`);
    assert.ok(result.message.startsWith("sockserve: "), result.message);
    assert.ok(result.message.endsWith(usageHint()), result.message);
    for (const text of row.mentions) {
      assert.ok(
        result.message.includes(text),
        `${JSON.stringify(result.message)} mentions ${text}`,
      );
    }
  });
}

/** The value names of the options that take a number: each must be marked `numeric`. */
const NUMERIC_VALUE_NAMES = new Set(["PORT", "N", "N|auto", "DURATION", "SIZE"]);

Deno.test("a value-taking option followed by another option is told it needs a value", () => {
  // `--cache-control --log off ROOT` must not take "--log" as the Cache-Control value (and then
  // complain about "off"): every option that takes a value, long and short, refuses an argument
  // that starts with "-" as its separate value, and names itself.
  const valued = OPTIONS.filter((spec) => spec.valueName !== undefined);
  assert.ok(valued.length > 20, "the table has value-taking options");
  for (const spec of valued) {
    const spellings = [`--${spec.name}`, ...(spec.short ? [`-${spec.short}`] : [])];
    for (const spelling of spellings) {
      for (const next of ["--log", "-p", "--", "-", "-x1", "-X: y"]) {
        const result = parseCommandLine([spelling, next, "off", "root"], {});
        assert.equal(result.ok, false, `${spelling} ${next}`);
        if (result.ok) continue;
        assert.equal(result.exitCode, EXIT_USAGE);
        assert.ok(!result.message.includes("\n"), result.message);
        assert.ok(
          result.message.startsWith(`sockserve: option ${spelling} needs a value, got "${next}"`),
          result.message,
        );
      }
    }
  }
  // Written with "=", a value may start with "-" (a file named "-x.pem", a header named "-X"), and
  // the long and short spellings agree.
  assert.equal(serveConfig(["--cert=-c.pem", "--key=-k.pem"]).certFile, "-c.pem");
  assert.equal(serveConfig(["-H=X-A: -1"]).headers[0]?.[1], "-1");
  assert.deepEqual(serveConfig(["-H=-X: y", "--header=-Y: z"]).headers, [["-X", "y"], ["-Y", "z"]]);
  assert.equal(serveConfig(["--state-file", "./-state"]).stateFile, "./-state");
});

Deno.test("an option that takes a number takes a negative one as its value, and refuses it", () => {
  // No option is named by a digit: "-1" after a numeric option can only be a negative number,
  // so the option's own check names what is wrong, instead of a missing value. Every option
  // whose value is a number is marked so, and no other.
  const valued = OPTIONS.filter((spec) => spec.valueName !== undefined);
  const numeric = valued.filter((spec) => spec.numeric === true);
  assert.deepEqual(
    valued.map((spec) => [spec.name, spec.numeric === true]),
    valued.map((spec) => [spec.name, NUMERIC_VALUE_NAMES.has(spec.valueName!)]),
  );
  assert.ok(numeric.length > 15, "ports, counts, sizes and durations");
  for (const spec of valued) {
    const spellings = [`--${spec.name}`, ...(spec.short ? [`-${spec.short}`] : [])];
    for (const spelling of spellings) {
      for (const next of ["-1", "-0", "-10s"]) {
        const result = parseCommandLine([spelling, next, "root"], {});
        assert.equal(result.ok, false, `${spelling} ${next}`);
        if (result.ok) continue;
        assert.equal(result.exitCode, EXIT_USAGE);
        assert.ok(!result.message.includes("\n"), result.message);
        const expected = spec.numeric
          ? `sockserve: invalid ${spelling}: `
          : `sockserve: option ${spelling} needs a value, got "${next}"`;
        assert.ok(result.message.startsWith(expected), result.message);
        assert.ok(result.message.includes(`"${next}"`), result.message);
      }
    }
  }
});

Deno.test("healthcheck: an option followed by another option is told it needs a value", () => {
  for (const option of ["--timeout", "--state-file", "--unix-socket"]) {
    for (const next of ["--insecure", "-k", "--help", "-X: y"]) {
      const result = parseCommandLine(["healthcheck", option, next], {});
      assert.equal(result.ok, false, `${option} ${next}`);
      if (result.ok) continue;
      assert.equal(result.exitCode, EXIT_USAGE);
      assert.ok(result.message.includes(`option ${option} needs a `), result.message);
      assert.ok(result.message.includes(`got "${next}"`), result.message);
    }
  }
});

Deno.test("--help and --version win wherever they appear after valid options", () => {
  for (const argv of [["--help"], ["-h"], ["public", "--port", "1", "--help"]]) {
    assert.deepEqual(parseCommandLine(argv, {}), { ok: true, command: { kind: "help" } });
  }
  for (const argv of [["--version"], ["-V"], ["--cors", "--version", "--bogus"]]) {
    assert.deepEqual(parseCommandLine(argv, {}), { ok: true, command: { kind: "version" } });
  }
});

Deno.test("--health-path, --no-health-path and --log-health", () => {
  assert.equal(serveConfig([]).healthPath, "/healthz");
  assert.equal(serveConfig([]).logHealth, false);
  assert.equal(serveConfig(["--health-path", "/ready"]).healthPath, "/ready");
  assert.equal(serveConfig(["--health-path=/-/health.v1_~"]).healthPath, "/-/health.v1_~");
  assert.equal(serveConfig(["--no-health-path"]).healthPath, undefined);
  assert.equal(serveConfig(["--no-health-path", "--health-path", "/h"]).healthPath, "/h");
  assert.equal(serveConfig(["--log-health"]).logHealth, true);
  // Paths a request could not match exactly once decoded and normalized, and the site's index.
  for (
    const bad of ["", "/", "healthz", "/a b", "/a?b", "/a#b", "/%2e", "/a/../b", "/.", "/a//b"]
  ) {
    const result = parseCommandLine(["--health-path", bad], {});
    assert.ok(!result.ok && result.message.includes("invalid --health-path"), bad);
  }
  assert.ok(!parseCommandLine(["--health-path", "/" + "a".repeat(256)], {}).ok, "too long");
});

Deno.test("--state-file for the server and for healthcheck", () => {
  assert.equal(serveConfig([]).stateFile, undefined);
  assert.equal(serveConfig(["--state-file", "/tmp/s.json"]).stateFile, "/tmp/s.json");
  assert.deepEqual(parseCommandLine(["healthcheck", "--state-file=/tmp/s.json"], {}), {
    ok: true,
    command: {
      kind: "healthcheck",
      url: "http://127.0.0.1:8000/healthz",
      timeoutMs: 3000,
      stateFile: "/tmp/s.json",
      unixSocket: undefined,
      insecure: false,
    },
  });
  for (
    const argv of [
      ["--state-file", ""],
      ["healthcheck", "--state-file"],
      ["healthcheck", "http://x/", "--state-file", "/tmp/s.json"],
    ]
  ) {
    assert.equal(parseCommandLine(argv, {}).ok, false, argv.join(" "));
  }
});

Deno.test("a directory named healthcheck can still be served as ./healthcheck", () => {
  assert.equal(serveConfig(["./healthcheck"]).root, "./healthcheck");
});

Deno.test("every server limit has a command-line option", () => {
  for (const key of Object.keys(DEFAULT_SERVER_LIMITS)) {
    if (key === "gracePeriodMs") continue; // --grace-period sets config.gracePeriodMs
    const option = OPTIONS.find((spec) => {
      const config = defaultServeConfig();
      return spec.section === "limits" && spec.apply(config, "100") === undefined &&
        key in config.limits;
    });
    assert.ok(option, `no option sets limit ${key}`);
  }
});

Deno.test("usage lists every option and fits in 100 columns", () => {
  const text = usage("1.2.3");
  assert.ok(text.startsWith("sockserve 1.2.3"));
  for (const spec of OPTIONS) {
    assert.ok(text.includes(`--${spec.name}`), `usage lists --${spec.name}`);
    if (spec.short) assert.ok(text.includes(`-${spec.short}, --${spec.name}`));
  }
  for (const line of [...text.split("\n"), ...healthcheckUsage().split("\n")]) {
    assert.ok(line.length <= 100, `line too long: ${line}`);
  }
});

Deno.test("`deno task start` serves the demo in site/ on port 8000 with exactly the documented permissions", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const words: string[] = denoJson.tasks.start.split(/\s+/);
  const main = words.indexOf("main.ts");
  assert.ok(main > 0);
  assert.deepEqual(words.slice(0, main).sort(), [
    "--allow-env=PORT,HOST",
    "--allow-net",
    "--allow-read=site",
    "--allow-sys=uid",
    "deno",
    "run",
  ]);
  const config = serveConfig(words.slice(main + 1));
  assert.equal(config.root, "site");
  assert.equal(config.port, 8000);
  // PORT=9000 deno task start: the task must not pin a port that PORT cannot override.
  assert.equal(serveConfig(words.slice(main + 1), { PORT: "9000" }).port, 9000);
  assert.equal(serveConfig(words.slice(main + 1), { HOST: "127.0.0.1" }).hostname, "127.0.0.1");
});

Deno.test("usage errors point to a help command given by the caller", () => {
  const result = parseCommandLine(["--bogus"], {}, "deno run main.ts --help");
  assert.deepEqual(result, {
    ok: false,
    exitCode: EXIT_USAGE,
    message: "sockserve: unknown option --bogus (run 'deno run main.ts --help' for usage)",
  });
  const healthcheck = parseCommandLine(["healthcheck", "--bogus"], {}, "./dist/sockserve --help");
  assert.ok(
    !healthcheck.ok && healthcheck.message.endsWith("(run './dist/sockserve --help' for usage)"),
  );
});

Deno.test("docs/cli.md documents every option", async () => {
  const page = await Deno.readTextFile(new URL("../docs/cli.md", import.meta.url));
  for (const spec of OPTIONS) {
    assert.ok(page.includes(`\`--${spec.name}`), `docs/cli.md mentions --${spec.name}`);
  }
  assert.ok(
    page.includes(
      "sockserve healthcheck [URL | --state-file PATH] [--unix-socket PATH] [--insecure] " +
        "[--timeout DURATION]",
    ),
  );
});

Deno.test("value parsers: ports, durations, sizes, headers", () => {
  const ports: [string, number | undefined][] = [
    ["0", 0],
    ["80", 80],
    ["080", 80],
    ["65535", 65535],
    ["65536", undefined],
    ["", undefined],
    [" 80", undefined],
    ["0x50", undefined],
    ["1e3", undefined],
    ["123456", undefined],
  ];
  for (const [text, port] of ports) assert.equal(parsePort(text), port, text);

  const durations: [string, number | undefined][] = [
    ["0", 0],
    ["10", 10_000],
    ["10s", 10_000],
    ["1.5s", 1500],
    ["250ms", 250],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["", undefined],
    ["s", undefined],
    ["1d", undefined],
    ["-1", undefined],
    ["1 s", undefined],
    ["Infinity", undefined],
    ["NaN", undefined],
    ["600h", undefined], // beyond setTimeout's range
  ];
  for (const [text, ms] of durations) assert.equal(parseDuration(text), ms, text);

  const sizes: [string, number | undefined][] = [
    ["0", 0],
    ["100", 100],
    ["100b", 100],
    ["16k", 16384],
    ["16K", 16384],
    ["16KiB", 16384],
    ["16kb", 16384],
    ["2m", 2 * 1024 ** 2],
    ["1MiB", 1024 ** 2],
    ["1g", 1024 ** 3],
    ["1GiB", 1024 ** 3],
    ["1t", undefined],
    ["1.5k", undefined],
    ["k", undefined],
    ["-1", undefined],
    ["99999999999999999999", undefined],
  ];
  for (const [text, bytes] of sizes) assert.equal(parseSize(text), bytes, text);

  assert.deepEqual(parseHeaderOption("X-A: b c "), ["X-A", "b c"]);
  assert.deepEqual(parseHeaderOption("Link:</a>; rel=preload"), ["Link", "</a>; rel=preload"]);
  assert.deepEqual(parseHeaderOption("X-Time: 12:30"), ["X-Time", "12:30"]);
  assert.equal(typeof parseHeaderOption("X-A"), "string");
  assert.equal(typeof parseHeaderOption("X(A): b"), "string");
  assert.equal(typeof parseHeaderOption("X-A: a\nb"), "string");
  assert.equal(typeof parseHeaderOption("X-A: a\0b"), "string");
});
