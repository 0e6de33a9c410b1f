/**
 * The public types of `serve()`, shaped like `Deno.serve` so that switching is one import.
 *
 * @module
 */

import type { ServerLimits } from "./limits.ts";

/** Address the server listens on, as `Deno.serve` reports it. */
export interface ListenAddr {
  /** Always `"tcp"`. */
  transport: "tcp";
  /** The bound host name or IP address. */
  hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
}

/** What the handler learns about the connection besides the request. */
export interface ServeHandlerInfo {
  /** The peer's address. */
  remoteAddr: Deno.NetAddr;
  /** Settles when the response has been fully written (or the connection failed). */
  completed: Promise<void>;
}

/** A request handler: the same shape as `Deno.ServeHandler`. */
export type Handler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/** One finished exchange, for access logs. Given to {@linkcode ServeOptions.onRequestEnd}. */
export interface RequestRecord {
  /** Peer address. */
  remoteAddr: Deno.NetAddr;
  /** Request method as sent. */
  method: string;
  /** Request-target as sent (origin-form path and query, usually). */
  target: string;
  /** `"HTTP/1.1"` or `"HTTP/1.0"`. */
  httpVersion: string;
  /** Status code written to the client. */
  status: number;
  /** Body bytes written to the client (not counting the head or chunk framing). */
  bodyBytes: number;
  /** Milliseconds from the complete request head to the last byte written. */
  durationMs: number;
  /** When the request head was complete. */
  startTime: Date;
  /** Request headers (for Referer, User-Agent and the like). */
  requestHeaders: Headers;
  /** False when the response could not be written completely (client gone, timeout). */
  completed: boolean;
}

/** Options of `serve()`. Every field is optional. */
export interface ServeOptions extends Partial<ServerLimits> {
  /** Port to listen on; 0 lets the OS choose. Default 8000, like `Deno.serve`. */
  port?: number;
  /** Interface to bind. Default `"0.0.0.0"`, like `Deno.serve`. */
  hostname?: string;
  /** Aborting it shuts the server down gracefully, like calling `shutdown()`. */
  signal?: AbortSignal;
  /** Called once the listener is bound. Default: logs the address to the console. */
  onListen?: (addr: ListenAddr) => void;
  /**
   * Called when the handler throws or rejects; its response is sent instead. Default: logs the
   * error to stderr and answers 500 with a short plain body (the error text never reaches the
   * client).
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Called after each exchange ends, for access logs. Must not throw. */
  onRequestEnd?: (record: RequestRecord) => void;
  /** Bind with SO_REUSEPORT so that several workers can share the port (Linux, `--unstable-net`). */
  reusePort?: boolean;
  /** The handler, when it is passed in the options (like `Deno.serve({ handler })`). */
  handler?: Handler;
}

/** A running server, as returned by `serve()`. */
export interface Server {
  /** The address the server is bound to. */
  readonly addr: ListenAddr;
  /** Settles when the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  /**
   * Graceful shutdown: stop accepting, close idle keep-alive connections, let in-flight requests
   * finish, and close what is left after `gracePeriodMs`. Resolves when all connections are closed.
   */
  shutdown(): Promise<void>;
  /** Number of open connections (for tests, metrics and graceful-shutdown logs). */
  readonly connectionCount: number;
  /** Make the listener keep the process alive (the default). */
  ref(): void;
  /** Let the process exit even while the server is listening. */
  unref(): void;
}
