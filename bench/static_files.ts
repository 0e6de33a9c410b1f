/**
 * The files the static scenarios serve, written to a temporary directory at the start of a run.
 *
 * @module
 */

import { join } from "node:path";
import {
  LARGE_FILE_BYTES,
  LARGE_FILE_NAME,
  SCRIPT_FILE_BYTES,
  SCRIPT_FILE_NAME,
  SMALL_FILE_BYTES,
  SMALL_FILE_NAME,
} from "./options.ts";

/** Writes the 1 KiB page, the 10 MiB file and the 2 MiB script into `dir`. */
export async function writeStaticFiles(dir: string): Promise<void> {
  // Printable, compressible-looking content like a real page; the large file a repeating pattern.
  const page = "<!doctype html><title>bench</title>\n" + "x".repeat(SMALL_FILE_BYTES);
  await Deno.writeTextFile(join(dir, SMALL_FILE_NAME), page.slice(0, SMALL_FILE_BYTES));
  const large = new Uint8Array(LARGE_FILE_BYTES);
  for (let i = 0; i < large.length; i++) large[i] = (i * 31 + (i >> 10)) & 0xff;
  await Deno.writeFile(join(dir, LARGE_FILE_NAME), large);
  await Deno.writeTextFile(join(dir, SCRIPT_FILE_NAME), scriptText(SCRIPT_FILE_BYTES));
}

/**
 * JavaScript-like text of `bytes` bytes: identifiers and keywords from a small vocabulary in a
 * pseudo-random order, so that it compresses like source code (about 4:1 with gzip) rather than
 * like a repeated line (hundreds to one).
 */
function scriptText(bytes: number): string {
  const words = [
    "const",
    "return",
    "function",
    "value",
    "index",
    "length",
    "if",
    "else",
    "this",
    "options",
    "callback",
    "undefined",
    "null",
    "=>",
    "{",
    "}",
    "(",
    ")",
  ];
  let state = 12345;
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const word = words[state % words.length]! + (state % 11 === 0 ? ";\n" : " ");
    const name = state % 5 === 0 ? `v${state % 997} ` : "";
    parts.push(word, name);
    length += word.length + name.length;
  }
  return parts.join("").slice(0, bytes);
}
