// What does Node's HTTP parser make of these bytes? Run by tests/differential_node_test.ts.
//
// Reads a JSON array of base64 inputs on stdin, starts a node:http server on 127.0.0.1:0, sends
// each input raw on its own connection (then half-closes), and prints one JSON result per input:
// { verdict: "accept", method, url, body, headerCount } when the handler saw a complete request,
// { verdict: "reject", status, code } when Node answered with an error, and
// { verdict: "incomplete" } when Node neither answered nor failed (it wanted more bytes).
// Loopback only; every connection is bounded by PER_CASE_TIMEOUT_MS.

import http from "node:http";
import net from "node:net";

const PER_CASE_TIMEOUT_MS = 2000;
const PARALLEL = 32;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const inputs = JSON.parse(Buffer.concat(chunks).toString("utf8")).map((b64) =>
  Buffer.from(b64, "base64")
);

const server = http.createServer((req, res) => {
  const body = [];
  req.on("data", (data) => body.push(data));
  req.on("end", () => {
    // The result travels in a header so that it also survives a HEAD response (no body).
    const result = JSON.stringify({
      verdict: "accept",
      method: req.method,
      url: req.url,
      body: Buffer.concat(body).toString("latin1"),
      headerCount: req.rawHeaders.length / 2,
    });
    res.setHeader("connection", "close");
    res.setHeader("x-result", Buffer.from(result, "latin1").toString("base64"));
    res.end();
  });
  req.on("error", () => {});
});
server.on("clientError", (error, socket) => {
  if (!socket.writable) return socket.destroy();
  const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  socket.end(
    `HTTP/1.1 ${status} Bad\r\nconnection: close\r\ncontent-length: ${error.code.length}\r\n\r\n` +
      error.code,
  );
});

await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address();

function runCase(input) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const received = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString("latin1");
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match === null) return resolve({ verdict: "incomplete" });
      const status = Number(match[1]);
      const bodyStart = text.indexOf("\r\n\r\n") + 4;
      const body = text.slice(bodyStart);
      const result = /\r\nx-result: ([A-Za-z0-9+/=]+)\r\n/i.exec(text.slice(0, bodyStart));
      if (status === 200 && result !== null) {
        return resolve(JSON.parse(Buffer.from(result[1], "base64").toString("latin1")));
      }
      resolve({ verdict: "reject", status, code: body });
    };
    const timer = setTimeout(finish, PER_CASE_TIMEOUT_MS);
    socket.on("data", (data) => received.push(data));
    socket.on("close", finish);
    socket.on("error", finish);
    socket.write(input, () => socket.end());
  });
}

const results = new Array(inputs.length);
let next = 0;
async function worker() {
  while (next < inputs.length) {
    const index = next++;
    results[index] = await runCase(inputs[index]);
  }
}
await Promise.all(Array.from({ length: PARALLEL }, worker));
server.close();
// Exit only once the output is flushed: a pipe write is asynchronous.
process.stdout.write(JSON.stringify(results), () => process.exit(0));
