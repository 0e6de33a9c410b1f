/**
 * One conversation of a client built on the `ws` package (npm, pinned in deno.lock) with a
 * sockserve WebSocket that echoes, closes with 4002 on "close-me" and speaks the "chat"
 * subprotocol. Run by real Node (ws_node_client.mjs) and by Deno's npm compatibility layer; it
 * returns what the client saw, for the test to compare.
 *
 * `ws` offers permessage-deflate by default: the server must not negotiate it, and every frame it
 * sends must pass ws's own checks (unmasked, valid UTF-8, valid close code).
 */

/**
 * @param {any} WebSocket the `ws` package's WebSocket class
 * @param {string} url ws:// URL of the server
 * @returns {Promise<Record<string, unknown>>}
 */
export async function scenario(WebSocket, url) {
  const results = {};
  const ws = new WebSocket(url, ["chat"]);
  const inbox = [];
  let waiter = null;
  ws.on("message", (data, isBinary) => {
    const item = { data, isBinary };
    if (waiter !== null) {
      const resolve = waiter;
      waiter = null;
      resolve(item);
    } else inbox.push(item);
  });
  const next = () =>
    inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiter = resolve);
  const errors = [];
  ws.on("error", (error) => errors.push(String(error)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("close", () => reject(new Error(`closed before open: ${errors.join("; ")}`)));
  });
  results.protocol = ws.protocol;
  results.extensions = ws.extensions;

  ws.send("hello from ws");
  let message = await next();
  results.text = [message.isBinary, message.data.toString()];

  ws.send(Uint8Array.from([1, 2, 3]));
  message = await next();
  results.binary = [message.isBinary, [...message.data]];

  ws.send("frag", { fin: false });
  ws.send("ment", { fin: true });
  message = await next();
  results.fragmented = message.data.toString();

  const pong = new Promise((resolve) => ws.once("pong", (data) => resolve(data.toString())));
  ws.ping("keepalive");
  results.pong = await pong;

  const big = new Uint8Array(1 << 20).fill(0x5a);
  big[12345] = 1;
  ws.send(big);
  message = await next();
  results.big = [message.data.length, message.data[12345], message.data[0]];

  const unicode = "ünïcødé ✓ 😀";
  ws.send(unicode);
  message = await next();
  results.unicode = message.data.toString() === unicode;

  const closed = new Promise((resolve) =>
    ws.once("close", (code, reason) => resolve([code, reason.toString()]))
  );
  ws.send("close-me");
  results.close = await closed;
  results.errors = errors;
  return results;
}
