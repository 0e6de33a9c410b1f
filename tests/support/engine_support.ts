/**
 * Helpers for the engine regression tests (tests/engine_*_test.ts): bounded waits on events,
 * a server whose disposal cannot hang a test run, reading a response head whose body never ends,
 * and a timed trickle of request bytes for the scenarios that are trickles.
 *
 * Every wait here is an upper bound on an event, never a way to find out whether something
 * happened by waiting a fixed time.
 *
 * @module
 */

import type { Handler, ServeOptions } from "../../server/mod.ts";
import { latin1Bytes, type RawClient } from "./http_client.ts";
import { startServer, type TestServer } from "./test_server.ts";

/** Resolves with `promise`'s value, or rejects with a message naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** True if `promise` settles (either way) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await within(promise.then(() => {}, () => {}), ms, "settle");
    return true;
  } catch {
    return false;
  }
}

/**
 * `startServer`, except that disposal waits for `shutdown()` at most `disposeLimitMs`: on an
 * engine whose shutdown never settles (issue 14, items 8 and 9) the test fails on its own
 * assertion instead of hanging the whole run.
 */
export function startServerBounded(
  handler: Handler,
  options: ServeOptions = {},
  disposeLimitMs = 3_000,
): TestServer {
  const test = startServer(handler, { gracePeriodMs: 500, ...options });
  return {
    server: test.server,
    port: test.port,
    errors: test.errors,
    async [Symbol.asyncDispose]() {
      await settlesWithin(test.server.shutdown(), disposeLimitMs);
    },
  };
}

/**
 * Reads until a complete response head (up to its blank line) has been received; returns the
 * head. For responses whose body does not end (event streams).
 */
export async function readHead(client: RawClient, timeoutMs = 3_000): Promise<string> {
  for (let i = 0; i < 1_000; i++) {
    const text = client.receivedText;
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) return text.slice(0, end + 4);
    await client.readBytes(text.length + 1, timeoutMs);
  }
  throw new Error("no response head after 1000 reads");
}

/** A running trickle of bytes; `stop()` ends it and waits for the last write. */
export interface Trickle {
  /** Bytes written so far. */
  readonly sent: number;
  /** Settles when every byte is written, the trickle is stopped, or a write fails. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Writes `data` `pieceBytes` at a time (default one byte), one piece every `intervalMs` (the
 * issue's slow-client scenarios are trickles). Stops by itself at the end of `data` or at the
 * first failed write (the server closed).
 */
export function trickle(
  client: RawClient,
  data: string | Uint8Array,
  intervalMs: number,
  pieceBytes = 1,
): Trickle {
  const bytes = typeof data === "string" ? latin1Bytes(data) : data;
  client.setNoDelay();
  let sent = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (!stopped && sent < bytes.length) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
      if (stopped) return;
      try {
        const piece = bytes.subarray(sent, sent + pieceBytes);
        let written = 0;
        while (written < piece.length) written += await client.conn.write(piece.subarray(written));
      } catch {
        return;
      }
      sent = Math.min(bytes.length, sent + pieceBytes);
    }
  })();
  return {
    get sent() {
      return sent;
    },
    done,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await done;
    },
  };
}

/** `n` bytes of a repeating, position-revealing pattern (a gap or reordering shows). */
export function patternBytes(n: number, offset = 0): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let i = 0; i < n; i++) text += alphabet[(offset + i) % alphabet.length];
  return text;
}
