/**
 * What the command line configures: {@linkcode ServeConfig}, everything needed to serve a
 * directory, and its defaults. The option table (`options.ts`) fills it in.
 *
 * @module
 */

import { DEFAULT_GRACE_PERIOD_MS, type ServerLimits } from "../limits.ts";

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
  /** A Unix socket to listen on instead of a TCP port, or `undefined`. */
  unixSocket: string | undefined;
  /** The certificate chain file (PEM): with {@linkcode ServeConfig.keyFile}, serve HTTPS. */
  certFile: string | undefined;
  /** The private key file (PEM) of {@linkcode ServeConfig.certFile}. */
  keyFile: string | undefined;
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
  /** Serve precompressed sidecars and compress compressible files on the fly (once each). */
  compression: boolean;
  /**
   * How long a cached file is served before it is checked again (ms; 0 = on every request), or
   * `undefined` for the file server's default.
   */
  cacheRevalidateMs: number | undefined;
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

/**
 * The configuration used when no option and no environment variable is given.
 *
 * @example
 * ```ts
 * import { defaultServeConfig } from "./serve_config.ts";
 * defaultServeConfig().port; // 8000
 * ```
 */
export function defaultServeConfig(): ServeConfig {
  return {
    root: undefined,
    port: DEFAULT_PORT,
    hostname: DEFAULT_HOST,
    unixSocket: undefined,
    certFile: undefined,
    keyFile: undefined,
    cors: false,
    cacheControl: undefined,
    spa: false,
    dirListing: true,
    dotfiles: "ignore",
    compression: true,
    cacheRevalidateMs: undefined,
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
