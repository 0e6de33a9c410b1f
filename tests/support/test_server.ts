/**
 * Starts a real sockserve server on 127.0.0.1 port 0 for an end-to-end test, records what
 * `onError` receives, and shuts the server down when disposed.
 *
 * @module
 */

import { serve } from "../../server/mod.ts";
import type { Handler, ServeOptions, Server } from "../../server/mod.ts";

/** A running test server. */
export interface TestServer extends AsyncDisposable {
  readonly server: Server;
  readonly port: number;
  /** Everything passed to `onError`, in order (unless the test gave its own `onError`). */
  readonly errors: unknown[];
}

/**
 * Starts a server with quiet defaults: loopback, port 0, no listen log, and an `onError` that
 * records the error and answers 500 (the default one would print to the test output).
 *
 * @example
 * ```ts ignore
 * await using test = startServer(() => new Response("hi"));
 * const response = await fetch(`http://127.0.0.1:${test.port}/`);
 * ```
 */
export function startServer(handler: Handler, options: ServeOptions = {}): TestServer {
  const errors: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError(error) {
      errors.push(error);
      return new Response("500 Internal Server Error\n", {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    },
    ...options,
  }, handler);
  return {
    server,
    port: server.addr.port,
    errors,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A promise with its resolve function, for handlers that must wait for the test. */
export function deferred<T = void>(): PromiseWithResolvers<T> {
  return Promise.withResolvers<T>();
}
