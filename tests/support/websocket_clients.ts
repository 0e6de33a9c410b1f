/**
 * Clients for the WebSocket end-to-end tests: an inbox that turns events into awaitable values,
 * a real `serve()` that upgrades every request with the given options and hands each socket to
 * the test, and a raw TCP client that speaks the handshake and frames by hand (for what real
 * clients never send).
 *
 * @module
 */

import { MessageReader, type WebSocketEvent } from "../../server/http1/websocket_messages.ts";
import {
  type ServeOptions,
  upgradeWebSocket,
  type UpgradeWebSocketOptions,
} from "../../server/mod.ts";
import { startServer, type TestServer } from "./test_server.ts";

/** Values pushed by event handlers, taken in order by the test. */
export class Inbox<T> {
  readonly #values: T[] = [];
  readonly #waiters: ((value: T) => void)[] = [];

  push(value: T): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(value);
    else this.#values.push(value);
  }

  /** The next value (waits for it). */
  next(): Promise<T> {
    if (this.#values.length > 0) return Promise.resolve(this.#values.shift()!);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Values pushed and not taken yet. */
  get pending(): readonly T[] {
    return this.#values;
  }
}

/** What the server side of a test saw of one socket. */
export interface ServerSide {
  socket: WebSocket;
  /** "open", "message", "error: <message>", "close" in order. */
  events: string[];
  messages: Inbox<string | ArrayBuffer | Blob>;
  closed: Promise<CloseEvent>;
  /** The error event's message, once one fired. */
  error: string | null;
}

/** A running {@linkcode serveWebSockets} server. */
export interface WebSocketTestServer extends TestServer {
  /** Each socket made by `upgradeWebSocket()`, in the order the handler made them. */
  readonly sockets: Inbox<ServerSide>;
}

/**
 * Time `shutdown()` gives the WebSockets still open when a test ends (1001 and the client's
 * answer take milliseconds; a raw client the test left silent is cut off after this).
 */
const TEST_GRACE_PERIOD_MS = 2_000;

/**
 * A real `serve()` whose handler upgrades every request with `upgradeWebSocket(request,
 * options)`; each new socket is pushed to `sockets`. A handshake that is not valid throws out of
 * the handler, as an application that does not catch it would let it (the engine answers 400 or
 * 426). `serveOptions` go to `serve()` (gracePeriodMs defaults to 2 s here).
 */
export function serveWebSockets(
  options: UpgradeWebSocketOptions = {},
  setup: (socket: WebSocket) => void = () => {},
  serveOptions: ServeOptions = {},
): WebSocketTestServer {
  const sockets = new Inbox<ServerSide>();
  const server = startServer((request) => {
    const upgrade = upgradeWebSocket(request, options);
    sockets.push(watchSocket(upgrade.socket));
    setup(upgrade.socket);
    return upgrade.response;
  }, { gracePeriodMs: TEST_GRACE_PERIOD_MS, ...serveOptions });
  return Object.assign(server, { sockets });
}

/** Records what happens to a server socket, from before it opens. */
export function watchSocket(socket: WebSocket): ServerSide {
  const closed = Promise.withResolvers<CloseEvent>();
  const side: ServerSide = {
    socket,
    events: [],
    messages: new Inbox(),
    closed: closed.promise,
    error: null,
  };
  socket.onopen = () => side.events.push("open");
  socket.onmessage = (event) => {
    side.events.push("message");
    side.messages.push(event.data);
  };
  socket.onerror = (event) => {
    side.error = (event as ErrorEvent).message;
    side.events.push(`error: ${side.error}`);
  };
  socket.onclose = (event) => {
    side.events.push("close");
    closed.resolve(event);
  };
  return side;
}

/**
 * Waits until the server holds `count` connections: a slot is freed when the connection's last
 * task ends, which no event announces to the outside. Polls every 10 ms, for at most `ms`.
 */
export async function connectionCountReaches(
  test: TestServer,
  count: number,
  ms = 3_000,
): Promise<number> {
  const deadline = performance.now() + ms;
  while (test.server.connectionCount !== count && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return test.server.connectionCount;
}

/** Deno's own WebSocket client, opened at `path`, with its messages and close event. */
export async function denoClient(
  port: number,
  protocols?: string[],
  path = "/",
): Promise<{ ws: WebSocket; messages: Inbox<string | ArrayBuffer>; closed: Promise<CloseEvent> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
  ws.binaryType = "arraybuffer";
  const messages = new Inbox<string | ArrayBuffer>();
  const closed = Promise.withResolvers<CloseEvent>();
  const opened = Promise.withResolvers<void>();
  ws.onmessage = (event) => messages.push(event.data);
  ws.onclose = (event) => {
    closed.resolve(event);
    opened.reject(new Error(`closed before open: ${event.code}`));
  };
  ws.onopen = () => opened.resolve();
  await opened.promise;
  return { ws, messages, closed: closed.promise };
}

const HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/**
 * The handshake request a raw client sends, with fields replaced or removed (null), as
 * HTTP/`version`.
 */
export function handshakeRequest(
  fields: Record<string, string | null> = {},
  version = "1.1",
): string {
  const all: Record<string, string | null> = {
    host: "127.0.0.1",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": HANDSHAKE_KEY,
    "sec-websocket-version": "13",
    ...fields,
  };
  let request = `GET /chat HTTP/${version}\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value !== null) request += `${name}: ${value}\r\n`;
  }
  return request + "\r\n";
}

/** A client speaking WebSocket by hand, over TCP (or any connection: {@linkcode RawClient.over}). */
export class RawClient {
  readonly conn: Deno.Conn;
  readonly #reader = new MessageReader({ expectMasked: false, maxMessageBytes: 1 << 30 });
  #buffer = new Uint8Array(0);
  #events: WebSocketEvent[] = [];
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Completes the handshake over `conn` (a Unix socket, say); the response head is read. */
  static async over(conn: Deno.Conn): Promise<RawClient> {
    const client = new RawClient(conn);
    await client.write(new TextEncoder().encode(handshakeRequest()));
    const head = await client.readHead();
    if (!head.startsWith("HTTP/1.1 101 ")) throw new Error(`no 101: ${head}`);
    return client;
  }

  /** Connects and sends `request` (and `extra` bytes in the same write); does not read. */
  static async connect(
    port: number,
    request = handshakeRequest(),
    extra: Uint8Array = new Uint8Array(0),
  ): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawClient(conn);
    const head = new TextEncoder().encode(request);
    const bytes = new Uint8Array(head.length + extra.length);
    bytes.set(head);
    bytes.set(extra, head.length);
    await client.write(bytes);
    return client;
  }

  /** Connects, completes the handshake and returns the client with the response head read. */
  static async open(port: number, extra: Uint8Array = new Uint8Array(0)): Promise<RawClient> {
    const client = await RawClient.connect(port, handshakeRequest(), extra);
    const head = await client.readHead();
    if (!head.startsWith("HTTP/1.1 101 ")) throw new Error(`no 101: ${head}`);
    return client;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Reads up to the end of a response head; returns it (bytes after it stay buffered). */
  async readHead(): Promise<string> {
    for (;;) {
      const text = new TextDecoder("latin1").decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#buffer = this.#buffer.slice(end + 4);
        return text.slice(0, end + 4);
      }
      if (!(await this.#fill())) return text;
    }
  }

  /** Reads a whole response (head and a Content-Length body) as text. */
  async readResponse(): Promise<string> {
    const head = await this.readHead();
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    while (this.#buffer.length < length) if (!(await this.#fill())) break;
    const body = new TextDecoder().decode(this.#buffer.subarray(0, length));
    this.#buffer = this.#buffer.slice(length);
    return head + body;
  }

  /** The next event from the server, or null once the server closed the connection. */
  async nextEvent(): Promise<WebSocketEvent | null> {
    for (;;) {
      const event = this.#events.shift();
      if (event !== undefined) return event;
      if (this.#buffer.length > 0) {
        this.#reader.feed(this.#buffer);
        this.#buffer = new Uint8Array(0);
        for (
          let next = this.#reader.next();
          next.type !== "need-data";
          next = this.#reader.next()
        ) {
          this.#events.push(next);
        }
        continue;
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** Whether the server closed the connection: reads (and drops) until the end. */
  async readToEnd(): Promise<void> {
    while (await this.#fill()) this.#buffer = new Uint8Array(0);
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const chunk = new Uint8Array(64 * 1024);
    let count: number | null;
    try {
      count = await this.conn.read(chunk);
    } catch {
      count = null;
    }
    if (count === null) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#buffer.length + count);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, count), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
