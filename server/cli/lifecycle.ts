/**
 * Process lifecycle of the command line: what SIGTERM and SIGINT do.
 *
 * 1. The first SIGTERM or SIGINT starts a graceful shutdown: the server stops accepting, closes
 *    idle keep-alive connections and lets in-flight requests finish. When the last connection is
 *    closed the process exits with {@linkcode EXIT_GRACEFUL} (0).
 * 2. If connections are still open when the grace period ends, they are closed, and the process
 *    exits with {@linkcode EXIT_FORCED} (1) once they have unwound (each exchange cut short still
 *    gets its access-log line), saying how many there were.
 * 3. A second SIGINT (Ctrl-C pressed again) exits at once with {@linkcode EXIT_INTERRUPTED}
 *    (130 = 128 + SIGINT, the shell convention) — unless it comes within
 *    {@linkcode SIGINT_ECHO_MS} of a first SIGINT: one Ctrl-C under `deno task start` arrives
 *    twice, from the terminal to the whole process group and from `deno task`, which passes it
 *    on to its child. A second SIGTERM changes nothing: orchestrators send SIGKILL when their
 *    own patience ends.
 *
 * The deadline timer is created before `shutdown()` is called, so that it fires before the
 * server's own grace timer (equal delays fire in creation order) and still sees the connections
 * that are about to be cut.
 *
 * @module
 */

import { formatDuration } from "./values.ts";

/** Exit code when every connection finished within the grace period. */
export const EXIT_GRACEFUL = 0;
/** Exit code when the grace period ended with connections still open. */
export const EXIT_FORCED = 1;
/**
 * Longest wait, once the grace period is over, for the force-closed connections to unwind (their
 * access-log lines written) before the process exits anyway.
 */
export const FORCED_EXIT_DELAY_MS = 1_000;
/** Exit code of a second SIGINT: 128 + signal number 2, as shells report it. */
export const EXIT_INTERRUPTED = 130;
/**
 * A SIGINT this soon after the first (ms) is the same Ctrl-C delivered twice (by the terminal to
 * the process group and by `deno task` to its child; measured: the two arrive within a few
 * milliseconds), not a second press. Half a second is shorter than a deliberate second press.
 */
export const SIGINT_ECHO_MS = 500;

/** The part of a running server the lifecycle drives. */
export interface ShutdownTarget {
  /** Graceful shutdown; resolves when every connection is closed. */
  shutdown(): Promise<void>;
  /** Number of open connections. */
  readonly connectionCount: number;
}

/** The signals that stop the server. */
export type StopSignal = "SIGTERM" | "SIGINT";

/** Everything the lifecycle does to the outside world, injectable for tests. */
export interface LifecycleOptions {
  /** Time in-flight requests get before the process exits anyway. */
  gracePeriodMs: number;
  /** Writes an informational line (stdout). */
  log: (line: string) => void;
  /** Writes an error line (stderr). */
  logError: (line: string) => void;
  /** Ends the process with a code. */
  exit: (code: number) => void;
  /** Registers a signal handler; returns a function that removes it. */
  onSignal: (signal: StopSignal, handler: () => void) => () => void;
  /** A monotonic clock in ms, to tell a second press from a doubled one. Default `performance.now`. */
  now?: () => number;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Installs the SIGTERM/SIGINT handlers for `server`. Returns a function that removes them.
 *
 * @example
 * ```ts
 * import { handleStopSignals, denoSignalSource } from "./lifecycle.ts";
 * import { serve } from "../mod.ts";
 * const server = serve({ port: 0 }, () => new Response("hi"));
 * handleStopSignals(server, {
 *   gracePeriodMs: 10_000,
 *   log: (line) => console.log(line),
 *   logError: (line) => console.error(line),
 *   exit: (code) => Deno.exit(code),
 *   onSignal: denoSignalSource,
 * });
 * ```
 */
export function handleStopSignals(server: ShutdownTarget, options: LifecycleOptions): () => void {
  const { gracePeriodMs, log, logError, exit } = options;
  const now = options.now ?? (() => performance.now());
  let shuttingDown = false;
  /** When the first stop signal came, if it was a SIGINT. */
  let firstSigintAt: number | null = null;

  const onStop = (signal: StopSignal) => {
    if (shuttingDown) {
      if (
        signal === "SIGINT" && firstSigintAt !== null && now() - firstSigintAt < SIGINT_ECHO_MS
      ) {
        log(
          `sockserve: SIGINT again within ${SIGINT_ECHO_MS}ms: taken as the same Ctrl-C delivered ` +
            `twice (as under deno task); still shutting down gracefully (Ctrl-C again to exit now)`,
        );
        return;
      }
      if (signal === "SIGINT") {
        logError(
          `sockserve: second SIGINT: exiting now with ${
            plural(server.connectionCount, "connection")
          } open`,
        );
        exit(EXIT_INTERRUPTED);
      } else {
        log(`sockserve: ${signal} again: already shutting down`);
      }
      return;
    }
    shuttingDown = true;
    if (signal === "SIGINT") firstSigintAt = now();
    const grace = formatDuration(gracePeriodMs);
    let forced = false;
    let lastWait: ReturnType<typeof setTimeout> | undefined;
    const deadline = setTimeout(() => {
      const open = server.connectionCount;
      // Zero open connections means shutdown() is about to resolve: let it report success.
      if (open === 0) return;
      forced = true;
      logError(
        `sockserve: grace period of ${grace} over: force-closing ${
          plural(open, "connection")
        } and exiting with code ${EXIT_FORCED}`,
      );
      // The server's own grace period ends now too and closes them; each exchange cut short still
      // writes its access-log line as it unwinds. Exit when that is done, or shortly at most.
      lastWait = setTimeout(() => exit(EXIT_FORCED), FORCED_EXIT_DELAY_MS);
    }, gracePeriodMs);
    const openAtSignal = server.connectionCount;
    // Logged after shutdown() has closed the listener, so that whoever reads this line can rely
    // on new connections being refused.
    const finished = server.shutdown();
    log(
      `sockserve: ${signal} received: shutting down gracefully (${
        plural(openAtSignal, "open connection")
      }, grace period ${grace}${signal === "SIGINT" ? ", Ctrl-C again to exit now" : ""})`,
    );
    finished.then(
      () => {
        clearTimeout(deadline);
        clearTimeout(lastWait);
        if (forced) {
          exit(EXIT_FORCED);
          return;
        }
        log("sockserve: shutdown complete: every connection closed");
        exit(EXIT_GRACEFUL);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        clearTimeout(lastWait);
        logError(`sockserve: shutdown failed: ${error instanceof Error ? error.message : error}`);
        exit(EXIT_FORCED);
      },
    );
  };

  const removers = (["SIGTERM", "SIGINT"] as const).map((signal) =>
    options.onSignal(signal, () => onStop(signal))
  );
  return () => {
    for (const remove of removers) remove();
  };
}

/**
 * A {@linkcode LifecycleOptions.onSignal} backed by `Deno.addSignalListener`. Where a signal
 * cannot be listened to (SIGTERM on Windows), it is skipped.
 *
 * @example
 * ```ts
 * import { denoSignalSource } from "./lifecycle.ts";
 * const remove = denoSignalSource("SIGTERM", () => console.log("stopping"));
 * remove();
 * ```
 */
export function denoSignalSource(signal: StopSignal, handler: () => void): () => void {
  try {
    Deno.addSignalListener(signal, handler);
  } catch {
    return () => {};
  }
  return () => Deno.removeSignalListener(signal, handler);
}
