/**
 * The state file (`--state-file PATH`): where a running server says it can be reached, so that
 * `sockserve healthcheck --state-file PATH` probes the right port however it was set (`PORT`,
 * `--port`, even `--port 0`), over HTTPS when the server serves it, through the Unix socket when
 * it listens on one, and the right health path. The container image passes the same path to
 * both; nothing else needs configuring.
 *
 * Written once the server listens, as one JSON object; removed when the process exits through
 * its lifecycle (SIGTERM, SIGINT). A file left by a crash names a port nothing listens on, so a
 * probe reading it reports the server unhealthy, which it is.
 *
 * @module
 */

import { hostPort, type Listening } from "./startup.ts";

/** What the state file says. */
export interface ServerState {
  /** The server's process id. */
  readonly pid: number;
  /**
   * A URL of the server from this machine (a wildcard address becomes the loopback); `https://`
   * for HTTPS, `http://localhost/` for a Unix socket.
   */
  readonly url: string;
  /** The health path's URL, or null when the server has none (`--no-health-path`). */
  readonly health: string | null;
  /** The Unix socket to connect to for `url`, when the server listens on one. */
  readonly socket?: string;
}

/**
 * The host to use from this machine for a bound address: the loopback of its family for a
 * wildcard address, the address itself otherwise.
 *
 * @example
 * ```ts
 * import { localHost } from "./state_file.ts";
 * localHost("0.0.0.0"); // "127.0.0.1"
 * localHost("::"); // "::1"
 * ```
 */
export function localHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "::1";
  return hostname;
}

/**
 * The state of a server listening at `where`, as the text of the state file.
 *
 * @example
 * ```ts
 * import { formatState } from "./state_file.ts";
 * formatState(42, { transport: "tcp", hostname: "0.0.0.0", port: 9000, tls: false }, "/healthz");
 * // '{"pid":42,"url":"http://127.0.0.1:9000/","health":"http://127.0.0.1:9000/healthz"}\n'
 * formatState(42, { transport: "unix", path: "/run/sockserve/app.sock" }, "/healthz");
 * // '{"pid":42,"url":"http://localhost/","health":"http://localhost/healthz","socket":"/run/sockserve/app.sock"}\n'
 * ```
 */
export function formatState(
  pid: number,
  where: Listening,
  healthPath: string | undefined,
): string {
  const scheme = where.transport === "tcp" && where.tls ? "https" : "http";
  const authority = where.transport === "unix"
    ? "localhost"
    : hostPort(localHost(where.hostname), where.port);
  const url = new URL(`${scheme}://${authority}/`).href;
  const health = healthPath === undefined ? null : new URL(healthPath, url).href;
  const state: ServerState = where.transport === "unix"
    ? { pid, url, health, socket: where.path }
    : { pid, url, health };
  return JSON.stringify(state) + "\n";
}

/**
 * Reads the text of a state file; `undefined` when it is not one (a partial write, another
 * file).
 *
 * @example
 * ```ts
 * import { parseState } from "./state_file.ts";
 * parseState('{"pid":42,"url":"http://127.0.0.1:9000/","health":null}')?.url;
 * // "http://127.0.0.1:9000/"
 * ```
 */
export function parseState(text: string): ServerState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const state = value as Partial<ServerState> | null;
  if (typeof state !== "object" || state === null) return undefined;
  const isHttpUrl = (url: unknown) => typeof url === "string" && /^https?:\/\/[^/]+\//.test(url);
  if (!Number.isInteger(state.pid) || !isHttpUrl(state.url)) return undefined;
  if (state.health !== null && !isHttpUrl(state.health)) return undefined;
  if (state.socket !== undefined && (typeof state.socket !== "string" || state.socket === "")) {
    return undefined;
  }
  return {
    pid: state.pid as number,
    url: state.url as string,
    health: state.health ?? null,
    ...(state.socket === undefined ? {} : { socket: state.socket }),
  };
}
