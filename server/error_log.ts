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
 * per {@linkcode ERROR_WINDOW_MS}; the others are counted, and the count is written with the next
 * error that gets through.
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
  #windowStart = -Infinity;
  #written = 0;
  #suppressed = 0;

  constructor(options: ErrorLogOptions = {}) {
    this.#write = options.write ?? writeStderrLine;
    this.#now = options.now ?? Date.now;
    this.#limit = options.linesPerWindow ?? ERROR_LINES_PER_WINDOW;
    this.#windowMs = options.windowMs ?? ERROR_WINDOW_MS;
  }

  /** Writes `error` (one line, or a stack trace for a bug) unless the limit is reached. */
  report(error: unknown): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written >= this.#limit) {
      this.#suppressed++;
      return;
    }
    this.#written++;
    let text = describeError(error);
    if (this.#suppressed > 0) {
      const count = this.#suppressed;
      this.#suppressed = 0;
      text += ` (and ${count} more error${count === 1 ? "" : "s"} not written before this one)`;
    }
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
