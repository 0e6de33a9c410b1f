/**
 * The public types of `serve()`, shaped like `Deno.serve`'s so that switching is one import:
 * TCP options ({@linkcode ServeTcpOptions}, HTTPS with `cert` and `key`) or Unix-socket options
 * ({@linkcode ServeUnixOptions}), a handler that gets the peer's `Deno.NetAddr` or
 * `Deno.UnixAddr`, and a {@linkcode Server} that is `AsyncDisposable`.
 *
 * @module
 */

import type { ServerLimits } from "./limits.ts";
import type { TlsHandshakeError } from "./tls/tls_socket.ts";

/** An address sockserve listens on or serves: TCP (HTTP or HTTPS) or a Unix socket. */
export type ServeAddr = Deno.NetAddr | Deno.UnixAddr;

/** What the handler learns about the connection besides the request. */
export interface ServeHandlerInfo<Addr extends ServeAddr = Deno.NetAddr> {
  /**
   * The peer's address: a `Deno.NetAddr` over TCP (HTTP or HTTPS); over a Unix socket, as
   * `Deno.serve` gives it, `{ transport: "unix", path }` with the path the server listens on
   * (a Unix client's own address has no name).
   */
  remoteAddr: Addr;
  /** Settles when the response has been fully written (or the connection failed). */
  completed: Promise<void>;
}

/**
 * A request handler: the same shape as `Deno.ServeHandler`. The `Request` it gets has headers
 * that cannot be changed, as those of `Deno.serve`'s requests: `request.headers.set`, `append`
 * and `delete` throw a `TypeError` ("Cannot change headers: headers are immutable"), and so do
 * those of `request.clone()`. `new Request(request)` makes a request whose headers may be
 * changed (it takes over the body).
 *
 * @example Add a header to a request before passing it on
 * ```ts
 * import type { Handler } from "./types.ts";
 * const handler: Handler = (request) => {
 *   const forwarded = new Request(request);
 *   forwarded.headers.set("x-forwarded-proto", new URL(request.url).protocol.slice(0, -1));
 *   return new Response(forwarded.headers.get("x-forwarded-proto"));
 * };
 * ```
 */
export type Handler<Addr extends ServeAddr = Deno.NetAddr> = (
  request: Request,
  info: ServeHandlerInfo<Addr>,
) => Response | Promise<Response>;

/** One finished exchange, for access logs. Given to {@linkcode ServeTcpOptions.onRequestEnd}. */
export interface RequestRecord<Addr extends ServeAddr = Deno.NetAddr> {
  /** Peer address (see {@linkcode ServeHandlerInfo.remoteAddr}). */
  remoteAddr: Addr;
  /** Request method as sent; `"-"` for a request refused before its line was read (`requestLine`). */
  method: string;
  /** Request-target as sent (origin-form path and query, usually); `"-"` as for `method`. */
  target: string;
  /** `"HTTP/1.1"` or `"HTTP/1.0"`; `"-"` as for `method`. */
  httpVersion: string;
  /** Status code written to the client. */
  status: number;
  /**
   * Content bytes the socket took for the client, partial writes included, as nginx's
   * `$body_bytes_sent` counts them but without the head or chunk framing: a download cut short
   * counts what left of it, to the byte. An in-memory response of at most 64 KiB, whose record is
   * made as soon as it is queued, counts its whole content.
   */
  bodyBytes: number;
  /**
   * Milliseconds from the complete request head to the last byte written. For a request refused
   * before its head was complete (400, 408, 414, 431, 505), from the read that brought its first
   * bytes instead, as nginx's `$request_time` (a 408 thus shows at least `headerTimeoutMs`); for
   * one pipelined behind another, from when the server turned to it.
   */
  durationMs: number;
  /** When the request head was complete, or a refused request's first bytes read (`durationMs`). */
  startTime: Date;
  /**
   * Request headers (for Referer, User-Agent and the like). Made from the parsed head on first
   * read and kept (an own enumerable property: `{...record}`, `JSON.stringify` and `Object.keys`
   * see it like any other); assigning it replaces it.
   */
  requestHeaders: Headers;
  /** False when the response could not be written completely (client gone, timeout). */
  completed: boolean;
  /**
   * Only on the record of a request refused before its request line could be read (a malformed
   * line: 400; one over `maxRequestLineBytes`: 414; another HTTP major version: 505; no line end
   * within `headerTimeoutMs`: 408), whose `method`, `target` and `httpVersion` are then `"-"`:
   * the line as received up to its first CR or LF, one character per byte (Latin-1), at most 256
   * bytes (`MAX_RECORDED_REQUEST_LINE_BYTES`), then `"…"` (U+2026, which no byte decodes to) when
   * more than that was received before its CRLF: the line went on past 256 bytes, or past a bare
   * CR or a bare LF (both refused: a line ends only at CRLF, RFC 9112 §2.2). `""` when there was
   * no line (an empty line among the first), `"…"` alone when it began with a bare CR or LF. A
   * request refused after its line was read (a bad header: 400, too many: 431) has `method`,
   * `target` and `httpVersion` as any other, and no `requestLine`.
   */
  requestLine?: string;
}

/** Options of `serve()` for every kind of listener. Every field is optional. */
export interface ServeCommonOptions<Addr extends ServeAddr> extends Partial<ServerLimits> {
  /** Aborting it shuts the server down gracefully, like calling `shutdown()`. */
  signal?: AbortSignal;
  /** Called once the listener is bound. Default: logs the address to the console. */
  onListen?: (addr: Addr) => void;
  /**
   * Called when the handler throws or rejects; its response is sent instead. Default: logs the
   * error to stderr and answers 500 with a short plain body (the error text never reaches the
   * client).
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Called after each exchange ends, for access logs. Must not throw. */
  onRequestEnd?: (record: RequestRecord<Addr>) => void;
  /** The handler, when it is passed in the options (like `Deno.serve({ handler })`). */
  handler?: Handler<Addr>;
  /**
   * `Deno.serve`'s automatic compression of responses; a `boolean`, as Deno declares it, so that
   * options typed as `Deno.ServeTcpOptions` pass as they are. sockserve does not compress
   * responses on its own (the file server compresses files: `createFileServer`'s `compression`),
   * so only `false`, what happens anyway, is accepted: `true` is refused at the call with a
   * TypeError.
   */
  automaticCompression?: boolean;
}

/**
 * Options of `serve()` on TCP: HTTP, or HTTPS when `cert` and `key` are given (as
 * `Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem`).
 */
export interface ServeTcpOptions extends ServeCommonOptions<Deno.NetAddr> {
  /** `"tcp"`, the default. */
  transport?: "tcp";
  /** Port to listen on; 0 lets the OS choose. Default 8000, like `Deno.serve`. */
  port?: number;
  /** Interface to bind. Default `"0.0.0.0"`, like `Deno.serve`. */
  hostname?: string;
  /** Bind with SO_REUSEPORT so that several workers can share the port (Linux, `--unstable-net`). */
  reusePort?: boolean;
  /** Length of the kernel's queue of connections not yet accepted. Default 511, like Deno. */
  tcpBacklog?: number;
  /**
   * The certificate chain in PEM, the server's own certificate first. With `key`, the server
   * speaks HTTPS: TLS 1.2 or 1.3, ALPN `http/1.1`, requests' URLs `https://`. Checked when
   * `serve()` is called, before anything is bound: a TypeError says what is wrong (not PEM, a file
   * name given instead of the text, a key that does not match, an encrypted key).
   */
  cert?: string;
  /** The certificate's private key in PEM (PKCS#8, PKCS#1 RSA or SEC1 EC), not encrypted. */
  key?: string;
  /** The format of `cert` and `key`: only `"pem"`, as in Deno. */
  keyFormat?: "pem";
  /**
   * Called with each failed TLS handshake: a client that speaks plain HTTP to the HTTPS port,
   * rejects the certificate, or shares no protocol version, cipher suite or ALPN protocol with
   * the server. A client that leaves before or during its handshake, or that the header timeout
   * or a shutdown closes, is not a failure. Default: one line on stderr, at most 10 per 10 s
   * (`server/error_log.ts`). Must not throw.
   */
  onHandshakeError?: (error: TlsHandshakeError) => void;
}

/**
 * The options of `serve()` on TCP (HTTP, or HTTPS with `cert` and `key`): the common case, and
 * the same as {@linkcode ServeTcpOptions}. A Unix socket takes {@linkcode ServeUnixOptions}.
 */
export type ServeOptions = ServeTcpOptions;

/** Options of `serve()` on a Unix socket (as `Deno.ServeUnixOptions`). */
export interface ServeUnixOptions extends ServeCommonOptions<Deno.UnixAddr> {
  /** `"unix"`; implied by `path`. */
  transport?: "unix";
  /**
   * The socket's path. It must not exist (a socket left by a process that died is not removed:
   * `Deno.errors.AddrInUse`); the server removes it when it shuts down.
   */
  path: string;
}

/** A running server, as returned by `serve()`. `await using` shuts it down at the block's end. */
export interface Server<Addr extends ServeAddr = Deno.NetAddr> extends AsyncDisposable {
  /** The address the server is bound to (the real port when 0 was asked for). */
  readonly addr: Addr;
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
  /** `await using`: the same as `shutdown()`. */
  [Symbol.asyncDispose](): Promise<void>;
}
