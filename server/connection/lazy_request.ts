/**
 * A web `Request` for a GET or HEAD whose URL and header list are made when first read, as
 * `Deno.serve` makes its own requests.
 *
 * `new Request(url)` parses the URL, builds Deno's inner request (an object literal with a
 * dozen accessors and closures) and a `Headers`, and every field is then appended with its
 * checks: by far the largest cost of a small request, and most handlers read little of it. Deno's
 * own server makes an empty `Request` (the constructor returns early when given the webidl
 * brand) and attaches an inner request whose URL and header list are functions called on first
 * use. This file does the same with Deno's own accessors, taken from a `Request` made at load
 * time; only the data are ours: the URL, parsed on first read of `url` exactly as the
 * constructor would have parsed it, and the parsed head's fields, turned into the header list on
 * first read of `headers` (the pairs `new Request(url, { headers })` would hold, Cookie lines
 * joined with "; "), which have the guard `Deno.serve` gives them: they cannot be changed
 * (server/connection/immutable_headers.ts).
 *
 * Measured on bench S1 (a handler that reads nothing of its request, keep-alive): 0.82× the
 * server's CPU per response and 1.12× the requests per second (2026-11-30, against the same
 * engine with `new Request`, medians of eight 8 s rounds run side by side).
 *
 * What the constructor would have refused must still be refused before the handler runs (the
 * connection answers 400): only the authority of an origin-form URL can make it fail, so it is
 * checked once per authority seen (a path, query or `%` sequence never fails to parse).
 *
 * Private parts of Deno used: `Deno[Deno.internal].webidlBrand`, the `Request` fields described
 * "request" and "headers guard" (and its value "immutable"), and the inner request's shape (its
 * data fields and its `method`, `url` and `currentUrl` members). Without them (a Deno upgrade)
 * requests are made with `new Request` as before; tests/engine_deno_internals_test.ts fails
 * loudly then and shows that both ways give handlers the same request.
 *
 * @module
 */

import type { FieldList } from "../http1/fields.ts";

/** What the `Request` constructor is given to make an empty request (Deno's webidl brand). */
export type LazyRequestToken = symbol & { readonly lazyRequestToken: true };

/** Where an inner request of ours keeps the fields its header list is made of. */
const FIELDS = Symbol("parsed fields");

/**
 * An inner request: the data fields of Deno's `newInnerRequest` for a GET or HEAD, with Deno's
 * own members on the prototype (installed by the probe below).
 */
class LazyInnerRequest {
  methodInner: string;
  headerListInner: [string, string][] | null = null;
  body: null = null;
  redirectMode = "follow";
  redirectCount = 0;
  urlList: (() => string)[];
  urlListProcessed: string[] = [];
  clientRid: null = null;
  blobUrlEntry: null = null;
  [FIELDS]: FieldList;

  constructor(method: string, url: string, fields: FieldList) {
    this.methodInner = method;
    this.urlList = [() => new URL(url).href];
    this[FIELDS] = fields;
  }

  /** The header list, made of the parsed fields on first use (Deno's calls a function too). */
  get headerList(): [string, string][] {
    return this.headerListInner ??= this[FIELDS].toPairs();
  }

  set headerList(list: [string, string][]) {
    this.headerListInner = list;
  }
}

interface Support {
  token: LazyRequestToken;
  innerField: symbol;
  guardField: symbol;
}

/** Deno's members of an inner request, copied onto the prototype of ours. */
const DENO_INNER_MEMBERS = ["method", "url", "currentUrl"];

/** The data fields Deno's inner request of a plain GET has; ours has exactly these. */
const DENO_INNER_DATA = [
  "methodInner",
  "headerListInner",
  "body",
  "redirectMode",
  "redirectCount",
  "urlList",
  "urlListProcessed",
  "clientRid",
  "blobUrlEntry",
];

function probe(): Support | null {
  try {
    const internalSymbol = (Deno as unknown as { internal?: unknown }).internal;
    if (typeof internalSymbol !== "symbol") return null;
    const internal = (Deno as unknown as Record<symbol, { webidlBrand?: unknown } | undefined>)[
      internalSymbol
    ];
    const token = internal?.webidlBrand;
    if (typeof token !== "symbol") return null;
    const sample = new Request("http://localhost/");
    const fields = Object.getOwnPropertySymbols(sample);
    const innerField = fields.find((symbol) => symbol.description === "request");
    const guardField = fields.find((symbol) => symbol.description === "headers guard");
    if (innerField === undefined || guardField === undefined) return null;
    const inner = (sample as unknown as Record<symbol, Record<string, unknown>>)[innerField];
    if (typeof inner !== "object" || inner === null) return null;
    const keys = Object.keys(inner);
    const expected = [...DENO_INNER_DATA, ...DENO_INNER_MEMBERS, "headerList"];
    if (keys.length !== expected.length || !expected.every((key) => keys.includes(key))) {
      return null;
    }
    const empty = new Request(token as unknown as string);
    const record = empty as unknown as Record<symbol, unknown>;
    if (record[innerField] !== undefined) return null;
    // The guard a request's headers get from its field, and that "immutable" holds.
    record[innerField] = inner;
    record[guardField] = "immutable";
    try {
      empty.headers.append("x", "1");
      return null;
    } catch (error) {
      if (!(error instanceof TypeError) || empty.headers.has("x")) return null;
    }
    for (const key of DENO_INNER_MEMBERS) {
      const member = Object.getOwnPropertyDescriptor(inner, key)!;
      Object.defineProperty(LazyInnerRequest.prototype, key, member);
    }
    return { token: token as LazyRequestToken, innerField, guardField };
  } catch {
    return null;
  }
}

const support = probe();

/**
 * What to give the `Request` constructor (of `Request` or a subclass) to make an empty request
 * for {@linkcode attachLazyRequest}, or null when this Deno does not allow it.
 */
export const LAZY_REQUEST_TOKEN: LazyRequestToken | null = support?.token ?? null;

/** Authorities (`host[:port]`) seen, and whether a URL made with them parses. */
const authorities = new Map<string, boolean>();

/** Most authorities remembered; past it the memo starts afresh. */
const MAX_AUTHORITIES = 1024;

/**
 * Whether `new Request(url)` accepts an origin-form request's URL with this authority (the Host,
 * `host[:port]`): nothing else in such a URL can make it fail, and http and https parse an
 * authority alike.
 */
export function authorityParses(authority: string): boolean {
  let parses = authorities.get(authority);
  if (parses === undefined) {
    parses = URL.canParse(`http://${authority}/`);
    if (authorities.size >= MAX_AUTHORITIES) authorities.clear();
    authorities.set(authority, parses);
  }
  return parses;
}

/**
 * Makes `request`, constructed with {@linkcode LAZY_REQUEST_TOKEN}, the GET or HEAD request for
 * `url` (already known to parse) with the header fields `fields`.
 */
export function attachLazyRequest(
  request: Request,
  method: "GET" | "HEAD",
  url: string,
  fields: FieldList,
): void {
  const { innerField, guardField } = support!;
  const record = request as unknown as Record<symbol, unknown>;
  record[innerField] = new LazyInnerRequest(method, url, fields);
  // The guard `Deno.serve` gives its requests' headers: they cannot be changed
  // (immutable_headers.ts).
  record[guardField] = "immutable";
}
