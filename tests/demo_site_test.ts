/**
 * The demo site in site/ is there to be replaced: `deno task start` serves it and the container
 * image ships it, but no check and no test reads it, so a real site put there (unformatted
 * scripts, code that does not lint, Markdown with dead links) breaks nothing.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runDeno } from "./cli_helpers.ts";

const REPO_DIR = fileURLToPath(new URL("../", import.meta.url));
const DENO_JSON_TEXT = Deno.readTextFileSync(join(REPO_DIR, "deno.json"));
const DENO_JSON = JSON.parse(DENO_JSON_TEXT) as {
  tasks: Record<string, string>;
  exclude?: string[];
};

/** The directory `deno task start` serves: its last argument that is not an option. */
function startRoot(): string {
  const words = (DENO_JSON.tasks["start"] ?? "").split(/\s+/);
  const args = words.slice(words.indexOf("main.ts") + 1);
  const root = args.find((word, i) => !word.startsWith("-") && !args[i - 1]?.startsWith("--"));
  assert.ok(root, `the start task names a ROOT: ${DENO_JSON.tasks["start"]}`);
  return root;
}

/** Files a real site may well have and the project's own checks would reject. */
const HOSTILE_SITE: Record<string, string> = {
  "app.js": "var  x =1;;\nfunction f(){debugger}\n",
  "lib/typed.ts": 'const n: number = "not a number";\nexport {};\n',
  "data.json": '{ "a":1 }',
  "README.md": "# My site\n\n[dead link](nowhere.md)\n",
};

Deno.test("demo site: the directory deno task start serves is excluded from every deno tool", () => {
  const root = startRoot();
  assert.equal(root, "site");
  assert.ok(DENO_JSON.exclude?.includes(`${root}/`), `deno.json "exclude" lists ${root}/`);
});

Deno.test("demo site: a real site in its place passes deno fmt --check and deno lint", async () => {
  const root = startRoot();
  const dir = await Deno.makeTempDir({ prefix: "sockserve_site_swap_" });
  try {
    // The repository's configuration (its exports pointed at the one module here), a clean
    // module, and a hostile site.
    const config = { ...JSON.parse(DENO_JSON_TEXT), exports: "./main.ts" };
    await Deno.writeTextFile(join(dir, "deno.json"), JSON.stringify(config, null, 2) + "\n");
    await Deno.writeTextFile(join(dir, "main.ts"), 'export const ok = "ok";\n');
    const write = async (base: string) => {
      for (const [name, text] of Object.entries(HOSTILE_SITE)) {
        await Deno.mkdir(join(dir, base, name, ".."), { recursive: true });
        await Deno.writeTextFile(join(dir, base, name), text);
      }
    };
    await write(root);
    // fmt checks deno.json and main.ts, lint main.ts: nothing of the site.
    for (const [tool, files] of [[["fmt", "--check"], "2 files"], [["lint"], "1 file"]] as const) {
      const result = await runDeno([...tool], { cwd: dir });
      const text = result.stdout + result.stderr;
      assert.equal(result.code, 0, `deno ${tool.join(" ")} read the site:\n${text}`);
      assert.match(text, new RegExp(`Checked ${files}\\b`), text);
    }
    // The same files anywhere else are found and rejected: the exclusion is what passes them.
    await write("elsewhere");
    for (const tool of [["fmt", "--check"], ["lint"]]) {
      assert.notEqual(
        (await runDeno(tool, { cwd: dir })).code,
        0,
        `deno ${tool.join(" ")} control`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo site: no test reads it (tests bring their own fixtures)", async () => {
  const root = startRoot();
  const offenders: string[] = [];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(join(REPO_DIR, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await visit(path);
      else if (/\.(ts|mjs|js)$/.test(entry.name) && path !== "tests/demo_site_test.ts") {
        const text = await Deno.readTextFile(join(REPO_DIR, path));
        // A path to the repository's site/ from a test module: "../site" or "../../site".
        if (new RegExp(`["'\`/](\\.\\./)+${root}\\b`).test(text)) offenders.push(path);
      }
    }
  };
  await visit("tests");
  assert.deepEqual(offenders, []);
});
