// Opens connections to a server on 127.0.0.1 and resets them (TCP RST, not FIN) at a chosen
// point. Deno cannot send a reset on demand; Node's socket.resetAndDestroy() can.
// Usage: node reset_client.mjs <port> <mode> <count>; prints {"done": n} when finished.
// Modes: mid-head, mid-body, mid-response.

import net from "node:net";

const [portText, mode, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const STEP_TIMEOUT_MS = 5000;

const HEADS = {
  "mid-head": "GET /hello HTTP/1.1\r\nHost: a\r\nX-Partial: some",
  "mid-body": "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n" +
    "x".repeat(65536),
  "mid-response": "GET /bytes?n=10485760 HTTP/1.1\r\nHost: a\r\n\r\n",
};

function once() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => reject(new Error(`${mode}: step timed out`)), STEP_TIMEOUT_MS);
    const reset = () => {
      clearTimeout(timer);
      socket.resetAndDestroy();
      resolve();
    };
    socket.on("error", () => {});
    socket.on("connect", () => {
      socket.write(HEADS[mode], () => {
        // mid-response waits for the first bytes of the response; the others reset at once.
        if (mode !== "mid-response") reset();
      });
    });
    if (mode === "mid-response") socket.once("data", reset);
  });
}

for (let i = 0; i < count; i++) await once();
process.stdout.write(JSON.stringify({ done: count }), () => process.exit(0));
