/**
 * Command-line configuration: a pure function from `argv` and environment variables to what the
 * program should do. No I/O happens here, so every rule is testable by calling
 * {@linkcode parseCommandLine}.
 *
 * Rules, in the order they apply:
 * 1. `sockserve healthcheck [URL | --state-file PATH] [--timeout D]` is a subcommand; anything
 *    else serves a directory.
 *    Its default URL is `http://127.0.0.1:$PORT/healthz`, or `HOST` instead of 127.0.0.1 when
 *    `HOST` names one address rather than a wildcard; `--state-file PATH` takes the URL from the
 *    state file a server writes (see `state_file.ts`).
 * 2. Options are read left to right. `--name=value` and `--name value` are equivalent; `-p 80` and
 *    `-p80` too. A bare `--` ends the options. `--help` and `--version` win as soon as they are met.
 * 3. A single-valued option given twice keeps the last value; `--header` accumulates.
 * 4. `PORT` and `HOST` apply only where no flag set the same setting (flags beat environment).
 *    An empty environment variable counts as unset.
 * 5. Any unknown or malformed option is a usage error (exit code {@linkcode EXIT_USAGE}) whose
 *    one-line message names the option and points at `--help`.
 *
 * @module
 */

import { DEFAULT_GRACE_PERIOD_MS, DEFAULT_SERVER_LIMITS, type ServerLimits } from "../limits.ts";

/** Exit code for command-line usage errors (the BSD `sysexits`/GNU convention: 2). */
export const EXIT_USAGE = 2;

/** Port served when neither `--port` nor `PORT` is given (same as `deno task start`). */
export const DEFAULT_PORT = 8000;

/**
 * Interface bound when neither `--host` nor `HOST` is given: every IPv4 interface, which is what a
 * container needs to be reachable. Use `--host 127.0.0.1` to keep a development server private.
 */
export const DEFAULT_HOST = "0.0.0.0";

/**
 * The path the server answers itself for health probes (`--health-path`), the Kubernetes
 * convention. Probes of it do not depend on the site's content; see `health.ts`.
 */
export const DEFAULT_HEALTH_PATH = "/healthz";

/**
 * How long `sockserve healthcheck` waits for the answer before declaring the server unhealthy.
 * Docker's own default HEALTHCHECK timeout is 30 s; a server that cannot answer its health path
 * within 3 s is not healthy, and a short timeout keeps a hung probe from overlapping the next one.
 */
export const DEFAULT_HEALTHCHECK_TIMEOUT_MS = 3_000;

/**
 * Largest duration accepted by any timeout option: the largest delay `setTimeout` honours
 * (2^31 − 1 ms, about 24.8 days); anything longer would fire at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Most workers `--workers N` accepts; more than this is a typo rather than a plan. */
export const MAX_WORKERS = 1024;

/** How requests are logged to stdout. */
export type LogFormat = "combined" | "common" | "json" | "off";

/** What happens to paths with a segment that starts with a dot (see `createFileServer`). */
export type DotfilePolicy = "allow" | "deny" | "ignore";

/** Everything needed to serve a directory, as the command line asked for it. */
export interface ServeConfig {
  /** The ROOT argument as given, or `undefined` when none was (see `chooseRoot`). */
  root: string | undefined;
  /** Port to listen on (0 = let the OS choose). */
  port: number;
  /** Interface to bind. */
  hostname: string;
  /** Answer CORS requests and preflights for any origin. */
  cors: boolean;
  /** `Cache-Control` value for every file, or `undefined` for none. */
  cacheControl: string | undefined;
  /** Unknown paths that accept HTML get `index.html` (single-page applications). */
  spa: boolean;
  /** Directories without `index.html` get an HTML listing. */
  dirListing: boolean;
  /** Policy for dotfiles. */
  dotfiles: DotfilePolicy;
  /** Serve precompressed sidecars and gzip compressible files on the fly. */
  compression: boolean;
  /** Access log format. */
  log: LogFormat;
  /** Extra response headers for every response, in order. */
  headers: [string, string][];
  /** Time in-flight requests get to finish after SIGTERM/SIGINT before being cut. */
  gracePeriodMs: number;
  /** Number of worker processes, or `"auto"` for one per CPU. */
  workers: number | "auto";
  /** The path the server answers itself for probes, or `undefined` for none. */
  healthPath: string | undefined;
  /** Whether requests of the health path are written to the access log. */
  logHealth: boolean;
  /** Where to write the state file once listening (see `state_file.ts`), or `undefined`. */
  stateFile: string | undefined;
  /** Server limits set on the command line; the rest keep their defaults. */
  limits: Partial<ServerLimits>;
}

/** What the program was asked to do. */
export type Command =
  | { kind: "serve"; config: ServeConfig }
  | { kind: "help" }
  | { kind: "version" }
  | {
    kind: "healthcheck";
    /** What to probe: the URL given, or the default from `PORT`, `HOST` and the health path. */
    url: string;
    timeoutMs: number;
    /** Probe the server this state file names instead of `url` (see `state_file.ts`). */
    stateFile: string | undefined;
  }
  | { kind: "healthcheck-help" };

/** Result of {@linkcode parseCommandLine}: a command, or a usage error to print to stderr. */
export type ParseResult =
  | { ok: true; command: Command }
  | { ok: false; exitCode: number; message: string };

/** The environment variables the CLI reads (others are ignored). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

type ValueKind = "flag" | "value";

/** One command-line option; the usage text is generated from the same table. */
export interface OptionSpec {
  /** Long name without the dashes. */
  name: string;
  /** Single-letter alias without the dash. */
  short?: string;
  /** Name of the value shown in the usage text (absent for flags). */
  valueName?: string;
  /** One-line description for the usage text. */
  description: string;
  /** Environment variable that supplies the same setting when the flag is absent. */
  env?: string;
  /** Usage section the option is listed under. */
  section: "serve" | "limits" | "general";
  /** Parses the value into the config; returns an error text (without the option name). */
  apply: (config: ServeConfig, value: string) => string | undefined;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A health path: absolute, unreserved characters only (RFC 3986 §2.3), so that it is the same
// before and after percent-decoding and normalization, and at most 256 characters.
// No "." or ".." segment (normalized away before any request could match it) and not "/" (the
// site's index).
const HEALTH_PATH = /^(?=.{2,256}$)(\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~]+)+$/;
// Field values: visible ASCII, obs-text, space and tab (RFC 9110 §5.5); never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Quotes a user-supplied value for an error message, escaping control characters. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** An option spelling as typed, quoted only when it holds something unprintable. */
function spell(option: string): string {
  return /^[\x21-\x7e]*$/.test(option) ? option : quote(option);
}

/**
 * Parses a TCP port: an integer from 0 to 65535.
 *
 * @example
 * ```ts
 * import { parsePort } from "./config.ts";
 * parsePort("8080"); // 8080
 * parsePort("http"); // undefined
 * ```
 */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `10s`, `500ms`, `1.5s`, `2m` or `1h` into milliseconds. A bare
 * number means seconds, as in nginx.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./config.ts";
 * parseDuration("1.5s"); // 1500
 * parseDuration("250ms"); // 250
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? "s"] ?? 1000));
  return Number.isSafeInteger(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a size in bytes: a whole number with an optional binary unit (`k`, `KiB`, `KB`, `m`,
 * `MiB`, `g`…, all powers of 1024, as in nginx).
 *
 * @example
 * ```ts
 * import { parseSize } from "./config.ts";
 * parseSize("16k"); // 16384
 * parseSize("1MiB"); // 1048576
 * ```
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)([a-z]*)$/i.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? "").toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Parses a whole number (no unit). */
function parseCount(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parses a `--header` value `Name: value` into a name and a trimmed value. The name must be an
 * RFC 9110 token and the value may not contain control characters (a CR or LF would let the
 * configuration inject headers or split responses).
 *
 * @example
 * ```ts
 * import { parseHeaderOption } from "./config.ts";
 * parseHeaderOption("X-Frame-Options: DENY"); // ["X-Frame-Options", "DENY"]
 * parseHeaderOption("no colon"); // an error message (a string)
 * ```
 */
export function parseHeaderOption(text: string): [string, string] | string {
  const colon = text.indexOf(":");
  if (colon <= 0) return `expected "Name: value", got ${quote(text)}`;
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).trim();
  if (!HEADER_NAME.test(name)) return `invalid header name ${quote(name)}`;
  if (!FIELD_VALUE.test(value)) return `header ${name} has a control character in its value`;
  return [name, value];
}

function oneOf<T extends string>(choices: readonly T[], set: (config: ServeConfig, v: T) => void) {
  return (config: ServeConfig, value: string): string | undefined => {
    if (!(choices as readonly string[]).includes(value)) {
      return `must be one of ${choices.join(", ")}, got ${quote(value)}`;
    }
    set(config, value as T);
    return undefined;
  };
}

function limitOption(
  name: string,
  key: keyof ServerLimits,
  kind: "duration" | "size" | "count",
  description: string,
  min: number,
): OptionSpec {
  const valueName = kind === "duration" ? "DURATION" : kind === "size" ? "SIZE" : "N";
  const defaultValue = DEFAULT_SERVER_LIMITS[key];
  const shown = kind === "duration" ? formatDuration(defaultValue) : formatSize(defaultValue);
  return {
    name,
    valueName,
    section: "limits",
    description: `${description} (default ${shown})`,
    apply(config, value) {
      const parsed = kind === "duration"
        ? parseDuration(value)
        : kind === "size"
        ? parseSize(value)
        : parseCount(value);
      if (parsed === undefined) {
        return kind === "duration"
          ? `expected a duration like 10s or 500ms, got ${quote(value)}`
          : kind === "size"
          ? `expected a size like 16k or 1MiB, got ${quote(value)}`
          : `expected a whole number, got ${quote(value)}`;
      }
      if (parsed < min) return `must be at least ${min}, got ${quote(value)}`;
      config.limits[key] = parsed;
      return undefined;
    },
  };
}

/**
 * Formats milliseconds the way the usage text and logs show them.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./config.ts";
 * formatDuration(10_000); // "10s"
 * formatDuration(250); // "250ms"
 * ```
 */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Formats a byte count the way the usage text shows it.
 *
 * @example
 * ```ts
 * import { formatSize } from "./config.ts";
 * formatSize(16 * 1024); // "16KiB"
 * formatSize(100); // "100"
 * ```
 */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Every option of `sockserve [ROOT]`, in the order the usage text lists them. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    name: "port",
    short: "p",
    valueName: "PORT",
    env: "PORT",
    section: "serve",
    description: `port, 0 = any free port (default ${DEFAULT_PORT}, env PORT)`,
    apply(config, value) {
      const port = parsePort(value);
      if (port === undefined) return `expected a port from 0 to 65535, got ${quote(value)}`;
      config.port = port;
      return undefined;
    },
  },
  {
    name: "host",
    valueName: "HOST",
    env: "HOST",
    section: "serve",
    description: `interface to bind (default ${DEFAULT_HOST}, env HOST)`,
    apply(config, value) {
      if (value === "" || /[\s/]/.test(value)) {
        return `expected a host name or IP, got ${quote(value)}`;
      }
      config.hostname = value;
      return undefined;
    },
  },
  {
    name: "cors",
    section: "serve",
    description: "allow cross-origin requests (answers preflights)",
    apply(config) {
      config.cors = true;
      return undefined;
    },
  },
  {
    name: "cache-control",
    valueName: "VALUE",
    section: "serve",
    description: "Cache-Control of files (default none)",
    apply(config, value) {
      if (value === "" || !FIELD_VALUE.test(value)) {
        return `expected a header value without control characters, got ${quote(value)}`;
      }
      config.cacheControl = value.trim();
      return undefined;
    },
  },
  {
    name: "spa",
    section: "serve",
    description: "unknown paths that accept HTML get /index.html",
    apply(config) {
      config.spa = true;
      return undefined;
    },
  },
  {
    name: "no-dir-listing",
    section: "serve",
    description: "404 for directories without index.html",
    apply(config) {
      config.dirListing = false;
      return undefined;
    },
  },
  {
    name: "dotfiles",
    valueName: "POLICY",
    section: "serve",
    description: "dot segments: allow | deny (403) | ignore (404, default)",
    apply: oneOf(["allow", "deny", "ignore"] as const, (config, v) => config.dotfiles = v),
  },
  {
    name: "no-compression",
    section: "serve",
    description: "no .br/.gz sidecars, no on-the-fly gzip",
    apply(config) {
      config.compression = false;
      return undefined;
    },
  },
  {
    name: "health-path",
    valueName: "PATH",
    section: "serve",
    description: `answered 200 by the server itself, for probes (default ${DEFAULT_HEALTH_PATH})`,
    apply(config, value) {
      if (!HEALTH_PATH.test(value)) {
        return `expected a path like /healthz (letters, digits, - . _ ~ / only), got ${
          quote(value)
        }`;
      }
      config.healthPath = value;
      return undefined;
    },
  },
  {
    name: "no-health-path",
    section: "serve",
    description: "no health path: every path is the site's",
    apply(config) {
      config.healthPath = undefined;
      return undefined;
    },
  },
  {
    name: "log-health",
    section: "serve",
    description: "write health-path requests to the access log too",
    apply(config) {
      config.logHealth = true;
      return undefined;
    },
  },
  {
    name: "state-file",
    valueName: "PATH",
    section: "serve",
    description: "write where it listens to PATH (for healthcheck --state-file)",
    apply(config, value) {
      if (value === "") return "expected a file path";
      config.stateFile = value;
      return undefined;
    },
  },
  {
    name: "header",
    short: "H",
    valueName: '"NAME: VALUE"',
    section: "serve",
    description: "add a header to every response (repeatable)",
    apply(config, value) {
      const header = parseHeaderOption(value);
      if (typeof header === "string") return header;
      config.headers.push(header);
      return undefined;
    },
  },
  {
    name: "log",
    valueName: "FORMAT",
    section: "serve",
    description: "access log: combined (default) | common | json | off",
    apply: oneOf(["combined", "common", "json", "off"] as const, (config, v) => config.log = v),
  },
  {
    name: "grace-period",
    valueName: "DURATION",
    section: "serve",
    description: `time in-flight requests get on SIGTERM (default ${
      formatDuration(DEFAULT_GRACE_PERIOD_MS)
    })`,
    apply(config, value) {
      const ms = parseDuration(value);
      if (ms === undefined) return `expected a duration like 10s or 500ms, got ${quote(value)}`;
      config.gracePeriodMs = ms;
      return undefined;
    },
  },
  {
    name: "workers",
    valueName: "N|auto",
    section: "serve",
    description: "isolates sharing the port (SO_REUSEPORT), auto = one per CPU",
    apply(config, value) {
      if (value === "auto") {
        config.workers = "auto";
        return undefined;
      }
      const n = parseCount(value);
      if (n === undefined || n < 1 || n > MAX_WORKERS) {
        return `expected auto or a number from 1 to ${MAX_WORKERS}, got ${quote(value)}`;
      }
      config.workers = n;
      return undefined;
    },
  },
  limitOption(
    "header-timeout",
    "headerTimeoutMs",
    "duration",
    "time to receive a request head",
    1,
  ),
  limitOption(
    "idle-timeout",
    "idleTimeoutMs",
    "duration",
    "time a keep-alive connection may idle",
    1,
  ),
  limitOption(
    "body-timeout",
    "bodyTimeoutMs",
    "duration",
    "longest stall reading a body or writing a response",
    1,
  ),
  limitOption(
    "handler-timeout",
    "handlerTimeoutMs",
    "duration",
    "time to produce a response, 0 = none",
    0,
  ),
  limitOption(
    "linger-timeout",
    "lingerTimeoutMs",
    "duration",
    "lingering: longest silence before closing",
    0,
  ),
  limitOption(
    "linger-time",
    "lingerTimeMs",
    "duration",
    "lingering: longest drain before closing",
    0,
  ),
  limitOption(
    "half-close-timeout",
    "halfCloseTimeoutMs",
    "duration",
    "after client EOF, longest response stall",
    0,
  ),
  limitOption(
    "body-min-rate",
    "bodyMinRate",
    "count",
    "slowest request body, bytes/s, 0 = none",
    0,
  ),
  limitOption(
    "body-min-rate-grace",
    "bodyMinRateGraceMs",
    "duration",
    "time before --body-min-rate applies",
    0,
  ),
  limitOption("max-connections", "maxConnections", "count", "most open connections", 1),
  limitOption("max-body-size", "maxBodyBytes", "size", "largest request body", 0),
  limitOption("max-header-size", "maxHeaderBytes", "size", "largest request header section", 1),
  limitOption("max-header-count", "maxHeaderCount", "count", "most request header fields", 1),
  limitOption(
    "max-request-line-size",
    "maxRequestLineBytes",
    "size",
    "longest request line",
    16,
  ),
  limitOption("max-trailer-size", "maxTrailerBytes", "size", "largest chunked trailer section", 0),
  limitOption(
    "max-chunk-extension-size",
    "maxChunkExtensionBytes",
    "size",
    "longest chunk extension",
    0,
  ),
  limitOption(
    "max-chunk-extensions-total-size",
    "maxChunkExtensionsTotalBytes",
    "size",
    "chunk extension bytes per message",
    0,
  ),
  limitOption(
    "max-discard-size",
    "maxDiscardBytes",
    "size",
    "unread body skipped to keep a connection",
    0,
  ),
  limitOption(
    "read-buffer-size",
    "readBufferBytes",
    "size",
    "first read buffer of each connection",
    64,
  ),
  {
    name: "help",
    short: "h",
    section: "general",
    description: "show this help and exit",
    apply: () => undefined,
  },
  {
    name: "version",
    short: "V",
    section: "general",
    description: "show the version and exit",
    apply: () => undefined,
  },
];

/**
 * The configuration used when no option and no environment variable is given.
 *
 * @example
 * ```ts
 * import { defaultServeConfig } from "./config.ts";
 * defaultServeConfig().port; // 8000
 * ```
 */
export function defaultServeConfig(): ServeConfig {
  return {
    root: undefined,
    port: DEFAULT_PORT,
    hostname: DEFAULT_HOST,
    cors: false,
    cacheControl: undefined,
    spa: false,
    dirListing: true,
    dotfiles: "ignore",
    compression: true,
    log: "combined",
    headers: [],
    gracePeriodMs: DEFAULT_GRACE_PERIOD_MS,
    workers: 1,
    healthPath: DEFAULT_HEALTH_PATH,
    logHealth: false,
    stateFile: undefined,
    limits: {},
  };
}

/**
 * The help command a usage error points to when the caller does not say how the program was
 * started (see `helpCommand()` in `startup.ts`, which main.ts passes).
 */
export const DEFAULT_HELP_COMMAND = "sockserve --help";

/**
 * The hint appended to every usage error.
 *
 * @example
 * ```ts
 * import { usageHint } from "./config.ts";
 * usageHint("deno run main.ts --help"); // "(run 'deno run main.ts --help' for usage)"
 * ```
 */
export function usageHint(helpCommand: string = DEFAULT_HELP_COMMAND): string {
  return `(run '${helpCommand}' for usage)`;
}

/** A usage error; {@linkcode parseCommandLine} appends the hint. */
function usageError(message: string): ParseResult {
  return { ok: false, exitCode: EXIT_USAGE, message: `sockserve: ${message}` };
}

/** An option occurrence split from argv: its spelling, spec and inline value if any. */
interface SplitOption {
  spelling: string;
  spec: OptionSpec | undefined;
  inline: string | undefined;
}

function splitOption(arg: string, specs: readonly OptionSpec[]): SplitOption {
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    return {
      spelling: `--${name}`,
      spec: specs.find((s) => s.name === name),
      inline: eq === -1 ? undefined : arg.slice(eq + 1),
    };
  }
  // "-p8080", "-p=8080" and "-p 8080".
  const letter = arg.slice(1, 2);
  const rest = arg.slice(2);
  return {
    spelling: `-${letter}`,
    spec: specs.find((s) => s.short === letter),
    inline: rest === "" ? undefined : rest.startsWith("=") ? rest.slice(1) : rest,
  };
}

/**
 * Turns the command line and environment into a {@linkcode Command}, or a usage error: one line
 * ending with a hint to run `helpCommand` (default {@linkcode DEFAULT_HELP_COMMAND}).
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./config.ts";
 * const result = parseCommandLine(["public", "--port=8080", "--cors"], { PORT: "9000" });
 * if (result.ok && result.command.kind === "serve") {
 *   result.command.config.port; // 8080: flags beat the environment
 * }
 * ```
 */
export function parseCommandLine(
  argv: readonly string[],
  env: CliEnv,
  helpCommand: string = DEFAULT_HELP_COMMAND,
): ParseResult {
  const result = argv[0] === "healthcheck"
    ? parseHealthcheckArgs(argv.slice(1), env)
    : parseServeArgs(argv, env);
  return result.ok ? result : { ...result, message: `${result.message} ${usageHint(helpCommand)}` };
}

function parseServeArgs(argv: readonly string[], env: CliEnv): ParseResult {
  const config = defaultServeConfig();
  const setByFlag = new Set<string>();
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (optionsEnded || !arg.startsWith("-") || arg === "-") {
      if (config.root !== undefined) return usageError(`unexpected argument ${quote(arg)}`);
      if (arg === "") return usageError("ROOT must not be empty");
      config.root = arg;
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    const { spelling, spec, inline } = splitOption(arg, OPTIONS);
    if (spec === undefined) return usageError(`unknown option ${spell(spelling)}`);
    if (spec.name === "help") return { ok: true, command: { kind: "help" } };
    if (spec.name === "version") return { ok: true, command: { kind: "version" } };
    let value: string;
    if (spec.valueName === undefined) {
      if (inline !== undefined) return usageError(`option ${spelling} takes no value`);
      value = "";
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined) return usageError(`option ${spelling} needs a value`);
      value = next;
      i++;
    }
    const error = spec.apply(config, value);
    if (error !== undefined) return usageError(`invalid ${spelling}: ${error}`);
    setByFlag.add(spec.name);
  }

  for (const spec of OPTIONS) {
    if (spec.env === undefined || setByFlag.has(spec.name)) continue;
    const value = env[spec.env];
    if (value === undefined || value === "") continue;
    const error = spec.apply(config, value);
    if (error !== undefined) {
      return usageError(`invalid ${spec.env} environment variable: ${error}`);
    }
  }
  return { ok: true, command: { kind: "serve", config } };
}

/**
 * The host `healthcheck` probes by default: the server's `HOST` when it names one address, else
 * the IPv4 loopback (a wildcard such as 0.0.0.0 includes it).
 */
function healthcheckHost(host: string | undefined): string {
  if (host === undefined || host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function parseHealthcheckArgs(argv: readonly string[], env: CliEnv): ParseResult {
  let url: string | undefined;
  let stateFile: string | undefined;
  let timeoutMs = DEFAULT_HEALTHCHECK_TIMEOUT_MS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      return { ok: true, command: { kind: "healthcheck-help" } };
    }
    if (arg === "--state-file" || arg.startsWith("--state-file=")) {
      const value = arg === "--state-file" ? argv[++i] : arg.slice("--state-file=".length);
      if (value === undefined || value === "") {
        return usageError("option --state-file needs a path");
      }
      stateFile = value;
      continue;
    }
    if (arg === "--timeout" || arg.startsWith("--timeout=")) {
      const value = arg === "--timeout" ? argv[++i] : arg.slice("--timeout=".length);
      if (value === undefined) return usageError("option --timeout needs a value");
      const ms = parseDuration(value);
      if (ms === undefined || ms === 0) {
        return usageError(`invalid --timeout: expected a duration like 3s, got ${quote(value)}`);
      }
      timeoutMs = ms;
      continue;
    }
    if (arg.startsWith("-")) {
      return usageError(`unknown healthcheck option ${spell(arg.split("=")[0] ?? arg)}`);
    }
    if (url !== undefined) return usageError(`unexpected argument ${quote(arg)}`);
    url = arg;
  }
  if (url !== undefined && stateFile !== undefined) {
    return usageError("give a URL or --state-file, not both");
  }
  if (url === undefined) {
    const envPort = env["PORT"];
    let port = DEFAULT_PORT;
    if (envPort !== undefined && envPort !== "") {
      const parsed = parsePort(envPort);
      if (parsed === undefined || parsed === 0) {
        return usageError(`invalid PORT environment variable: ${quote(envPort)}`);
      }
      port = parsed;
    }
    url = `http://${healthcheckHost(env["HOST"])}:${port}${DEFAULT_HEALTH_PATH}`;
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    return usageError(`invalid healthcheck URL ${quote(url)}`);
  }
  if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") {
    return usageError(`healthcheck URL must be http or https, got ${quote(url)}`);
  }
  return {
    ok: true,
    command: { kind: "healthcheck", url: parsedUrl.href, timeoutMs, stateFile },
  };
}
