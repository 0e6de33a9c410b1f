/** The framing module stays sans-IO: no Deno APIs, no timers, no clock, no I/O imports. */
import assert from "node:assert/strict";

const FRAMING_DIR = new URL("../server/http1/", import.meta.url);
const FORBIDDEN = [
  /\bDeno\./,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bDate\.now\b/,
  /\bperformance\./,
  /\bnew Date\(\)/,
  /\bfetch\(/,
];
/** Imports allowed from outside the framing module: the pure limits table and node:buffer's
 * latin1 decoder (computation only, no I/O). */
const ALLOWED_OUTSIDE = new Set(["../limits.ts", "node:buffer"]);

/** Files that must be among those checked (the WebSocket codec lives in the pure module too). */
const REQUIRED = [
  "request_parser.ts",
  "request_line.ts",
  "request_head.ts",
  "chunked_coding.ts",
  "fields.ts",
  "syntax.ts",
  "response_framing.ts",
  "response_head.ts",
  "body_encoding.ts",
  "http_date.ts",
  "websocket_frames.ts",
  "websocket_messages.ts",
  "websocket_close.ts",
  "websocket_handshake.ts",
];

Deno.test("server/http1 uses no Deno API, timer, clock or I/O", async () => {
  let files = 0;
  const checked = new Set<string>();
  for await (const entry of Deno.readDir(FRAMING_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    checked.add(entry.name);
    const source = await Deno.readTextFile(new URL(entry.name, FRAMING_DIR));
    const code = withoutComments(source);
    for (const pattern of FORBIDDEN) {
      assert.doesNotMatch(code, pattern, `${entry.name} uses ${pattern}`);
    }
    for (const match of code.matchAll(/from\s+"([^"]+)"/g)) {
      const specifier = match[1]!;
      assert.ok(
        specifier.startsWith("./") || ALLOWED_OUTSIDE.has(specifier),
        `${entry.name} imports ${specifier}`,
      );
    }
  }
  assert.ok(files >= 5, "the framing module's files were found");
  for (const name of REQUIRED) assert.ok(checked.has(name), `${name} was checked`);
});

Deno.test("server/limits.ts, imported by the framing module, is pure too", async () => {
  const source = withoutComments(
    await Deno.readTextFile(new URL("../server/limits.ts", import.meta.url)),
  );
  for (const pattern of FORBIDDEN) assert.doesNotMatch(source, pattern);
  assert.doesNotMatch(source, /^import (?!type)/m);
});

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}
