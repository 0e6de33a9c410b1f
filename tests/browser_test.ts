// One real browser: Debian's headless Chromium loads the page in tests/fixtures/browser_site/ (a
// copy of the demo site's, so that replacing the demo changes nothing here) through the
// sockserve command line, and the test reads the DOM Chromium ends up with. The page's module
// script only runs when served as JavaScript, its stylesheet only applies when served as CSS
// (nosniff), and the script writes what it saw into the page, so the DOM proves all of it.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startSockserve } from "./cli_helpers.ts";
import { CHROMIUM, dumpDom, hasChromium, textById } from "./support/chromium.ts";

const SITE_DIR = fileURLToPath(new URL("./fixtures/browser_site", import.meta.url));

Deno.test({
  name: hasChromium
    ? "browser: headless Chromium renders a page, runs its script and applies its CSS"
    : `browser: a page in Chromium (ignored: ${CHROMIUM} not installed)`,
  ignore: !hasChromium,
  async fn() {
    const server = await startSockserve([SITE_DIR, "--host", "127.0.0.1", "--port", "0"]);
    try {
      const dom = await dumpDom(server.url.href);
      assert.match(dom, /<h1>It works: sockserve is serving this site\.<\/h1>/);
      // Written by app.js: it ran, it saw the stylesheet's custom property, the SVG decoded.
      assert.match(dom, /<html lang="en" data-js="ran">/);
      assert.equal(textById(dom, "js-status"), "ran (4 features added)");
      assert.equal(textById(dom, "css-status"), "applied");
      assert.equal(textById(dom, "img-status"), "loaded (96x96)");
      assert.equal(dom.match(/class="js-feature"/g)?.length, 4);

      // Every subresource went through sockserve and was answered 200.
      for (const path of ["/", "/style.css", "/app.js", "/logo.svg"]) {
        const line = await server.stdout.waitFor(
          new RegExp(`"GET ${path.replace(".", "\\.")} HTTP/1\\.1" 200 `),
          `access log line for ${path}`,
        );
        assert.match(line, /HeadlessChrome/);
      }
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: hasChromium
    ? "browser: a missing page shows the site's own 404.html"
    : `browser: custom 404 page in Chromium (ignored: ${CHROMIUM} not installed)`,
  ignore: !hasChromium,
  async fn() {
    const server = await startSockserve([SITE_DIR, "--host", "127.0.0.1", "--port", "0"]);
    try {
      const dom = await dumpDom(new URL("/no/such/page", server.url).href);
      assert.match(dom, /<h1>404: nothing here<\/h1>/);
      assert.equal(
        textById(dom, "not-found-message"),
        "The page you asked for does not exist on this site.",
      );
      await server.stdout.waitFor(/"GET \/no\/such\/page HTTP\/1\.1" 404 /, "404 log line");
    } finally {
      await server.close();
    }
  },
});
