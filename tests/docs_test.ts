/**
 * The documentation as a newcomer meets it: a README short enough to read, whose first screen has
 * the two commands CI runs, and Markdown pages whose every relative link and anchor resolves.
 *
 * External links (http, https, mailto) are not followed: the tests run offline.
 */

import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_DIR = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const readRepoText = (path: string) => Deno.readTextFileSync(join(REPO_DIR, path));

/** The README's size budget: one screen to start from, the rest in docs/. */
const README_MAX_BYTES = 12 * 1024;
/** Lines of a terminal or browser window: what a newcomer sees without scrolling. */
const FIRST_SCREEN_LINES = 24;

/**
 * Directories never read for Markdown: not part of a checkout, or content the project serves
 * rather than documents (the demo site in site/: a site put there must not break the suite).
 */
const SKIPPED_DIRS = new Set([".git", "node_modules", "dist", "coverage", "site"]);

/** Every Markdown file of the repository, relative and `/`-separated. */
function markdownFiles(): string[] {
  const files: string[] = [];
  const visit = (dir: string) => {
    for (const entry of Deno.readDirSync(join(REPO_DIR, dir))) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory && !SKIPPED_DIRS.has(path) && !SKIPPED_DIRS.has(entry.name)) {
        visit(path);
      } else if (entry.isFile && entry.name.endsWith(".md")) files.push(path);
    }
  };
  visit("");
  return files.sort();
}

/** The text with fenced code blocks and inline code spans blanked (links there are not links). */
function proseOnly(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
      lines.push("");
    } else if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
      }
      lines.push("");
    } else lines.push(line.replace(/(`+)(?:(?!\1).)+?\1/g, ""));
  }
  return lines.join("\n");
}

/** Link and image targets: inline `[text](target)`, reference definitions, HTML href/src. */
function linkTargets(markdown: string): string[] {
  const prose = proseOnly(markdown);
  const targets: string[] = [];
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    targets.push(m[1] ?? "");
  }
  for (const m of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    targets.push(m[1] ?? "");
  }
  for (const m of prose.matchAll(/\b(?:href|src)="([^"]+)"/g)) targets.push(m[1] ?? "");
  return targets;
}

/**
 * The anchor GitHub gives a heading: inline markup dropped, lower case, punctuation other than
 * `-` and `_` removed, each space a `-`.
 */
function headingSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a page offers: heading slugs (repeats numbered as GitHub does) and HTML ids. */
function pageAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseOnly(markdown).split("\n")) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = headingSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] ?? "");
  }
  return anchors;
}

/** What is wrong with one link of the page at `page` (repository-relative), or undefined. */
function brokenLink(
  page: string,
  target: string,
  read: (path: string) => string | undefined,
  isFile: (path: string) => boolean | undefined,
): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    return /^(https?|mailto):/i.test(target) ? undefined : `${target}: unexpected scheme`;
  }
  const hashAt = target.indexOf("#");
  const pathPart = hashAt < 0 ? target : target.slice(0, hashAt);
  const anchor = hashAt < 0 ? undefined : decodeURIComponent(target.slice(hashAt + 1));
  if (pathPart.startsWith("/")) return `${target}: absolute paths do not resolve on every host`;
  const resolved = pathPart === ""
    ? page
    : normalize(join(dirname(page), decodeURIComponent(pathPart))).replace(/\/$/, "");
  if (resolved.startsWith("..")) return `${target}: leaves the repository`;
  const file = isFile(resolved);
  if (file === undefined) return `${target}: ${resolved} does not exist`;
  if (anchor === undefined) return undefined;
  if (!file || !resolved.endsWith(".md")) return `${target}: anchor into a non-Markdown target`;
  const text = read(resolved) ?? "";
  return pageAnchors(text).has(anchor) ? undefined : `${target}: no heading #${anchor}`;
}

function repoIsFile(path: string): boolean | undefined {
  try {
    return Deno.statSync(join(REPO_DIR, path)).isFile;
  } catch {
    return undefined;
  }
}

function repoRead(path: string): string | undefined {
  try {
    return readRepoText(path);
  } catch {
    return undefined;
  }
}

Deno.test("docs: heading anchors follow GitHub's rules", () => {
  const rows: [string, string][] = [
    ["HTTP/1.1 conformance choices", "http11-conformance-choices"],
    ["Where sockserve loses time", "where-sockserve-loses-time"],
    ["`--workers` and ports", "--workers-and-ports"],
    ["[Embedding API](x.md) in short", "embedding-api-in-short"],
    ["snake_case names", "snake_case-names"],
    ["Größe & Über", "größe--über"],
  ];
  for (const [heading, slug] of rows) assert.equal(headingSlug(heading), slug, heading);
  const anchors = pageAnchors("# A\n\n## Limits\n\n```md\n## Not a heading\n```\n\n## Limits\n");
  assert.deepEqual([...anchors], ["a", "limits", "limits-1"]);
});

Deno.test("docs: the link checker finds links in prose only, and reports what is broken", () => {
  const page = [
    "See [the CLI](docs/cli.md#logging), ![chart](bench/chart.svg) and [site](https://x.example/).",
    "`[not](a-link.md)` and",
    "```md",
    "[not](a-link-either.md)",
    "```",
    "[ref]: docs/ops.md",
    '<img src="logo.svg">',
  ].join("\n");
  assert.deepEqual(linkTargets(page), [
    "docs/cli.md#logging",
    "bench/chart.svg",
    "https://x.example/",
    "docs/ops.md",
    "logo.svg",
  ]);
  const files: Record<string, string> = {
    "README.md": "# Top\n",
    "docs/cli.md": "# Command line\n\n## Logging\n",
    "docs/img.svg": "<svg/>",
  };
  const read = (path: string) => files[path];
  const isFile = (path: string) => path in files ? true : path === "docs" ? false : undefined;
  const check = (page: string, target: string) => brokenLink(page, target, read, isFile);
  assert.equal(check("README.md", "docs/cli.md#logging"), undefined);
  assert.equal(check("docs/cli.md", "../README.md#top"), undefined);
  assert.equal(check("docs/cli.md", "#logging"), undefined);
  assert.equal(check("docs/cli.md", "img.svg"), undefined);
  assert.equal(check("README.md", "docs"), undefined);
  assert.equal(check("README.md", "https://example.com/nowhere"), undefined);
  assert.match(check("README.md", "docs/cli.md#loging") ?? "", /no heading #loging/);
  assert.match(check("README.md", "docs/missing.md") ?? "", /does not exist/);
  assert.match(check("docs/cli.md", "cli.md#top") ?? "", /no heading/);
  assert.match(check("README.md", "../outside.md") ?? "", /leaves the repository/);
  assert.match(check("README.md", "/docs/cli.md") ?? "", /absolute/);
  assert.match(check("README.md", "docs/img.svg#x") ?? "", /non-Markdown/);
  assert.match(check("README.md", "file:///etc/passwd") ?? "", /unexpected scheme/);
});

Deno.test("docs: every relative link and anchor in the repository's Markdown resolves", () => {
  const pages = markdownFiles();
  assert.ok(pages.includes("README.md") && pages.includes("docs/cli.md"), `found ${pages}`);
  const problems: string[] = [];
  let links = 0;
  for (const page of pages) {
    for (const target of linkTargets(readRepoText(page))) {
      links++;
      const problem = brokenLink(page, target, repoRead, repoIsFile);
      if (problem !== undefined) problems.push(`${page}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(links >= 20, `checked ${links} links`);
});

Deno.test("docs: README is at most 12 KiB and links every page of docs/", () => {
  const readme = readRepoText("README.md");
  const bytes = new TextEncoder().encode(readme).length;
  assert.ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes`);
  const linked = new Set(
    linkTargets(readme).map((target) => normalize(target.split("#")[0] ?? "")),
  );
  const pages = markdownFiles().filter((page) =>
    page.startsWith("docs/") || page === "bench/README.md"
  );
  assert.ok(pages.length >= 7, `found ${pages}`);
  for (const page of pages) assert.ok(linked.has(page), `README.md links ${page}`);
});

Deno.test("docs: README's first screen has the two commands, the test one exactly as CI runs it", () => {
  const firstScreen = readRepoText("README.md").split("\n").slice(0, FIRST_SCREEN_LINES).join("\n");
  const ci = readRepoText(".ci/run");
  const pinned = /npx -y deno@(\d+\.\d+\.\d+) task test/.exec(ci);
  assert.ok(pinned, ".ci/run runs `npx -y deno@X task test`");
  for (const task of ["start", "test"]) {
    const command = `npx -y deno@${pinned[1]} task ${task}`;
    assert.ok(firstScreen.includes(command), `first screen has \`${command}\``);
  }
  const tasks = (JSON.parse(readRepoText("deno.json")) as { tasks: Record<string, string> }).tasks;
  assert.ok(tasks["start"] && tasks["test"], "deno.json has both tasks");
});

/** The files `deno publish` would upload, repository-relative, as its dry run lists them. */
async function publishedFiles(): Promise<Set<string>> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: REPO_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.ok(success, text);
  const files = new Set<string>();
  // deno-lint-ignore no-control-regex
  for (const m of text.replace(/\x1b\[[0-9;]*m/g, "").matchAll(/file:\/\/(\S+)/g)) {
    const path = m[1] ?? "";
    if (path.startsWith(`${REPO_DIR}/`)) files.add(path.slice(REPO_DIR.length + 1));
  }
  return files;
}

Deno.test("docs: links in the published package's Markdown resolve inside the package", async () => {
  const published = await publishedFiles();
  assert.ok(published.has("README.md") && published.has("server/mod.ts"), [...published].join());
  const inPackage = (path: string): boolean | undefined => {
    if (published.has(path)) return true;
    for (const file of published) if (file.startsWith(`${path}/`)) return false;
    return undefined;
  };
  const problems: string[] = [];
  for (const page of [...published].filter((path) => path.endsWith(".md"))) {
    for (const target of linkTargets(readRepoText(page))) {
      const problem = brokenLink(page, target, repoRead, inPackage);
      if (problem !== undefined) problems.push(`${page}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
});
