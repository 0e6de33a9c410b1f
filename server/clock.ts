/**
 * One coarse timer per server instead of one timer per connection and phase.
 *
 * The `Date` header value is formatted once per second (RFC 9110 §6.6.1): read fresh for heads
 * that may carry a handler's time (`date`), or as of the last tick for heads that cannot
 * (`recentDate`). Every {@linkcode TICK_MS} the clock tells its subscribers, which check their
 * own deadlines. Setting a deadline is a plain assignment from the current time; the waits begun
 * on every request are armed without reading the time at all, and start at the next tick
 * (`Deadlines.arm`). Timeouts fire up to one tick late (two for armed waits), never early.
 *
 * @module
 */

import { formatHttpDate } from "./http1/http_date.ts";

/** Resolution of every server timeout, in milliseconds. */
export const TICK_MS = 250;

/**
 * The time for deadlines, and the cached `Date` header value.
 *
 * @example
 * ```ts
 * import { Clock } from "./clock.ts";
 * const clock = new Clock();
 * console.log(clock.date.endsWith("GMT")); // true
 * clock.stop();
 * ```
 */
export class Clock {
  #date: string = formatHttpDate(Date.now());
  #second = Math.floor(Date.now() / 1000);
  #timer: ReturnType<typeof setInterval>;
  readonly #subscribers = new Set<(now: number) => void>();

  constructor() {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    // The listener keeps the process alive; the clock must not do so on its own.
    const timer = this.#timer as unknown as { unref?: () => void };
    if (typeof timer.unref === "function") timer.unref();
    else Deno.unrefTimer(this.#timer as unknown as number);
  }

  /**
   * Current IMF-fixdate for the `Date` header: the second is read when asked (one `Date.now()`),
   * the text formatted once per second. Never behind the wall clock, so that a `Last-Modified`
   * taken from the clock a moment earlier is never later than the `Date` it is sent with (RFC 9110
   * §8.8.2.1); a value cached at the last tick could lag by a tick, into the previous second.
   */
  get date(): string {
    this.#update(Date.now());
    return this.#date;
  }

  /**
   * The `Date` value as of the last tick, or of a later read of {@linkcode Clock.date}, without
   * reading the wall clock (~150 ns on this VM's clock source). It lags the wall clock by at most
   * a tick (more when the event loop is late), and goes back only if the wall clock does. Only for
   * heads in which no field of the handler's can carry a time — a `Last-Modified` needs
   * {@linkcode Clock.date} — such as the text fast path's (a status, a content type, a string).
   */
  get recentDate(): string {
    return this.#date;
  }

  /**
   * Milliseconds since the epoch, read when asked (a deadline set from a time cached at the last
   * tick could be up to a tick short, and fire early).
   */
  get now(): number {
    return Date.now();
  }

  /** Calls `callback` on every tick until the returned function is called. */
  subscribe(callback: (now: number) => void): () => void {
    this.#subscribers.add(callback);
    return () => this.#subscribers.delete(callback);
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#subscribers.clear();
  }

  #tick(): void {
    const now = Date.now();
    this.#update(now);
    for (const callback of this.#subscribers) callback(now);
  }

  /** Formats the date anew when `now` is in another second than the last one formatted. */
  #update(now: number): void {
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#date = formatHttpDate(now);
    }
  }
}
