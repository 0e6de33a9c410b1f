/**
 * The `--help` texts, generated from the option table in `options.ts` so that the help can never
 * list an option the parser does not know, or miss one it does.
 *
 * @module
 */

import { DEFAULT_HEALTHCHECK_TIMEOUT_MS } from "./healthcheck_args.ts";
import { OPTIONS, type OptionSpec } from "./options.ts";
import { DEFAULT_HEALTH_PATH } from "./serve_config.ts";
import { formatDuration } from "./values.ts";

/** Column where option descriptions start. */
const DESCRIPTION_COLUMN = 36;

function optionLine(spec: OptionSpec): string {
  const names = spec.short ? `-${spec.short}, --${spec.name}` : `    --${spec.name}`;
  const left = `  ${names}${spec.valueName ? ` ${spec.valueName}` : ""}`;
  const pad = left.length < DESCRIPTION_COLUMN
    ? " ".repeat(DESCRIPTION_COLUMN - left.length)
    : `\n${" ".repeat(DESCRIPTION_COLUMN)}`;
  return `${left}${pad}${spec.description}`;
}

function section(title: string, name: OptionSpec["section"]): string {
  return [title, ...OPTIONS.filter((s) => s.section === name).map(optionLine)].join("\n");
}

/**
 * The full help of `sockserve`.
 *
 * @example
 * ```ts
 * import { usage } from "./usage.ts";
 * console.log(usage("0.1.0"));
 * ```
 */
export function usage(version: string): string {
  return `sockserve ${version}: serve a directory over HTTP/1.1

Usage:
  sockserve [ROOT] [options]        serve ROOT (default: the current directory)
  sockserve healthcheck [URL]       probe a running server (see sockserve healthcheck --help)

${section("Options:", "serve")}

${section("Limits (DURATION: 10s, 500ms, 2m; SIZE: bytes or 16k, 1MiB, 1g):", "limits")}

${section("General:", "general")}

A value that starts with "-" is joined with "=": --header=-X: y, --cert=-c.pem (after an option
that takes a number, -1 is its value: -p -1 is an invalid port). Flags beat environment
variables. Logs go to stdout (one line per request), errors to stderr.
SIGTERM or SIGINT shuts down gracefully (exit 0); connections still open when the grace period
ends are closed (exit 1); a second SIGINT exits at once (exit 130).

Examples:
  sockserve public --port 8080
  sockserve dist --spa --cache-control "public, max-age=3600" --log json
  PORT=3000 sockserve . --host 127.0.0.1 --header "X-Frame-Options: DENY"
`;
}

/**
 * The help of `sockserve healthcheck`.
 *
 * @example
 * ```ts
 * import { healthcheckUsage } from "./usage.ts";
 * console.log(healthcheckUsage());
 * ```
 */
export function healthcheckUsage(): string {
  return `Usage: sockserve healthcheck [URL | --state-file PATH] [--unix-socket PATH] [--insecure]
                             [--timeout DURATION]

Sends one GET to URL and exits 0 on a 2xx or 3xx answer, 1 on any other status, a
connection error or a timeout (default ${formatDuration(DEFAULT_HEALTHCHECK_TIMEOUT_MS)}).
With --state-file PATH, it probes the health path of the server that wrote PATH (sockserve
--state-file PATH), where it listens however that was set: port, HTTPS (its certificate is
not verified: the question is whether it is alive) or Unix socket. Otherwise the default
URL is http://127.0.0.1:$PORT${DEFAULT_HEALTH_PATH} (PORT defaulting to 8000), with $HOST
instead of 127.0.0.1 when HOST names one address. Redirects are not followed. Meant for
container HEALTHCHECKs in images without curl.

  --unix-socket PATH   connect to this Unix socket (URL default http://localhost${DEFAULT_HEALTH_PATH})
  -k, --insecure       over HTTPS, do not verify the certificate
  --timeout DURATION   give up after this long
`;
}
