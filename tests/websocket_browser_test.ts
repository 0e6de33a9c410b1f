/**
 * A WebSocket in a real browser: headless Chromium loads a page from `serve()` (the files of
 * tests/fixtures/websocket_page/ through `createFileServer()`), whose script talks to an echoing
 * `upgradeWebSocket()` socket on the same server — text, binary, a Blob, a 300 kB message, a
 * subprotocol, keep-alive pings answered by the browser for longer than `idleTimeout`, and a
 * close from the server — then posts what it saw to `/report`. The page's load event waits for
 * that report (an image the server answers only after it), so Chromium's `--dump-dom` exits only
 * when the conversation is over.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createFileServer, upgradeWebSocket } from "../server/mod.ts";
import { CHROMIUM, dumpDom, hasChromium, textById } from "./support/chromium.ts";
import { startServer } from "./support/test_server.ts";
import { type ServerSide, watchSocket } from "./support/websocket_clients.ts";

const PAGE_DIR = fileURLToPath(new URL("./fixtures/websocket_page", import.meta.url));

/** Longest the server holds the page's image when no report comes (the page failed). */
const REPORT_LIMIT_MS = 30_000;

/** Keep-alive of the test socket: a Ping after 0.5 s of silence, closed 0.5 s after that. */
const IDLE_TIMEOUT_SECONDS = 1;

/** The server waits this long before answering "wait for pings": two idle periods and a half. */
const PING_WAIT_MS = 2_500;

const EXPECTED = {
  protocol: "chat.v2",
  extensions: "",
  welcome: "welcome",
  text: "héllo ✓ 😀",
  binary: [1, 2, 3],
  blob: [4, 5],
  big: true,
  alive: "still open",
  close: [4000, "bye from sockserve", true],
};

Deno.test({
  name: hasChromium
    ? "browser: Chromium talks to an upgradeWebSocket() socket through serve()"
    : `browser: a WebSocket in Chromium (ignored: ${CHROMIUM} not installed)`,
  ignore: !hasChromium,
  async fn() {
    const files = createFileServer({ root: PAGE_DIR });
    const report = Promise.withResolvers<unknown>();
    const sides: ServerSide[] = [];
    const timers = new Set<ReturnType<typeof setTimeout>>();
    await using test = startServer(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/ws") {
        const { socket, response } = upgradeWebSocket(request, {
          protocol: ["chat.v2", "chat.v1"],
          idleTimeout: IDLE_TIMEOUT_SECONDS,
        });
        sides.push(watchSocket(socket));
        socket.addEventListener("open", () => socket.send("welcome"));
        socket.addEventListener("message", (event) => {
          if (event.data === "close me") socket.close(4000, "bye from sockserve");
          else if (event.data === "wait for pings") {
            const timer = setTimeout(() => {
              timers.delete(timer);
              if (socket.readyState === WebSocket.OPEN) socket.send("still open");
            }, PING_WAIT_MS);
            timers.add(timer);
          } else socket.send(event.data);
        });
        return response;
      }
      if (path === "/report" && request.method === "POST") {
        report.resolve(await request.json());
        return new Response(null, { status: 204 });
      }
      if (path === "/hold") {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          report.promise,
          new Promise((resolve) => timer = setTimeout(resolve, REPORT_LIMIT_MS)),
        ]);
        clearTimeout(timer);
        return new Response('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', {
          headers: { "content-type": "image/svg+xml" },
        });
      }
      return files(request);
    });
    try {
      const dom = await dumpDom(`http://127.0.0.1:${test.port}/`);
      const seen = await Promise.race([report.promise, Promise.resolve("no report")]);
      assert.deepEqual(seen, EXPECTED);
      assert.deepEqual(JSON.parse(textById(dom, "result") ?? "null"), EXPECTED);

      assert.equal(sides.length, 1);
      const side = sides[0]!;
      const closed = await side.closed;
      assert.equal(closed.code, 4000, "Chromium echoed the server's code");
      assert.equal(closed.wasClean, true);
      assert.equal(side.error, null);
      assert.equal(side.socket.protocol, "chat.v2");
      assert.deepEqual(side.events.filter((event) => event !== "message"), ["open", "close"]);
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  },
});
