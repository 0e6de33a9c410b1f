/**
 * From a request URL to a safe path relative to the served root.
 *
 * The rules (issue 3, and what nginx and Go's FileServer do): percent-decode exactly once, so
 * `%252e%252e` stays the literal name `%2e%2e`; refuse NUL, and refuse `/` or `\` that arrive
 * encoded (they would let a client smuggle a separator past the normalization); resolve `.` and
 * `..` lexically and refuse any `..` that would climb above the root. The result is a list of
 * plain names, none of which is empty, `.`, `..` or contains a separator, so joining them under
 * the root cannot leave it lexically. Symlinks are checked later with `realPath`.
 *
 * A `Request.url` has been parsed by the URL standard already, which resolves `.` and `..`
 * (`/../b` is `/b`, `%2e%2e` included) and turns `\` into `/` for http URLs: over a socket, only
 * an encoded separator, NUL and bad UTF-8 reach the 400s here. The other checks are kept for
 * URLs that did not come through that parser.
 *
 * @module
 */

/** Why a request path was refused; every case is answered with 400 Bad Request. */
export type PathError =
  | "malformed-encoding"
  | "encoded-separator"
  | "nul-byte"
  | "backslash"
  | "escapes-root"
  | "not-origin-form";

/** A request URL split and decoded. */
export interface RequestPath {
  /** Decoded, normalized path segments under the root (empty for the root itself). */
  segments: string[];
  /** Whether the path as sent ended with "/" (a directory URL). */
  trailingSlash: boolean;
  /** The query including its "?", or "" (kept on redirects). */
  query: string;
}

/**
 * Whether a file name can be requested: a URL path segment decodes to it. Not "", "." or "..",
 * no "/", "\\" or NUL (refused by {@linkcode parseRequestPath}), and valid Unicode (a name with
 * a lone surrogate, from bytes that are not UTF-8, has no percent-encoding). Directory listings
 * show only such names, so that every link in a listing can be followed.
 *
 * @example
 * ```ts
 * import { isRequestableName } from "./request_path.ts";
 * isRequestableName("a b?.txt"); // true
 * isRequestableName("a\\b.txt"); // false
 * ```
 */
export function isRequestableName(name: string): boolean {
  if (name === "" || name === "." || name === "..") return false;
  if (name.includes("/") || name.includes("\\") || name.includes("\0")) return false;
  return name.isWellFormed();
}

/**
 * Parses the path of an absolute request URL (as `Request.url` gives it) into safe segments.
 *
 * @example
 * ```ts
 * import { parseRequestPath } from "./request_path.ts";
 * parseRequestPath("http://localhost/a/./b/../c%20d?x=1");
 * // { segments: ["a", "c d"], trailingSlash: false, query: "?x=1" }
 * parseRequestPath("http://localhost/..%2fetc/passwd"); // "encoded-separator"
 * ```
 */
export function parseRequestPath(url: string): RequestPath | PathError {
  // Request.url is always absolute: scheme "://" authority path [?query] [#fragment].
  const schemeEnd = url.indexOf("://");
  const pathStart = schemeEnd === -1 ? -1 : url.indexOf("/", schemeEnd + 3);
  if (pathStart === -1) return "not-origin-form";
  let pathEnd = url.length;
  const hash = url.indexOf("#", pathStart);
  if (hash !== -1) pathEnd = hash;
  const question = url.indexOf("?", pathStart);
  let query = "";
  if (question !== -1 && question < pathEnd) {
    query = url.slice(question, pathEnd);
    pathEnd = question;
  }
  const rawPath = url.slice(pathStart, pathEnd);
  const trailingSlash = rawPath.endsWith("/");
  const hasEscapes = rawPath.includes("%");
  const segments: string[] = [];
  // Split on the separators that were literal in the URL, then decode each segment once, so an
  // encoded separator can never become one.
  for (const raw of rawPath.split("/")) {
    if (raw.length === 0) continue;
    let name = raw;
    if (hasEscapes && raw.includes("%")) {
      const lower = raw.toLowerCase();
      if (lower.includes("%2f") || lower.includes("%5c")) return "encoded-separator";
      try {
        name = decodeURIComponent(raw);
      } catch {
        // Invalid escapes or bytes that are not UTF-8 (overlong forms such as %c0%ae included).
        return "malformed-encoding";
      }
      if (name.includes("\0")) return "nul-byte";
    }
    // A literal backslash is a separator on Windows and in URL parsers; never treat it as a name.
    if (name.includes("\\")) return "backslash";
    if (name === ".") continue;
    if (name === "..") {
      if (segments.length === 0) return "escapes-root";
      segments.pop();
      continue;
    }
    segments.push(name);
  }
  return { segments, trailingSlash, query };
}
