/**
 * Several isolates serving one port: each worker runs its own accept loop on a listener bound
 * with SO_REUSEPORT, and the kernel spreads new connections across them (Linux; Deno needs
 * `--unstable-net` for `reusePort`).
 *
 * The calling thread serves too (it is one of the N), so that the port is known before any
 * worker starts (port 0 included) and a single-worker group is just a server. Workers are told
 * what to serve with a structured-clonable message; they build their own handler from it,
 * since functions cannot cross isolates.
 *
 * @module
 */

import type { ListenAddr, Server } from "./types.ts";

/** Messages from the supervising thread to a worker. */
export type ToWorker =
  | { readonly type: "start"; readonly data: unknown; readonly port: number }
  | { readonly type: "shutdown" };

/** Messages from a worker to the supervising thread. */
export type FromWorker =
  | { readonly type: "listening" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "connections"; readonly count: number }
  | { readonly type: "finished" };

/** How often a worker reports its connection count (for shutdown logs). */
export const WORKER_REPORT_INTERVAL_MS = 250;

/** Most workers: beyond the cores of any machine sockserve runs on, more only costs memory. */
export const MAX_WORKERS = 1024;

/** Options of {@linkcode startWorkers}. */
export interface WorkerGroupOptions {
  /** The server of the calling thread, already listening with `reusePort: true`. */
  readonly primary: Server;
  /** Additional workers to start (total isolates = workers + 1). */
  readonly workers: number;
  /** Module each worker runs; it must call {@linkcode runWorker}. */
  readonly moduleUrl: URL;
  /** What to serve, passed to every worker. */
  readonly data: unknown;
}

interface WorkerHandle {
  readonly worker: Worker;
  connections: number;
  readonly finished: PromiseWithResolvers<void>;
}

/**
 * Starts the workers and resolves when every one is listening; rejects with the first failure
 * (after stopping the others). The result drives them all like one server.
 *
 * @example
 * ```ts ignore
 * const primary = serve({ port: 8080, reusePort: true }, handler);
 * const group = await startWorkers({
 *   primary, workers: 3, moduleUrl: new URL("./worker_entry.ts", import.meta.url), data: config,
 * });
 * await group.shutdown();
 * ```
 */
export async function startWorkers(options: WorkerGroupOptions): Promise<Server> {
  const { primary } = options;
  if (!Number.isInteger(options.workers) || options.workers < 0 || options.workers >= MAX_WORKERS) {
    throw new RangeError(`workers must be an integer from 0 to ${MAX_WORKERS - 1}`);
  }
  const handles: WorkerHandle[] = [];
  const started: Promise<void>[] = [];
  for (let i = 0; i < options.workers; i++) {
    const worker = new Worker(options.moduleUrl.href, {
      type: "module",
      name: `sockserve-${i + 1}`,
    });
    const handle: WorkerHandle = { worker, connections: 0, finished: Promise.withResolvers() };
    const listening = Promise.withResolvers<void>();
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      switch (message.type) {
        case "listening":
          listening.resolve();
          break;
        case "failed":
          listening.reject(new Error(message.message));
          handle.finished.resolve();
          break;
        case "connections":
          handle.connections = message.count;
          break;
        case "finished":
          handle.connections = 0;
          handle.finished.resolve();
          break;
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      listening.reject(new Error(`worker ${i + 1} failed: ${event.message}`));
      handle.finished.resolve();
    };
    worker.postMessage(
      { type: "start", data: options.data, port: primary.addr.port } satisfies ToWorker,
    );
    handles.push(handle);
    started.push(listening.promise);
  }

  let shutdownPromise: Promise<void> | null = null;
  const finished = Promise.withResolvers<void>();
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      for (const handle of handles) {
        handle.worker.postMessage({ type: "shutdown" } satisfies ToWorker);
      }
      await Promise.all([primary.shutdown(), ...handles.map((handle) => handle.finished.promise)]);
      for (const handle of handles) handle.worker.terminate();
      finished.resolve();
    })();
    return shutdownPromise;
  };

  try {
    await Promise.all(started);
  } catch (error) {
    for (const handle of handles) handle.worker.terminate();
    await primary.shutdown();
    throw error;
  }

  const addr: ListenAddr = primary.addr;
  return {
    addr,
    finished: finished.promise,
    shutdown,
    get connectionCount() {
      return handles.reduce((sum, handle) => sum + handle.connections, primary.connectionCount);
    },
    ref: () => primary.ref(),
    unref: () => primary.unref(),
  };
}

/**
 * The worker side: waits for "start", calls `start(data, port)` to get a listening server (bound
 * with `reusePort: true`), then shuts it down on "shutdown" and reports back.
 */
export function runWorker(
  start: (data: unknown, port: number) => Promise<Server | string>,
): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
    postMessage(message: FromWorker): void;
    close(): void;
  };
  let server: Server | null = null;
  let reporter: ReturnType<typeof setInterval> | undefined;
  scope.onmessage = async (event) => {
    const message = event.data;
    if (message.type === "start") {
      const result = await start(message.data, message.port);
      if (typeof result === "string") {
        scope.postMessage({ type: "failed", message: result });
        return;
      }
      server = result;
      reporter = setInterval(() => {
        scope.postMessage({ type: "connections", count: server?.connectionCount ?? 0 });
      }, WORKER_REPORT_INTERVAL_MS);
      scope.postMessage({ type: "listening" });
    } else if (message.type === "shutdown") {
      if (server !== null) await server.shutdown();
      clearInterval(reporter);
      scope.postMessage({ type: "finished" });
      scope.close();
    }
  };
}
