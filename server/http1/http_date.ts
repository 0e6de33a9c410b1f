/**
 * IMF-fixdate formatting (RFC 9110 §5.6.7) for the Date field the server writes.
 *
 * @module
 */

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

/**
 * IMF-fixdate of a time in milliseconds since the epoch, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
 *
 * @example
 * ```ts
 * import { formatHttpDate } from "./http_date.ts";
 * console.log(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37))); // Sun, 06 Nov 1994 08:49:37 GMT
 * ```
 */
export function formatHttpDate(epochMs: number): string {
  const date = new Date(epochMs);
  return `${DAY_NAMES[date.getUTCDay()]}, ${twoDigits(date.getUTCDate())} ${
    MONTH_NAMES[date.getUTCMonth()]
  } ${date.getUTCFullYear()} ${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}:${
    twoDigits(date.getUTCSeconds())
  } GMT`;
}
