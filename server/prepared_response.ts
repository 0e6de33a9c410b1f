/**
 * A `Response` whose header section was serialized ahead of time, for handlers that answer the
 * same way many times (the static-file handler's cached files).
 *
 * It is a real `Response`: handlers, middleware and tests can read and change it as usual. Its
 * `headers` are built only when someone reads them; the connection writes the prepared header
 * text only while nobody has, so a middleware that adds a header is always honoured.
 *
 * @module
 */

import { encodeLatin1, statusLine } from "./http1/response_writer.ts";
import { isFieldValue, isToken } from "./http1/syntax.ts";

/** Header fields of a prepared response, serialized once. */
export class PreparedHead {
  /** The fields as `name: value\r\n` lines (no status line, Date or framing fields). */
  readonly text: string;
  /** The same fields as pairs, for `Headers`. */
  readonly fields: readonly (readonly [string, string])[];

  /** Validates the fields once; throws TypeError on a name or value that could split a head. */
  constructor(fields: readonly (readonly [string, string])[]) {
    let text = "";
    for (const [name, value] of fields) {
      const lower = name.toLowerCase();
      if (!isToken(name) || !isFieldValue(value)) {
        throw new TypeError(`invalid header field ${JSON.stringify(name)}`);
      }
      if (
        lower === "content-length" || lower === "transfer-encoding" || lower === "connection" ||
        lower === "date"
      ) {
        continue; // The connection writes these itself.
      }
      text += `${lower}: ${value}\r\n`;
    }
    this.text = text;
    this.fields = fields;
  }

  #lastStatus = 0;
  #lastLength = -2;
  #lastConnectionMode = -1;
  #lastDate = "";
  #lastBytes: Uint8Array = new Uint8Array(0);

  /**
   * The whole head as bytes: status line, these fields, Date, Content-Length (unless `length`
   * is -1) and the connection field (`connectionMode` 1 close, 2 keep-alive, 0 none). The last
   * result is kept: the same file is usually answered the same way many times per second.
   */
  serialize(status: number, length: number, connectionMode: number, date: string): Uint8Array {
    if (
      status === this.#lastStatus && length === this.#lastLength && date === this.#lastDate &&
      connectionMode === this.#lastConnectionMode
    ) {
      return this.#lastBytes;
    }
    let head = statusLine(status) + this.text + `date: ${date}\r\n`;
    if (length !== -1) head += `content-length: ${length}\r\n`;
    if (connectionMode === 1) head += "connection: close\r\n";
    else if (connectionMode === 2) head += "connection: keep-alive\r\n";
    head += "\r\n";
    this.#lastStatus = status;
    this.#lastLength = length;
    this.#lastConnectionMode = connectionMode;
    this.#lastDate = date;
    this.#lastBytes = encodeLatin1(head);
    return this.#lastBytes;
  }
}

/**
 * A Response with a prepared head and an in-memory body.
 *
 * @example
 * ```ts
 * import { PreparedHead, PreparedResponse } from "./prepared_response.ts";
 * const head = new PreparedHead([["content-type", "text/plain; charset=utf-8"]]);
 * const response = new PreparedResponse(new TextEncoder().encode("hi"), 200, head, false);
 * console.log(response.headers.get("content-type")); // "text/plain; charset=utf-8"
 * ```
 */
export class PreparedResponse extends Response {
  /** The prepared fields. */
  readonly preparedHead: PreparedHead;
  /** The body bytes (also the Response body); null for HEAD. */
  readonly preparedBody: Uint8Array<ArrayBuffer> | null;
  /** Content-Length to announce when there is no body (HEAD). */
  readonly announcedLength: number;
  #headers: Headers | null = null;

  /**
   * @param omitBody true for HEAD: no body, but the length is announced.
   * @param forConnectionOnly the response goes straight to sockserve's connection, which sends
   *   `preparedBody` itself: the bytes are then not also copied into the `Response` body (a web
   *   `Response` copies a byte body, about 0.9 µs per KiB). Only for handlers called with the
   *   connection's own request object; anything else must get a complete Response.
   */
  constructor(
    body: Uint8Array<ArrayBuffer>,
    status: number,
    head: PreparedHead,
    omitBody: boolean,
    forConnectionOnly = false,
  ) {
    super(omitBody || forConnectionOnly ? null : body, { status });
    this.preparedHead = head;
    this.preparedBody = omitBody ? null : body;
    this.announcedLength = body.length;
  }

  /** Built on first use from the prepared fields. */
  override get headers(): Headers {
    if (this.#headers === null) {
      const headers = new Headers(this.preparedHead.fields as [string, string][]);
      if (this.preparedBody === null && !headers.has("content-length")) {
        headers.set("content-length", String(this.announcedLength));
      }
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** True while nobody has read `headers` (so nobody can have changed them). */
  get headersUntouched(): boolean {
    return this.#headers === null;
  }

  override clone(): Response {
    return new Response(this.body === null ? null : super.clone().body, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
  }
}
