/**
 * Prepared answers: for handlers that answer the same way many times (the file server's cached
 * files), a head whose bytes the one encoder made once, and content already in memory.
 *
 * A handler made with {@linkcode preparedHandler} has two faces. Its ordinary face is a plain
 * `(Request) => Response` handler: every answer is a complete `Response` (its fields in its
 * `Headers`, its content in its body), so `Deno.serve`, middleware, wrappers and tests see what
 * they expect. Its prepared face is for sockserve's connection only, which calls it directly
 * (server/connection/exchange.ts) with a parsed request and writes a prepared answer without
 * building a `Request`, a `Headers` or a body. Both faces go through the same encoder, so they
 * put the same bytes on the wire (tests/static_prepared_face_test.ts compares them); nothing
 * outside the connection needs to know the prepared face exists.
 *
 * @module
 */

import type { ConnectionField, ResponseFramingDecision } from "./http1/response_framing.ts";
import { encodeLatin1, encodeResponseHead } from "./http1/response_head.ts";
import { isFieldValue, isToken } from "./http1/syntax.ts";
import type { RequestLike } from "./request_like.ts";

/**
 * Header fields of a prepared response, validated once, with the last head encoded from them
 * kept for reuse. The bytes come from the one response-head encoder, given the fields in the
 * order a `Headers` object made from them iterates — what the general path would write for the
 * same response — so using the prepared head never changes a byte.
 */
export class PreparedHead {
  /** The fields as given. */
  readonly fields: readonly (readonly [string, string])[];
  /** The fields as `new Headers(fields)` iterates them (sorted, combined). */
  readonly #ordered: readonly (readonly [string, string])[];

  /** Validates the fields once; throws TypeError on a name or value that could split a head. */
  constructor(fields: readonly (readonly [string, string])[]) {
    for (const [name, value] of fields) {
      if (!isToken(name) || !isFieldValue(value)) {
        throw new TypeError(`invalid header field ${JSON.stringify(name)}`);
      }
    }
    this.fields = fields;
    this.#ordered = [...new Headers(fields as [string, string][])];
  }

  #lastStatus = 0;
  #lastFraming: ResponseFramingDecision | null = null;
  #lastConnection: ConnectionField = "none";
  #lastDate = "";
  #lastBytes: Uint8Array = new Uint8Array(0);

  /**
   * The whole head as bytes for a status, a framing decision, a connection option and a Date
   * value. The last result is kept: the same file is usually answered the same way many times
   * per second.
   */
  encode(
    status: number,
    framing: ResponseFramingDecision,
    connection: ConnectionField,
    date: string,
  ): Uint8Array {
    const last = this.#lastFraming;
    if (
      status === this.#lastStatus && date === this.#lastDate &&
      connection === this.#lastConnection && last !== null &&
      last.announcedLength === framing.announcedLength && sameFraming(last, framing)
    ) {
      return this.#lastBytes;
    }
    const bytes = encodeLatin1(encodeResponseHead({
      status,
      fields: this.#ordered,
      framing: framing.framing,
      announcedLength: framing.announcedLength,
      connection,
      date,
    }));
    this.#lastStatus = status;
    this.#lastFraming = framing;
    this.#lastConnection = connection;
    this.#lastDate = date;
    this.#lastBytes = bytes;
    return bytes;
  }
}

function sameFraming(a: ResponseFramingDecision, b: ResponseFramingDecision): boolean {
  const x = a.framing;
  const y = b.framing;
  return x.kind === y.kind && (x.kind !== "length" || x.length === (y as typeof x).length);
}

/** An answer in memory: status, prepared fields and the whole content. */
export interface PreparedAnswer {
  readonly status: number;
  readonly head: PreparedHead;
  /** The whole content, also for HEAD (whose response announces its length and omits it). */
  readonly content: Uint8Array<ArrayBuffer>;
}

/** What a prepared responder answers: a prepared answer, or any ordinary Response. */
export type PreparedResult = PreparedAnswer | Response;

/** The prepared face: a responder that reads only method, url and header lookups. */
export type PreparedResponder = (request: RequestLike) => PreparedResult | Promise<PreparedResult>;

const PREPARED_FACE = Symbol("sockserve.preparedFace");

/**
 * Makes a handler from a prepared responder: its ordinary face answers with complete Responses
 * (a prepared answer becomes `new Response(content, { status, headers })`); its prepared face
 * is kept for sockserve's connection ({@linkcode preparedFaceOf}).
 *
 * @example
 * ```ts
 * import { PreparedHead, preparedHandler } from "./prepared_response.ts";
 * const head = new PreparedHead([["content-type", "text/plain"]]);
 * const handler = preparedHandler(() => ({
 *   status: 200, head, content: new TextEncoder().encode("hi"),
 * }));
 * const response = await handler(new Request("http://localhost/"));
 * console.log(response.headers.get("content-type"), await response.text()); // text/plain hi
 * ```
 */
export function preparedHandler(
  responder: PreparedResponder,
): (request: Request) => Promise<Response> {
  const handler = async (request: Request): Promise<Response> =>
    toResponse(await responder(request), request.method);
  Object.defineProperty(handler, PREPARED_FACE, { value: responder });
  return handler;
}

/** The prepared face of a handler made by {@linkcode preparedHandler}, or null. */
export function preparedFaceOf(handler: object): PreparedResponder | null {
  const face = (handler as Record<symbol, unknown>)[PREPARED_FACE];
  return typeof face === "function" ? face as PreparedResponder : null;
}

/** A prepared answer as a complete Response (HEAD: no content, its length announced). */
function toResponse(result: PreparedResult, method: string): Response {
  if (result instanceof Response) return result;
  const headers = new Headers(result.head.fields as [string, string][]);
  if (method === "HEAD") {
    headers.set("content-length", String(result.content.length));
    return new Response(null, { status: result.status, headers });
  }
  return new Response(result.content, { status: result.status, headers });
}

/**
 * A handler that answers some requests itself and passes the others to `inner`, keeping
 * `inner`'s prepared face if it has one (so that putting a route in front of the file server
 * costs it nothing). `answer` returns the Response for the requests it takes, null for the rest.
 *
 * @example
 * ```ts
 * import { answerBefore } from "./prepared_response.ts";
 * const inner = () => Promise.resolve(new Response("site"));
 * const handler = answerBefore(
 *   (request) => new URL(request.url).pathname === "/ping" ? new Response("pong") : null,
 *   inner,
 * );
 * console.log(await (await handler(new Request("http://localhost/ping"))).text()); // pong
 * ```
 */
export function answerBefore(
  answer: (request: RequestLike) => Response | null,
  inner: (request: Request) => Promise<Response>,
): (request: Request) => Promise<Response> {
  const face = preparedFaceOf(inner);
  if (face !== null) return preparedHandler((request) => answer(request) ?? face(request));
  return (request) => {
    const own = answer(request);
    return own === null ? inner(request) : Promise.resolve(own);
  };
}
