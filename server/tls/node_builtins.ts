/**
 * Node's TLS, TCP, stream and crypto modules, loaded the first time TLS is used rather than when
 * sockserve is imported: a server without TLS never loads them. Loading them at start grew the
 * V8 heap of every `serve()` by about 1.4 MB before the first connection. `process.getBuiltinModule`
 * (Node's API, which Deno implements) loads a built-in synchronously, so `serve()` keeps checking a
 * certificate and binding before it returns, as `Deno.serve` does.
 *
 * @module
 */

import type * as NodeCrypto from "node:crypto";
import type * as NodeNet from "node:net";
import type NodeProcess from "node:process";
import type * as NodeStream from "node:stream";
import type * as NodeTls from "node:tls";

interface BuiltinLoader {
  getBuiltinModule(id: string): unknown;
}

function builtin<T>(id: string): T {
  const loader = (globalThis as unknown as { process?: Partial<BuiltinLoader> }).process;
  const module = typeof loader?.getBuiltinModule === "function"
    ? loader.getBuiltinModule(id)
    : undefined;
  if (module === undefined || module === null) {
    throw new Error(`sockserve needs Node's built-in ${id} for TLS; this Deno does not provide it`);
  }
  return module as T;
}

/**
 * `node:tls`, loaded on first use.
 *
 * @example
 * ```ts
 * import { nodeTls } from "./node_builtins.ts";
 * console.log(typeof nodeTls().createSecureContext); // "function"
 * ```
 */
export function nodeTls(): typeof NodeTls {
  return builtin("node:tls");
}

/** `node:net`, loaded on first use. */
export function nodeNet(): typeof NodeNet {
  return builtin("node:net");
}

/** `node:stream`, loaded on first use. */
export function nodeStream(): typeof NodeStream {
  return builtin("node:stream");
}

/** `node:crypto`, loaded on first use. */
export function nodeCrypto(): typeof NodeCrypto {
  return builtin("node:crypto");
}

/** `node:process`, loaded on first use. */
export function nodeProcess(): typeof NodeProcess {
  return builtin("node:process");
}
