/**
 * The server-limit options of `sockserve [ROOT]` (`--header-timeout`, `--max-body-size`, ...):
 * one per field of {@linkcode ServerLimits} that the command line sets, each listed with its
 * default in the usage text's "limits" section.
 *
 * @module
 */

import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../limits.ts";
import type { OptionSpec } from "./options.ts";
import {
  formatDuration,
  formatSize,
  parseCount,
  parseDuration,
  parseSize,
  quote,
} from "./values.ts";

function limitOption(
  name: string,
  key: keyof ServerLimits,
  kind: "duration" | "size" | "count",
  description: string,
  min: number,
): OptionSpec {
  const valueName = kind === "duration" ? "DURATION" : kind === "size" ? "SIZE" : "N";
  const defaultValue = DEFAULT_SERVER_LIMITS[key];
  const shown = kind === "duration" ? formatDuration(defaultValue) : formatSize(defaultValue);
  return {
    name,
    valueName,
    numeric: true,
    section: "limits",
    description: `${description} (default ${shown})`,
    apply(config, value) {
      const parsed = kind === "duration"
        ? parseDuration(value)
        : kind === "size"
        ? parseSize(value)
        : parseCount(value);
      if (parsed === undefined) {
        return kind === "duration"
          ? `expected a duration like 10s or 500ms, got ${quote(value)}`
          : kind === "size"
          ? `expected a size like 16k or 1MiB, got ${quote(value)}`
          : `expected a whole number, got ${quote(value)}`;
      }
      if (parsed < min) return `must be at least ${min}, got ${quote(value)}`;
      config.limits[key] = parsed;
      return undefined;
    },
  };
}

/** The limit options, in the order the usage text lists them. */
export const LIMIT_OPTIONS: readonly OptionSpec[] = [
  limitOption(
    "header-timeout",
    "headerTimeoutMs",
    "duration",
    "time to receive a request head",
    1,
  ),
  limitOption(
    "idle-timeout",
    "idleTimeoutMs",
    "duration",
    "time a keep-alive connection may idle",
    1,
  ),
  limitOption(
    "body-timeout",
    "bodyTimeoutMs",
    "duration",
    "longest stall reading a body or writing a response",
    1,
  ),
  limitOption(
    "handler-timeout",
    "handlerTimeoutMs",
    "duration",
    "time to produce a response, 0 = none",
    0,
  ),
  limitOption(
    "linger-timeout",
    "lingerTimeoutMs",
    "duration",
    "lingering: longest silence before closing",
    0,
  ),
  limitOption(
    "linger-time",
    "lingerTimeMs",
    "duration",
    "lingering: longest drain before closing",
    0,
  ),
  limitOption(
    "half-close-timeout",
    "halfCloseTimeoutMs",
    "duration",
    "after client EOF, longest response stall",
    0,
  ),
  limitOption(
    "body-min-rate",
    "bodyMinRate",
    "count",
    "slowest request body, bytes/s, 0 = none",
    0,
  ),
  limitOption(
    "body-min-rate-grace",
    "bodyMinRateGraceMs",
    "duration",
    "time before --body-min-rate applies",
    0,
  ),
  limitOption("max-connections", "maxConnections", "count", "most open connections", 1),
  limitOption("max-body-size", "maxBodyBytes", "size", "largest request body", 0),
  limitOption("max-header-size", "maxHeaderBytes", "size", "largest request header section", 1),
  limitOption("max-header-count", "maxHeaderCount", "count", "most request header fields", 1),
  limitOption(
    "max-request-line-size",
    "maxRequestLineBytes",
    "size",
    "longest request line",
    16,
  ),
  limitOption("max-trailer-size", "maxTrailerBytes", "size", "largest chunked trailer section", 0),
  limitOption(
    "max-chunk-extension-size",
    "maxChunkExtensionBytes",
    "size",
    "longest chunk extension",
    0,
  ),
  limitOption(
    "max-chunk-extensions-total-size",
    "maxChunkExtensionsTotalBytes",
    "size",
    "chunk extension bytes per message",
    0,
  ),
  limitOption(
    "max-discard-size",
    "maxDiscardBytes",
    "size",
    "unread body skipped to keep a connection",
    0,
  ),
  limitOption(
    "read-buffer-size",
    "readBufferBytes",
    "size",
    "first read buffer of each connection",
    64,
  ),
];
