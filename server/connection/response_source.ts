/**
 * Finding out, without consuming it as a stream, whether a `Response` body is already in memory.
 *
 * A body built from a string or bytes can go out with the head in one write and with a
 * Content-Length. The web `Response` API only offers `body` (a stream, created on access) or
 * `arrayBuffer()` (which would buffer a stream without backpressure). Deno keeps the body source
 * in internal fields; we read them when they are there and fall back to the stream otherwise, so
 * the fast path can never change what is sent, only how fast.
 *
 * @module
 */

/** A body in memory (string as UTF-8 later), no body, or a stream to pipe. */
export type BodySource =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "empty" }
  | {
    readonly kind: "stream";
    readonly stream: ReadableStream<Uint8Array>;
    readonly length: number | null;
  };

const encoder = new TextEncoder();
const EMPTY: BodySource = Object.freeze({ kind: "empty" });

interface InnerBody {
  streamOrStatic?: unknown;
  source?: unknown;
  length?: number | null;
}

let responseSymbol: symbol | undefined;
let lazyBodySymbol: symbol | undefined;
let probed = false;

function probe(response: Response): void {
  probed = true;
  for (const symbol of Object.getOwnPropertySymbols(response)) {
    if (symbol.description === "response") responseSymbol = symbol;
    else if (symbol.description === "lazy static body") lazyBodySymbol = symbol;
  }
}

/**
 * Returns the body of a response in the cheapest form that sends exactly the same bytes.
 *
 * @example
 * ```ts
 * import { bodySource } from "./response_source.ts";
 * const source = bodySource(new Response("hi"));
 * console.log(source.kind); // "bytes"
 * ```
 */
export function bodySource(response: Response): BodySource {
  if (!probed) probe(response);
  if (response.bodyUsed) throw new TypeError("response body already used");
  const record = response as unknown as Record<symbol, unknown>;
  if (lazyBodySymbol !== undefined) {
    const lazy = record[lazyBodySymbol];
    if (typeof lazy === "string") return { kind: "bytes", bytes: encoder.encode(lazy) };
  }
  if (responseSymbol !== undefined) {
    const inner = record[responseSymbol] as { body?: InnerBody | null } | undefined;
    if (inner !== undefined && inner !== null && "body" in inner) {
      const body = inner.body;
      if (body === null || body === undefined) return EMPTY;
      const source = body.source;
      // An empty string or buffer is content of length zero, not the absence of content: a
      // HEAD answered with it announces Content-Length: 0, like the text fast path does.
      if (source instanceof Uint8Array && !(body.streamOrStatic instanceof ReadableStream)) {
        return { kind: "bytes", bytes: source };
      }
      if (typeof source === "string" && !(body.streamOrStatic instanceof ReadableStream)) {
        return { kind: "bytes", bytes: encoder.encode(source) };
      }
      const length = typeof body.length === "number" ? body.length : null;
      const stream = response.body;
      if (stream === null) return EMPTY;
      return { kind: "stream", stream, length };
    }
  }
  const stream = response.body;
  return stream === null ? EMPTY : { kind: "stream", stream, length: null };
}

/** A response that is only a status, a content type and a string body. */
export interface TextResponseParts {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Deno's own default for a string body (fetch standard: `text/plain;charset=UTF-8`). */
const DEFAULT_TEXT_CONTENT_TYPE = "text/plain;charset=UTF-8";

let fastStatusSymbol: symbol | undefined;
let fastKindSymbol: symbol | undefined;
let fastTypeSymbol: symbol | undefined;
let fastBodySymbol: symbol | undefined;
let fastConsumedSymbol: symbol | undefined;
let fastProbed = false;

function probeFast(response: Response): void {
  fastProbed = true;
  for (const symbol of Object.getOwnPropertySymbols(response)) {
    switch (symbol.description) {
      case "serve fast status":
        fastStatusSymbol = symbol;
        break;
      case "serve fast header kind":
        fastKindSymbol = symbol;
        break;
      case "serve fast content type":
        fastTypeSymbol = symbol;
        break;
      case "serve fast body":
        fastBodySymbol = symbol;
        break;
      case "serve fast consumed":
        fastConsumedSymbol = symbol;
        break;
    }
  }
}

/**
 * For `new Response("text")`, `new Response("text", { headers: { "content-type": … } })` and
 * `Response.json(…)`, Deno records status, content type and body without building a Headers
 * object, and clears that record as soon as anything else is set (another header, a stream).
 * When the record is there, the response is exactly these three parts and can be written without
 * touching `headers` or `body`; otherwise this returns null and the general path is taken.
 */
export function textResponseParts(response: Response): TextResponseParts | null {
  if (!fastProbed) probeFast(response);
  if (!probed) probe(response);
  if (
    fastStatusSymbol === undefined || fastBodySymbol === undefined ||
    fastConsumedSymbol === undefined
  ) {
    return null;
  }
  // Only a plain Response: a subclass or an object with its own `headers`, `status` or `body`
  // may answer differently from Deno's record, and then the general path reads what it says.
  if (
    Object.getPrototypeOf(response) !== Response.prototype || Object.hasOwn(response, "headers") ||
    Object.hasOwn(response, "status") || Object.hasOwn(response, "body") ||
    Object.hasOwn(response, "statusText")
  ) {
    return null;
  }
  const record = response as unknown as Record<symbol, unknown>;
  const status = record[fastStatusSymbol];
  if (typeof status !== "number" || status === 0) return null;
  const body = record[fastBodySymbol];
  if (typeof body !== "string") return null;
  const kind = fastKindSymbol === undefined ? undefined : record[fastKindSymbol];
  let contentType: string;
  if (kind === 1) contentType = DEFAULT_TEXT_CONTENT_TYPE;
  else if (kind === 2 && fastTypeSymbol !== undefined) {
    const type = record[fastTypeSymbol];
    if (typeof type !== "string") return null;
    contentType = type;
  } else return null;
  // Unread only while Deno still holds the string lazily: reading `body` (or `bodyUsed`, or
  // `text()`) turns it into a stream and clears it, and then the general path checks use.
  if (record[fastConsumedSymbol] !== false || lazyBodySymbol === undefined) return null;
  if (record[lazyBodySymbol] !== body) return null;
  return { status, contentType, body };
}

/** Whether a response's content is a stream (not a string or bytes in memory, nor absent). */
export function isStreamed(response: Response): boolean {
  return bodySource(response).kind === "stream";
}
