/**
 * The listener: accept loop, connection limit, timeouts and graceful shutdown.
 *
 * @module
 */

import { Clock } from "./clock.ts";
import { reportError } from "./error_log.ts";
import { Connection, type ConnectionContext } from "./connection/connection.ts";
import { defaultMaxConnections } from "./fd_budget.ts";
import { DEFAULT_SERVER_LIMITS, resolveLimits, type ServerLimits } from "./limits.ts";
import type { Handler, ListenAddr, ServeOptions, Server } from "./types.ts";

/** Default port, as `Deno.serve`. */
export const DEFAULT_PORT = 8000;

/** Default interface, as `Deno.serve`. */
export const DEFAULT_HOSTNAME = "0.0.0.0";

/** Pause after an accept error such as EMFILE, so that a full fd table is not a busy loop. */
const ACCEPT_ERROR_BACKOFF_MS = 50;

/** Errors of one connection that died in the accept queue, not of the listener. */
function isAbortedConnection(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

function defaultOnError(error: unknown): Response {
  // One line for what is not a bug (a file that changed, a handler timeout), a stack trace for
  // the rest; rate-limited, so that a race or a flood of failures cannot flood stderr.
  reportError(error);
  return new Response("500 Internal Server Error\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function defaultOnListen(addr: ListenAddr): void {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  // deno-lint-ignore no-console
  console.log(`Listening on http://${host}:${addr.port}/`);
}

function pickLimits(options: ServeOptions): Partial<ServerLimits> {
  const overrides: Partial<ServerLimits> = {};
  for (const key of Object.keys(DEFAULT_SERVER_LIMITS) as (keyof ServerLimits)[]) {
    const value = options[key];
    if (value !== undefined) overrides[key] = value;
  }
  return overrides;
}

/**
 * Starts an HTTP/1.1 server on a TCP listener. Same shapes as `Deno.serve`:
 * `serve(handler)`, `serve(options, handler)` or `serve({ ...options, handler })`.
 *
 * Throws synchronously when the address cannot be bound (for example `Deno.errors.AddrInUse`).
 *
 * @example
 * ```ts
 * import { serve } from "./listener.ts";
 * const server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
 *   return new Response(`You asked for ${new URL(request.url).pathname}\n`);
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/hello`);
 * console.log(await response.text()); // "You asked for /hello"
 * await server.shutdown();
 * ```
 */
export function serve(optionsOrHandler: ServeOptions | Handler, maybeHandler?: Handler): Server {
  const options: ServeOptions = typeof optionsOrHandler === "function" ? {} : optionsOrHandler;
  const handler = typeof optionsOrHandler === "function"
    ? optionsOrHandler
    : maybeHandler ?? optionsOrHandler.handler;
  if (typeof handler !== "function") throw new TypeError("serve() needs a handler function");

  const overrides = pickLimits(options);
  // Never more connections than file descriptors allow (see fd_budget.ts).
  overrides.maxConnections ??= defaultMaxConnections();
  const limits = resolveLimits(overrides);
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  const listener = Deno.listen({
    hostname,
    port,
    transport: "tcp",
    ...(options.reusePort ? { reusePort: true } : {}),
  });
  const netAddr = listener.addr as Deno.NetAddr;
  const addr: ListenAddr = { transport: "tcp", hostname: netAddr.hostname, port: netAddr.port };
  const authorityHost = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;

  const clock = new Clock();
  const connections = new Set<Connection>();
  const context: ConnectionContext & { draining: boolean } = {
    limits,
    handler,
    onError: options.onError ?? defaultOnError,
    onRequestEnd: options.onRequestEnd,
    clock,
    defaultAuthority: `${authorityHost}:${addr.port}`,
    draining: false,
  };
  const unsubscribe = clock.subscribe((now) => {
    for (const connection of connections) connection.checkDeadline(now);
  });

  const finished = Promise.withResolvers<void>();
  /** Made by shutdown(): settles when the last connection has closed. */
  let allClosed: PromiseWithResolvers<void> | null = null;
  let shutdownPromise: Promise<void> | null = null;

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (context.draining || error instanceof Deno.errors.BadResource) return;
        // A client that reset before we accepted it (Deno reports NotConnected): skip it at
        // once. Pausing here would let a stream of cheap resets stall accepting for everyone.
        if (isAbortedConnection(error)) continue;
        // Out of file descriptors or a transient error: keep serving the accepted ones.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_ERROR_BACKOFF_MS));
        continue;
      }
      if (connections.size >= limits.maxConnections || context.draining) {
        // Over the limit: close at once rather than leave the client hanging in the backlog.
        try {
          conn.close();
        } catch {
          // Already gone.
        }
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // The peer may already be gone; run() will notice.
      }
      const connection = new Connection(conn, context);
      connections.add(connection);
      connection.run().finally(() => {
        connections.delete(connection);
        if (connections.size === 0) allClosed?.resolve();
      });
    }
  })();

  const shutdown = (): Promise<void> => {
    if (shutdownPromise !== null) return shutdownPromise;
    context.draining = true;
    shutdownPromise = (async () => {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await acceptLoop;
      for (const connection of connections) {
        if (connection.isIdle) connection.close();
        else connection.drain();
      }
      if (connections.size > 0) {
        const closed = Promise.withResolvers<void>();
        allClosed = closed;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, limits.gracePeriodMs);
        });
        await Promise.race([closed.promise, grace]);
        clearTimeout(timer);
        for (const connection of connections) connection.close();
        // Closing ends every pending read and write; wait for the loops to unwind.
        if (connections.size > 0) await closed.promise;
      }
      unsubscribe();
      clock.stop();
      finished.resolve();
    })();
    return shutdownPromise;
  };

  if (options.signal !== undefined) {
    if (options.signal.aborted) queueMicrotask(() => void shutdown());
    else options.signal.addEventListener("abort", () => void shutdown(), { once: true });
  }

  (options.onListen ?? defaultOnListen)(addr);

  return {
    addr,
    finished: finished.promise,
    shutdown,
    get connectionCount() {
      return connections.size;
    },
    ref: () => listener.ref(),
    unref: () => listener.unref(),
  };
}
