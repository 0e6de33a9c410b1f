/**
 * Every limit, timeout and default of the server, in one place.
 *
 * Each constant says why it has its value and what other servers chose. All of them can be
 * overridden through {@linkcode ServerLimits} in the options of `serve()`.
 *
 * @module
 */

/**
 * Longest request line (method, target, version) in bytes; longer gets 414 URI Too Long.
 * RFC 9112 §3 recommends supporting at least 8000 octets. nginx: 8 KiB
 * (`large_client_header_buffers`), Node: part of its 16 KiB head limit, hyper: 8 KiB default.
 */
export const DEFAULT_MAX_REQUEST_LINE_BYTES = 8 * 1024;

/**
 * Largest header section (all field lines, excluding the request line) in bytes; larger gets 431.
 * Node: 16 KiB (`--max-http-header-size`), nginx: 4 × 8 KiB, Go: 1 MiB, hyper: ~400 KiB buffer.
 * 16 KiB is enough for real browsers with large cookies and keeps per-connection memory small.
 */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/**
 * Most header fields in one request (or in a chunked trailer section); more gets 431.
 * hyper: 100, Node: 2000 (`maxHeadersCount`), h11: none. 100 is hyper's choice and browsers send
 * fewer than 30.
 */
export const DEFAULT_MAX_HEADER_COUNT = 100;

/**
 * Largest request body in bytes (Content-Length or decoded chunked); larger gets 413.
 * nginx: 1 MiB (`client_max_body_size`), Deno.serve/Node: unlimited. sockserve streams bodies
 * in constant memory, so the default only protects handlers that buffer: 1 GiB.
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024 * 1024;

/**
 * Longest chunk extension (`;name=value…`) on one chunk-size line. Extensions carry no meaning
 * for sockserve; hyper caps their total at 16 KiB per message, we cap each line at 1 KiB and the
 * total per message with {@linkcode DEFAULT_MAX_CHUNK_EXTENSIONS_TOTAL_BYTES}.
 */
export const DEFAULT_MAX_CHUNK_EXTENSION_BYTES = 1024;

/**
 * Total chunk-extension bytes in one message: stops a client from sending millions of tiny chunks
 * each with an extension to burn CPU for free (hyper: 16 KiB, the same figure).
 */
export const DEFAULT_MAX_CHUNK_EXTENSIONS_TOTAL_BYTES = 16 * 1024;

/** Largest trailer section of a chunked body in bytes (field count uses the header count). */
export const DEFAULT_MAX_TRAILER_BYTES = 8 * 1024;

/**
 * Time allowed to receive a complete request head, from its first byte (or from the connection
 * start, for the first request); 0 disables (as for every timeout here). The slowloris defence: nginx 60 s (`client_header_timeout`), Node 60 s
 * (`headersTimeout`), Go none by default. 10 s is ample for any real client.
 */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;

/**
 * Time a keep-alive connection may sit idle between requests before it is closed.
 * nginx 75 s, Node 5 s, Caddy 5 min, Apache 5 s. 5 s frees sockets quickly under load.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 5_000;

/**
 * Longest stall while reading a request body (time between two reads that bring data) or while
 * writing a response (time a single write may wait for the client to read). nginx: 60 s
 * (`client_body_timeout`, `send_timeout`), the same figure; it was 30 s until 2026-11-30, which
 * cut steady readers slower than about 45 KiB/s (below).
 *
 * A write waits until the kernel takes more bytes, and Linux wakes a writer whose send buffer is
 * full only once a third of it has drained. That buffer grows up to `net.ipv4.tcp_wmem`'s
 * maximum (4 MiB by default), so a client may have to read about 1.4 MB within this time: one
 * that pauses longer is cut about this long after its pause began, and one that never pauses but
 * reads more slowly than about 1.4 MB per this time (about 22 KiB/s at 60 s) can be cut while reading
 * (measured on loopback: a 64 KiB write waited 17.9 s for a client taking 16 KiB every 200 ms; a
 * client taking 16 KiB every 500 ms was cut at 30 s). Deno has no socket option (SO_SNDBUF,
 * TCP_NOTSENT_LOWAT) to shrink the buffer or see it drain; nginx's `send_timeout` waits on the
 * same wake-up. Raise this limit for very slow clients.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;

/**
 * Longest time a handler may take to produce its `Response` (not to stream its body); past it the
 * client gets 503 and the connection is closed. nginx `proxy_read_timeout` is 60 s. 0 disables.
 */
export const DEFAULT_HANDLER_TIMEOUT_MS = 60_000;

/**
 * Lingering before close, between reads: after deciding to close, the server half-closes and
 * reads (and drops) what the client still sends until the client has been silent this long (or
 * {@linkcode DEFAULT_LINGER_TIME_MS} has passed), so that the kernel does not answer unread bytes
 * with a reset that would destroy the response in flight (RFC 9112 §9.6; nginx
 * `lingering_timeout` 5 s). 2 s is enough on any live connection.
 */
export const DEFAULT_LINGER_TIMEOUT_MS = 2_000;

/**
 * Lingering before close, in all: how long the server goes on reading (and dropping) what a client
 * still sends after the server has decided to close — a large upload the handler refused, say —
 * so that the client finishes sending and then reads the answer instead of getting a reset
 * (RFC 9112 §9.6). Bounded by time, not bytes: nginx `lingering_time` 30 s, the same figure.
 */
export const DEFAULT_LINGER_TIME_MS = 30_000;

/**
 * After a client's EOF (it shut down its sending side, or left), how long the response in progress
 * may make no progress before the client is taken to have left: its stream is cancelled and the
 * connection closed. A client that half-closes and reads on gets every response that keeps
 * flowing; one that has left is noticed within this time even while the response waits for data
 * (an idle event stream). Deno.serve and hyper close at the EOF at once; nginx aborts proxied
 * requests at once. 1 s keeps half-closing clients (`nc -N`) working with prompt handlers.
 */
export const DEFAULT_HALF_CLOSE_TIMEOUT_MS = 1_000;

/**
 * Minimum average rate of a request body, in bytes per second, once
 * {@linkcode DEFAULT_BODY_MIN_RATE_GRACE_MS} has passed since the body started; slower gets 408
 * and the close. Without it a body trickled at one byte per stall timeout holds its connection
 * forever, and a hundred of them every slot. Only time the server spends waiting for body bytes
 * counts (not time the handler leaves the body unread). Apache `mod_reqtimeout` `MinRate=500`,
 * the same figure. 0 disables.
 */
export const DEFAULT_BODY_MIN_RATE = 500;

/** Time from the start of a request body before {@linkcode DEFAULT_BODY_MIN_RATE} applies. */
export const DEFAULT_BODY_MIN_RATE_GRACE_MS = 10_000;

/** Time `shutdown()` lets in-flight requests finish before their connections are closed. */
export const DEFAULT_GRACE_PERIOD_MS = 10_000;

/**
 * Most open connections; further connections are accepted and closed at once so that the kernel
 * backlog does not fill with clients that will never be served. nginx `worker_connections` 512.
 * When `serve()` is given no value it uses this or less: never more than the process's file
 * descriptor limit allows (`server/fd_budget.ts`), since running out of descriptors aborts Deno.
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * How much of an unread request body the server will read and discard after the handler has
 * answered, to keep the connection alive. Beyond this the connection is closed instead
 * (Go: 256 KiB, hyper: similar).
 */
export const DEFAULT_MAX_DISCARD_BYTES = 256 * 1024;

/**
 * Size of the read buffer each connection keeps, which is what an idle keep-alive connection
 * holds while it waits (its largest single cost). 1 KiB takes most request heads in one read
 * (a browser's is usually 0.5–1 KiB before cookies); a read that fills it is followed by reads
 * into a 64 KiB buffer lent from a shared pool (as are request bodies), so a larger head costs one
 * read more, and pipelined batches none. nginx: `client_header_buffer_size` 1 KiB, then
 * `large_client_header_buffers` — the same scheme. Measured: 2 KiB cost about 1 KiB more per
 * idle connection (bench M1) for no gain on heads under 1 KiB.
 */
export const DEFAULT_READ_BUFFER_BYTES = 1024;

/**
 * Largest WebSocket message received, in bytes, all fragments together; larger fails the
 * connection with close code 1009 (RFC 6455 §7.4.1), detected from frame headers before the
 * payload is buffered. Option `maxMessageSize` of `upgradeWebSocket()`. Bun/uWebSockets: 16 MiB
 * (`maxPayloadLength`), Deno: 64 MiB, Node's ws: 100 MiB (`maxPayload`). 16 MiB: a hostile client
 * holds at most that much per connection.
 */
export const DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Most bytes a WebSocket may have waiting behind the message being written (messages given to
 * `send()`, Pongs, the Close frame) while the client does not read, each frame counted as its
 * bytes plus 64 (`FRAME_OVERHEAD_BYTES` in server/websocket/session.ts: what holding it costs);
 * beyond it the connection is dropped, since a Close frame could not get through either. The message being written is not
 * counted: the application made it and holds its bytes anyway, so a message of any size reaches
 * a slow client, and its Pongs and the next messages may queue behind it. Per connection, sending
 * holds at most one message plus this; receiving holds at most `maxMessageSize`. Option
 * `maxBufferedAmount` of `upgradeWebSocket()`. Bun: 16 MiB (`backpressureLimit`); uWebSockets:
 * 64 KiB (`maxBackpressure`); browsers, Deno and Node's ws: unbounded. 16 MiB, as
 * `maxMessageSize`: a message of the largest size accepted may wait behind another.
 */
export const DEFAULT_WEBSOCKET_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * WebSocket keep-alive (option `idleTimeout` of `upgradeWebSocket()`, in seconds as in Deno):
 * after half of it without a frame from the client the server sends a Ping; after the other half
 * without a frame (the Pong, usually) it closes the connection. Deno: 30 s, chosen below nginx's
 * 60 s `proxy_read_timeout` so that proxies do not cut idle sockets first.
 */
export const DEFAULT_WEBSOCKET_IDLE_TIMEOUT_MS = 30_000;

/**
 * Time a WebSocket waits for the client's Close frame after sending its own (or, after failing
 * the connection, for the client to close), before closing the TCP connection anyway. Option
 * `closeTimeout` of `upgradeWebSocket()`, in seconds. Node's ws: 30 s (`closeTimeout`); 5 s is
 * plenty for a live client and frees the socket of a dead one sooner.
 */
export const DEFAULT_WEBSOCKET_CLOSE_TIMEOUT_MS = 5_000;

/** Per-connection limits of the HTTP/1.1 framing (all sizes in bytes). */
export interface FramingLimits {
  /** See {@linkcode DEFAULT_MAX_REQUEST_LINE_BYTES}. */
  maxRequestLineBytes: number;
  /** See {@linkcode DEFAULT_MAX_HEADER_BYTES}. */
  maxHeaderBytes: number;
  /** See {@linkcode DEFAULT_MAX_HEADER_COUNT}. */
  maxHeaderCount: number;
  /** See {@linkcode DEFAULT_MAX_BODY_BYTES}. */
  maxBodyBytes: number;
  /** See {@linkcode DEFAULT_MAX_CHUNK_EXTENSION_BYTES}. */
  maxChunkExtensionBytes: number;
  /** See {@linkcode DEFAULT_MAX_CHUNK_EXTENSIONS_TOTAL_BYTES}. */
  maxChunkExtensionsTotalBytes: number;
  /** See {@linkcode DEFAULT_MAX_TRAILER_BYTES}. */
  maxTrailerBytes: number;
}

/** Timeouts and connection limits of the server (times in milliseconds). */
export interface ServerLimits extends FramingLimits {
  /** See {@linkcode DEFAULT_HEADER_TIMEOUT_MS}. */
  headerTimeoutMs: number;
  /** See {@linkcode DEFAULT_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs: number;
  /** See {@linkcode DEFAULT_BODY_TIMEOUT_MS}. */
  bodyTimeoutMs: number;
  /** See {@linkcode DEFAULT_HANDLER_TIMEOUT_MS}. */
  handlerTimeoutMs: number;
  /** See {@linkcode DEFAULT_LINGER_TIMEOUT_MS}. */
  lingerTimeoutMs: number;
  /** See {@linkcode DEFAULT_LINGER_TIME_MS}. */
  lingerTimeMs: number;
  /** See {@linkcode DEFAULT_HALF_CLOSE_TIMEOUT_MS}. */
  halfCloseTimeoutMs: number;
  /** See {@linkcode DEFAULT_BODY_MIN_RATE} (bytes per second). */
  bodyMinRate: number;
  /** See {@linkcode DEFAULT_BODY_MIN_RATE_GRACE_MS}. */
  bodyMinRateGraceMs: number;
  /** See {@linkcode DEFAULT_GRACE_PERIOD_MS}. */
  gracePeriodMs: number;
  /** See {@linkcode DEFAULT_MAX_CONNECTIONS}. */
  maxConnections: number;
  /** See {@linkcode DEFAULT_MAX_DISCARD_BYTES}. */
  maxDiscardBytes: number;
  /** See {@linkcode DEFAULT_READ_BUFFER_BYTES}. */
  readBufferBytes: number;
}

/** The framing limits with their defaults. */
export const DEFAULT_FRAMING_LIMITS: Readonly<FramingLimits> = Object.freeze({
  maxRequestLineBytes: DEFAULT_MAX_REQUEST_LINE_BYTES,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxChunkExtensionBytes: DEFAULT_MAX_CHUNK_EXTENSION_BYTES,
  maxChunkExtensionsTotalBytes: DEFAULT_MAX_CHUNK_EXTENSIONS_TOTAL_BYTES,
  maxTrailerBytes: DEFAULT_MAX_TRAILER_BYTES,
});

/** All server limits with their defaults. */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  ...DEFAULT_FRAMING_LIMITS,
  headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_MS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
  handlerTimeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
  lingerTimeoutMs: DEFAULT_LINGER_TIMEOUT_MS,
  lingerTimeMs: DEFAULT_LINGER_TIME_MS,
  halfCloseTimeoutMs: DEFAULT_HALF_CLOSE_TIMEOUT_MS,
  bodyMinRate: DEFAULT_BODY_MIN_RATE,
  bodyMinRateGraceMs: DEFAULT_BODY_MIN_RATE_GRACE_MS,
  gracePeriodMs: DEFAULT_GRACE_PERIOD_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxDiscardBytes: DEFAULT_MAX_DISCARD_BYTES,
  readBufferBytes: DEFAULT_READ_BUFFER_BYTES,
});

/** What a value that is not a number is, for an error message: `a string ("5")`, `null`. */
function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string (${JSON.stringify(value)})`;
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

/**
 * Fills in defaults for any limit not given, and rejects values that make no sense so that a
 * typo in configuration fails loudly at start: a TypeError for a value that is not a number
 * (`"5"`), naming the type seen; a RangeError for a number that is negative, NaN, infinite or
 * fractional.
 */
export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_SERVER_LIMITS)) throw new TypeError(`unknown limit: ${key}`);
    if (typeof value !== "number") {
      throw new TypeError(
        `limit ${key} must be a number (a non-negative integer), got ${describeType(value)}`,
      );
    }
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`limit ${key} must be a non-negative integer, got ${String(value)}`);
    }
    limits[key as keyof ServerLimits] = value;
  }
  return limits;
}
