/**
 * One coarse timer per server instead of one timer per connection and phase.
 *
 * Every {@linkcode TICK_MS} the clock updates its cached time and `Date` header value (formatted
 * once per second, RFC 9110 §6.6.1) and tells its subscribers, which check their own deadlines.
 * Setting a deadline is then a plain assignment on the hot path. Timeouts fire up to one tick late.
 *
 * @module
 */

import { formatHttpDate } from "./http1/http_date.ts";

/** Resolution of every server timeout, in milliseconds. */
export const TICK_MS = 250;

/**
 * Cached time for deadlines and the `Date` header.
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
  /** Milliseconds since the epoch, updated every tick. */
  now: number = Date.now();
  /** Current IMF-fixdate for the `Date` header. */
  date: string = formatHttpDate(this.now);
  #second = Math.floor(this.now / 1000);
  #timer: ReturnType<typeof setInterval>;
  readonly #subscribers = new Set<(now: number) => void>();

  constructor() {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    // The listener keeps the process alive; the clock must not do so on its own.
    const timer = this.#timer as unknown as { unref?: () => void };
    if (typeof timer.unref === "function") timer.unref();
    else Deno.unrefTimer(this.#timer as unknown as number);
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
    this.now = Date.now();
    const second = Math.floor(this.now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.date = formatHttpDate(this.now);
    }
    for (const callback of this.#subscribers) callback(this.now);
  }
}
