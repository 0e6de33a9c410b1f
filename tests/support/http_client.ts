/**
 * A raw-socket HTTP/1.1 test client: connect, write exact bytes, read exact bytes, and parse the
 * responses strictly (so that a malformed response from the server fails the test).
 *
 * The parser understands the three ways a response body can be delimited (RFC 9112 §6.3):
 * Content-Length, chunked (with trailers) and close-delimited, plus bodiless responses (HEAD,
 * 1xx, 204, 304). Interim 1xx responses are returned as responses of their own.
 *
 * Every wait is bounded by a safety timeout so that a broken server fails a test instead of
 * hanging it; the timeout is a bound, never a synchronization device.
 *
 * @module
 */

/** Bound on any single wait of the client, in milliseconds. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;

/** One parsed response. */
export interface ParsedResponse {
  /** `"HTTP/1.1"` (or whatever the server wrote). */
  readonly version: string;
  readonly status: number;
  /** Reason phrase as written (may be empty). */
  readonly reason: string;
  /** Header fields in wire order, names as written. */
  readonly headers: readonly [string, string][];
  /** How the body was delimited. */
  readonly framing: "none" | "length" | "chunked" | "close";
  /** Body bytes after removing chunked framing. */
  readonly body: Uint8Array;
  /** Trailer fields of a chunked body. */
  readonly trailers: readonly [string, string][];
  /** The exact bytes of this response on the wire, head and framed body, as Latin-1 text. */
  readonly raw: string;
  /** The head only (status line and fields, with the final CRLF), as Latin-1 text. */
  readonly head: string;
}

/** Combined value of a header (case-insensitive), or null. */
export function header(response: ParsedResponse, name: string): string | null {
  const lower = name.toLowerCase();
  const values = response.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? null : values.join(", ");
}

/** Number of header lines with this name (case-insensitive). */
export function headerCount(response: ParsedResponse, name: string): number {
  const lower = name.toLowerCase();
  return response.headers.filter(([n]) => n.toLowerCase() === lower).length;
}

/** The body decoded as UTF-8. */
export function bodyText(response: ParsedResponse): string {
  return new TextDecoder().decode(response.body);
}

/** Encodes a string of code units 0..255 byte for byte (test requests are written this way). */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`not a Latin-1 string at ${i}`);
    bytes[i] = code;
  }
  return bytes;
}

/** Decodes bytes to a string with one code unit per byte. */
export function latin1Text(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** IMF-fixdate (RFC 9110 §5.6.7). */
export const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

/**
 * Replaces the value of every `date` header line with `<date>` after checking that it is an
 * IMF-fixdate, so that whole responses can be compared byte for byte.
 */
export function normalizeDate(raw: string): string {
  return raw.replace(/(^|\r\n)(date): ([^\r\n]*)/gi, (_match, before, name, value) => {
    if (!IMF_FIXDATE.test(value)) throw new Error(`Date is not an IMF-fixdate: ${value}`);
    return `${before}${name}: <date>`;
  });
}

/** A response that does not follow RFC 9112: the server wrote something malformed. */
export class MalformedResponseError extends Error {
  override name = "MalformedResponseError";
}

const enum ParserState {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Close,
}

/**
 * Incremental strict response parser. Feed bytes; complete responses come out of `take()`.
 *
 * @example
 * ```ts
 * import { ResponseParser } from "./http_client.ts";
 * const parser = new ResponseParser();
 * parser.feed(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"));
 * console.log(parser.take()[0]?.status); // 200
 * ```
 */
export class ResponseParser {
  #buffer = "";
  #state = ParserState.Head;
  #current: {
    version: string;
    status: number;
    reason: string;
    headers: [string, string][];
    head: string;
    framing: ParsedResponse["framing"];
    body: number[][];
    bodyLength: number;
    trailers: [string, string][];
    raw: string;
  } | null = null;
  #remaining = 0;
  #done: ParsedResponse[] = [];
  /** Methods of the requests, in order: a response to HEAD has no body. */
  readonly #methods: string[];
  #finalCount = 0;

  constructor(requestMethods: readonly string[] = []) {
    this.#methods = [...requestMethods];
  }

  /** Number of complete responses parsed so far (including those already taken). */
  completed = 0;

  /** Number of complete final (non-1xx) responses parsed so far. */
  get finalCompleted(): number {
    return this.#finalCount;
  }

  /** Adds received bytes; throws {@linkcode MalformedResponseError} on bad syntax. */
  feed(bytes: Uint8Array): void {
    this.#buffer += latin1Text(bytes);
    this.#advance();
  }

  /** The peer closed: completes a close-delimited body; throws if a response is cut short. */
  end(): void {
    if (this.#state === ParserState.Close && this.#current !== null) {
      this.#appendBody(this.#buffer);
      this.#current.raw += this.#buffer;
      this.#buffer = "";
      this.#finish();
      return;
    }
    if (this.#current !== null || this.#buffer.length > 0) {
      throw new MalformedResponseError(
        `connection closed inside a response (state ${this.#state}, ${this.#buffer.length} ` +
          `bytes pending: ${JSON.stringify(this.#buffer.slice(0, 200))})`,
      );
    }
  }

  /** True when no response is in progress and no bytes are pending. */
  get isIdle(): boolean {
    return this.#current === null && this.#buffer.length === 0;
  }

  /** Returns the responses completed since the last call. */
  take(): ParsedResponse[] {
    const done = this.#done;
    this.#done = [];
    return done;
  }

  #advance(): void {
    for (;;) {
      switch (this.#state) {
        case ParserState.Head: {
          const end = this.#buffer.indexOf("\r\n\r\n");
          if (end === -1) {
            this.#checkLineEndings(this.#buffer);
            return;
          }
          const head = this.#buffer.slice(0, end + 4);
          this.#buffer = this.#buffer.slice(end + 4);
          this.#startResponse(head);
          continue;
        }
        case ParserState.Length: {
          if (this.#buffer.length === 0 && this.#remaining > 0) return;
          const take = Math.min(this.#remaining, this.#buffer.length);
          this.#consumeBody(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return;
          this.#finish();
          continue;
        }
        case ParserState.ChunkSize: {
          const end = this.#buffer.indexOf("\r\n");
          if (end === -1) {
            this.#checkLineEndings(this.#buffer);
            return;
          }
          const line = this.#buffer.slice(0, end);
          this.#consumeRaw(end + 2);
          const match = /^([0-9a-fA-F]+)(;.*)?$/.exec(line);
          if (match === null) throw new MalformedResponseError(`bad chunk-size line ${line}`);
          const size = parseInt(match[1]!, 16);
          if (size === 0) {
            this.#state = ParserState.Trailers;
          } else {
            this.#remaining = size;
            this.#state = ParserState.ChunkData;
          }
          continue;
        }
        case ParserState.ChunkData: {
          if (this.#buffer.length === 0) return;
          const take = Math.min(this.#remaining, this.#buffer.length);
          this.#consumeBody(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return;
          this.#state = ParserState.ChunkDataEnd;
          continue;
        }
        case ParserState.ChunkDataEnd: {
          if (this.#buffer.length < 2) return;
          if (!this.#buffer.startsWith("\r\n")) {
            throw new MalformedResponseError("chunk data not followed by CRLF");
          }
          this.#consumeRaw(2);
          this.#state = ParserState.ChunkSize;
          continue;
        }
        case ParserState.Trailers: {
          const end = this.#buffer.indexOf("\r\n");
          if (end === -1) return;
          const line = this.#buffer.slice(0, end);
          this.#consumeRaw(end + 2);
          if (line === "") {
            this.#finish();
            continue;
          }
          this.#current!.trailers.push(parseFieldLine(line));
          continue;
        }
        case ParserState.Close:
          return; // Completed by end().
      }
    }
  }

  #checkLineEndings(text: string): void {
    // A bare LF or CR in a head the server wrote is a bug we want to see at once.
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 0x0a && (i === 0 || text.charCodeAt(i - 1) !== 0x0d)) {
        throw new MalformedResponseError(`bare LF in response head: ${JSON.stringify(text)}`);
      }
    }
  }

  #startResponse(head: string): void {
    const lines = head.slice(0, -4).split("\r\n");
    for (const line of lines) {
      if (/[\r\n\0]/.test(line)) {
        throw new MalformedResponseError(
          `bare CR/LF/NUL in response head: ${JSON.stringify(head)}`,
        );
      }
    }
    const statusLine = lines[0]!;
    const match = /^(HTTP\/\d\.\d) (\d{3}) ([\t\x20-\x7e\x80-\xff]*)$/.exec(statusLine);
    if (match === null) throw new MalformedResponseError(`bad status line ${statusLine}`);
    const headers = lines.slice(1).map(parseFieldLine);
    const status = Number(match[2]);
    const current = {
      version: match[1]!,
      status,
      reason: match[3]!,
      headers,
      head,
      framing: "none" as ParsedResponse["framing"],
      body: [] as number[][],
      bodyLength: 0,
      trailers: [] as [string, string][],
      raw: head,
    };
    this.#current = current;
    const get = (name: string) => headers.filter(([n]) => n.toLowerCase() === name);
    const method = status >= 200 ? this.#methods[this.#finalCount] : undefined;
    const te = get("transfer-encoding");
    const cl = get("content-length");
    if (te.length > 0 && cl.length > 0) {
      throw new MalformedResponseError("response has both Transfer-Encoding and Content-Length");
    }
    if (cl.length > 1) throw new MalformedResponseError("response has several Content-Length");
    if (status < 200 || status === 204) {
      if (te.length > 0 || cl.length > 0) {
        throw new MalformedResponseError(`${status} response carries framing fields`);
      }
    }
    if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
      this.#finish();
      return;
    }
    if (te.length > 0) {
      if (te.map(([, v]) => v.toLowerCase()).join(",") !== "chunked") {
        throw new MalformedResponseError(`unexpected Transfer-Encoding ${te.join()}`);
      }
      current.framing = "chunked";
      this.#state = ParserState.ChunkSize;
      return;
    }
    if (cl.length === 1) {
      const value = cl[0]![1];
      if (!/^\d+$/.test(value)) throw new MalformedResponseError(`bad Content-Length ${value}`);
      current.framing = "length";
      this.#remaining = Number(value);
      this.#state = ParserState.Length;
      return;
    }
    current.framing = "close";
    this.#state = ParserState.Close;
  }

  #consumeRaw(count: number): void {
    this.#current!.raw += this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.slice(count);
  }

  #consumeBody(count: number): void {
    this.#appendBody(this.#buffer.slice(0, count));
    this.#consumeRaw(count);
  }

  #appendBody(text: string): void {
    const codes: number[] = new Array(text.length);
    for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
    this.#current!.body.push(codes);
    this.#current!.bodyLength += text.length;
  }

  #finish(): void {
    const current = this.#current!;
    const body = new Uint8Array(current.bodyLength);
    let offset = 0;
    for (const part of current.body) {
      body.set(part, offset);
      offset += part.length;
    }
    this.#done.push({
      version: current.version,
      status: current.status,
      reason: current.reason,
      headers: current.headers,
      framing: current.framing,
      body,
      trailers: current.trailers,
      raw: current.raw,
      head: current.head,
    });
    this.completed++;
    if (current.status >= 200) this.#finalCount++;
    this.#current = null;
    this.#state = ParserState.Head;
  }
}

function parseFieldLine(line: string): [string, string] {
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
  if (match === null) throw new MalformedResponseError(`bad field line ${JSON.stringify(line)}`);
  const value = match[2]!;
  if (hasControlCharacter(value)) {
    throw new MalformedResponseError(`control character in field value ${JSON.stringify(line)}`);
  }
  return [match[1]!, value];
}

/** True for a CTL other than HTAB (RFC 9110 §5.5 field values exclude them). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Parses a complete byte string (ended by close) into responses. */
export function parseResponses(
  bytes: Uint8Array | string,
  requestMethods: readonly string[] = [],
): ParsedResponse[] {
  const parser = new ResponseParser(requestMethods);
  parser.feed(typeof bytes === "string" ? latin1Bytes(bytes) : bytes);
  parser.end();
  return parser.take();
}

/** How a connection ended, seen from the client. */
export type CloseKind = "eof" | "reset";

/**
 * One raw connection to a server (TCP, TLS or a Unix socket), with a strict response parser
 * attached.
 *
 * @example
 * ```ts ignore
 * const client = await RawClient.connect(port);
 * await client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
 * const [response] = await client.readResponses(1);
 * client.close();
 * ```
 */
export class RawClient {
  readonly conn: Deno.Conn;
  readonly #parser: ResponseParser;
  readonly #buffer = new Uint8Array(64 * 1024);
  /** Every byte received so far. */
  #received: Uint8Array[] = [];
  #receivedLength = 0;
  #eof: CloseKind | null = null;
  #closed = false;
  #pending: ParsedResponse[] = [];
  #read: Promise<number | null> | null = null;

  private constructor(conn: Deno.Conn, requestMethods: readonly string[]) {
    this.conn = conn;
    this.#parser = new ResponseParser(requestMethods);
  }

  /**
   * Connects to 127.0.0.1:`port`. `requestMethods` lists the methods of the requests that will
   * be sent, in order, when some are HEAD (their responses have no body).
   */
  static async connect(port: number, requestMethods: readonly string[] = []): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port, transport: "tcp" });
    return new RawClient(conn, requestMethods);
  }

  /** A client over a connection already open (TLS, a Unix socket). */
  static over(conn: Deno.Conn, requestMethods: readonly string[] = []): RawClient {
    return new RawClient(conn, requestMethods);
  }

  /** All bytes received so far, as Latin-1 text. */
  get receivedText(): string {
    return latin1Text(this.receivedBytes);
  }

  /** All bytes received so far. */
  get receivedBytes(): Uint8Array {
    const out = new Uint8Array(this.#receivedLength);
    let offset = 0;
    for (const part of this.#received) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** How the server ended the connection, or null while it is open. */
  get closedBy(): CloseKind | null {
    return this.#eof;
  }

  /** Writes all of `data` (a string is sent as Latin-1). */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Sends small writes at once (TCP_NODELAY) where the connection is TCP. */
  setNoDelay(): void {
    if ("setNoDelay" in this.conn) (this.conn as Deno.TcpConn).setNoDelay(true);
  }

  /** Writes `data` one byte per write call (each goes out in its own TCP segment: no delay). */
  async writeByteByByte(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    this.setNoDelay();
    for (let i = 0; i < bytes.length; i++) await this.conn.write(bytes.subarray(i, i + 1));
  }

  /** Reads once (bounded in time); returns false at EOF or reset. */
  async #readOnce(timeoutMs: number, what: string): Promise<boolean> {
    if (this.#eof !== null) return false;
    this.#read ??= this.conn.read(this.#buffer).catch((error) => {
      if (error instanceof Deno.errors.ConnectionReset) {
        this.#eof = "reset";
        return null;
      }
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        this.#eof = "eof";
        return null;
      }
      throw error;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const n = await Promise.race([this.#read, timeout]);
      if (n === "timeout") {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; received so far: ${
            JSON.stringify(this.receivedText.slice(-500))
          }`,
        );
      }
      this.#read = null;
      if (n === null) {
        this.#eof ??= "eof";
        return false;
      }
      const copy = this.#buffer.slice(0, n);
      this.#received.push(copy);
      this.#receivedLength += n;
      this.#parser.feed(copy);
      this.#pending.push(...this.#parser.take());
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads until `count` more complete responses (interim 1xx included) have been parsed.
   * Throws if the connection closes first.
   */
  async readResponses(
    count: number,
    timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
  ): Promise<ParsedResponse[]> {
    while (this.#pending.length < count) {
      if (!await this.#readOnce(timeoutMs, `${count} responses`)) {
        this.#parser.end();
        this.#pending.push(...this.#parser.take());
        if (this.#pending.length < count) {
          throw new Error(
            `connection closed (${this.#eof}) after ${this.#pending.length} of ${count} ` +
              `responses; received: ${JSON.stringify(this.receivedText.slice(-500))}`,
          );
        }
      }
    }
    return this.#pending.splice(0, count);
  }

  /** Reads one response. */
  async readResponse(timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS): Promise<ParsedResponse> {
    return (await this.readResponses(1, timeoutMs))[0]!;
  }

  /**
   * Reads until the server closes the connection; returns the responses not yet read and how
   * the connection ended. A response cut short by the close throws.
   */
  async readUntilClose(
    timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
  ): Promise<{ responses: ParsedResponse[]; closedBy: CloseKind }> {
    while (await this.#readOnce(timeoutMs, "the server to close the connection"));
    this.#parser.end();
    this.#pending.push(...this.#parser.take());
    const responses = this.#pending;
    this.#pending = [];
    return { responses, closedBy: this.#eof ?? "eof" };
  }

  /** Reads until at least `length` bytes in total have been received. */
  async readBytes(length: number, timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS): Promise<void> {
    while (this.#receivedLength < length) {
      if (!await this.#readOnce(timeoutMs, `${length} bytes`)) {
        throw new Error(`connection closed after ${this.#receivedLength} of ${length} bytes`);
      }
    }
  }

  /** Half-closes the sending side (the server sees EOF). */
  async closeWrite(): Promise<void> {
    await this.conn.closeWrite();
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Closes and then awaits the read in flight, if any, so no op outlives the test. */
  async dispose(): Promise<void> {
    this.close();
    if (this.#read !== null) await this.#read.catch(() => null);
    this.#read = null;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/**
 * Opens a connection, writes `request`, reads until the server closes it (or until
 * `responseCount` responses when given, then closes) and returns the responses.
 */
export async function exchange(
  port: number,
  request: string | Uint8Array,
  options: { responseCount?: number; requestMethods?: readonly string[] } = {},
): Promise<{ responses: ParsedResponse[]; raw: string; closedBy: CloseKind | null }> {
  const client = await RawClient.connect(port, options.requestMethods ?? []);
  try {
    await client.write(request);
    if (options.responseCount !== undefined) {
      const responses = await client.readResponses(options.responseCount);
      return { responses, raw: client.receivedText, closedBy: client.closedBy };
    }
    const { responses, closedBy } = await client.readUntilClose();
    return { responses, raw: client.receivedText, closedBy };
  } finally {
    await client.dispose();
  }
}
