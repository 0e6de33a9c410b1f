/**
 * The listener: `serve()`, binding (TCP or a Unix socket), the accept loop, the connection limit
 * and graceful shutdown. What `serve()` accepts is decided in `serve_options.ts`.
 *
 * @module
 */

import { Clock } from "./clock.ts";
import { flushDefaultErrorLog, reportError } from "./error_log.ts";
import { Connection, type ConnectionContext } from "./connection/connection.ts";
import type { ByteSocket } from "./connection/socket_io.ts";
import { type Acceptor, bindTcp, bindUnix } from "./acceptor.ts";
import { defaultMaxConnections } from "./fd_budget.ts";
import { resolveLimits } from "./limits.ts";
import { planServe } from "./serve_options.ts";
import { bindTls } from "./tls/tls_acceptor.ts";
import type { Handler, ServeAddr, Server, ServeTcpOptions, ServeUnixOptions } from "./types.ts";

export { DEFAULT_HOSTNAME, DEFAULT_PORT } from "./serve_options.ts";

/** A handler of either kind of listener. */
type AnyHandler = Handler<Deno.NetAddr> | Handler<Deno.UnixAddr>;

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

/** Logs where the server listens, as `Deno.serve` does: one line on stderr. */
function defaultOnListen(addr: ServeAddr, scheme: "http" | "https"): void {
  let line: string;
  if ("path" in addr) {
    line = `Listening on ${addr.path}`;
  } else {
    line = `Listening on ${scheme}://${urlHost(addr.hostname)}:${addr.port}/`;
    if (addr.hostname === "0.0.0.0" || addr.hostname === "::") {
      line += ` (${scheme}://localhost:${addr.port}/)`;
    }
  }
  // Deno.serve writes it to stderr, keeping stdout for the program's own output.
  // deno-lint-ignore no-console
  console.error(line);
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
 * `serve(options, handler)` or `serve({ ...options, handler })`. The handler's `Request` is
 * shaped like `Deno.serve`'s too, down to its immutable headers (see `Handler` in types.ts).
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
  // (Only when absent: a null is a wrong type, which resolveLimits refuses.)
  if (overrides.maxConnections === undefined) overrides.maxConnections = defaultMaxConnections();
  const limits = resolveLimits(overrides);
  const target = plan.target;
  const tls = plan.tls;
  const acceptor: Acceptor = target.transport === "unix"
    ? bindUnix(target.path)
    : tls === undefined
    ? bindTcp(target)
    : bindTls(target, {
      certifiedKey: tls.certifiedKey,
      onHandshakeError: tls.onHandshakeError ?? reportError,
    });
  const addr = acceptor.addr;
  const scheme = tls === undefined ? "http" : "https";

  const clock = new Clock();
  const connections = new Set<Connection>();
  const context: ConnectionContext & { draining: boolean } = {
    limits,
    handler: plan.handler,
    onError: plan.onError ?? defaultOnError,
    onRequestEnd: plan.onRequestEnd,
    clock,
    scheme,
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
    connection.run().then(() => socket.released).finally(() => {
      connections.delete(connection);
      if (connections.size === 0) allClosed?.resolve();
    });
  };

  const accepting = acceptor.accept((incoming) => {
    if (connections.size >= limits.maxConnections || context.draining) {
      // Over the limit: close at once rather than leave the client hanging in the backlog.
      incoming.refuse();
      return;
    }
    admit(incoming.open(), incoming.remoteAddr);
  });

  const shutdown = (): Promise<void> => {
    if (shutdownPromise !== null) return shutdownPromise;
    context.draining = true;
    shutdownPromise = (async () => {
      acceptor.close();
      await accepting;
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
      // Errors the default log left out are counted now, not when a window the process may
      // not live to see ends.
      if (plan.onError === undefined) flushDefaultErrorLog();
      finished.resolve();
    })();
    return shutdownPromise;
  };

  const signal = plan.signal;
  if (signal !== undefined) {
    if (signal.aborted) queueMicrotask(() => void shutdown());
    else signal.addEventListener("abort", () => void shutdown(), { once: true });
  }

  if (plan.onListen !== undefined) plan.onListen(addr);
  else defaultOnListen(addr, scheme);

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
