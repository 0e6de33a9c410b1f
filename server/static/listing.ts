/**
 * The HTML page listing a directory.
 *
 * @module
 */

/** One row of a directory listing. */
export interface ListingEntry {
  /** The file name as on disk. */
  name: string;
  /** Whether it is a directory (its link gets a trailing "/"). */
  isDirectory: boolean;
  /** Size in bytes (files only), or null. */
  size: number | null;
  /** Modification time in ms since the epoch, or null when unknown. */
  mtime: number | null;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
});

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./listing.ts";
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

/** Bytes in a human unit (binary prefixes, one decimal). */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Sorts entries (directories first, then by name in code-point order, so the order does not
 * depend on the server's locale) and renders the listing page of `displayPath` (the decoded URL
 * path of the directory, ending with "/").
 *
 * @example
 * ```ts
 * import { renderListing } from "./listing.ts";
 * const html = renderListing("/docs/", [
 *   { name: "a.txt", isDirectory: false, size: 12, mtime: 0 },
 * ], false);
 * ```
 */
export function renderListing(
  displayPath: string,
  entries: ListingEntry[],
  truncated: boolean,
): string {
  const sorted = [...entries].sort((a, b) =>
    a.isDirectory !== b.isDirectory ? (a.isDirectory ? -1 : 1) : a.name < b.name ? -1 : 1
  );
  const title = escapeHtml(`Index of ${displayPath}`);
  const rows: string[] = [];
  if (displayPath !== "/") {
    rows.push('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  }
  for (const entry of sorted) {
    const suffix = entry.isDirectory ? "/" : "";
    // Links are relative to the directory: percent-encode the name so that "?", "#", "%" and
    // ":" in file names stay part of the path, then escape for the attribute.
    const href = escapeHtml(encodeURIComponent(entry.name) + suffix);
    const size = entry.size === null || entry.isDirectory ? "-" : formatSize(entry.size);
    const mtime = entry.mtime === null ? "-" : new Date(entry.mtime).toISOString();
    rows.push(
      `<tr><td><a href="${href}">${escapeHtml(entry.name + suffix)}</a></td>` +
        `<td>${size}</td><td>${mtime}</td></tr>`,
    );
  }
  const note = truncated ? "<p>Listing truncated: the directory has too many entries.</p>" : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td{padding:.2em 1.5em .2em 0}td:nth-child(2){text-align:right}</style>
</head>
<body>
<h1>${title}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Modified</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>
${note}
</body>
</html>
`;
}
