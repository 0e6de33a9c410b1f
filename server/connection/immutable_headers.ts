/**
 * Request headers a handler cannot change, as `Deno.serve` gives them. A `Request` a handler
 * receives from `Deno.serve` has headers with the fetch standard's "immutable" guard: `set`,
 * `append` and `delete` throw a `TypeError` ("Cannot change headers: headers are immutable";
 * "header" for `append`) after the usual checks of their arguments (a bad name is still told as
 * a bad name), `request.clone()` keeps the guard, and `new Request(request)` makes a copy with
 * headers that may be changed (the "request" guard). sockserve's requests behave the same.
 *
 * Two ways to get there. Deno's own: its `Headers` keep the guard in a private field
 * ("guard"), which `Deno.serve` sets to "immutable"; the engine sets it on the headers of each
 * request it builds with `new Request` (a GET or HEAD made lazily, server/connection/
 * lazy_request.ts, gets the guard through the request's own private field). Without Deno's
 * private field (a Deno upgrade) the public way: {@linkcode ImmutableHeaders}, a `Headers` whose
 * changing methods throw, copied from the request's own headers on first read
 * ({@linkcode ImmutableRequest} for clones, `PublicServerRequest` in dispatch.ts for the
 * requests themselves). tests/engine_deno_internals_test.ts fails loudly when the private field
 * is gone and shows that both ways give handlers the same request.
 *
 * @module
 */

/** Deno's private field of a `Headers` holding its guard, or null when this Deno has none. */
const GUARD_FIELD: symbol | null = probe();

function probe(): symbol | null {
  try {
    const headers = new Request("http://localhost/", { headers: [["a", "1"]] }).headers;
    const field = Object.getOwnPropertySymbols(headers).find((symbol) =>
      symbol.description === "guard"
    );
    if (field === undefined) return null;
    const record = headers as unknown as Record<symbol, unknown>;
    if (record[field] !== "request") return null;
    record[field] = "immutable";
    try {
      headers.append("a", "2");
    } catch (error) {
      if (error instanceof TypeError && headers.get("a") === "1") return field;
    }
    return null;
  } catch {
    return null;
  }
}

/** Whether {@linkcode sealHeaders} can be used (this Deno has the private guard field). */
export const CAN_SEAL_HEADERS: boolean = GUARD_FIELD !== null;

/**
 * Gives `headers` Deno's "immutable" guard, as `Deno.serve` gives its requests' headers. Only
 * when {@linkcode CAN_SEAL_HEADERS}.
 */
export function sealHeaders(headers: Headers): void {
  (headers as unknown as Record<symbol, unknown>)[GUARD_FIELD!] = "immutable";
}

/** Deno's messages for a change of immutable headers. */
const IMMUTABLE = "Cannot change headers: headers are immutable";
const IMMUTABLE_APPEND = "Cannot change header: headers are immutable";

/**
 * `Headers` that cannot be changed, through the public API only: `set`, `append` and `delete`
 * check their arguments as `Headers` does (on a throwaway `Headers`), then throw the `TypeError`
 * Deno throws for immutable headers. Everything else is a `Headers`'.
 */
export class ImmutableHeaders extends Headers {
  override set(...args: Parameters<Headers["set"]>): void {
    Headers.prototype.set.apply(new Headers(), args);
    throw new TypeError(IMMUTABLE);
  }

  override append(...args: Parameters<Headers["append"]>): void {
    Headers.prototype.append.apply(new Headers(), args);
    throw new TypeError(IMMUTABLE_APPEND);
  }

  override delete(...args: Parameters<Headers["delete"]>): void {
    Headers.prototype.delete.apply(new Headers(), args);
    throw new TypeError(IMMUTABLE);
  }
}

/**
 * A `Request` whose headers are {@linkcode ImmutableHeaders} (made on first read, a copy of its
 * own) and whose clones are too: a clone of a request made the public way, as `clone()` of a
 * `Deno.serve` request keeps its guard.
 */
export class ImmutableRequest extends Request {
  #headers: Headers | null = null;

  override get headers(): Headers {
    return this.#headers ??= new ImmutableHeaders(super.headers);
  }

  override clone(): Request {
    return new ImmutableRequest(super.clone());
  }
}
