/**
 * The options of `serve()`, checked when it is called: nothing is silently ignored.
 *
 * Every option name `serve()` meets is one of four kinds:
 * - one it implements (the table {@linkcode SERVE_OPTIONS}, and every limit of `limits.ts`);
 * - an option of `Deno.serve` it does not implement ({@linkcode REFUSED_OPTIONS}): a TypeError
 *   naming it and saying why, unless its value asks for nothing (`undefined`);
 * - an option that only makes sense with another listener (`port` with `path`): a TypeError;
 * - any other name, a typo most likely: a TypeError naming it, with the closest known name.
 *
 * Values are checked too: a wrong type is a TypeError, a number out of range a RangeError, both
 * naming the option. The result is a {@linkcode ServePlan}: where to listen and what to call.
 *
 * @module
 */

import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./limits.ts";
import type { CertifiedKey } from "./tls/certificate.ts";
import type { TlsHandshakeError } from "./tls/tls_socket.ts";
import type {
  Handler,
  RequestRecord,
  ServeAddr,
  ServeTcpOptions,
  ServeUnixOptions,
} from "./types.ts";

/** Default port, as `Deno.serve`. */
export const DEFAULT_PORT = 8000;

/** Default interface, as `Deno.serve`. */
export const DEFAULT_HOSTNAME = "0.0.0.0";

/** Largest `tcpBacklog`: what `listen(2)`'s int takes (the kernel caps it at `somaxconn`). */
export const MAX_TCP_BACKLOG = 2 ** 31 - 1;

/** Where `serve()` listens. */
export type ListenTarget =
  | {
    readonly transport: "tcp";
    readonly hostname: string;
    readonly port: number;
    readonly reusePort: boolean;
    /** `undefined`: Deno's default (511). */
    readonly tcpBacklog: number | undefined;
  }
  | { readonly transport: "unix"; readonly path: string };

/** HTTPS: the certificate and what to do with a failed handshake. */
export interface TlsPlan {
  readonly certifiedKey: CertifiedKey;
  readonly onHandshakeError: ((error: TlsHandshakeError) => void) | undefined;
}

/** What `serve()` was asked to do, checked. */
export interface ServePlan {
  readonly target: ListenTarget;
  /** HTTPS on `target` (TCP), or undefined for plain HTTP. */
  readonly tls: TlsPlan | undefined;
  readonly handler: Handler<ServeAddr>;
  readonly signal: AbortSignal | undefined;
  readonly onListen: ((addr: ServeAddr) => void) | undefined;
  readonly onError: ((error: unknown) => Response | Promise<Response>) | undefined;
  readonly onRequestEnd: ((record: RequestRecord<ServeAddr>) => void) | undefined;
  /** The limits given; the others keep their defaults. */
  readonly limits: Partial<ServerLimits>;
}

/** How an option applies: to any listener, or only to TCP or Unix ones. */
type Scope = "any" | "tcp" | "unix";

/** Checks one value; returns the error to throw, or undefined when it is acceptable. */
type Check = (name: string, value: unknown) => Error | undefined;

const isFunction: Check = (name, value) =>
  typeof value === "function" ? undefined : new TypeError(`serve(): ${name} must be a function`);

const isBoolean: Check = (name, value) =>
  typeof value === "boolean" ? undefined : new TypeError(`serve(): ${name} must be a boolean`);

function isIntegerIn(min: number, max: number): Check {
  return (name, value) => {
    if (typeof value !== "number") return new TypeError(`serve(): ${name} must be a number`);
    if (!Number.isInteger(value) || value < min || value > max) {
      return new RangeError(
        `serve(): ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
      );
    }
    return undefined;
  };
}

const isString: Check = (name, value) =>
  typeof value === "string" ? undefined : new TypeError(`serve(): ${name} must be a string (PEM)`);

const isNonEmptyString: Check = (name, value) =>
  typeof value === "string" && value !== ""
    ? undefined
    : new TypeError(`serve(): ${name} must be a non-empty string`);

/**
 * The options `serve()` implements, with the listeners they apply to and their check. Limits
 * (`limits.ts`) are options too, of any listener, checked by `resolveLimits()`.
 */
export const SERVE_OPTIONS: Readonly<Record<string, { scope: Scope; check: Check }>> = {
  handler: { scope: "any", check: isFunction },
  signal: {
    scope: "any",
    check: (name, value) =>
      value instanceof AbortSignal
        ? undefined
        : new TypeError(`serve(): ${name} must be an AbortSignal`),
  },
  onListen: { scope: "any", check: isFunction },
  onError: { scope: "any", check: isFunction },
  onRequestEnd: { scope: "any", check: isFunction },
  automaticCompression: {
    scope: "any",
    check: (name, value) =>
      value === false ? undefined : typeof value === "boolean"
        ? new TypeError(
          `serve() does not support ${name}: true: sockserve does not compress responses on ` +
            "its own (createFileServer() compresses files; compress other responses in the " +
            "handler)",
        )
        : new TypeError(`serve(): ${name} must be a boolean`),
  },
  transport: {
    scope: "any",
    check: (name, value) =>
      value === "tcp" || value === "unix"
        ? undefined
        : value === "vsock"
        ? new TypeError(`serve() does not support ${name}: "vsock": ${VSOCK_REASON}`)
        : new TypeError(`serve(): ${name} must be "tcp" or "unix", got ${JSON.stringify(value)}`),
  },
  port: { scope: "tcp", check: isIntegerIn(0, 65535) },
  hostname: { scope: "tcp", check: isNonEmptyString },
  reusePort: { scope: "tcp", check: isBoolean },
  tcpBacklog: { scope: "tcp", check: isIntegerIn(1, MAX_TCP_BACKLOG) },
  path: { scope: "unix", check: isNonEmptyString },
  // What is in the PEM text is checked before binding (tls/certificate.ts).
  cert: { scope: "tcp", check: isString },
  key: { scope: "tcp", check: isString },
  keyFormat: {
    scope: "tcp",
    check: (name, value) =>
      value === "pem"
        ? undefined
        : new TypeError(`serve(): ${name} must be "pem", got ${JSON.stringify(value)}`),
  },
  onHandshakeError: { scope: "tcp", check: isFunction },
};

const VSOCK_REASON = "sockserve listens on TCP and Unix sockets, not VSOCK";

/**
 * Options of `Deno.serve` (and names `Deno.serve` itself refuses with advice) that sockserve
 * does not implement, each with the reason given in its TypeError.
 */
export const REFUSED_OPTIONS: Readonly<Record<string, string>> = {
  cid: VSOCK_REASON,
  certFile: "give the PEM text as cert, as Deno.serve asks",
  keyFile: "give the PEM text as key, as Deno.serve asks",
  alpnProtocols: "sockserve speaks HTTP/1.1 only, and offers http/1.1 by ALPN itself",
};

/** Edit distance between two short names (for "did you mean"). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known option closest to `name`, if it is close enough to be a typo of it. */
function closestOption(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  const known = [
    ...Object.keys(SERVE_OPTIONS),
    ...Object.keys(DEFAULT_SERVER_LIMITS),
    ...Object.keys(REFUSED_OPTIONS),
  ];
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Checks `serve()`'s arguments (the three call shapes of `Deno.serve`) and decides where to
 * listen. Throws a TypeError (or, for a number out of range, a RangeError) naming the option.
 *
 * @example
 * ```ts
 * import { planServe } from "./serve_options.ts";
 * const plan = planServe({ path: "/tmp/app.sock" }, () => new Response("hi"));
 * console.log(plan.target); // { transport: "unix", path: "/tmp/app.sock" }
 * try {
 *   planServe({ prot: 8080 } as never, () => new Response("hi"));
 * } catch (error) {
 *   console.log((error as Error).message); // serve(): unknown option "prot" (did you mean "port"?)
 * }
 * ```
 */
export function planServe(
  optionsOrHandler:
    | ServeTcpOptions
    | ServeUnixOptions
    | Handler<Deno.NetAddr>
    | Handler<Deno.UnixAddr>,
  maybeHandler?: Handler<Deno.NetAddr> | Handler<Deno.UnixAddr>,
): ServePlan {
  if (typeof optionsOrHandler === "function") {
    if (maybeHandler !== undefined) {
      throw new TypeError("serve(): with a handler first, there is no second argument");
    }
    return plan({}, optionsOrHandler as Handler<ServeAddr>);
  }
  if (typeof optionsOrHandler !== "object" || optionsOrHandler === null) {
    throw new TypeError("serve() needs a handler function, or options and a handler");
  }
  const options = optionsOrHandler as unknown as Record<string, unknown>;
  if (
    maybeHandler !== undefined && options["handler"] !== undefined &&
    options["handler"] !== maybeHandler
  ) {
    throw new TypeError("serve(): two handlers given (the handler option and the argument)");
  }
  const handler = maybeHandler ?? options["handler"];
  if (typeof handler !== "function") throw new TypeError("serve() needs a handler function");
  return plan(options, handler as Handler<ServeAddr>);
}

function plan(options: Record<string, unknown>, handler: Handler<ServeAddr>): ServePlan {
  const limits: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const name of Object.keys(options)) {
    const value = options[name];
    if (name in DEFAULT_SERVER_LIMITS) {
      if (value !== undefined) limits[name] = value;
      continue;
    }
    const spec = SERVE_OPTIONS[name];
    if (spec === undefined) {
      const reason = REFUSED_OPTIONS[name];
      if (reason !== undefined) {
        if (value === undefined) continue;
        throw new TypeError(`serve() does not support the option ${name}: ${reason}`);
      }
      const suggestion = closestOption(name);
      throw new TypeError(
        `serve(): unknown option ${JSON.stringify(name)}` +
          (suggestion === undefined ? "" : ` (did you mean ${JSON.stringify(suggestion)}?)`),
      );
    }
    if (value === undefined) continue;
    const error = spec.check(name, value);
    if (error !== undefined) throw error;
    given.add(name);
  }

  const unix = given.has("path") || options["transport"] === "unix";
  if (unix && !given.has("path")) throw new TypeError('serve(): transport "unix" needs a path');
  if (unix && options["transport"] === "tcp") {
    throw new TypeError('serve(): path is for a Unix socket, but transport is "tcp"');
  }
  if (unix) {
    for (const name of given) {
      if (SERVE_OPTIONS[name]!.scope === "tcp") {
        throw new TypeError(`serve(): ${name} is for TCP; a Unix socket (path) has none`);
      }
    }
  }

  if (given.has("cert") !== given.has("key")) {
    throw new TypeError("serve(): HTTPS needs both cert and key");
  }
  if (!given.has("cert")) {
    for (const name of ["keyFormat", "onHandshakeError"]) {
      if (given.has(name)) throw new TypeError(`serve(): ${name} is for HTTPS, with cert and key`);
    }
  }
  const tls: TlsPlan | undefined = given.has("cert")
    ? {
      certifiedKey: { cert: options["cert"] as string, key: options["key"] as string },
      onHandshakeError: options["onHandshakeError"] as TlsPlan["onHandshakeError"],
    }
    : undefined;

  const target: ListenTarget = unix ? { transport: "unix", path: options["path"] as string } : {
    transport: "tcp",
    hostname: (options["hostname"] as string | undefined) ?? DEFAULT_HOSTNAME,
    port: (options["port"] as number | undefined) ?? DEFAULT_PORT,
    reusePort: options["reusePort"] === true,
    tcpBacklog: options["tcpBacklog"] as number | undefined,
  };
  return {
    target,
    tls,
    handler,
    signal: options["signal"] as AbortSignal | undefined,
    onListen: options["onListen"] as ServePlan["onListen"],
    onError: options["onError"] as ServePlan["onError"],
    onRequestEnd: options["onRequestEnd"] as ServePlan["onRequestEnd"],
    limits: limits as Partial<ServerLimits>,
  };
}
