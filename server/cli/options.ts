/**
 * Every option of `sockserve [ROOT]`, as one table: the parser (`config.ts`) reads it, and the
 * usage text (`usage.ts`) is generated from it, so that the help can never list an option the
 * parser does not know. Each option parses its value into the {@linkcode ServeConfig}. The server
 * limits' options are in `limit_options.ts`.
 *
 * @module
 */

import { DEFAULT_GRACE_PERIOD_MS } from "../limits.ts";
import { DEFAULT_CACHE_REVALIDATE_MS } from "../static/file_cache.ts";
import { LIMIT_OPTIONS } from "./limit_options.ts";
import {
  DEFAULT_HEALTH_PATH,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type ServeConfig,
} from "./serve_config.ts";
import {
  FIELD_VALUE,
  formatDuration,
  parseCount,
  parseDuration,
  parseHeaderOption,
  parsePort,
  quote,
} from "./values.ts";

/** Most workers `--workers N` accepts; more than this is a typo rather than a plan. */
export const MAX_WORKERS = 1024;

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
  /**
   * The value is a number (a port, count, size or duration): a separate value of `-` and a digit
   * is taken as the value, for `apply` to refuse with its own message (see `separateValue()`).
   */
  numeric?: true;
  /** Usage section the option is listed under. */
  section: "serve" | "limits" | "general";
  /** Parses the value into the config; returns an error text (without the option name). */
  apply: (config: ServeConfig, value: string) => string | undefined;
}

// A health path: absolute, unreserved characters only (RFC 3986 §2.3), so that it is the same
// before and after percent-decoding and normalization, and at most 256 characters.
// No "." or ".." segment (normalized away before any request could match it) and not "/" (the
// site's index).
const HEALTH_PATH = /^(?=.{2,256}$)(\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~]+)+$/;
function oneOf<T extends string>(choices: readonly T[], set: (config: ServeConfig, v: T) => void) {
  return (config: ServeConfig, value: string): string | undefined => {
    if (!(choices as readonly string[]).includes(value)) {
      return `must be one of ${choices.join(", ")}, got ${quote(value)}`;
    }
    set(config, value as T);
    return undefined;
  };
}

/** Every option of `sockserve [ROOT]`, in the order the usage text lists them. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    name: "port",
    short: "p",
    valueName: "PORT",
    env: "PORT",
    numeric: true,
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
    name: "unix-socket",
    valueName: "PATH",
    section: "serve",
    description: "listen on this Unix socket instead of a TCP port",
    apply(config, value) {
      if (value === "") return "expected a socket path";
      config.unixSocket = value;
      return undefined;
    },
  },
  {
    name: "cert",
    valueName: "FILE",
    section: "serve",
    description: "certificate chain (PEM, server's first): serve HTTPS, with --key",
    apply(config, value) {
      if (value === "") return "expected a file path";
      config.certFile = value;
      return undefined;
    },
  },
  {
    name: "key",
    valueName: "FILE",
    section: "serve",
    description: "the certificate's private key (PEM, not encrypted)",
    apply(config, value) {
      if (value === "") return "expected a file path";
      config.keyFile = value;
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
    description: "no .br/.zst/.gz sidecars, no compression on the fly",
    apply(config) {
      config.compression = false;
      return undefined;
    },
  },
  {
    name: "cache-revalidate",
    valueName: "DURATION",
    numeric: true,
    section: "serve",
    description: `check cached files on disk at most this often (default ${
      formatDuration(DEFAULT_CACHE_REVALIDATE_MS)
    })`,
    apply(config, value) {
      const ms = parseDuration(value);
      if (ms === undefined) return `expected a duration like 250ms or 1s, got ${quote(value)}`;
      config.cacheRevalidateMs = ms;
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
    numeric: true,
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
    numeric: true,
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
  ...LIMIT_OPTIONS,
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
