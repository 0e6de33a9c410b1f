/**
 * One server-side TLS connection as the engine's {@linkcode ByteSocket}: a `node:tls` `TLSSocket`
 * read into the engine's buffers and written with its write callbacks, so that the connection
 * loop serves HTTPS exactly as it serves TCP.
 *
 * Why `node:tls` rather than `Deno.listenTls`: a `Deno.TlsConn` closed while its handshake waits
 * for the client keeps its socket open inside the runtime until the client sends or closes
 * (rustls-tokio-stream's drop awaits the handshake), so a client that connects and stalls could
 * never be closed and could exhaust the file descriptors. A `TLSSocket` destroyed at any point
 * closes its socket at once. Everything the engine bounds — the handshake under the header
 * timeout, a client that leaves, shutdown — therefore holds over TLS too.
 *
 * What this file owns: the queue of decrypted bytes not yet read, the pending writes (settled
 * when the socket closes, so that no write waits for ever), the one report of a failed handshake,
 * and closing (close_notify first, bounded by {@linkcode CLOSE_NOTIFY_TIMEOUT_MS}).
 *
 * Reading is pulled by the engine: the transport under the TLS stack (the TCP handle, or the
 * `Deno.Conn` stream) reads only while fewer than {@linkcode READ_QUEUE_HIGH_BYTES} decrypted
 * bytes wait to be read ({@linkcode TransportReads}). Pausing the `TLSSocket` itself is not
 * enough: Deno's `node:tls` keeps reading the TCP socket and decrypting into memory while it is
 * paused (its `TLSWrap.readStop` only stops delivering), so a client that sends and never reads
 * its answers could make the server hold everything it sends.
 *
 * @module
 */

import type { TLSSocket } from "node:tls";
import type { ByteSocket } from "../connection/socket_io.ts";

/**
 * Decrypted bytes queued before the engine reads them; past this the transport stops reading, so
 * that a client cannot make the server buffer what it has not asked to read (the engine's reads
 * take up to 64 KiB). What is queued stays under this plus what one transport read decrypts to
 * (at most 64 KiB), whatever the client sends.
 */
export const READ_QUEUE_HIGH_BYTES = 64 * 1024;

/**
 * How long closing waits for TLS's close_notify to be handed to the socket before closing it
 * anyway (milliseconds): a client that does not read cannot hold a closed connection open.
 */
export const CLOSE_NOTIFY_TIMEOUT_MS = 500;

/**
 * Starts and stops reading of the transport the TLS stack decrypts from: the TCP handle under a
 * `TLSSocket`, or the stream over a `Deno.Conn`. While stopped, the kernel's receive buffer
 * fills and TCP's flow control makes the client wait.
 */
export interface TransportReads {
  /** Stop reading from the network. Idempotent. */
  stop(): void;
  /** Read again. Idempotent. */
  start(): void;
}

/**
 * A TLS handshake that failed: the client spoke something other than TLS, refused the
 * certificate, or shares no protocol version, cipher suite or ALPN protocol with the server. Its
 * message is one line naming the client and the reason.
 *
 * @example
 * ```ts
 * import { TlsHandshakeError } from "./tls_socket.ts";
 * const error = new TlsHandshakeError(
 *   { transport: "tcp", hostname: "203.0.113.7", port: 51234 },
 *   "received fatal alert: UnknownCA",
 * );
 * console.log(error.message);
 * // TLS handshake with 203.0.113.7:51234 failed: received fatal alert: UnknownCA
 * ```
 */
export class TlsHandshakeError extends Error {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Node's error code for the failure (`ERR_SSL_…`), when there is one. */
  readonly code: string | undefined;

  /**
   * An error for the failed handshake of the client at `remoteAddr`.
   *
   * @param remoteAddr The client's address.
   * @param reason What went wrong, one line.
   * @param code Node's error code, when known.
   */
  constructor(remoteAddr: Deno.NetAddr, reason: string, code?: string) {
    const host = remoteAddr.hostname.includes(":")
      ? `[${remoteAddr.hostname}]`
      : remoteAddr.hostname;
    super(`TLS handshake with ${host}:${remoteAddr.port} failed: ${reason}`);
    this.name = "TlsHandshakeError";
    this.remoteAddr = remoteAddr;
    this.code = code;
  }
}

/**
 * Whether an error of a socket whose handshake has not completed is a failure of TLS itself (a
 * protocol error or an alert: Node's `ERR_SSL_…` codes), rather than a client that left (a reset,
 * an EOF), which is not worth a log line.
 */
export function isHandshakeFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_SSL_");
}

/** The socket was closed: what pending and later operations reject with. */
function closedError(): Error {
  return new Deno.errors.BadResource("the TLS connection is closed");
}

/**
 * A `TLSSocket` (server side, handshake started) as a {@linkcode ByteSocket}.
 *
 * @example
 * ```ts ignore
 * const socket = new TlsByteSocket(tlsSocket, remoteAddr, (error) => log(error.message));
 * const n = await socket.read(buffer); // decrypted bytes, after the handshake; null at EOF
 * ```
 */
export class TlsByteSocket implements ByteSocket {
  readonly #socket: TLSSocket;
  /** Decrypted chunks not yet read, oldest first; `#offset` bytes of the first are read. */
  readonly #queue: Uint8Array[] = [];
  #offset = 0;
  #queued = 0;
  readonly #transport: TransportReads;
  /** The transport is stopped because the queue is full. */
  #stopped = false;
  /** No more bytes will come: the client's EOF, an error, or the socket closed. */
  #ended = false;
  #closed = false;
  #secure = false;
  #reader: { buffer: Uint8Array; resolve: (n: number | null) => void } | null = null;
  readonly #writes = new Set<(error: Error) => void>();
  readonly #released = Promise.withResolvers<void>();

  /**
   * @param socket A server-side `TLSSocket` over an accepted connection.
   * @param remoteAddr The client's address, for the handshake error.
   * @param onHandshakeError Called at most once, with a handshake that failed.
   * @param transport Starts and stops the reads of the transport under `socket`.
   */
  constructor(
    socket: TLSSocket,
    remoteAddr: Deno.NetAddr,
    onHandshakeError: (error: TlsHandshakeError) => void,
    transport: TransportReads,
  ) {
    this.#socket = socket;
    this.#transport = transport;
    socket.on("secure", () => {
      this.#secure = true;
    });
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", () => {
      this.#shut();
      this.#released.resolve();
    });
    socket.on("error", (error: Error) => {
      if (!this.#secure && !this.#closed && isHandshakeFailure(error)) {
        const reason = (error.message.split("\n")[0] ?? "").trim();
        try {
          onHandshakeError(
            new TlsHandshakeError(remoteAddr, reason, (error as { code?: string }).code),
          );
        } catch {
          // A reporting callback must not break the server.
        }
      }
      this.#shut();
    });
  }

  readonly #onData = (chunk: Uint8Array): void => {
    const reader = this.#reader;
    if (reader !== null && this.#queued === 0) {
      this.#reader = null;
      const n = Math.min(chunk.length, reader.buffer.length);
      reader.buffer.set(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n < chunk.length) this.#enqueue(chunk.subarray(n));
      reader.resolve(n);
      return;
    }
    this.#enqueue(chunk);
  };

  #enqueue(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (!this.#stopped && this.#queued >= READ_QUEUE_HIGH_BYTES) {
      this.#stopped = true;
      this.#transport.stop();
    }
  }

  readonly #onEnd = (): void => {
    this.#ended = true;
    if (this.#queued === 0) this.#wakeReader();
  };

  #wakeReader(): void {
    const reader = this.#reader;
    this.#reader = null;
    reader?.resolve(null);
  }

  /** No more reads or writes: wake the reader, fail the writes in flight. */
  #shut(): void {
    this.#ended = true;
    this.#closed = true;
    this.#wakeReader();
    const error = closedError();
    for (const reject of this.#writes) reject(error);
    this.#writes.clear();
  }

  /** Reads decrypted bytes into `buffer`: as many as are queued, or waits for some. */
  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#queued > 0) return Promise.resolve(this.#take(buffer));
    if (this.#ended || this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#reader = { buffer, resolve };
    });
  }

  #take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#queue.length > 0) {
      const chunk = this.#queue[0]!;
      const take = Math.min(chunk.length - this.#offset, buffer.length - n);
      buffer.set(chunk.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#queue.shift();
        this.#offset = 0;
      }
    }
    this.#queued -= n;
    if (this.#stopped && this.#queued < READ_QUEUE_HIGH_BYTES / 2 && !this.#closed) {
      this.#stopped = false;
      this.#transport.start();
    }
    return n;
  }

  /**
   * Writes all of `bytes`; resolves once the TLS stack has taken them (they are encrypted and
   * handed to the socket), so the caller may reuse the buffer. Rejects when the socket fails or
   * closes first.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#writes.add(reject);
      this.#socket.write(bytes, (error?: Error | null) => {
        if (!this.#writes.delete(reject)) return; // settled by the close
        if (error) reject(error);
        else resolve(bytes.length);
      });
    });
  }

  /** Sends TLS's close_notify, then the TCP FIN; reading goes on. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#writes.add(reject);
      this.#socket.end(() => {
        if (this.#writes.delete(reject)) resolve();
      });
    });
  }

  /**
   * Closes the connection, whatever the handshake's state: reads and writes in flight fail now.
   * After a handshake, TLS's close_notify goes first (RFC 8446 §6.1), so that the client can tell
   * the end of the data from a truncation: the socket is destroyed once it is sent, or after
   * {@linkcode CLOSE_NOTIFY_TIMEOUT_MS} when the client does not take it.
   * {@linkcode TlsByteSocket.released} settles when the socket is closed.
   */
  close(): void {
    if (this.#closed) return;
    this.#shut();
    const socket = this.#socket;
    if (!this.#secure || !socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), CLOSE_NOTIFY_TIMEOUT_MS);
    socket.once("close", () => clearTimeout(timer));
    // end() sends close_notify and then the FIN; its callback runs once they are written.
    socket.end(() => socket.destroy());
  }

  /**
   * Settles once the socket is closed and its file descriptor released: after
   * {@linkcode TlsByteSocket.close} (at most {@linkcode CLOSE_NOTIFY_TIMEOUT_MS} later), or when
   * the client leaves. Never rejects.
   */
  get released(): Promise<void> {
    return this.#released.promise;
  }
}
