/**
 * The one error type of the framing layer.
 *
 * Every protocol violation becomes an {@linkcode HttpError} carrying the status code the server
 * should answer with. Its `message` is for logs and tests only: the wire gets the standard reason
 * phrase and a short fixed body, never the internal text.
 *
 * @module
 */

/**
 * A protocol error with the HTTP status to answer with (400 unless said otherwise).
 *
 * @example
 * ```ts
 * import { HttpError } from "./errors.ts";
 * const error = new HttpError(431, "too many header fields");
 * console.log(error.status); // 431
 * ```
 */
export class HttpError extends Error {
  /** Status code to answer with. */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** Shorthand for the most common case: 400 Bad Request. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
