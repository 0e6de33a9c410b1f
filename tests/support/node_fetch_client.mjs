// Runs Node's built-in fetch (undici) against a sockserve server and prints one JSON line with
// what it saw. Used by tests/interop_node_fetch_test.ts; argv[2] is the base URL.
const base = process.argv[2];
const result = {};

// Keep-alive: sequential requests reuse pooled connections.
result.ports = [];
for (let i = 0; i < 5; i++) {
  const response = await fetch(`${base}/port`);
  result.ports.push((await response.json()).remotePort);
}

const get = await fetch(`${base}/hello?x=1`);
result.get = { status: get.status, type: get.headers.get("content-type"), body: await get.json() };

const post = await fetch(`${base}/submit`, {
  method: "POST",
  headers: { "content-type": "text/plain" },
  body: "posted by node",
});
result.post = await post.json();

// A streamed request body: undici sends it chunked.
const encoder = new TextEncoder();
let part = 0;
const upload = new ReadableStream({
  pull(controller) {
    if (part === 4) return controller.close();
    controller.enqueue(encoder.encode(`chunk${part++}`));
  },
});
const streamed = await fetch(`${base}/upload`, { method: "PUT", body: upload, duplex: "half" });
result.streamedUpload = await streamed.json();

const stream = await fetch(`${base}/stream`);
result.stream = {
  transferEncoding: stream.headers.get("transfer-encoding"),
  body: await stream.text(),
};

const head = await fetch(`${base}/hello`, { method: "HEAD" });
result.head = {
  status: head.status,
  length: head.headers.get("content-length"),
  body: await head.text(),
};

process.stdout.write(JSON.stringify(result) + "\n");
