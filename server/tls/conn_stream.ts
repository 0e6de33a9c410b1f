/**
 * A `Deno.Conn` as the Node stream a `TLSSocket` runs over: the general way of accepting HTTPS
 * (see `tls_acceptor.ts`). Reads are pulled: one at a time, when the stream asks for data and
 * reading is not stopped ({@linkcode ConnStream.reads}); writes complete when the socket took
 * every byte; closing waits for the write in flight (TLS's close_notify, say), bounded.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import { nodeStream } from "./node_builtins.ts";
import { CLOSE_NOTIFY_TIMEOUT_MS, type TransportReads } from "./tls_socket.ts";

/** Bytes asked of the connection per read (one TLS record at most is 16 KiB plus overhead). */
const READ_BYTES = 16 * 1024 + 256;

/** A `Deno.Conn` as a `Duplex`: the stream, and the switch its reader stops and starts it with. */
export interface ConnStream extends Duplex {
  /** Stops and starts reading the connection (the consumer's flow control). */
  readonly reads: TransportReads;
}

/**
 * A `Deno.Conn` as a `Duplex`; the stream owns the connection from now on. The class is made the
 * first time, once `node:stream` is loaded (node_builtins.ts).
 *
 * @example
 * ```ts ignore
 * const stream = connStream(conn);
 * const tls = new TLSSocket(stream, { isServer: true, secureContext });
 * stream.reads.stop(); // the connection is not read until reads.start()
 * ```
 */
export function connStream(conn: Deno.Conn): ConnStream {
  connStreamClass ??= defineConnStream(nodeStream().Duplex);
  return new connStreamClass(conn);
}

let connStreamClass: (new (conn: Deno.Conn) => ConnStream) | null = null;

function defineConnStream(Base: typeof Duplex): new (conn: Deno.Conn) => ConnStream {
  return class extends Base {
    readonly #conn: Deno.Conn;
    readonly #buffer = new Uint8Array(READ_BYTES);
    #reading = false;
    /** Reading is stopped by the reader of the decrypted bytes. */
    #held = false;
    /** The stream asked for data while reading was stopped. */
    #wanted = false;
    /** The write in flight, if any. */
    #writing: Promise<void> | null = null;

    /** Stops and starts reading the connection (the consumer's flow control). */
    readonly reads: TransportReads = {
      stop: () => {
        this.#held = true;
      },
      start: () => {
        if (!this.#held) return;
        this.#held = false;
        if (this.#wanted) {
          this.#wanted = false;
          this.#pull();
        }
      },
    };

    /** @param conn The accepted connection; the stream owns it from now on. */
    constructor(conn: Deno.Conn) {
      super({ allowHalfOpen: true });
      this.#conn = conn;
    }

    override _read(): void {
      if (this.#held) this.#wanted = true;
      else this.#pull();
    }

    #pull(): void {
      if (this.#reading || this.destroyed) return;
      this.#reading = true;
      this.#conn.read(this.#buffer).then((n) => {
        this.#reading = false;
        if (n === null) this.push(null);
        else this.push(this.#buffer.slice(0, n));
      }, (error) => this.destroy(error));
    }

    override _write(
      chunk: Uint8Array,
      _encoding: string,
      callback: (error?: Error | null) => void,
    ): void {
      const writing = this.#writeAll(chunk);
      this.#writing = writing;
      writing.then(() => callback(), callback).finally(() => {
        if (this.#writing === writing) this.#writing = null;
      });
    }

    async #writeAll(chunk: Uint8Array): Promise<void> {
      let offset = 0;
      while (offset < chunk.length) {
        offset += await this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset));
      }
    }

    override _final(callback: (error?: Error | null) => void): void {
      this.#conn.closeWrite().then(() => callback(), callback);
    }

    override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
      const close = () => {
        try {
          this.#conn.close();
        } catch {
          // Already closed.
        }
        callback(error);
      };
      const writing = this.#writing;
      if (writing === null) {
        close();
        return;
      }
      // Let the write in flight (a close_notify, the end of a response) reach the socket first,
      // unless the client does not take it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) =>
        timer = setTimeout(resolve, CLOSE_NOTIFY_TIMEOUT_MS)
      );
      Promise.race([writing.catch(() => {}), late]).then(() => {
        clearTimeout(timer);
        close();
      });
    }
  };
}
