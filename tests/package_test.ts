/**
 * sockserve as a package: what `deno publish` would upload, the command installed with the
 * README's `deno install` line, and the library imported from another project the way the README
 * says. Everything runs from this checkout, into temporary directories.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSite, runDeno, runSockserve, startSockserve } from "./cli_helpers.ts";

const REPO_DIR = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const DENO = Deno.execPath();
const DENO_JSON = JSON.parse(Deno.readTextFileSync(join(REPO_DIR, "deno.json"))) as {
  name: string;
  version: string;
  exports: Record<string, string>;
};
const README = Deno.readTextFileSync(join(REPO_DIR, "README.md"));

/** Runs deno with `args` in `cwd`, failing with its output when it exits non-zero. */
async function deno(args: string[], cwd: string) {
  const output = await runDeno(args, { cwd });
  assert.equal(
    output.code,
    0,
    `deno ${args.join(" ")} failed:\n${output.stdout}\n${output.stderr}`,
  );
  return output;
}

Deno.test("package: deno publish would upload the library, the command, its worker and the docs, nothing else", async () => {
  const { stdout, stderr } = await deno(["publish", "--dry-run", "--allow-dirty"], REPO_DIR);
  const files = [...(stdout + stderr).matchAll(/^\s+file:\/\/(\S+) \(/gm)]
    .map((m) => (m[1] ?? "").slice(REPO_DIR.length + 1));
  for (
    const needed of [
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
      "deno.json",
      ...Object.values(DENO_JSON.exports).map((path) => path.replace(/^\.\//, "")),
      // Loaded by `new Worker(new URL(...))` for --workers: no import reaches it.
      "server/cli/worker_entry.ts",
      "docs/embedding.md",
    ]
  ) {
    assert.ok(files.includes(needed), `${needed} is published; files:\n${files.join("\n")}`);
  }
  // What the docs link to is published too (deno.json's publish.include): the Kubernetes
  // manifest, the site compiler and the benchmark page with its results.
  const allowed = new RegExp(
    "^(LICENSE|README\\.md|CHANGELOG\\.md|deno\\.json|main\\.ts|server/.+\\.ts|docs/.+\\.md|" +
      "deploy/[^/]+\\.yaml|tools/compile_site\\.ts|bench/README\\.md|" +
      "bench/results/latest\\.(json|svg))$",
  );
  assert.deepEqual(files.filter((file) => !allowed.test(file)), [], "nothing else is published");
});

/** The README's `deno install -g` command line, as words. */
function readmeInstallCommand(): string[] {
  const line = README.split("\n").find((l) => l.startsWith("deno install -g "));
  assert.ok(line, "README.md has a `deno install -g ...` line");
  assert.doesNotMatch(line, /["'\\$]/, "a plain command line (no quoting to interpret)");
  return line.split(/\s+/);
}

Deno.test("package: the README's deno install command gives a working sockserve command", async () => {
  const [, ...args] = readmeInstallCommand();
  assert.equal(args[0], "install");
  const root = await Deno.makeTempDir({ prefix: "sockserve_install_" });
  const site = await makeSite({ "page.txt": "installed and serving\n" });
  try {
    // Into a temporary root instead of ~/.deno, from the clone's directory as the README says.
    await deno([args[0] ?? "", "--root", root, ...args.slice(1)], REPO_DIR);
    const program = join(root, "bin", "sockserve");
    // The installed script runs `deno`: the one running this test comes first on the PATH.
    const env = { PATH: `${dirname(DENO)}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` };

    const version = await runSockserve(["--version"], { program, env, cwd: site });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `sockserve ${DENO_JSON.version}\n`);

    // Two workers: the installed command has the permissions and the unstable flag they need.
    const server = await startSockserve(
      [".", "--port", "0", "--host", "127.0.0.1", "--workers", "2"],
      { program, env, cwd: site },
    );
    try {
      const response = await fetch(new URL("/page.txt", server.url));
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "installed and serving\n");
      server.child.kill("SIGTERM");
      assert.equal((await server.status).code, 0, server.stderr.text);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(site, { recursive: true });
  }
});

/** A program of another project that uses the library through its package name. */
const CONSUMER = `import { createFileServer, serve, type ServeOptions } from "@sockserve/sockserve";

const options: ServeOptions = { port: 0, hostname: "127.0.0.1", onListen() {} };
const files = createFileServer({ root: Deno.args[0] ?? "." });
const server = serve(options, (request) =>
  new URL(request.url).pathname === "/hello" ? new Response("hello from the app\\n") : files(request));
const base = \`http://127.0.0.1:\${server.addr.port}\`;
const hello = await (await fetch(\`\${base}/hello\`)).text();
const page = await (await fetch(\`\${base}/page.txt\`)).text();
await server.shutdown();
console.log(JSON.stringify({ hello, page }));
`;

Deno.test("package: another project imports the library with the README's import mapping", async () => {
  const mapping = /^\{ "imports": \{ "@sockserve\/sockserve": "([^"]+)" \} \}$/m.exec(README);
  assert.ok(mapping, "README.md shows the import mapping");
  const target = mapping[1] ?? "";
  assert.match(target, /^\.\.\/sockserve\//, "the mapping points into a sibling clone");
  const workspace = await Deno.makeTempDir({ prefix: "sockserve_consumer_" });
  const site = await makeSite({ "page.txt": "a file of the app\n" });
  try {
    // The layout the mapping assumes: the app next to a clone named sockserve.
    await Deno.symlink(REPO_DIR, join(workspace, "sockserve"));
    const app = join(workspace, "app");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "deno.json"), mapping[0]);
    await Deno.writeTextFile(join(app, "main.ts"), CONSUMER);
    // The consumer's own (default, strict) compiler settings accept the library's types.
    await deno(["check", "main.ts"], app);
    const { stdout } = await deno(
      ["run", "--allow-net", `--allow-read=${site}`, "main.ts", site],
      app,
    );
    assert.deepEqual(JSON.parse(stdout), {
      hello: "hello from the app\n",
      page: "a file of the app\n",
    });
  } finally {
    await Deno.remove(workspace, { recursive: true });
    await Deno.remove(site, { recursive: true });
  }
});
