/**
 * The `socket` of `upgradeWebSocket()`: the web `WebSocket` interface (WHATWG WebSockets) over a
 * {@linkcode WebSocketSession}, behaving as the socket of `Deno.upgradeWebSocket` does.
 *
 * As Deno's server socket: `binaryType` starts as `"arraybuffer"`, `url` and `extensions` are
 * empty, `send()` before `open` throws `InvalidStateError` and after `close()` does nothing, a
 * close reason over 123 bytes throws `SyntaxError`. Unlike it: `close()` checks its code as the
 * web API does (`InvalidAccessError` for a code RFC 6455 §7.4 does not allow on the wire, where
 * Deno 2.9 sends any number: 999, 1005, 1006 or 5000 as given, 0 for NaN, and for a reason without
 * a code the reason's first two bytes), `protocol` is the selected subprotocol (Deno leaves it
 * empty), events are not `isTrusted`, `socket instanceof WebSocket` is false, and the `close`
 * event of a connection that ended without the client's Close frame has code 1006 as RFC 6455
 * §7.1.5 says (Deno reports the code it sent, or 0).
 *
 * @module
 */

import { isWireCloseCode, MAX_CLOSE_REASON_BYTES } from "../http1/websocket_close.ts";
import { type SessionEnd, type SessionLimits, WebSocketSession } from "./session.ts";
import type { SwitchedConnection } from "../connection/protocol_switch.ts";
import type { WebSocketTransport } from "./transport.ts";

/** An event handler attribute's value, as the web `WebSocket` types it. */
export type WebSocketEventHandler = ((this: WebSocket, event: Event) => unknown) | null;
type Handler = WebSocketEventHandler;

let attachSocket: (
  socket: ServerWebSocket,
  transport: WebSocketTransport,
) => SwitchedConnection;
let abortSocket: (socket: ServerWebSocket, reason: string) => void;

/** The server side of a WebSocket connection, as the web `WebSocket` interface. */
export class ServerWebSocket extends EventTarget {
  /** `readyState` before the 101 response is written. */
  static readonly CONNECTING = 0;
  /** `readyState` while messages flow. */
  static readonly OPEN = 1;
  /** `readyState` once a Close frame was sent or received. */
  static readonly CLOSING = 2;
  /** `readyState` once the connection is closed. */
  static readonly CLOSED = 3;
  /** `readyState` before the 101 response is written. */
  readonly CONNECTING = 0;
  /** `readyState` while messages flow. */
  readonly OPEN = 1;
  /** `readyState` once a Close frame was sent or received. */
  readonly CLOSING = 2;
  /** `readyState` once the connection is closed. */
  readonly CLOSED = 3;

  readonly #protocol: string;
  readonly #limits: SessionLimits;
  #readyState: 0 | 1 | 2 | 3 = 0;
  #binaryType: BinaryType = "arraybuffer";
  #session: WebSocketSession | null = null;
  /** A `close()` made before the connection was handed over: sent once it is. */
  #earlyClose: { code: number | undefined; reason: string | undefined } | null = null;
  readonly #handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>();

  static {
    attachSocket = (socket, transport) => socket.#attach(transport);
    abortSocket = (socket, reason) => socket.#abortBeforeOpen(reason);
  }

  /** Not for applications: sockets come from `upgradeWebSocket()`. */
  constructor(protocol: string, limits: SessionLimits) {
    super();
    this.#protocol = protocol;
    this.#limits = limits;
  }

  /** 0 CONNECTING until the 101 response is written, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#readyState;
  }

  /** The subprotocol selected in the handshake, or "". */
  get protocol(): string {
    return this.#protocol;
  }

  /** Always "": no extension is negotiated. */
  get extensions(): string {
    return "";
  }

  /** Always "", as on Deno's server sockets. */
  get url(): string {
    return "";
  }

  /**
   * Bytes of messages given to `send()` and not yet handed to the kernel: payload bytes, as the
   * web API counts them (frame headers, Pongs and Close are not included; an empty message adds 0).
   */
  get bufferedAmount(): number {
    return this.#session?.bufferedAmount ?? 0;
  }

  /** How binary messages are delivered: `"arraybuffer"` (the default here, as in Deno) or `"blob"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    const type = String(value);
    if (type === "blob" || type === "arraybuffer") this.#binaryType = type;
  }

  /** Called with the `open` event (an `Event`). */
  get onopen(): WebSocketEventHandler {
    return this.#getHandler("open");
  }
  set onopen(handler: WebSocketEventHandler) {
    this.#setHandler("open", handler);
  }
  /** Called with each `message` event (a `MessageEvent`: `data` is a string, ArrayBuffer or Blob). */
  get onmessage(): ((this: WebSocket, event: MessageEvent) => unknown) | null {
    return this.#getHandler("message");
  }
  set onmessage(handler: ((this: WebSocket, event: MessageEvent) => unknown) | null) {
    this.#setHandler("message", handler as Handler);
  }
  /** Called with the `error` event (an `ErrorEvent`) when the connection is failed. */
  get onerror(): ((this: WebSocket, event: Event | ErrorEvent) => unknown) | null {
    return this.#getHandler("error");
  }
  set onerror(handler: ((this: WebSocket, event: Event | ErrorEvent) => unknown) | null) {
    this.#setHandler("error", handler as Handler);
  }
  /** Called with the `close` event (a `CloseEvent`: `code`, `reason`, `wasClean`). */
  get onclose(): ((this: WebSocket, event: CloseEvent) => unknown) | null {
    return this.#getHandler("close");
  }
  set onclose(handler: ((this: WebSocket, event: CloseEvent) => unknown) | null) {
    this.#setHandler("close", handler as Handler);
  }

  /**
   * Queues a message: a string as text (UTF-8), an `ArrayBuffer`, typed array, `DataView` or
   * `Blob` as binary (the bytes are copied at once; a Blob is read in order with the other
   * messages). Throws `InvalidStateError` before `open`; does nothing once closing.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required");
    }
    if (this.#readyState === 0) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    const session = this.#session;
    if (this.#readyState !== 1 || session === null) return;
    if (typeof data === "string") session.sendText(data);
    else if (data instanceof Blob) session.sendBlob(data);
    else if (ArrayBuffer.isView(data)) {
      session.sendBinary(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    } else if (isArrayBuffer(data)) session.sendBinary(new Uint8Array(data).slice());
    else session.sendText(String(data));
  }

  /**
   * Starts the closing handshake. `code`: 1000, 1001–1003, 1007–1014 or 3000–4999 (a server may
   * send the registered codes a browser may not), else `InvalidAccessError`; `reason`: at most
   * 123 UTF-8 bytes, else `SyntaxError`. A reason without a code sends 1000; neither sends a Close
   * frame without status. Does nothing once closing.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      code = clampUnsignedShort(code);
      if (!isWireCloseCode(code)) {
        throw new DOMException(
          `The close code must be 1000, 1001-1003, 1007-1014 or in the range 3000 to 4999: received ${code}`,
          "InvalidAccessError",
        );
      }
    }
    if (reason !== undefined) {
      reason = String(reason).toWellFormed();
      if (new TextEncoder().encode(reason).length > MAX_CLOSE_REASON_BYTES) {
        throw new DOMException("The close reason may not be longer than 123 bytes", "SyntaxError");
      }
      code ??= 1000;
    }
    if (this.#readyState >= 2) return;
    if (this.#readyState === 0) {
      this.#earlyClose = { code, reason };
      this.#readyState = 2;
      return;
    }
    this.#readyState = 2;
    this.#session!.close(code, reason);
  }

  #attach(transport: WebSocketTransport): SwitchedConnection {
    if (this.#session !== null || this.#readyState === 3) {
      throw new Error("this WebSocket was already attached or aborted");
    }
    const session = new WebSocketSession(transport, {
      message: (data) => this.#onMessage(data),
      closing: () => {
        if (this.#readyState === 1) this.#readyState = 2;
      },
      closed: (end) => this.#onClosed(end),
    }, this.#limits);
    this.#session = session;
    // The engine's call returns first; `open` comes in a later turn, as in Deno.
    queueMicrotask(() => {
      const early = this.#earlyClose;
      if (early === null) {
        this.#readyState = 1;
        this.dispatchEvent(new Event("open"));
      }
      session.start();
      if (early !== null) session.close(early.code, early.reason);
    });
    return {
      closed: session.closed,
      shutdown: () => session.shutdown(),
      abort: () => session.abort(),
    };
  }

  #abortBeforeOpen(reason: string): void {
    if (this.#session !== null || this.#readyState === 3) return;
    this.#readyState = 3;
    queueMicrotask(() =>
      this.#onClosed({ code: 1006, reason: "", wasClean: false, error: reason })
    );
  }

  #onMessage(data: string | Uint8Array): void {
    if (this.#readyState !== 1) return;
    let value: string | ArrayBuffer | Blob;
    if (typeof data === "string") value = data;
    else if (this.#binaryType === "blob") value = new Blob([data as Uint8Array<ArrayBuffer>]);
    else value = exactBuffer(data);
    this.dispatchEvent(new MessageEvent("message", { data: value, origin: "" }));
  }

  #onClosed(end: SessionEnd): void {
    this.#readyState = 3;
    if (end.error !== null) {
      this.dispatchEvent(
        new ErrorEvent("error", { message: end.error, error: new Error(end.error) }),
      );
    }
    this.dispatchEvent(
      new CloseEvent("close", { code: end.code, reason: end.reason, wasClean: end.wasClean }),
    );
  }

  #getHandler(type: string): Handler {
    return this.#handlers.get(type)?.handler ?? null;
  }

  /** Event handler attributes (HTML §8.1.8.1): one listener per type, added on first set. */
  #setHandler(type: string, handler: Handler): void {
    const entry = this.#handlers.get(type);
    if (typeof handler !== "function") {
      if (entry !== undefined) {
        this.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (entry !== undefined) {
      entry.handler = handler;
      return;
    }
    const created = {
      handler: handler as Handler,
      listener: (event: Event) => void created.handler?.call(this as unknown as WebSocket, event),
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

/**
 * Hands the connection to `socket` after the 101 response was written (engine side).
 * Throws if the socket was already attached or aborted.
 */
export function attachWebSocket(
  socket: ServerWebSocket,
  transport: WebSocketTransport,
): SwitchedConnection {
  return attachSocket(socket, transport);
}

/**
 * Tells `socket` that its connection will never be handed over (the 101 could not be written, or
 * the engine refused the upgrade): it fires `error` and `close` (1006). No-op once attached.
 */
export function abortWebSocket(socket: ServerWebSocket, reason: string): void {
  abortSocket(socket, reason);
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUnsignedShort(value: number): number {
  let x = Number(value);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 0xffff);
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

function isArrayBuffer(value: unknown): value is ArrayBufferLike {
  return value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer);
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return bytes.buffer as ArrayBuffer;
  }
  return bytes.slice().buffer;
}
