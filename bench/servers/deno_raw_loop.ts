/**
 * A ceiling, not a server: a `Deno.listen` loop that does no HTTP parsing at all. It counts
 * "\r\n\r\n" in what it reads and writes one canned "Hello, World!" response per count, all in
 * one write; it closes after answering a read that contains "close". It shows what the
 * JavaScript↔Rust boundary of `Deno.listen` allows before any framing work, so the gap between
 * it and sockserve is the cost of sockserve's own code.
 * Usage: `deno run --allow-net deno_raw_loop.ts hello`. Prints `LISTENING <port>`.
 *
 * @module
 */

import { parseServerArgs } from "./server_args.ts";

/** Per-connection read buffer: one pipelined batch of 16 small requests fits many times over. */
const READ_BUFFER_BYTES = 4096;

const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 13\r\n\r\n" +
    "Hello, World!",
);
const RESPONSE_THEN_CLOSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: 13\r\n" +
    "connection: close\r\n\r\nHello, World!",
);
const CLOSE = new TextEncoder().encode("close");

function includesBytes(haystack: Uint8Array, length: number, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

async function handle(connection: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  // How many bytes of a possible "\r\n\r\n" ended the previous read (heads split across reads).
  let matched = 0;
  try {
    while (true) {
      const length = await connection.read(buffer);
      if (length === null) return;
      let heads = 0;
      for (let i = 0; i < length; i++) {
        const byte = buffer[i];
        const expected = matched % 2 === 0 ? 13 : 10;
        if (byte === expected) {
          matched++;
          if (matched === 4) {
            heads++;
            matched = 0;
          }
        } else {
          matched = byte === 13 ? 1 : 0;
        }
      }
      if (heads === 0) continue;
      if (includesBytes(buffer, length, CLOSE)) {
        let written = 0;
        while (written < RESPONSE_THEN_CLOSE.length) {
          written += await connection.write(RESPONSE_THEN_CLOSE.subarray(written));
        }
        return;
      }
      const out = new Uint8Array(RESPONSE.length * heads);
      for (let i = 0; i < heads; i++) out.set(RESPONSE, i * RESPONSE.length);
      let written = 0;
      while (written < out.length) written += await connection.write(out.subarray(written));
    }
  } catch {
    // A reset by the client ends the connection; nothing to report in a ceiling measurement.
  } finally {
    try {
      connection.close();
    } catch {
      // Already closed.
    }
  }
}

if (parseServerArgs(Deno.args).mode !== "hello" || Deno.args.length !== 1) {
  // deno-lint-ignore no-console
  console.error("usage: deno_raw_loop.ts hello (plain TCP only: a ceiling for S1 and S5)");
  Deno.exit(2);
}
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
// deno-lint-ignore no-console
console.log(`LISTENING ${(listener.addr as Deno.NetAddr).port}`);
for await (const connection of listener) void handle(connection);
