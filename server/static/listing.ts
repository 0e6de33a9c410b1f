/**
 * Directory listings: reading a directory proven inside the root (`containment.ts`), and the HTML
 * page that lists it.
 *
 * Entries are described by `lstat`, inside the window in which the directory's path is proven to
 * hold still, so a listing shows only what is inside the root. A symbolic link is shown when it
 * leads inside the root, by name only: describing its target (a directory? how large?) would take
 * another lookup by name, which a swapped directory could send outside the root.
 *
 * @module
 */

import { holdPath, retryFor, untilProven } from "./containment.ts";
import type { StaticFileSystem } from "./file_system.ts";
import { type LookupFailure, lookupFailure } from "./open_file.ts";
import { isRequestableName } from "./request_path.ts";
import type { ServedRoot } from "./served_root.ts";

/**
 * Most entries shown in a directory listing; the rest is omitted with a note. Each entry costs an
 * `lstat`, so an enormous directory must not turn one request into a million system calls.
 */
export const DEFAULT_MAX_LISTING_ENTRIES = 10_000;

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

/** A directory read: its entries, or why there are none. */
export type Listing =
  | { kind: "listed"; entries: ListingEntry[]; truncated: boolean }
  | { kind: "busy" }
  | LookupFailure;

/** Settings of {@linkcode readListing}. */
export interface ListingOptions {
  fs: StaticFileSystem;
  root: ServedRoot;
  /** Whether names starting with "." are shown (and symlinks may lead to them). */
  allowDotfiles: boolean;
  /** See {@linkcode DEFAULT_MAX_LISTING_ENTRIES}. */
  maxEntries: number;
  /** Clock in ms. */
  now?: () => number;
}

/**
 * Reads the directory at `relative` (relative to the root's real path, as `openInRoot` found it):
 * names, types, sizes and dates, while its path is proven to hold still.
 *
 * @example
 * ```ts
 * import { denoFileSystem } from "./file_system.ts";
 * import { readListing } from "./listing.ts";
 * import { ServedRoot } from "./served_root.ts";
 * const root = new ServedRoot(Deno.cwd(), denoFileSystem);
 * const listing = await readListing({
 *   fs: denoFileSystem,
 *   root,
 *   allowDotfiles: false,
 *   maxEntries: 100,
 * }, "");
 * ```
 */
export function readListing(options: ListingOptions, relative: string): Promise<Listing> {
  const now = options.now ?? Date.now;
  return untilProven<Listing>(
    async () => {
      const held = await holdPath(
        options.fs,
        options.root,
        relative,
        async (): Promise<Listing> => {
          try {
            return await readEntries(options, relative);
          } catch (error) {
            return lookupFailure(error);
          }
        },
        now,
      );
      return retryFor(held.verdict) ?? held.value;
    },
  ).then((outcome) => outcome === "busy" ? { kind: "busy" } : outcome);
}

async function readEntries(options: ListingOptions, relative: string): Promise<Listing> {
  const { fs, root } = options;
  const path = root.pathOf(relative);
  const entries: ListingEntry[] = [];
  let truncated = false;
  for await (const entry of fs.readDir(path)) {
    const name = entry.name;
    if (!options.allowDotfiles && name.startsWith(".")) continue;
    if (!isRequestableName(name)) continue; // a link to it could not be followed

    let info: Deno.FileInfo;
    try {
      info = fs.lstat(`${path}/${name}`);
    } catch {
      continue; // gone since readDir
    }
    if (info.isSymlink) {
      // Shown when it leads inside the root (its target is served), by name only.
      let target: string | null = null;
      try {
        target = root.relative(fs.realPath(`${path}/${name}`));
      } catch {
        // dangling
      }
      if (target === null || (!options.allowDotfiles && /(^|\/)\./.test(target))) continue;
    } else if (!info.isFile && !info.isDirectory) {
      continue; // FIFOs, sockets, devices: not served, not listed
    }
    if (entries.length >= options.maxEntries) {
      truncated = true;
      break;
    }
    entries.push({
      name,
      isDirectory: info.isDirectory,
      size: info.isFile ? info.size : null,
      mtime: info.isSymlink || info.mtime === null ? null : info.mtime.getTime(),
    });
  }
  return { kind: "listed", entries, truncated };
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
