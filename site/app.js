// Demo site script. It changes the page so that a visitor (and tests/browser_test.ts, which reads
// the DOM from headless Chromium) can see that scripts, styles and images were served correctly.
// A module script only runs when it is served with a JavaScript MIME type.

const features = [
  ["Range requests", "resume downloads and seek in video (206, multipart/byteranges)"],
  ["Validators", "ETag and Last-Modified, answered with 304 Not Modified"],
  ["Compression", "precompressed .br/.gz files, or gzip on the fly"],
  ["Graceful shutdown", "SIGTERM lets in-flight requests finish"],
];

const list = document.getElementById("features");
for (const [name, detail] of features) {
  const item = document.createElement("li");
  item.className = "js-feature";
  const strong = document.createElement("strong");
  strong.textContent = name;
  item.append(strong, `: ${detail}`);
  list.append(item);
}

document.getElementById("js-status").textContent = `ran (${features.length} features added)`;
document.documentElement.dataset.js = "ran";

// Stylesheets that come before a module script are applied before it runs, so the custom
// property from style.css is visible here when the CSS was served as text/css.
const cssMarker = getComputedStyle(document.documentElement).getPropertyValue("--sockserve-css");
document.getElementById("css-status").textContent = cssMarker.trim() === "loaded"
  ? "applied"
  : "not applied";

// The image may still be loading when this runs; the window load event waits for it.
function reportImage() {
  const logo = document.getElementById("logo");
  document.getElementById("img-status").textContent = logo.complete && logo.naturalWidth > 0
    ? `loaded (${logo.naturalWidth}x${logo.naturalHeight})`
    : "failed";
}
if (document.readyState === "complete") reportImage();
else addEventListener("load", reportImage);
