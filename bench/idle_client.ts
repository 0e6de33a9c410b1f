/**
 * The client side of M1: opens N keep-alive connections, completes one GET on each, then holds
 * them idle until stdin closes (or {@linkcode MAX_HOLD_MS} passes). Runs as its own process so
 * that the open-files limit can be raised for it and it can be pinned away from the server.
 * Usage: `deno run --allow-net idle_client.ts <port> <count> <path>`; prints `HOLDING <n>`.
 *
 * @module
 */

import { httpGet } from "./probe.ts";

/** Connections being opened at once: fast, without overflowing the server's accept backlog. */
const OPEN_CONCURRENCY = 50;

/** Upper bound on how long connections are held if the harness never says to let go. */
const MAX_HOLD_MS = 60_000;

const [portText, countText, path = "/"] = Deno.args;
const port = Number(portText);
const count = Number(countText);
if (!Number.isInteger(port) || !Number.isInteger(count) || count < 1) {
  // deno-lint-ignore no-console
  console.error("usage: idle_client.ts <port> <count> [path]");
  Deno.exit(2);
}

const held: Deno.Conn[] = [];
let failures = 0;
let next = 0;
async function openMore(): Promise<void> {
  while (next < count) {
    next++;
    try {
      const response = await httpGet(port, path);
      held.push(response.connection);
    } catch {
      failures++;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, openMore));
// deno-lint-ignore no-console
console.log(`HOLDING ${held.length} FAILED ${failures}`);

// Hold until the harness closes our stdin, bounded in time.
const timer = setTimeout(() => Deno.exit(0), MAX_HOLD_MS);
const sink = new Uint8Array(64);
while ((await Deno.stdin.read(sink)) !== null) {
  // Any input also means "let go".
  break;
}
clearTimeout(timer);
for (const connection of held) connection.close();
