/**
 * A stand-in for the engine's side of a WebSocket upgrade, for phase-1 tests: a raw `Deno.listen`
 * server on 127.0.0.1 that reads one request head, runs it through `createWebSocketUpgrade()`
 * (via the test's `onRequest`), writes the 101 head (or the handshake error) by hand, and hands
 * the connection to the WebSocket through {@linkcode ConnTransport}. It follows the contract of
 * server/websocket/upgrade.ts step by step, so the engine can do the same.
 *
 * @module
 */

import { Clock } from "../../server/clock.ts";
import { RequestParser } from "../../server/http1/request_parser.ts";
import { encodeLatin1, encodeResponseHead } from "../../server/http1/response_head.ts";
import type { HandshakeRequest } from "../../server/http1/websocket_handshake.ts";
import type { AttachedWebSocket } from "../../server/websocket/socket.ts";
import type { WebSocketClock, WebSocketTransport } from "../../server/websocket/transport.ts";
import {
  takeWebSocketUpgrade,
  WebSocketHandshakeError,
  type WebSocketUpgrade,
} from "../../server/websocket/upgrade.ts";

/** A transport over a `Deno.Conn`, what the engine's own will do with its pooled buffers. */
export class ConnTransport implements WebSocketTransport {
  readonly #conn: Deno.Conn;
  readonly initialBytes: Uint8Array;
  readonly clock: WebSocketClock;
  #closed = false;

  constructor(conn: Deno.Conn, initialBytes: Uint8Array, clock: WebSocketClock) {
    this.#conn = conn;
    this.initialBytes = initialBytes;
    this.clock = clock;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  async closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch {
      // Already closed: nothing to half-close.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed by the peer's reset already.
    }
  }
}

/** What the test's request callback returns: an upgrade, or a plain response to write. */
export type OnRequest = (request: HandshakeRequest) => WebSocketUpgrade | Response;

/** A running stand-in server. */
export interface WebSocketTestServer extends AsyncDisposable {
  readonly port: number;
  /** Every WebSocket handed a connection, in accept order. */
  readonly attached: AttachedWebSocket[];
  /** Calls back when a connection is handed over (after the 101 head was written). */
  onAttach: ((attached: AttachedWebSocket) => void) | null;
  /** Shutdown as the engine will do it: Close 1001 to all, then abort after `graceMs`. */
  shutdown(graceMs: number): Promise<void>;
}

const HEAD_END = encodeLatin1("\r\n\r\n");
const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

/** Starts the stand-in server on an OS-chosen port. */
export function startWebSocketServer(onRequest: OnRequest): WebSocketTestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const clock = new Clock();
  const attached: AttachedWebSocket[] = [];
  const connections = new Set<Promise<void>>();
  const server: WebSocketTestServer = {
    port: (listener.addr as Deno.NetAddr).port,
    attached,
    onAttach: null,
    async shutdown(graceMs: number) {
      for (const socket of attached) socket.shutdown();
      const all = Promise.all(attached.map((socket) => socket.closed));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([all, grace]);
      clearTimeout(timer);
      for (const socket of attached) socket.abort();
      await all;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const socket of attached) socket.abort();
      await Promise.all(attached.map((socket) => socket.closed));
      await Promise.allSettled(connections);
      clock.stop();
    },
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const handled = handle(conn).catch(() => {});
      connections.add(handled);
      handled.finally(() => connections.delete(handled));
    }
  })().catch(() => {});

  async function handle(conn: Deno.Conn): Promise<void> {
    const received = await readHead(conn);
    if (received === null) {
      conn.close();
      return;
    }
    const { head, rest } = received;
    const parser = new RequestParser();
    parser.feed(head);
    const event = parser.next();
    if (event.type !== "head") throw new Error("not a request head");
    const request: HandshakeRequest = {
      method: event.head.method,
      minorVersion: event.head.minorVersion,
      headers: event.head.fields,
    };
    let result: WebSocketUpgrade | Response;
    try {
      result = onRequest(request);
    } catch (error) {
      if (!(error instanceof WebSocketHandshakeError)) throw error;
      result = error.toResponse();
    }
    const response = result instanceof Response ? result : result.response;
    const pending = takeWebSocketUpgrade(response);
    if (pending === null) {
      const body = new Uint8Array(await response.arrayBuffer());
      const bytes = encodeLatin1(encodeResponseHead({
        status: response.status,
        fields: response.headers,
        framing: { kind: "length", length: body.length },
        announcedLength: null,
        connection: "close",
        date: DATE,
      }));
      await writeAll(conn, concat(bytes, body));
      conn.close();
      return;
    }
    try {
      await writeAll(conn, await pending.responseHead(DATE));
    } catch (error) {
      pending.abort(`the 101 response could not be written: ${error}`);
      conn.close();
      return;
    }
    const socket = pending.attach(new ConnTransport(conn, rest, clock));
    attached.push(socket);
    server.onAttach?.(socket);
    await socket.closed;
  }

  return server;
}

/** Reads up to the end of the request head; returns the head and the bytes after it. */
async function readHead(conn: Deno.Conn): Promise<{ head: Uint8Array; rest: Uint8Array } | null> {
  let buffered: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    const end = indexOf(buffered, HEAD_END);
    if (end >= 0) {
      return {
        head: buffered.slice(0, end + 4),
        rest: buffered.slice(end + 4),
      };
    }
    if (buffered.length > 16 * 1024) return null;
    const count = await conn.read(chunk);
    if (count === null) return null;
    buffered = concat(buffered, chunk.subarray(0, count));
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const result = new Uint8Array(a.length + b.length);
  result.set(a, 0);
  result.set(b, a.length);
  return result;
}
