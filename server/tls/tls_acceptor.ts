/**
 * The HTTPS listener: TCP connections served over `node:tls` (see `tls_socket.ts` for why not
 * `Deno.listenTls`), with the certificate checked before anything is bound.
 *
 * Two ways to accept, one result:
 * - the fast path binds with Node's TCP handle (`process.binding("tcp_wrap")`, which Deno
 *   implements) and accepts with `node:net`, so that the TLS stack reads and writes the socket
 *   natively;
 * - the general path, used when that binding is missing, accepts with `Deno.listen` and runs the
 *   TLS stack over each `Deno.TcpConn` through a stream ({@linkcode connStream}).
 * `tests/tls_test.ts` checks that both answer byte for byte the same, and fails loudly when a Deno
 * upgrade takes the fast path away. Either way binding is synchronous and throws what
 * `Deno.listen` throws for the same address.
 *
 * The certificate in use can be replaced ({@linkcode TlsAcceptor.setCertifiedKey}): connections
 * accepted afterwards use the new one, those already open keep theirs.
 *
 * @module
 */

import type { Server as NetServer, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { nodeNet, nodeProcess, nodeTls } from "./node_builtins.ts";
import { type Acceptor, type Incoming, listenerAcceptor, listenTcp } from "../acceptor.ts";
import type { ListenTarget } from "../serve_options.ts";
import { type CertificateSummary, type CertifiedKey, checkCertifiedKey } from "./certificate.ts";
import { connStream } from "./conn_stream.ts";
import { TlsByteSocket, type TlsHandshakeError, type TransportReads } from "./tls_socket.ts";

/** ALPN: the only application protocol offered (RFC 7301); an h2-only client is refused. */
export const ALPN_PROTOCOLS: readonly string[] = ["http/1.1"];

/** Deno's default `tcpBacklog`, used by the fast path when none is given. */
const DEFAULT_TCP_BACKLOG = 511;

/** The parts of Node's TCP handle the fast path uses. */
interface TcpHandle {
  bindWithFlags(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: { address?: string; port?: number }): number;
  readStart(): number;
  readStop(): number;
  close(): void;
}

/** `process.binding("tcp_wrap")`, as far as the fast path uses it. */
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number; UV_TCP_REUSEPORT: number };
}

/**
 * Node's TCP binding, or null when this Deno does not have it (the general path is used then).
 *
 * @example
 * ```ts
 * import { nodeTcpWrap } from "./tls_acceptor.ts";
 * console.log(nodeTcpWrap() !== null); // true on Deno 2.9
 * ```
 */
export function nodeTcpWrap(): TcpWrap | null {
  try {
    const binding = (nodeProcess() as unknown as { binding?: (name: string) => unknown })
      .binding?.("tcp_wrap") as Partial<TcpWrap> | undefined;
    const proto = binding?.TCP?.prototype as Partial<TcpHandle> | undefined;
    const usable = typeof proto?.bindWithFlags === "function" &&
      typeof proto.bind6 === "function" && typeof proto.listen === "function" &&
      typeof proto.getsockname === "function" && typeof proto.readStart === "function" &&
      typeof proto.readStop === "function" &&
      typeof binding?.constants?.SERVER === "number" &&
      typeof binding.constants.UV_TCP_REUSEPORT === "number";
    return usable ? binding as TcpWrap : null;
  } catch {
    return null;
  }
}

/** Which way a {@linkcode TlsAcceptor} accepts (for tests and diagnostics). */
export type TlsPath = "node-tcp" | "deno-listen";

/** A bound HTTPS listener. */
export interface TlsAcceptor extends Acceptor {
  readonly addr: Deno.NetAddr;
  /** How connections are accepted: the fast path or the general one. */
  readonly path: TlsPath;
  /**
   * Checks `pair` and serves every later connection with it; throws a TypeError (and keeps the
   * certificate in use) when it is not a usable certificate and key.
   */
  setCertifiedKey(pair: CertifiedKey): CertificateSummary;
}

/** What a TLS listener needs besides where to listen. */
export interface TlsSettings {
  readonly certifiedKey: CertifiedKey;
  readonly onHandshakeError: (error: TlsHandshakeError) => void;
}

/** The path listeners bound from now on must take (tests of both paths), or undefined. */
let forcedPath: TlsPath | undefined;

/**
 * Makes TLS listeners bound from now on take `path` (the fast path throws when it is not
 * available); `undefined` restores the choice. For the tests that compare the two paths.
 *
 * @example
 * ```ts
 * import { forceTlsPath } from "./tls_acceptor.ts";
 * forceTlsPath("deno-listen");
 * // ... serve({ cert, key }, handler) now uses the general path ...
 * forceTlsPath(undefined);
 * ```
 */
export function forceTlsPath(path: TlsPath | undefined): void {
  forcedPath = path;
}

/** A checked certificate as the TLS stack's context. */
function secureContextOf(
  pair: CertifiedKey,
): { context: SecureContext; summary: CertificateSummary } {
  const checked = checkCertifiedKey(pair);
  // The blocks checked, not the text given: what is checked is what is loaded.
  const { pem, ...summary } = checked;
  return { context: nodeTls().createSecureContext({ cert: pem.cert, key: pem.key }), summary };
}

/**
 * The TCP handle under a `TLSSocket` of the fast path, started and stopped directly: Deno's
 * `TLSWrap` reads it whatever the `TLSSocket`'s flow (its `readStop` only stops delivering the
 * decrypted bytes, which then pile up in memory). The handle is the accepted `net.Socket`'s
 * `_handle`, the one the `TLSWrap` is attached to. Should it be missing (a Deno upgrade changed
 * this), a client that fills the queue is disconnected rather than buffered without bound, and
 * `tests/tls_test.ts` fails loudly.
 */
function tcpHandleReads(socket: Socket): TransportReads {
  const handle = (socket as unknown as { _handle?: Partial<TcpHandle> | null })._handle;
  if (typeof handle?.readStop !== "function" || typeof handle.readStart !== "function") {
    return { stop: () => socket.destroy(), start() {} };
  }
  const reading = handle as TcpHandle;
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      reading.readStop();
    },
    start() {
      if (!stopped) return;
      stopped = false;
      reading.readStart();
    },
  };
}

/** The fast path: Node's TCP handle, bound synchronously. Null when Node's binding fails. */
function bindNodeTcp(
  wrap: TcpWrap,
  target: Extract<ListenTarget, { transport: "tcp" }>,
): { handle: TcpHandle; addr: Deno.NetAddr } | null {
  const handle = new wrap.TCP(wrap.constants.SERVER);
  const flags = target.reusePort ? wrap.constants.UV_TCP_REUSEPORT : 0;
  // Node's handle resolves host names itself; an IPv6 literal needs bind6.
  const status = target.hostname.includes(":")
    ? handle.bind6(target.hostname.replace(/^\[|\]$/g, ""), target.port, flags)
    : handle.bindWithFlags(target.hostname, target.port, flags);
  const listening = status === 0 ? handle.listen(target.tcpBacklog ?? DEFAULT_TCP_BACKLOG) : status;
  const name: { address?: string; port?: number } = {};
  if (listening !== 0 || handle.getsockname(name) !== 0 || name.address === undefined) {
    handle.close();
    return null;
  }
  return { handle, addr: { transport: "tcp", hostname: name.address, port: name.port ?? 0 } };
}

/**
 * Binds an HTTPS listener: checks the certificate (a TypeError saying what is wrong), then binds
 * synchronously (what `Deno.listen` throws for the address: `Deno.errors.AddrInUse`, …).
 *
 * @example
 * ```ts ignore
 * const acceptor = bindTls(target, { certifiedKey: { cert, key }, onHandshakeError: log });
 * ```
 */
export function bindTls(
  target: Extract<ListenTarget, { transport: "tcp" }>,
  settings: TlsSettings,
): TlsAcceptor {
  let { context } = secureContextOf(settings.certifiedKey);
  const setCertifiedKey = (pair: CertifiedKey): CertificateSummary => {
    const next = secureContextOf(pair);
    context = next.context;
    return next.summary;
  };
  const open = (
    stream: Socket | Duplex,
    remoteAddr: Deno.NetAddr,
    reads: (tls: TLSSocket) => TransportReads,
  ) => {
    const tls = new (nodeTls().TLSSocket)(stream as Socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: [...ALPN_PROTOCOLS],
      requestCert: false,
    });
    return new TlsByteSocket(tls, remoteAddr, settings.onHandshakeError, reads(tls));
  };

  const wrap = forcedPath === "deno-listen" ? null : nodeTcpWrap();
  const bound = wrap === null ? null : bindNodeTcp(wrap, target);
  if (bound === null) {
    if (forcedPath === "node-tcp") throw new Error("the node-tcp TLS path is not available");
    // The general path; also where the fast one could not bind, so that the error thrown is
    // exactly Deno.listen's.
    const listener = listenTcp(target);
    const { hostname, port } = listener.addr;
    const addr: Deno.NetAddr = { transport: "tcp", hostname, port };
    return {
      ...listenerAcceptor(listener, addr, (conn): Incoming => ({
        remoteAddr: conn.remoteAddr,
        open() {
          try {
            conn.setNoDelay(true);
          } catch {
            // The peer may already be gone.
          }
          const stream = connStream(conn);
          return open(stream, conn.remoteAddr, () => stream.reads);
        },
        refuse() {
          try {
            conn.close();
          } catch {
            // Already gone.
          }
        },
      })),
      addr,
      path: "deno-listen",
      setCertifiedKey,
    };
  }

  const { handle, addr } = bound;
  const backlog = target.tcpBacklog ?? DEFAULT_TCP_BACKLOG;
  const server: NetServer = nodeNet().createServer({ allowHalfOpen: true });
  let stopped: (() => void) | null = null;
  return {
    addr,
    path: "node-tcp",
    setCertifiedKey,
    accept(onConnection) {
      const done = new Promise<void>((resolve) => stopped = resolve);
      server.on("connection", (socket: Socket) => {
        const hostname = socket.remoteAddress;
        const port = socket.remotePort;
        if (hostname === undefined || port === undefined) {
          socket.destroy(); // Reset before it could be accepted.
          return;
        }
        const remoteAddr: Deno.NetAddr = { transport: "tcp", hostname, port };
        onConnection({
          remoteAddr,
          open() {
            socket.setNoDelay(true);
            return open(socket, remoteAddr, () => tcpHandleReads(socket));
          },
          refuse: () => socket.destroy(),
        });
      });
      // Accept errors (out of file descriptors, say) are the listener's: it keeps listening.
      server.on("error", () => {});
      // net.Server calls listen() on the handle again: with the same backlog.
      server.listen(handle, backlog);
      return done;
    },
    close() {
      // net.Server's "close" waits for every connection; accepting stops now.
      server.close();
      stopped?.();
    },
    ref: () => server.ref(),
    unref: () => server.unref(),
  };
}
