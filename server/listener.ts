/**
 * The listener: `serve()`, binding (TCP or a Unix socket), the accept loop, the connection limit
 * and graceful shutdown. What `serve()` accepts is decided in `serve_options.ts`.
 *
 * @module
 */

import { Clock } from "./clock.ts";
import { reportError } from "./error_log.ts";
import { Connection, type ConnectionContext } from "./connection/connection.ts";
import type { ByteSocket } from "./connection/socket_io.ts";
import { defaultMaxConnections } from "./fd_budget.ts";
import { resolveLimits } from "./limits.ts";
import { type ListenTarget, planServe } from "./serve_options.ts";
import type { Handler, ServeAddr, Server, ServeTcpOptions, ServeUnixOptions } from "./types.ts";

export { DEFAULT_HOSTNAME, DEFAULT_PORT } from "./serve_options.ts";

/** A handler of either kind of listener. */
type AnyHandler = Handler<Deno.NetAddr> | Handler<Deno.UnixAddr>;

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

/** `host` as it appears in a URL: IPv6 addresses in brackets. */
function urlHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** Logs where the server listens, as `Deno.serve` does. */
function defaultOnListen(addr: ServeAddr): void {
  let line: string;
  if ("path" in addr) {
    line = `Listening on ${addr.path}`;
  } else {
    line = `Listening on http://${urlHost(addr.hostname)}:${addr.port}/`;
    if (addr.hostname === "0.0.0.0" || addr.hostname === "::") {
      line += ` (http://localhost:${addr.port}/)`;
    }
  }
  // deno-lint-ignore no-console
  console.log(line);
}

/** A bound listener: its address, the connections it accepts, and its lifetime. */
interface Acceptor {
  readonly addr: ServeAddr;
  /** Waits for the next connection; rejects when the listener is closed or accepting fails. */
  accept(): Promise<Deno.Conn>;
  /** The peer address handed to the handler for a connection. */
  remoteAddrOf(conn: Deno.Conn): ServeAddr;
  close(): void;
  ref(): void;
  unref(): void;
}

/** Binds what the plan asks for; throws synchronously (`Deno.errors.AddrInUse`, …). */
function bind(target: ListenTarget): Acceptor {
  if (target.transport === "unix") {
    const listener = Deno.listen({ transport: "unix", path: target.path });
    const addr: Deno.UnixAddr = { transport: "unix", path: listener.addr.path };
    return {
      addr,
      accept: () => listener.accept(),
      // A Unix client's address has no name: Deno.serve gives the socket's path instead.
      remoteAddrOf: () => ({ transport: "unix", path: addr.path }),
      close: () => listener.close(),
      ref: () => listener.ref(),
      unref: () => listener.unref(),
    };
  }
  const listener = Deno.listen({
    transport: "tcp",
    hostname: target.hostname,
    port: target.port,
    ...(target.reusePort ? { reusePort: true } : {}),
    ...(target.tcpBacklog === undefined ? {} : { tcpBacklog: target.tcpBacklog }),
  });
  const { hostname, port } = listener.addr;
  return {
    addr: { transport: "tcp", hostname, port },
    accept: async () => {
      const conn = await listener.accept();
      try {
        conn.setNoDelay(true);
      } catch {
        // The peer may already be gone; the connection will notice.
      }
      return conn;
    },
    remoteAddrOf: (conn) => conn.remoteAddr as Deno.NetAddr,
    close: () => listener.close(),
    ref: () => listener.ref(),
    unref: () => listener.unref(),
  };
}

/** Authority used for the URL of an HTTP/1.0 request that has no Host. */
function defaultAuthority(addr: ServeAddr): string {
  if ("path" in addr) return "localhost";
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "localhost"
    : urlHost(addr.hostname);
  return `${host}:${addr.port}`;
}

/**
 * Starts an HTTP/1.1 server with a handler that answers every request, listening on TCP port
 * 8000 of every IPv4 interface, as `Deno.serve(handler)` does.
 *
 * @example
 * ```ts
 * import { serve } from "./listener.ts";
 * const server = serve(() => new Response("Hello\n"));
 * await server.shutdown();
 * ```
 */
export function serve(handler: Handler<Deno.NetAddr>): Server<Deno.NetAddr>;
/**
 * Starts an HTTP/1.1 server on a Unix socket (`path`), as `Deno.serve` does. The handler's
 * `info.remoteAddr` is `{ transport: "unix", path }`.
 *
 * Throws synchronously: a TypeError for an option that does not apply, `Deno.errors.AddrInUse`
 * when the path exists.
 *
 * @example
 * ```ts
 * import { serve } from "./listener.ts";
 * const path = "/tmp/sockserve-example.sock";
 * await using server = serve({ path, onListen() {} }, () => new Response("over a socket\n"));
 * console.log(server.addr.path === path); // true
 * ```
 */
export function serve(
  options: ServeUnixOptions,
  handler?: Handler<Deno.UnixAddr>,
): Server<Deno.UnixAddr>;
/**
 * Starts an HTTP/1.1 server on TCP. Same shapes as `Deno.serve`: `serve(handler)`,
 * `serve(options, handler)` or `serve({ ...options, handler })`.
 *
 * Throws synchronously: a TypeError naming any option it does not implement or does not know
 * (see `serve_options.ts`), a RangeError for a limit out of range, and the binding's own errors
 * (for example `Deno.errors.AddrInUse`).
 *
 * @example
 * ```ts
 * import { serve } from "./listener.ts";
 * await using server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
 *   return new Response(`You asked for ${new URL(request.url).pathname}\n`);
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/hello`);
 * console.log(await response.text()); // "You asked for /hello"
 * ```
 */
export function serve(
  options: ServeTcpOptions,
  handler?: Handler<Deno.NetAddr>,
): Server<Deno.NetAddr>;
export function serve(
  optionsOrHandler: ServeTcpOptions | ServeUnixOptions | AnyHandler,
  maybeHandler?: AnyHandler,
): Server<ServeAddr> {
  const plan = planServe(optionsOrHandler, maybeHandler);
  const overrides = { ...plan.limits };
  // Never more connections than file descriptors allow (see fd_budget.ts).
  overrides.maxConnections ??= defaultMaxConnections();
  const limits = resolveLimits(overrides);
  const acceptor = bind(plan.target);
  const addr = acceptor.addr;

  const clock = new Clock();
  const connections = new Set<Connection>();
  const context: ConnectionContext & { draining: boolean } = {
    limits,
    handler: plan.handler,
    onError: plan.onError ?? defaultOnError,
    onRequestEnd: plan.onRequestEnd,
    clock,
    defaultAuthority: defaultAuthority(addr),
    draining: false,
  };
  const unsubscribe = clock.subscribe((now) => {
    for (const connection of connections) connection.checkDeadline(now);
  });

  const finished = Promise.withResolvers<void>();
  /** Made by shutdown(): settles when the last connection has closed. */
  let allClosed: PromiseWithResolvers<void> | null = null;
  let shutdownPromise: Promise<void> | null = null;

  const admit = (socket: ByteSocket, remoteAddr: ServeAddr): void => {
    const connection = new Connection(socket, remoteAddr, context);
    connections.add(connection);
    connection.run().finally(() => {
      connections.delete(connection);
      if (connections.size === 0) allClosed?.resolve();
    });
  };

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await acceptor.accept();
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
      admit(conn, acceptor.remoteAddrOf(conn));
    }
  })();

  const shutdown = (): Promise<void> => {
    if (shutdownPromise !== null) return shutdownPromise;
    context.draining = true;
    shutdownPromise = (async () => {
      try {
        acceptor.close();
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

  const signal = plan.signal;
  if (signal !== undefined) {
    if (signal.aborted) queueMicrotask(() => void shutdown());
    else signal.addEventListener("abort", () => void shutdown(), { once: true });
  }

  (plan.onListen ?? defaultOnListen)(addr);

  return {
    addr,
    finished: finished.promise,
    shutdown,
    get connectionCount() {
      return connections.size;
    },
    ref: () => acceptor.ref(),
    unref: () => acceptor.unref(),
    [Symbol.asyncDispose]: shutdown,
  };
}
