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
 * import { bodySource } from "./response_body.ts";
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
      if (source instanceof Uint8Array && !(body.streamOrStatic instanceof ReadableStream)) {
        return source.length === 0 ? EMPTY : { kind: "bytes", bytes: source };
      }
      if (typeof source === "string" && !(body.streamOrStatic instanceof ReadableStream)) {
        return source.length === 0 ? EMPTY : { kind: "bytes", bytes: encoder.encode(source) };
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
