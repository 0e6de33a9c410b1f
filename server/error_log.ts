/**
 * Error lines: one line per operational event, a stack trace only for a bug, and a flood of
 * either rate-limited.
 *
 * An error that says it is operational (a {@linkcode StaticFileError}: a file changed while it was
 * sent, a path that kept changing, a file that could not be read; a `HandlerTimeoutError`; a
 * {@linkcode TlsHandshakeError}: a client whose TLS handshake failed) is written as its one-line
 * message. Anything else that reaches a server's `onError` is a bug in a handler, and its stack
 * trace is what a developer needs. A file replaced in a loop, or a bug hit by every request, must
 * not turn stderr into a firehose: at most {@linkcode ERROR_LINES_PER_WINDOW} errors are written
 * per {@linkcode ERROR_WINDOW_MS}; the others are counted, and the count is written on a line of
 * its own when the window ends (from a timer that does not keep the process alive), or before the
 * next error if that comes first, so that a flood that stops is still accounted for.
 *
 * @module
 */

import { writeStderrLine } from "./access_log.ts";
import { HandlerTimeoutError } from "./connection/dispatch.ts";
import { TlsHandshakeError } from "./tls/tls_socket.ts";
import { StaticFileError } from "./static/file_errors.ts";

/** The window of the rate limit, in ms. */
export const ERROR_WINDOW_MS = 10_000;

/**
 * Errors written per window: enough to see what is going on (nginx writes every error, but to a
 * file; ours go to a terminal or a container log), few enough that a flood stays readable.
 */
export const ERROR_LINES_PER_WINDOW = 10;

/** Options of {@linkcode ErrorLog}. */
export interface ErrorLogOptions {
  /** Writes one line (without its newline); stderr by default. Must not throw. */
  write?: (line: string) => void;
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
  /** See {@linkcode ERROR_LINES_PER_WINDOW}. */
  linesPerWindow?: number;
  /** See {@linkcode ERROR_WINDOW_MS}. */
  windowMs?: number;
  /**
   * Calls `callback` once after `ms` milliseconds, without keeping the process alive (when a
   * window ends with errors not written). An unref'd `setTimeout` by default.
   */
  schedule?: (callback: () => void, ms: number) => void;
}

function scheduleUnref(callback: () => void, ms: number): void {
  const timer = setTimeout(callback, ms);
  Deno.unrefTimer(timer);
}

/**
 * Writes errors to a log, rate-limited.
 *
 * @example
 * ```ts
 * import { ErrorLog } from "./error_log.ts";
 * const lines: string[] = [];
 * const log = new ErrorLog({ write: (line) => lines.push(line) });
 * log.report(new Error("boom"));
 * // lines[0] starts with "sockserve: request handler failed: Error: boom"
 * ```
 */
export class ErrorLog {
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #schedule: (callback: () => void, ms: number) => void;
  #windowStart = -Infinity;
  #written = 0;
  #suppressed = 0;

  constructor(options: ErrorLogOptions = {}) {
    this.#write = options.write ?? writeStderrLine;
    this.#now = options.now ?? Date.now;
    this.#limit = options.linesPerWindow ?? ERROR_LINES_PER_WINDOW;
    this.#windowMs = options.windowMs ?? ERROR_WINDOW_MS;
    this.#schedule = options.schedule ?? scheduleUnref;
  }

  /** Writes `error` (one line, or a stack trace for a bug) unless the limit is reached. */
  report(error: unknown): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.flush();
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written >= this.#limit) {
      // The first error not written arranges for the count to be written when the window ends.
      if (this.#suppressed++ === 0) {
        const windowStart = this.#windowStart;
        this.#schedule(() => {
          if (this.#windowStart === windowStart) this.flush();
        }, Math.max(0, windowStart + this.#windowMs - now));
      }
      return;
    }
    this.#written++;
    this.#writeLine(describeError(error));
  }

  /**
   * Writes how many errors were not written, if any, and forgets them (done when a window ends;
   * call it before the process exits).
   */
  flush(): void {
    const count = this.#suppressed;
    if (count === 0) return;
    this.#suppressed = 0;
    this.#writeLine(
      `sockserve: ${count} more error${count === 1 ? "" : "s"} not written (at most ` +
        `${this.#limit} are written per ${this.#windowMs / 1000} s)`,
    );
  }

  #writeLine(text: string): void {
    try {
      this.#write(text);
    } catch {
      // Losing an error line is better than failing the request that produced it.
    }
  }
}

/**
 * The text of an error as the log writes it: `sockserve: ` and the one-line message of an
 * operational error, or `sockserve: request handler failed: ` and the stack trace of anything
 * else.
 */
export function describeError(error: unknown): string {
  if (
    error instanceof StaticFileError || error instanceof HandlerTimeoutError ||
    error instanceof TlsHandshakeError
  ) {
    return `sockserve: ${error.message}`;
  }
  const detail = error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
  return `sockserve: request handler failed: ${detail}`;
}

/** The error log shared by file servers created without an `onError` option (stderr). */
let defaultLog: ErrorLog | null = null;

/** Reports to the default error log (stderr, rate-limited). */
export function reportError(error: unknown): void {
  defaultLog ??= new ErrorLog();
  defaultLog.report(error);
}

/** Writes the default error log's count of errors not written, if any (at a server's end). */
export function flushDefaultErrorLog(): void {
  defaultLog?.flush();
}
