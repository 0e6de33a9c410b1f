/**
 * The chat example of docs/websocket.md, run as a reader would run it: the first TypeScript block
 * under "A chat in one file", with the package name pointed at this checkout, started with the
 * command the page gives (`--allow-net --allow-env=PORT`; PORT=0 lets the OS choose). Two members
 * join, one speaks, both hear it; the page is served, and a plain GET of the socket's path gets
 * 400.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { denoClient } from "./support/websocket_clients.ts";

const DOC = new URL("../docs/websocket.md", import.meta.url);
const MOD = new URL("../server/mod.ts", import.meta.url).href;

/** The first ```ts block after `heading`. */
function codeAfter(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  assert.ok(start >= 0, `no heading ${heading}`);
  const match = /```ts\n([\s\S]*?)```/.exec(markdown.slice(start));
  assert.ok(match !== null, `no ts block after ${heading}`);
  return match[1]!;
}

Deno.test("docs: the WebSocket chat example serves its page and relays a message to every member", async () => {
  const source = codeAfter(await Deno.readTextFile(DOC), "## A chat in one file");
  assert.match(source, /from "@sockserve\/sockserve"/);
  const dir = await Deno.makeTempDir({ prefix: "sockserve_chat_" });
  const file = join(dir, "chat.ts");
  await Deno.writeTextFile(file, source.replace('"@sockserve/sockserve"', JSON.stringify(MOD)));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env=PORT", file],
    cwd: dir,
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    // serve()'s default onListen prints "Listening on http://127.0.0.1:PORT/" on stderr.
    let printed = "";
    let port = 0;
    while (port === 0) {
      const { value, done } = await stderr.read();
      if (done) assert.fail(`the example exited: ${printed}${(await stdout.read()).value ?? ""}`);
      printed += value;
      port = Number(/Listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(printed)?.[1] ?? 0);
    }
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /new WebSocket\(`ws:\/\/\$\{location\.host\}\/chat`\)/);
    const plain = await fetch(`http://127.0.0.1:${port}/chat`);
    assert.equal(plain.status, 400);
    await plain.body?.cancel();

    const [ada, bob] = [
      await denoClient(port, undefined, "/chat"),
      await denoClient(port, undefined, "/chat"),
    ];
    ada.ws.send("hello from ada");
    assert.equal(await ada.messages.next(), "hello from ada");
    assert.equal(await bob.messages.next(), "hello from ada");
    bob.ws.close();
    await bob.closed;
    ada.ws.send("still here");
    assert.equal(await ada.messages.next(), "still here");
    ada.ws.close();
    await ada.closed;
  } finally {
    child.kill();
    await child.status;
    await stdout.cancel().catch(() => {});
    await stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
