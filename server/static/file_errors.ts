/**
 * Errors about files: operational events (a file changed while it was sent, a path kept changing,
 * a read failed), not bugs. Each says in one line what happened, to which file and for which
 * request, and carries no stack trace (`stack` is that line), so that a log shows one line per
 * event.
 *
 * @module
 */

/** Something went wrong with a file while serving a request. */
export class StaticFileError extends Error {
  /** The file, as the server reached it (through the configured root). */
  readonly path: string;
  /** The request, as `METHOD /target`. */
  readonly request: string;

  /**
   * @param what What happened, e.g. "changed while it was sent".
   * @param detail Appended after the request, e.g. "cut short at 10 of 20 bytes".
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
 * A file changed while its bytes were sent (it shrank, or its size, mtime or ctime moved): the
 * response was cut short, and its connection must close.
 */
export class FileChangedError extends StaticFileError {
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

/** The request as it appears in error lines: `GET /a/b.txt` (the URL's path and query). */
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
