/**
 * The arguments of `sockserve healthcheck [URL | --state-file PATH] [--unix-socket PATH]
 * [--insecure] [--timeout DURATION]`: a pure function from them (and `PORT`, `HOST`) to the probe
 * to make, or a usage error.
 *
 * @module
 */

import { DEFAULT_HEALTH_PATH, DEFAULT_PORT } from "./serve_config.ts";
import { parseDuration, parsePort, quote, separateValue, spell } from "./values.ts";

/**
 * How long `sockserve healthcheck` waits for the answer before declaring the server unhealthy.
 * Docker's own default HEALTHCHECK timeout is 30 s; a server that cannot answer its health path
 * within 3 s is not healthy, and a short timeout keeps a hung probe from overlapping the next one.
 */
export const DEFAULT_HEALTHCHECK_TIMEOUT_MS = 3_000;

function error(text: string): { error: string } {
  return { error: text };
}

/**
 * The value of the option `spelling` at `argv[i]`, from after its "=" or else the next argument
 * (see `separateValue()`; `numeric` for a number), and the index of the last argument it used.
 */
function optionValue(
  argv: readonly string[],
  i: number,
  spelling: string,
  what: string,
  numeric = false,
): { value: string; last: number } | { error: string } {
  const arg = argv[i] ?? "";
  if (arg !== spelling) return { value: arg.slice(spelling.length + 1), last: i };
  const next = separateValue(spelling, argv[i + 1], what, numeric);
  return "error" in next ? next : { value: next.value, last: i + 1 };
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

/** What `sockserve healthcheck …` asks for. */
export type HealthcheckCommand =
  | {
    kind: "healthcheck";
    /** What to probe: the URL given, or the default from `PORT`, `HOST` and the health path. */
    url: string;
    timeoutMs: number;
    /** Probe the server this state file names instead of `url` (see `state_file.ts`). */
    stateFile: string | undefined;
    /** Connect to this Unix socket rather than to the URL's host (curl's `--unix-socket`). */
    unixSocket: string | undefined;
    /** Over HTTPS, do not verify the certificate (curl's `--insecure`). */
    insecure: boolean;
  }
  | { kind: "healthcheck-help" };

/**
 * Parses the arguments after `healthcheck`: the probe to make, or `{ error }` with the usage
 * error's text.
 *
 * @example
 * ```ts
 * import { parseHealthcheckArgs } from "./healthcheck_args.ts";
 * parseHealthcheckArgs(["--timeout", "1s"], { PORT: "9000" });
 * // { kind: "healthcheck", url: "http://127.0.0.1:9000/healthz", timeoutMs: 1000, ... }
 * ```
 */
export function parseHealthcheckArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): HealthcheckCommand | { error: string } {
  let url: string | undefined;
  let stateFile: string | undefined;
  let unixSocket: string | undefined;
  let insecure = false;
  let timeoutMs = DEFAULT_HEALTHCHECK_TIMEOUT_MS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      return { kind: "healthcheck-help" };
    }
    if (arg === "--insecure" || arg === "-k") {
      insecure = true;
      continue;
    }
    if (arg === "--unix-socket" || arg.startsWith("--unix-socket=")) {
      const taken = optionValue(argv, i, "--unix-socket", "a path");
      if ("error" in taken) return taken;
      if (taken.value === "") return error("option --unix-socket needs a path");
      i = taken.last;
      unixSocket = taken.value;
      continue;
    }
    if (arg === "--state-file" || arg.startsWith("--state-file=")) {
      const taken = optionValue(argv, i, "--state-file", "a path");
      if ("error" in taken) return taken;
      if (taken.value === "") return error("option --state-file needs a path");
      i = taken.last;
      stateFile = taken.value;
      continue;
    }
    if (arg === "--timeout" || arg.startsWith("--timeout=")) {
      const taken = optionValue(argv, i, "--timeout", "a value", true);
      if ("error" in taken) return taken;
      i = taken.last;
      const ms = parseDuration(taken.value);
      if (ms === undefined || ms === 0) {
        return error(`invalid --timeout: expected a duration like 3s, got ${quote(taken.value)}`);
      }
      timeoutMs = ms;
      continue;
    }
    if (arg.startsWith("-")) {
      return error(`unknown healthcheck option ${spell(arg.split("=")[0] ?? arg)}`);
    }
    if (url !== undefined) return error(`unexpected argument ${quote(arg)}`);
    url = arg;
  }
  if (url !== undefined && stateFile !== undefined) {
    return error("give a URL or --state-file, not both");
  }
  if (unixSocket !== undefined && stateFile !== undefined) {
    return error("give --unix-socket or --state-file, not both (the state file names the socket)");
  }
  if (url === undefined && unixSocket !== undefined) {
    url = `http://localhost${DEFAULT_HEALTH_PATH}`;
  } else if (url === undefined) {
    const envPort = env["PORT"];
    let port = DEFAULT_PORT;
    if (envPort !== undefined && envPort !== "") {
      const parsed = parsePort(envPort);
      if (parsed === undefined || parsed === 0) {
        return error(`invalid PORT environment variable: ${quote(envPort)}`);
      }
      port = parsed;
    }
    url = `http://${healthcheckHost(env["HOST"])}:${port}${DEFAULT_HEALTH_PATH}`;
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    return error(`invalid healthcheck URL ${quote(url)}`);
  }
  if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") {
    return error(`healthcheck URL must be http or https, got ${quote(url)}`);
  }
  if (unixSocket !== undefined && parsedUrl.protocol === "https:") {
    return error("--unix-socket takes an http URL: sockserve serves HTTPS on TCP only");
  }
  return {
    kind: "healthcheck",
    url: parsedUrl.href,
    timeoutMs,
    stateFile,
    unixSocket,
    insecure,
  };
}
