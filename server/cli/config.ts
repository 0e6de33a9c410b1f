/**
 * Command-line configuration: a pure function from `argv` and environment variables to what the
 * program should do. No I/O happens here, so every rule is testable by calling
 * {@linkcode parseCommandLine}.
 *
 * Rules, in the order they apply:
 * 1. `sockserve healthcheck [URL | --state-file PATH] [--unix-socket PATH] [--insecure]
 *    [--timeout D]` is a subcommand (`healthcheck_args.ts`); anything else serves a directory.
 *    Its default URL is `http://127.0.0.1:$PORT/healthz`, or `HOST` instead of 127.0.0.1 when
 *    `HOST` names one address rather than a wildcard; `--state-file PATH` takes the URL (and the
 *    socket) from the state file a server writes (see `state_file.ts`).
 * 2. Options are read left to right. `--name=value` and `--name value` are equivalent; `-p 80` and
 *    `-p80` too, except that a separate value never starts with `-` (`--cache-control --log` is
 *    a missing value) unless the option takes a number and it is `-` and a digit (`-p -1` is an
 *    invalid port; see `separateValue()`). A bare `--` ends the options. `--help` and `--version`
 *    win as soon as they are met.
 * 3. A single-valued option given twice keeps the last value; `--header` accumulates.
 * 4. Options that cannot go together are a usage error: `--cert` without `--key` or the reverse;
 *    `--header "Cache-Control: …"` with `--cache-control`; `--unix-socket` with `--port`,
 *    `--host`, `--cert` or `--workers` other than 1.
 * 5. `PORT` and `HOST` apply only where no flag set the same setting (flags beat environment),
 *    and not with `--unix-socket`. An empty environment variable counts as unset.
 * 6. Any unknown or malformed option is a usage error (exit code {@linkcode EXIT_USAGE}) whose
 *    one-line message names the option and points at `--help`.
 *
 * @module
 */

import { type HealthcheckCommand, parseHealthcheckArgs } from "./healthcheck_args.ts";
import { OPTIONS, type OptionSpec } from "./options.ts";
import { defaultServeConfig, type ServeConfig } from "./serve_config.ts";
import { quote, separateValue, spell } from "./values.ts";

/** Exit code for command-line usage errors (the BSD `sysexits`/GNU convention: 2). */
export const EXIT_USAGE = 2;

/** What the program was asked to do. */
export type Command =
  | { kind: "serve"; config: ServeConfig }
  | { kind: "help" }
  | { kind: "version" }
  | HealthcheckCommand;

/** Result of {@linkcode parseCommandLine}: a command, or a usage error to print to stderr. */
export type ParseResult =
  | { ok: true; command: Command }
  | { ok: false; exitCode: number; message: string };

/** The environment variables the CLI reads (others are ignored). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

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
  let result: ParseResult;
  if (argv[0] === "healthcheck") {
    const parsed = parseHealthcheckArgs(argv.slice(1), env);
    result = "error" in parsed ? usageError(parsed.error) : { ok: true, command: parsed };
  } else {
    result = parseServeArgs(argv, env);
  }
  return result.ok ? result : { ...result, message: `${result.message} ${usageHint(helpCommand)}` };
}

/** Options that cannot go together, as a usage error's text; undefined when none. */
function conflictingOptions(config: ServeConfig, given: ReadonlySet<string>): string | undefined {
  if (given.has("cert") !== given.has("key")) {
    return given.has("cert") ? "--cert needs --key" : "--key needs --cert";
  }
  if (
    config.cacheControl !== undefined &&
    config.headers.some(([name]) => name.toLowerCase() === "cache-control")
  ) {
    return "--header Cache-Control with --cache-control: give Cache-Control once";
  }
  if (config.unixSocket === undefined) return undefined;
  for (const name of ["port", "host"]) {
    if (given.has(name)) return `--${name} and --unix-socket: give one place to listen`;
  }
  if (given.has("cert")) {
    return "--cert with --unix-socket: HTTPS is served on TCP (a proxy in front of a Unix " +
      "socket terminates TLS itself)";
  }
  if (config.workers !== 1) {
    return "--workers with --unix-socket: workers share a TCP port (SO_REUSEPORT), not a socket";
  }
  return undefined;
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
      const next = separateValue(spelling, argv[i + 1], "a value", spec.numeric === true);
      if ("error" in next) return usageError(next.error);
      value = next.value;
      i++;
    }
    const error = spec.apply(config, value);
    if (error !== undefined) return usageError(`invalid ${spelling}: ${error}`);
    setByFlag.add(spec.name);
  }

  const conflict = conflictingOptions(config, setByFlag);
  if (conflict !== undefined) return usageError(conflict);
  for (const spec of OPTIONS) {
    if (spec.env === undefined || setByFlag.has(spec.name)) continue;
    // PORT and HOST say where to listen on TCP: a Unix socket leaves them nothing to say.
    if (config.unixSocket !== undefined && (spec.name === "port" || spec.name === "host")) continue;
    const value = env[spec.env];
    if (value === undefined || value === "") continue;
    const error = spec.apply(config, value);
    if (error !== undefined) {
      return usageError(`invalid ${spec.env} environment variable: ${error}`);
    }
  }
  return { ok: true, command: { kind: "serve", config } };
}
