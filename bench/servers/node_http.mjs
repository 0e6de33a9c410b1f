// The node:http baseline, run with the machine's `node` (not Deno's compatibility layer).
// Usage: node node_http.mjs hello [--cert=FILE --key=FILE]|static <dir>
// [--keep-alive-timeout-ms=N] (with a certificate, hello over TLS with node:https; the option sets
// `server.keepAliveTimeout`, 5 s by default, which M1 and M2 raise so that idle connections are
// kept while they measure).
// Prints `LISTENING <port>` once bound to 127.0.0.1 on a port chosen by the OS. Static files:
// stat, then read small files whole and stream large ones, the same minimal handler as
// deno_serve.ts; scripts gzipped on the fly for clients that accept it (S6, S7).
// deno-lint-ignore-file no-console
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { createReadStream, readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join, normalize } from "node:path";
import { createGzip } from "node:zlib";

const READ_WHOLE_MAX_BYTES = 64 * 1024;
const HELLO = Buffer.from("Hello, World!");
const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

const KEEP_ALIVE_OPTION = "--keep-alive-timeout-ms=";
const argv = process.argv.slice(2);
const keepAliveOption = argv.find((arg) => arg.startsWith(KEEP_ALIVE_OPTION));
const keepAliveTimeoutMs = keepAliveOption === undefined
  ? undefined
  : Number(keepAliveOption.slice(KEEP_ALIVE_OPTION.length));
const [mode, root, ...rest] = argv.filter((arg) => arg !== keepAliveOption);
const fileOf = (option) =>
  [root, ...rest].find((arg) => arg?.startsWith(option))?.slice(option.length);
const tls = mode === "hello" && root !== undefined
  ? { cert: fileOf("--cert="), key: fileOf("--key=") }
  : null;
if (
  !((mode === "hello" && (root === undefined || (tls.cert && tls.key && rest.length === 1))) ||
    (mode === "static" && root !== undefined && rest.length === 0)) ||
  (keepAliveTimeoutMs !== undefined && !(Number.isSafeInteger(keepAliveTimeoutMs) &&
    keepAliveTimeoutMs > 0))
) {
  console.error(
    "usage: node node_http.mjs hello [--cert=FILE --key=FILE] | static <dir> " +
      "[--keep-alive-timeout-ms=N]",
  );
  process.exit(2);
}

function resolvePath(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0]);
  } catch {
    return null;
  }
  const relative = normalize(decoded).replace(/^\/+/, "");
  if (relative === "" || relative.startsWith("..") || decoded.includes("\0")) return null;
  return join(root, relative);
}

function notFound(response) {
  response.writeHead(404, { "content-type": "text/plain", "content-length": "9" });
  response.end("Not Found");
}

async function serveFile(request, response) {
  const path = resolvePath(request.url);
  if (path === null) return notFound(response);
  let info;
  try {
    info = await stat(path);
  } catch {
    return notFound(response);
  }
  if (!info.isFile()) return notFound(response);
  const extension = path.slice(path.lastIndexOf("."));
  if (extension === ".js" && (request.headers["accept-encoding"] ?? "").includes("gzip")) {
    response.writeHead(200, {
      "content-type": CONTENT_TYPES[extension],
      "content-encoding": "gzip",
      vary: "Accept-Encoding",
    });
    createReadStream(path).pipe(createGzip()).pipe(response);
    return;
  }
  response.writeHead(200, {
    "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
    "content-length": String(info.size),
  });
  if (info.size <= READ_WHOLE_MAX_BYTES) {
    response.end(await readFile(path));
  } else {
    createReadStream(path).pipe(response);
  }
}

const handler = mode === "hello"
  ? (_request, response) => {
    response.writeHead(200, {
      "content-type": "text/plain;charset=UTF-8",
      "content-length": String(HELLO.length),
    });
    response.end(HELLO);
  }
  : (request, response) => {
    serveFile(request, response).catch(() => response.destroy());
  };
const server = tls === null
  ? createServer(handler)
  : createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler);
if (keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = keepAliveTimeoutMs;
server.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
