/**
 * Binding and accepting, behind one shape for every kind of listener: an {@linkcode Acceptor}
 * binds when it is made (throwing synchronously, as `Deno.listen` does) and hands each accepted
 * connection to the server as an {@linkcode Incoming}, which the server either opens (serves) or
 * refuses (over the connection limit, shutting down). This file has the `Deno.listen` ones, TCP
 * and Unix; HTTPS is `tls/tls_acceptor.ts`.
 *
 * @module
 */

import type { ByteSocket } from "./connection/socket_io.ts";
import type { ServeAddr } from "./types.ts";

/** Pause after an accept error such as EMFILE, so that a full fd table is not a busy loop. */
export const ACCEPT_ERROR_BACKOFF_MS = 50;

/** A connection accepted and not yet served. */
export interface Incoming {
  /** The peer's address, as the handler's `info.remoteAddr` gives it. */
  readonly remoteAddr: ServeAddr;
  /** Serves it: the socket to read and write (over TLS, its handshake starts now). */
  open(): ByteSocket;
  /** Closes it unserved. */
  refuse(): void;
}

/** A bound listener. */
export interface Acceptor {
  /** The address bound (the real port when 0 was asked for). */
  readonly addr: ServeAddr;
  /**
   * Accepts connections and hands each to `onConnection` until {@linkcode Acceptor.close}; the
   * promise settles once accepting has stopped. Called once.
   */
  accept(onConnection: (incoming: Incoming) => void): Promise<void>;
  /** Stops accepting and closes the listening socket (a Unix socket's file is removed). */
  close(): void;
  ref(): void;
  unref(): void;
}

/** Errors of one connection that died in the accept queue, not of the listener. */
function isAbortedConnection(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

/**
 * An {@linkcode Acceptor} over a `Deno.Listener`: the accept loop, with `toIncoming` deciding
 * what each connection becomes.
 *
 * @example
 * ```ts ignore
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const acceptor = listenerAcceptor(listener, listener.addr, (conn) => plainIncoming(conn));
 * ```
 */
export function listenerAcceptor<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  addr: ServeAddr,
  toIncoming: (conn: C) => Incoming,
): Acceptor {
  let closed = false;
  return {
    addr,
    async accept(onConnection) {
      for (;;) {
        let conn: C;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (closed || error instanceof Deno.errors.BadResource) return;
          // A client that reset before we accepted it (Deno reports NotConnected): skip it at
          // once. Pausing here would let a stream of cheap resets stall accepting for everyone.
          if (isAbortedConnection(error)) continue;
          // Out of file descriptors or a transient error: keep serving the accepted ones.
          await new Promise((resolve) => setTimeout(resolve, ACCEPT_ERROR_BACKOFF_MS));
          continue;
        }
        onConnection(toIncoming(conn));
      }
    },
    close() {
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
    ref: () => listener.ref(),
    unref: () => listener.unref(),
  };
}

/** Closes a connection that will not be served. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already gone.
  }
}

/** A TCP connection served as it is, with Nagle's algorithm off (responses leave at once). */
function tcpIncoming(conn: Deno.TcpConn): Incoming {
  return {
    remoteAddr: conn.remoteAddr,
    open() {
      try {
        conn.setNoDelay(true);
      } catch {
        // The peer may already be gone; the connection will notice.
      }
      return conn;
    },
    refuse: () => closeQuietly(conn),
  };
}

/**
 * Binds a TCP port with `Deno.listen`. Throws what `Deno.listen` throws
 * (`Deno.errors.AddrInUse`, `Deno.errors.NotCapable`, …).
 */
export function listenTcp(options: {
  readonly hostname: string;
  readonly port: number;
  readonly reusePort: boolean;
  readonly tcpBacklog: number | undefined;
}): Deno.TcpListener {
  return Deno.listen({
    transport: "tcp",
    hostname: options.hostname,
    port: options.port,
    ...(options.reusePort ? { reusePort: true } : {}),
    ...(options.tcpBacklog === undefined ? {} : { tcpBacklog: options.tcpBacklog }),
  });
}

/**
 * Binds TCP (plain HTTP). Throws synchronously when the address cannot be bound.
 *
 * @example
 * ```ts
 * import { bindTcp } from "./acceptor.ts";
 * const acceptor = bindTcp({ hostname: "127.0.0.1", port: 0, reusePort: false, tcpBacklog: undefined });
 * console.log(acceptor.addr.transport); // "tcp"
 * acceptor.close();
 * ```
 */
export function bindTcp(options: Parameters<typeof listenTcp>[0]): Acceptor {
  const listener = listenTcp(options);
  const { hostname, port } = listener.addr;
  return listenerAcceptor(listener, { transport: "tcp", hostname, port }, tcpIncoming);
}

/**
 * Binds a Unix socket at `path`. A Unix client's address has no name, so the peer address given
 * to the handler is the socket's own path, as `Deno.serve` gives it. Deno removes the socket file
 * when the listener is closed.
 *
 * @example
 * ```ts ignore
 * const acceptor = bindUnix("/tmp/app.sock");
 * ```
 */
export function bindUnix(path: string): Acceptor {
  const listener = Deno.listen({ transport: "unix", path });
  const boundPath = listener.addr.path;
  return listenerAcceptor(listener, { transport: "unix", path: boundPath }, (conn) => ({
    remoteAddr: { transport: "unix", path: boundPath },
    open: () => conn,
    refuse: () => closeQuietly(conn),
  }));
}
