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

import type { ServeAddr, Server } from "./types.ts";

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

/**
 * Most worker deaths within {@linkcode WORKER_RESTART_WINDOW_MS} that are answered with a new
 * worker. A worker that dies again and again (a handler that crashes its isolate on every
 * request, say) is not restarted for ever: past this the group gives up, and the CLI exits 1 so
 * that the orchestrator (systemd, Kubernetes, Docker's restart policy) restarts the process.
 */
export const MAX_WORKER_RESTARTS = 5;

/** The window in which {@linkcode MAX_WORKER_RESTARTS} is counted. */
export const WORKER_RESTART_WINDOW_MS = 60_000;

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
  /**
   * Called with one line when a running worker dies (an uncaught error ends its isolate) and
   * when it is replaced. Default: nothing.
   */
  readonly log?: (line: string) => void;
  /**
   * Called once when workers die faster than {@linkcode MAX_WORKER_RESTARTS} per
   * {@linkcode WORKER_RESTART_WINDOW_MS}; the dead are then no longer replaced. Default: nothing.
   */
  readonly onGiveUp?: (reason: string) => void;
}

interface WorkerHandle {
  worker: Worker;
  connections: number;
  finished: PromiseWithResolvers<void>;
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
  let stopping = false;
  let gaveUp = false;
  const deaths: number[] = [];

  /** Starts worker `index` (again, after a death); resolves when it listens. */
  const launch = (index: number): Promise<void> => {
    const worker = new Worker(options.moduleUrl.href, {
      type: "module",
      name: `sockserve-${index + 1}`,
    });
    const handle: WorkerHandle = handles[index] ?? {
      worker,
      connections: 0,
      finished: Promise.withResolvers(),
    };
    handle.worker = worker;
    handle.connections = 0;
    handles[index] = handle;
    const listening = Promise.withResolvers<void>();
    let isListening = false;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      switch (message.type) {
        case "listening":
          isListening = true;
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
      if (!isListening) {
        listening.reject(new Error(`worker ${index + 1} failed: ${event.message}`));
        handle.finished.resolve();
        return;
      }
      worker.terminate();
      handle.connections = 0;
      if (stopping) {
        handle.finished.resolve();
        return;
      }
      onDeath(index, event.message);
    };
    worker.postMessage(
      { type: "start", data: options.data, port: primary.addr.port } satisfies ToWorker,
    );
    return listening.promise;
  };

  /** A running worker died: log it, and start another unless they die too often. */
  const onDeath = (index: number, message: string): void => {
    const log = options.log ?? (() => {});
    log(`sockserve: worker ${index + 1} died: ${message}`);
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! < now - WORKER_RESTART_WINDOW_MS) deaths.shift();
    if (deaths.length > MAX_WORKER_RESTARTS) {
      handles[index]!.finished.resolve();
      if (!gaveUp) {
        gaveUp = true;
        options.onGiveUp?.(
          `${deaths.length} worker deaths within ${WORKER_RESTART_WINDOW_MS / 1000} s`,
        );
      }
      return;
    }
    launch(index).then(
      () => log(`sockserve: worker ${index + 1} replaced`),
      (error) => {
        log(`sockserve: worker ${index + 1} could not be replaced: ${errorText(error)}`);
        handles[index]!.finished.resolve();
      },
    );
  };

  for (let i = 0; i < options.workers; i++) started.push(launch(i));

  let shutdownPromise: Promise<void> | null = null;
  const finished = Promise.withResolvers<void>();
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
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

  return {
    addr: primary.addr,
    finished: finished.promise,
    shutdown,
    get connectionCount() {
      return handles.reduce((sum, handle) => sum + handle.connections, primary.connectionCount);
    },
    ref: () => primary.ref(),
    unref: () => primary.unref(),
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * The worker side: waits for "start", calls `start(data, port)` to get a listening server (bound
 * with `reusePort: true`), then shuts it down on "shutdown" and reports back.
 */
export function runWorker(
  start: (data: unknown, port: number) => Promise<Server<ServeAddr> | string>,
): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
    postMessage(message: FromWorker): void;
    close(): void;
  };
  let server: Server<ServeAddr> | null = null;
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

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
