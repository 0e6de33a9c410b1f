/**
 * The client side of M1 and M2: opens N keep-alive connections, completes one GET on each, then
 * holds them idle. Runs as its own process so that the open-files limit can be raised for it and
 * it can be pinned away from the server.
 *
 * Usage: `deno run --allow-net idle_client.ts <port> <count> <path>`. Prints
 * `HOLDING <held> FAILED <failed>` once every connection has completed its request or failed.
 * Then, for each line `count` on stdin, it prints `OPEN <n>`: how many of its connections the
 * server has not closed. Each held connection keeps a read pending, which ends when the server
 * closes it (or resets it); the client itself never writes again, so the server sees an idle
 * connection. Stdin closing (or a line `release`) closes every connection and ends the process,
 * as does {@linkcode IDLE_SERVER_TIMEOUT_MS} passing, after which the servers would let them go.
 *
 * @module
 */

import { httpGet } from "./probe.ts";
import { IDLE_SERVER_TIMEOUT_MS } from "./options.ts";

/** Connections being opened at once: fast, without overflowing the server's accept backlog. */
const OPEN_CONCURRENCY = 50;

const [portText, countText, path = "/"] = Deno.args;
const port = Number(portText);
const count = Number(countText);
if (!Number.isInteger(port) || !Number.isInteger(count) || count < 1) {
  // deno-lint-ignore no-console
  console.error("usage: idle_client.ts <port> <count> [path]");
  Deno.exit(2);
}

const held: Deno.Conn[] = [];
/** Held connections the server has not closed. */
let open = 0;
/** Where the pending reads land; nothing is expected on an idle connection, and it is dropped. */
const sink = new Uint8Array(64);

/** Keeps a read pending on a held connection until the server closes it (or resets it). */
async function watch(connection: Deno.Conn): Promise<void> {
  open++;
  try {
    while ((await connection.read(sink)) !== null) {
      // Bytes on an idle connection (a 408 before a close, say): keep reading until it ends.
    }
  } catch {
    // Reset by the server, or closed here on release.
  }
  open--;
}

let failures = 0;
let next = 0;
async function openMore(): Promise<void> {
  while (next < count) {
    next++;
    try {
      const response = await httpGet(port, path);
      held.push(response.connection);
      void watch(response.connection);
    } catch {
      failures++;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, openMore));
// deno-lint-ignore no-console
console.log(`HOLDING ${held.length} FAILED ${failures}`);

// Hold until the harness closes our stdin, bounded in time.
const timer = setTimeout(() => Deno.exit(0), IDLE_SERVER_TIMEOUT_MS);
let pending = "";
commands: for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += chunk;
  let newline: number;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (command !== "count") break commands;
    // One turn of the event loop first, so that closes already received have ended their reads.
    await new Promise((resolve) => setTimeout(resolve, 0));
    // deno-lint-ignore no-console
    console.log(`OPEN ${open}`);
  }
}
clearTimeout(timer);
for (const connection of held) {
  try {
    connection.close();
  } catch {
    // Already closed by the server and its read.
  }
}
