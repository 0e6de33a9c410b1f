/**
 * Errors about files: operational events (a file changed while it was sent, a path kept changing,
 * a read failed), not bugs. Each says in one line what happened, to which file and for which
 * request, and carries no stack trace (`stack` is that line), so that a log shows one line per
 * event.
 *
 * @module
 */

/**
 * Something went wrong with a file while serving a request. Its `message` is one line: the file,
 * what happened, the request, and a detail (control characters escaped, so that a file name
 * cannot forge a log line); its `stack` is that same line.
 *
 * @example
 * ```ts
 * import { StaticFileError } from "./file_errors.ts";
 * const error = new StaticFileError("could not be read", "/srv/www/a.txt", "GET /a.txt", "EIO");
 * console.log(error.message); // "/srv/www/a.txt could not be read (GET /a.txt): EIO"
 * ```
 */
export class StaticFileError extends Error {
  /** The file, as the server reached it (through the configured root). */
  readonly path: string;
  /** The request, as `METHOD /target`. */
  readonly request: string;

  /**
   * Makes the one-line error.
   *
   * @param what What happened, e.g. "changed while it was sent".
   * @param path The file, as the server reached it.
   * @param request The request, as `METHOD /target` ({@linkcode describeRequest}).
   * @param detail Appended after the request, e.g. "cut short at 10 of 20 bytes".
   * @param options `cause`: the underlying error.
   */
  constructor(what: string, path: string, request: string, detail = "", options?: ErrorOptions) {
    super(
      `${printable(path)} ${what} (${printable(request)})${detail === "" ? "" : `: ${detail}`}`,
      options,
    );
    this.name = "StaticFileError";
    this.path = path;
    this.request = request;
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * A file changed while its bytes were sent (it ended early, or its size or mtime moved): the
 * response was cut short, and its connection must close. The body stream of the response errors
 * with it, so the server reports it (`serve()`'s `onError`).
 *
 * @example
 * ```ts
 * import { FileChangedError } from "./file_errors.ts";
 * const error = new FileChangedError("/srv/www/big.bin", "GET /big.bin", 65536, 1048576);
 * // "/srv/www/big.bin changed while it was sent (GET /big.bin): response cut short after
 * // 65536 of 1048576 bytes"
 * ```
 */
export class FileChangedError extends StaticFileError {
  /**
   * Makes the error of a response cut short.
   *
   * @param path The file, as the server reached it.
   * @param request The request, as `METHOD /target`.
   * @param sent Bytes of the body handed over before the change was noticed.
   * @param total Bytes the body was to have (its Content-Length).
   */
  constructor(path: string, request: string, sent: number, total: number) {
    super(
      "changed while it was sent",
      path,
      request,
      `response cut short after ${sent} of ${total} bytes`,
    );
    this.name = "FileChangedError";
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * The request as it appears in error lines: `GET /a/b.txt` (the URL's path and query).
 *
 * @example
 * ```ts
 * import { describeRequest } from "./file_errors.ts";
 * describeRequest("GET", "http://localhost:8000/a/b.txt?x=1"); // "GET /a/b.txt?x=1"
 * ```
 */
export function describeRequest(method: string, url: string): string {
  const schemeEnd = url.indexOf("://");
  const pathStart = schemeEnd === -1 ? -1 : url.indexOf("/", schemeEnd + 3);
  return `${method} ${pathStart === -1 ? url : url.slice(pathStart)}`;
}

// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

/** `text` with control characters escaped (`\xNN`), so that a file name cannot forge a line. */
function printable(text: string): string {
  return text.replace(
    CONTROL_CHARACTERS,
    (char) => "\\x" + char.charCodeAt(0).toString(16).padStart(2, "0"),
  );
}
