/**
 * Debian's headless Chromium, for the browser checks: whether it is installed, and a page load
 * that returns the DOM Chromium ends up with after the load event (`--dump-dom`), in a fresh
 * profile that is removed afterwards.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Where Debian's `chromium` package installs the browser (`.ci/run` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Upper bound for one page load; Chromium normally needs about a second. */
const CHROMIUM_LIMIT_MS = 60_000;

function chromiumExists(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Whether {@linkcode CHROMIUM} is installed: tests without it report themselves ignored. */
export const hasChromium: boolean = chromiumExists();

/** Loads `url` in a fresh headless Chromium profile and returns the DOM after the load event. */
export async function dumpDom(url: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "sockserve_chromium_" });
  try {
    const output = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--dump-dom",
        url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(CHROMIUM_LIMIT_MS),
    }).output();
    const dom = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return dom;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** Text content of the element with `id` in serialized HTML (the elements here hold text only). */
export function textById(dom: string, id: string): string | undefined {
  return new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom)?.[1];
}
