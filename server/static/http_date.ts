/**
 * HTTP-date (RFC 9110 §5.6.7): formatting and strict parsing of all three formats.
 *
 * `Date.parse` accepts far more than HTTP allows ("2020", "1/2/3"), so conditional headers would
 * treat garbage as a date; this parser accepts exactly IMF-fixdate, the obsolete RFC 850 form and
 * asctime, as a recipient must (§5.6.7).
 *
 * @module
 */

const MONTHS: Readonly<Record<string, number>> = Object.freeze({
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
});

const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function toTime(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  const month = Object.hasOwn(MONTHS, monthName) ? MONTHS[monthName]! : -1;
  // Leap second 60 is allowed by the grammar; Date folds it into the next minute.
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  const time = Date.UTC(year, month, day, hour, minute, second);
  // Reject days that do not exist in the month (31 Feb rolls over in Date.UTC).
  return new Date(time).getUTCDate() === day || second === 60 ? time : NaN;
}

/**
 * Parses an HTTP-date in any of its three formats; returns milliseconds since the epoch, or NaN
 * when the text is not an HTTP-date.
 *
 * @example
 * ```ts
 * import { parseHttpDate } from "./http_date.ts";
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * parseHttpDate("yesterday"); // NaN
 * ```
 */
export function parseHttpDate(text: string): number {
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) {
    return toTime(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  }
  match = RFC850_DATE.exec(text);
  if (match !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const currentYear = new Date().getUTCFullYear();
    let year = Math.floor(currentYear / 100) * 100 + Number(match[3]);
    if (year > currentYear + 50) year -= 100;
    return toTime(year, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  }
  match = ASCTIME_DATE.exec(text);
  if (match !== null) {
    return toTime(+match[6]!, match[1]!, +match[2]!.trim(), +match[3]!, +match[4]!, +match[5]!);
  }
  return NaN;
}

/** IMF-fixdate formatting: the one encoder, in the pure framing module. */
export { formatHttpDate } from "../http1/http_date.ts";
