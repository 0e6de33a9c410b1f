/**
 * Content-Type by file extension, and which types are worth compressing.
 *
 * The table is a plain object looked up once per file (the result is cached with the file), so it
 * costs nothing per request. Text types carry `charset=utf-8`: browsers otherwise guess the
 * encoding of a `.txt` or `.csv` file from the bytes (and `X-Content-Type-Options: nosniff` stops
 * them from guessing the type itself).
 *
 * @module
 */

/** Type sent for an extension that is not in the table: bytes the browser must not interpret. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

const UTF8 = "; charset=utf-8";

/** Extension (lower case, without the dot) → media type. */
const TYPES_BY_EXTENSION: Readonly<Record<string, string>> = Object.freeze({
  // Documents and code
  html: "text/html" + UTF8,
  htm: "text/html" + UTF8,
  xhtml: "application/xhtml+xml" + UTF8,
  css: "text/css" + UTF8,
  js: "text/javascript" + UTF8,
  mjs: "text/javascript" + UTF8,
  cjs: "text/javascript" + UTF8,
  jsx: "text/javascript" + UTF8,
  ts: "text/typescript" + UTF8,
  mts: "text/typescript" + UTF8,
  cts: "text/typescript" + UTF8,
  tsx: "text/tsx" + UTF8,
  json: "application/json" + UTF8,
  jsonld: "application/ld+json" + UTF8,
  map: "application/json" + UTF8,
  webmanifest: "application/manifest+json" + UTF8,
  xml: "application/xml" + UTF8,
  xsl: "application/xml" + UTF8,
  rss: "application/rss+xml" + UTF8,
  atom: "application/atom+xml" + UTF8,
  txt: "text/plain" + UTF8,
  text: "text/plain" + UTF8,
  log: "text/plain" + UTF8,
  md: "text/markdown" + UTF8,
  markdown: "text/markdown" + UTF8,
  csv: "text/csv" + UTF8,
  tsv: "text/tab-separated-values" + UTF8,
  ics: "text/calendar" + UTF8,
  vtt: "text/vtt" + UTF8,
  yaml: "application/yaml" + UTF8,
  yml: "application/yaml" + UTF8,
  toml: "application/toml" + UTF8,
  wasm: "application/wasm",
  pdf: "application/pdf",
  rtf: "application/rtf",
  // Images
  svg: "image/svg+xml" + UTF8,
  png: "image/png",
  apng: "image/apng",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  jfif: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/vnd.microsoft.icon",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  heic: "image/heic",
  jxl: "image/jxl",
  // Fonts
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  eot: "application/vnd.ms-fontobject",
  // Audio and video
  mp4: "video/mp4",
  m4v: "video/mp4",
  webm: "video/webm",
  ogv: "video/ogg",
  mov: "video/quicktime",
  avi: "video/x-msvideo",
  mpeg: "video/mpeg",
  m3u8: "application/vnd.apple.mpegurl",
  mpd: "application/dash+xml",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  opus: "audio/opus",
  wav: "audio/wav",
  flac: "audio/flac",
  weba: "audio/webm",
  mid: "audio/midi",
  midi: "audio/midi",
  // Archives and binaries
  zip: "application/zip",
  gz: "application/gzip",
  tgz: "application/gzip",
  br: "application/x-brotli",
  zst: "application/zstd",
  tar: "application/x-tar",
  bz2: "application/x-bzip2",
  xz: "application/x-xz",
  "7z": "application/x-7z-compressed",
  rar: "application/vnd.rar",
  jar: "application/java-archive",
  apk: "application/vnd.android.package-archive",
  exe: "application/octet-stream",
  bin: "application/octet-stream",
  iso: "application/octet-stream",
  dmg: "application/octet-stream",
  epub: "application/epub+zip",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  odt: "application/vnd.oasis.opendocument.text",
  ods: "application/vnd.oasis.opendocument.spreadsheet",
  odp: "application/vnd.oasis.opendocument.presentation",
});

/**
 * The media type for a file name, from its extension (case-insensitive); names without a known
 * extension get {@linkcode DEFAULT_CONTENT_TYPE}.
 *
 * @example
 * ```ts
 * import { contentTypeFor } from "./content_type.ts";
 * contentTypeFor("app.JS"); // "text/javascript; charset=utf-8"
 * ```
 */
export function contentTypeFor(fileName: string): string {
  const slash = fileName.lastIndexOf("/");
  const dot = fileName.lastIndexOf(".");
  // A leading dot names a hidden file (".bashrc"), not an extension.
  if (dot <= slash + 1) return DEFAULT_CONTENT_TYPE;
  const extension = fileName.slice(dot + 1).toLowerCase();
  return Object.hasOwn(TYPES_BY_EXTENSION, extension)
    ? TYPES_BY_EXTENSION[extension]!
    : DEFAULT_CONTENT_TYPE;
}

/**
 * Whether a representation of this media type shrinks under gzip/brotli. Images, audio, video,
 * fonts in woff/woff2 and archives are already compressed: compressing them again costs CPU for
 * nothing.
 *
 * @example
 * ```ts
 * import { isCompressible } from "./content_type.ts";
 * isCompressible("text/css; charset=utf-8"); // true
 * isCompressible("image/png"); // false
 * ```
 */
export function isCompressible(contentType: string): boolean {
  if (contentType.startsWith("text/")) return true;
  const semicolon = contentType.indexOf(";");
  const essence = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  return COMPRESSIBLE_TYPES.has(essence) || essence.endsWith("+json") ||
    essence.endsWith("+xml");
}

const COMPRESSIBLE_TYPES: ReadonlySet<string> = new Set([
  "application/javascript",
  "application/json",
  "application/xml",
  "application/wasm",
  "application/yaml",
  "application/toml",
  "application/rtf",
  "application/vnd.apple.mpegurl",
  "application/vnd.ms-fontobject",
  "font/ttf",
  "font/otf",
  "image/bmp",
  "image/vnd.microsoft.icon",
  "application/x-tar",
]);
