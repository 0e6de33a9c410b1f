// Uploads 10 MB with Node's http.request, the way a Node program streams a file: 64 KiB writes
// that respect backpressure. Prints one JSON array with, per run, the response status seen (or
// null) and the first error code the request reported (EPIPE, ECONNRESET…, or null).
// Used by tests/engine_body_ownership_test.ts; argv[2] is the URL, argv[3] the number of runs.
import http from "node:http";

const url = new URL(process.argv[2]);
const runs = Number(process.argv[3] ?? "1");
const UPLOAD_BYTES = 10 * 1024 * 1024;
const PIECE = Buffer.alloc(64 * 1024, 0x61);
/** Bound on one run; a run that takes longer is reported with the error "timeout". */
const RUN_LIMIT_MS = 5_000;

function uploadOnce() {
  return new Promise((resolve) => {
    const result = { status: null, error: null };
    const request = http.request(url, {
      method: "POST",
      agent: false,
      headers: {
        "content-length": String(UPLOAD_BYTES),
        "content-type": "application/octet-stream",
      },
    });
    const timer = setTimeout(() => {
      result.error ??= "timeout";
      request.destroy();
    }, RUN_LIMIT_MS);
    request.on("response", (response) => {
      result.status = response.statusCode;
      response.resume();
    });
    request.on("error", (error) => {
      result.error ??= error.code ?? String(error);
    });
    request.on("close", () => {
      clearTimeout(timer);
      resolve(result);
    });
    let sent = 0;
    const writeMore = () => {
      while (sent < UPLOAD_BYTES) {
        sent += PIECE.length;
        if (!request.write(PIECE)) {
          request.once("drain", writeMore);
          return;
        }
      }
      request.end();
    };
    writeMore();
  });
}

const results = [];
for (let i = 0; i < runs; i++) results.push(await uploadOnce());
process.stdout.write(JSON.stringify(results) + "\n");
