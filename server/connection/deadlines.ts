/**
 * The deadlines of one connection: one slot per kind of wait, each set and cleared by the one part
 * of the connection that owns that wait, all checked on the server's clock tick. Separate slots
 * mean that a body read cannot push back the handler's deadline, nor a write the body's: every
 * bound holds while the others run (a trickled body read by a slow handler still meets the
 * handler timeout).
 *
 * @module
 */

/** The kinds of wait a connection bounds. */
export const enum Wait {
  /** No request byte yet on a new connection, or a request head still incomplete. */
  Head,
  /** A kept-alive connection waiting for its next request. */
  Idle,
  /** The handler producing its Response (and `onError`, when it is asked instead). */
  Handler,
  /** Request body bytes not arriving (the stall between two reads that bring data). */
  BodyStall,
  /** The request body arriving below the minimum average rate after the grace period. */
  BodyRate,
  /** The handler holding an unfinished request body after its response, without reading it. */
  BodyOwner,
  /** A write the client does not take. */
  WriteStall,
  /** The client has sent EOF and the response in progress makes no progress. */
  HalfClose,
  /** Lingering before close: no byte from the client for this long. */
  LingerIdle,
  /** Lingering before close: the whole lingering time. */
  LingerTotal,
}

const WAIT_COUNT = 10;

/**
 * Deadline slots in clock milliseconds (0 = not set, negative = armed for that many milliseconds
 * from the next tick), with the earliest kept so that a tick with nothing due costs one
 * comparison.
 *
 * @example
 * ```ts
 * import { Deadlines, Wait } from "./deadlines.ts";
 * const deadlines = new Deadlines();
 * deadlines.set(Wait.Handler, 1_000, 500);
 * console.log(deadlines.takeDue(1_400)); // -1 (nothing due yet)
 * console.log(deadlines.takeDue(1_500) === Wait.Handler); // true
 * ```
 */
export class Deadlines {
  // A plain array of doubles lives in the heap with the rest of the connection (a typed array
  // would add an ArrayBuffer and an off-heap store to every connection).
  readonly #at: number[] = [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // 0.5: doubles from the start
  /** A lower bound of every set deadline (Infinity when none may be set). */
  #earliest = Infinity;

  constructor() {
    this.#at[0] = 0;
  }
  /**
   * Arms `wait` to expire `timeoutMs` after the next clock tick, without reading the clock: for
   * the waits begun on every request (idle, write stall), whose start the tick takes as its own
   * time. Never early; up to two ticks late. A timeout of 0 disables it (clears it).
   */
  arm(wait: Wait, timeoutMs: number): void {
    if (timeoutMs <= 0) {
      this.#at[wait] = 0;
      return;
    }
    this.#at[wait] = -timeoutMs; // negative: not started yet
    this.#earliest = -Infinity;
  }

  /** Sets `wait` to expire `timeoutMs` after `now`; a timeout of 0 disables it (clears it). */
  set(wait: Wait, now: number, timeoutMs: number): void {
    if (timeoutMs <= 0) {
      this.#at[wait] = 0;
      return;
    }
    this.setAt(wait, now + timeoutMs);
  }

  /** Sets `wait` to expire at clock time `at`. */
  setAt(wait: Wait, at: number): void {
    this.#at[wait] = at;
    if (at < this.#earliest) this.#earliest = at;
  }

  clear(wait: Wait): void {
    this.#at[wait] = 0;
  }

  isSet(wait: Wait): boolean {
    return this.#at[wait] !== 0;
  }

  clearAll(): void {
    for (let wait = 0; wait < WAIT_COUNT; wait++) this.#at[wait] = 0;
    this.#earliest = Infinity;
  }

  /**
   * The first wait whose deadline has passed at `now`, cleared so that it fires once; -1 when
   * none has. Call again until -1 to take every due one.
   */
  takeDue(now: number): Wait | -1 {
    if (now < this.#earliest) return -1;
    let earliest = Infinity;
    let due: Wait | -1 = -1;
    for (let wait = 0; wait < WAIT_COUNT; wait++) {
      let at = this.#at[wait]!;
      if (at === 0) continue;
      if (at < 0) {
        // Armed since the last tick: it starts now.
        at = now - at;
        this.#at[wait] = at;
      }
      if (due === -1 && at <= now) {
        due = wait as Wait;
        this.#at[wait] = 0;
        continue;
      }
      if (at < earliest) earliest = at;
    }
    this.#earliest = earliest;
    return due;
  }
}
