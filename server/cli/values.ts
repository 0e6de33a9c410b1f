/**
 * The values of command-line options: ports, durations, sizes and header fields parsed from the
 * text typed, and formatted back for the usage text and logs. Pure functions; each returns
 * `undefined` (or an error text) for a value it does not accept, and the option that uses it
 * names itself in the usage error.
 *
 * @module
 */

/**
 * Largest duration accepted by any timeout option: the largest delay `setTimeout` honours
 * (2^31 − 1 ms, about 24.8 days); anything longer would fire at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** A field name: an RFC 9110 token. */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, space and tab (RFC 9110 §5.5); never CR, LF or NUL.
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Quotes a user-supplied value for an error message, escaping control characters. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** An option spelling as typed, quoted only when it holds something unprintable. */
export function spell(option: string): string {
  return /^[\x21-\x7e]*$/.test(option) ? option : quote(option);
}

/** What a negative number begins with; no option is named by a digit (`-1` is no option). */
const NEGATIVE_NUMBER = /^-\d/;

/**
 * The value of an option given as the argument after it (`--name VALUE`, `-p VALUE`), or the usage
 * error's text (without the hint) when there is none. An argument that starts with `-` is not
 * taken as a separate value: `--cache-control --log off` is a missing value, not a Cache-Control of
 * `--log` followed by a stray `off`. Such an argument has the shape of an option (`-X: y` reads as
 * `-X` with the value `: y`, and values hold colons and `=` too), so nothing else tells them
 * apart; a value that starts with `-` is written `--name=-value` (or a path `./-file`).
 *
 * The one exception, for an option whose value is a number (`numeric`: a port, count, size or
 * duration): `-` followed by a digit is taken as its value, as no option is named by a digit, so
 * that `-p -1` is refused by the option's own check ("expected a port from 0 to 65535, got "-1"")
 * rather than reported missing.
 *
 * @param spelling The option as typed (`--port`, `-p`), for the message.
 * @param next The argument after it, `undefined` at the end of the command line.
 * @param what What the option takes, for the message (default `"a value"`).
 * @param numeric The option takes a number: a negative one is its (invalid) value.
 * @example
 * ```ts
 * import { separateValue } from "./values.ts";
 * separateValue("--port", "8080"); // { value: "8080" }
 * separateValue("--port", "-1", "a value", true); // { value: "-1" }, which parsePort refuses
 * separateValue("--cache-control", "--log");
 * // { error: 'option --cache-control needs a value, got "--log" (a value that starts with "-" is written --cache-control=VALUE)' }
 * ```
 */
export function separateValue(
  spelling: string,
  next: string | undefined,
  what = "a value",
  numeric = false,
): { value: string } | { error: string } {
  if (next === undefined) return { error: `option ${spelling} needs ${what}` };
  if (next.startsWith("-") && !(numeric && NEGATIVE_NUMBER.test(next))) {
    return {
      error: `option ${spelling} needs ${what}, got ${quote(next)} ` +
        `(a value that starts with "-" is written ${spelling}=VALUE)`,
    };
  }
  return { value: next };
}

/**
 * Parses a TCP port: an integer from 0 to 65535.
 *
 * @example
 * ```ts
 * import { parsePort } from "./values.ts";
 * parsePort("8080"); // 8080
 * parsePort("http"); // undefined
 * ```
 */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `10s`, `500ms`, `1.5s`, `2m` or `1h` into milliseconds. A bare
 * number means seconds, as in nginx.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./values.ts";
 * parseDuration("1.5s"); // 1500
 * parseDuration("250ms"); // 250
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? "s"] ?? 1000));
  return Number.isSafeInteger(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a size in bytes: a whole number with an optional binary unit (`k`, `KiB`, `KB`, `m`,
 * `MiB`, `g`…, all powers of 1024, as in nginx).
 *
 * @example
 * ```ts
 * import { parseSize } from "./values.ts";
 * parseSize("16k"); // 16384
 * parseSize("1MiB"); // 1048576
 * ```
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)([a-z]*)$/i.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? "").toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Parses a whole number (no unit). */
export function parseCount(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Fields `--header` may not set, and why: the server writes them for each response, so that one
 * value for every response would be wrong for most (RFC 9112 §6 framing, RFC 9110 §7.6.1
 * connection options, §6.6.1 Date, and the representation and validator fields of each file).
 */
export const SERVER_MANAGED_FIELDS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    "it belongs to the connection, which the server manages (RFC 9110 §7.6.1)": [
      "connection",
      "keep-alive",
      "proxy-connection",
      "te",
      "upgrade",
    ],
    "the server frames each response itself (RFC 9112 §6)": [
      "content-length",
      "transfer-encoding",
      "trailer",
    ],
    "the server dates each response when it sends it (RFC 9110 §6.6.1)": ["date"],
    "the file server sets it for each file it sends": [
      "content-type",
      "content-encoding",
      "content-range",
      "accept-ranges",
      "etag",
      "last-modified",
    ],
  }).flatMap(([reason, names]) => names.map((name) => [name, reason] as const)),
);

/**
 * Parses a `--header` value `Name: value` into a name and a trimmed value. The name must be an
 * RFC 9110 token and the value may not contain control characters (a CR or LF would let the
 * configuration inject headers or split responses); a field the server sets per response
 * ({@linkcode SERVER_MANAGED_FIELDS}) is refused.
 *
 * @example
 * ```ts
 * import { parseHeaderOption } from "./values.ts";
 * parseHeaderOption("X-Frame-Options: DENY"); // ["X-Frame-Options", "DENY"]
 * parseHeaderOption("no colon"); // an error message (a string)
 * ```
 */
export function parseHeaderOption(text: string): [string, string] | string {
  const colon = text.indexOf(":");
  if (colon <= 0) return `expected "Name: value", got ${quote(text)}`;
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).trim();
  if (!HEADER_NAME.test(name)) return `invalid header name ${quote(name)}`;
  const managed = SERVER_MANAGED_FIELDS.get(name.toLowerCase());
  if (managed !== undefined) return `${name} cannot be set: ${managed}`;
  if (!FIELD_VALUE.test(value)) return `header ${name} has a control character in its value`;
  return [name, value];
}

/**
 * Formats milliseconds the way the usage text and logs show them.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./values.ts";
 * formatDuration(10_000); // "10s"
 * formatDuration(250); // "250ms"
 * ```
 */
export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Formats a byte count the way the usage text shows it.
 *
 * @example
 * ```ts
 * import { formatSize } from "./values.ts";
 * formatSize(16 * 1024); // "16KiB"
 * formatSize(100); // "100"
 * ```
 */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
