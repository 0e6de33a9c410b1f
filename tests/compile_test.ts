/**
 * The standalone executables (`deno task compile`, `deno task compile:site`).
 *
 * `deno compile` ends by fetching Deno's runtime binary (denort), which an offline machine (this
 * CI) cannot do. So the tests come in two parts:
 * - checked in every run: the permissions baked into the tasks are the least the server needs,
 *   the module graph is local files only, `deno compile` itself succeeds up to the runtime step
 *   (type check, module graph, included files; a placeholder stands in for the runtime), and the
 *   program works under exactly the baked permissions (run by `deno run` with the same flags);
 * - run when a runtime is available (`DENORT_BIN` names one, or it is in Deno's cache, as after
 *   one online `deno compile`): build both executables and run them. Otherwise those tests are
 *   reported as ignored, with the reason in their name.
 */

import assert from "node:assert/strict";
import { EMBEDDED_SITE_MANIFEST, EXECUTABLE_SOCKET_DIR } from "../server/cli/startup.ts";
import {
  compileSiteArgs,
  DEFAULT_OUTPUT,
  DEFAULT_SITE,
  parseCompileSiteArgs,
} from "../tools/compile_site.ts";

const REPO = new URL("../", import.meta.url);
const REPO_PATH = decodeURIComponent(REPO.pathname);
const DENO = Deno.execPath();

const DENO_JSON = JSON.parse(Deno.readTextFileSync(new URL("deno.json", REPO))) as {
  version: string;
  tasks: Record<string, string>;
};

/** A `deno compile` command line and what it must produce. */
interface Build {
  /** The task that runs it. */
  readonly task: string;
  /** The command's words, from `deno` to the entry module. */
  readonly words: string[];
  readonly output: string;
  readonly includes: readonly string[];
}

/** `deno task compile`, and what `deno task compile:site` runs through tools/compile_site.ts. */
const BUILDS: readonly Build[] = [
  {
    task: "compile",
    words: taskWords("compile"),
    output: "dist/sockserve",
    includes: ["server/cli/worker_entry.ts"],
  },
  {
    task: "compile:site",
    words: [
      "deno",
      ...compileSiteArgs(DENO_JSON.tasks["compile"] ?? "", DEFAULT_SITE, DEFAULT_OUTPUT),
    ],
    output: DEFAULT_OUTPUT,
    includes: ["server/cli/worker_entry.ts", DEFAULT_SITE, EMBEDDED_SITE_MANIFEST],
  },
];

/** Upper bound on waiting for a spawned server's first line: a guard against hangs only. */
const STARTUP_GUARD_MS = 30_000;

/** Strips ANSI colour codes (ESC [ ... m) from Deno's own output, should NO_COLOR be ignored. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*m`, "g");
const plain = (text: string) => text.replace(ANSI_COLOUR, "");

/**
 * The words of a deno.json task. Compile tasks must be one plain command: no quotes, variables,
 * pipes or redirections, so that splitting on spaces reads it exactly as the shell would.
 */
function taskWords(task: string): string[] {
  const text = DENO_JSON.tasks[task];
  assert.ok(text !== undefined, `deno.json has a "${task}" task`);
  assert.doesNotMatch(text, /["'`$|&;<>()\\*?]/, `task ${task} is one plain command`);
  return text.trim().split(/\s+/);
}

/** The flags of a compile task that decide what the executable may do at run time. */
function runtimeFlags(words: string[]): string[] {
  return words.filter((w) =>
    /^--(allow|deny|ignore)-|^--unstable|^-[ARWNESIP]$|^--permission-set/.test(w)
  );
}

/** Removes `--output X` (and returns the rest), so tests can build into a temporary directory. */
function withoutOutput(words: string[]): string[] {
  const index = words.indexOf("--output");
  return index < 0 ? words : [...words.slice(0, index), ...words.slice(index + 2)];
}

/** Local files of main.ts's module graph, from `deno info --json`. */
interface GraphModule {
  specifier: string;
  local?: string;
  error?: string;
}

function moduleGraph(): { modules: GraphModule[] } {
  const output = new Deno.Command(DENO, {
    args: ["info", "--json", "main.ts"],
    cwd: REPO_PATH,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  assert.ok(output.success, plain(new TextDecoder().decode(output.stderr)));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** Source text of every module in the executable. */
function executableSources(): Map<string, string> {
  const sources = new Map<string, string>();
  for (const module of moduleGraph().modules) {
    if (module.local !== undefined && /\.[cm]?[jt]sx?$/.test(module.local)) {
      sources.set(module.local, Deno.readTextFileSync(module.local));
    }
  }
  return sources;
}

Deno.test("compile tasks bake in least-privilege permissions: net, read, env PORT and HOST", () => {
  const allSources = executableSources();
  const sources = [...allSources.values()].join("\n");
  // SO_REUSEPORT is unstable in Deno: if the command line asks serve() for it (workers sharing
  // a port), the executable needs --unstable-net; the library only binds with it when asked.
  const cliSources = [...allSources].filter(([path]) =>
    path === `${REPO_PATH}main.ts` || path.startsWith(`${REPO_PATH}server/cli/`)
  ).map(([, text]) => text).join("\n");
  const usesReusePort = /\breusePort\b/.test(cliSources);
  // The one file the executables may write: the container image's --state-file.
  const stateFile = /"--state-file",\s*"([^"]+)"/.exec(
    Deno.readTextFileSync(new URL("Dockerfile", REPO)),
  )?.[1];
  assert.ok(stateFile, "the image's ENTRYPOINT names its --state-file");
  const expected = [
    "--allow-net",
    "--allow-read",
    "--allow-env=PORT,HOST",
    "--allow-sys=uid",
    `--allow-write=${stateFile},${EXECUTABLE_SOCKET_DIR}`,
    ...(usesReusePort ? ["--unstable-net"] : []),
  ].sort();
  for (const { task, words, output, includes } of BUILDS) {
    assert.deepEqual(words.slice(0, 2), ["deno", "compile"], task);
    assert.equal(words.at(-1), "main.ts", `${task} compiles main.ts`);
    assert.deepEqual(runtimeFlags(words).sort(), expected, `${task} permissions`);
    assert.equal(words[words.indexOf("--output") + 1], output, `${task} output`);
    const included = words.flatMap((w, i) => (w === "--include" ? [words[i + 1]] : []));
    assert.deepEqual(included, includes, `${task} embeds only ${includes.join(", ") || "code"}`);
  }
  // Code that needs more than that would fail at run time under the baked permissions.
  assert.doesNotMatch(sources, /Deno\.env\.toObject\(/, "reading the whole environment");
  assert.doesNotMatch(sources, /new Deno\.Command\(|Deno\.run\(/, "spawning processes");
  const fileWrites =
    /Deno\.(writeFile|writeTextFile|create|mkdir|remove|rename|makeTemp\w+|truncate|symlink|link|chmod|chown|utime)(Sync)?\(/g;
  // Only main.ts writes, and only the state file: writeState() and removeState(); and site.ts
  // removes a stale Unix socket before listening on its path again (under /run/sockserve).
  for (const [path, text] of allSources) {
    const writes = [...text.matchAll(fileWrites)].map((m) => m[0]);
    const expectedWrites = path === `${REPO_PATH}main.ts`
      ? ["Deno.writeTextFileSync(", "Deno.removeSync("]
      : path === `${REPO_PATH}server/cli/site.ts`
      ? ["Deno.removeSync("]
      : [];
    assert.deepEqual(writes, expectedWrites, `file writes in ${path}`);
  }
  // A worker module is loaded at run time, so the executable must embed it (--include).
  for (const [path, text] of allSources) {
    const code = text.split("\n").filter((line) => !/^\s*(\*|\/\/)/.test(line)).join("\n");
    for (const match of code.matchAll(/new URL\("([^"]+)", import\.meta\.url\)/g)) {
      if (!/\.ts$/.test(match[1]!)) continue;
      const module = new URL(match[1]!, `file://${path}`).pathname.slice(REPO_PATH.length);
      for (const { task, includes } of BUILDS) {
        assert.ok(
          includes.includes(module),
          `${task} embeds the worker module ${module}`,
        );
      }
    }
  }
});

Deno.test("executable module graph: local files only, no remote or npm code", () => {
  const graph = moduleGraph();
  assert.ok(graph.modules.length > 1, "main.ts imports the server");
  for (const module of graph.modules) {
    assert.equal(module.error, undefined, `${module.specifier}: ${module.error}`);
    // Node's built-in modules are part of the runtime, not code to fetch or embed.
    if (module.specifier.startsWith("node:")) continue;
    assert.ok(module.specifier.startsWith(REPO.href), `${module.specifier} is inside the repo`);
    for (const dir of ["tests/", "bench/", "node_modules/"]) {
      assert.ok(!module.specifier.startsWith(new URL(dir, REPO).href), `${module.specifier}`);
    }
  }
});

Deno.test("compile:site compiles what compile does, plus SITE and its manifest", () => {
  assert.equal(
    DENO_JSON.tasks["compile:site"],
    "deno run --allow-read --allow-write --allow-run --allow-env=INIT_CWD tools/compile_site.ts",
    "arguments given to the task reach the script",
  );
  const compile = taskWords("compile");
  const site = compileSiteArgs(DENO_JSON.tasks["compile"] ?? "", "../my site", "out/x");
  assert.deepEqual(site.slice(-5), [
    "--include",
    "../my site",
    "--include",
    EMBEDDED_SITE_MANIFEST,
    "main.ts",
  ]);
  assert.deepEqual(
    withoutOutput(["deno", ...site.slice(0, -5), "main.ts"]),
    withoutOutput(compile),
  );
  assert.equal(site[site.indexOf("--output") + 1], "out/x");
  assert.throws(() => compileSiteArgs("deno run main.ts", "site", "x"), /not one deno compile/);
});

Deno.test("compile:site arguments: SITE, --output, help, and clear errors", () => {
  const rows: [string[], ReturnType<typeof parseCompileSiteArgs>][] = [
    [[], { kind: "build", site: DEFAULT_SITE, output: DEFAULT_OUTPUT }],
    [["my-site"], { kind: "build", site: "my-site", output: DEFAULT_OUTPUT }],
    [["--output", "x", "s"], { kind: "build", site: "s", output: "x" }],
    [["s", "--output=y"], { kind: "build", site: "s", output: "y" }],
    [["--help"], { kind: "help" }],
    [["-h", "--bogus"], { kind: "help" }],
    [["--bogus"], { kind: "error", message: "unknown option --bogus" }],
    [["--output"], { kind: "error", message: "--output needs a path" }],
    [["a", "b"], { kind: "error", message: "one SITE directory, got a and b" }],
  ];
  for (const [args, expected] of rows) {
    assert.deepEqual(parseCompileSiteArgs(args), expected, args.join(" "));
  }
});

Deno.test("include paths of the compile tasks exist and hold files", () => {
  for (const { includes } of BUILDS) {
    for (const include of includes) {
      // Written by tools/compile_site.ts at build time.
      if (include === EMBEDDED_SITE_MANIFEST) continue;
      const info = Deno.statSync(new URL(include, REPO));
      if (include.endsWith(".ts")) {
        assert.ok(info.isFile, `${include} is a module`);
        continue;
      }
      assert.ok(info.isDirectory, `${include} is a directory`);
      assert.ok(Deno.statSync(new URL(`${include}/index.html`, REPO)).isFile, "it has a site");
    }
  }
});

/**
 * Builds as a task would, into `outputPath`, with extra environment variables: `deno compile`
 * with the words of the compile task, or `deno task compile:site [site] --output PATH`.
 */
async function compile(
  task: "compile" | "compile:site",
  outputPath: string,
  env: Record<string, string>,
  site?: string,
): Promise<{ success: boolean; text: string }> {
  const words = withoutOutput(taskWords("compile"));
  const args = task === "compile"
    ? [...words.slice(1, -1), "--output", outputPath, words.at(-1) ?? ""]
    : [
      "task",
      "--quiet",
      "compile:site",
      ...(site === undefined ? [] : [site]),
      "--output",
      outputPath,
    ];
  const output = await new Deno.Command(DENO, {
    args,
    cwd: REPO_PATH,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    text: plain(decoder.decode(output.stdout) + decoder.decode(output.stderr)),
  };
}

/** The site directory an executable built by compile:site finds through its manifest. */
async function manifestRoot(): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(new URL(EMBEDDED_SITE_MANIFEST, REPO)));
  return new URL(`${manifest.root}/`, REPO).pathname.replace(/\/$/, "");
}

/** Any small executable of the platform's format serves as a placeholder runtime. */
const PLACEHOLDER_RUNTIME = "/bin/true";
const placeholderAvailable = Deno.build.os === "linux" &&
  (() => {
    try {
      return Deno.statSync(PLACEHOLDER_RUNTIME).isFile;
    } catch {
      return false;
    }
  })();

Deno.test({
  name: "deno compile succeeds up to the runtime step for both tasks (placeholder runtime)" +
    (placeholderAvailable ? "" : ` (ignored: needs Linux and ${PLACEHOLDER_RUNTIME})`),
  ignore: !placeholderAvailable,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sockserve-compile-" });
    const outside = await makeDiskSite();
    try {
      // compile:site twice: the demo site by default, and a site outside the repository.
      const builds = [
        { task: "compile", site: undefined, embeds: [] },
        { task: "compile:site", site: undefined, embeds: [DEFAULT_SITE] },
        { task: "compile:site", site: outside.dir, embeds: [outside.dir.split("/").at(-1) ?? ""] },
      ] as const;
      for (const { task, site, embeds } of builds) {
        const output = `${dir}/${task.replace(":", "-")}`;
        // DENORT_BIN replaces the runtime download; everything before it is the real pipeline.
        const result = await compile(task, output, { DENORT_BIN: PLACEHOLDER_RUNTIME }, site);
        assert.ok(result.success, result.text);
        const embedded = result.text.slice(result.text.indexOf("Embedded Files"));
        assert.match(embedded, /main\.ts/, `${task} embeds main.ts:\n${result.text}`);
        assert.match(embedded, /server/, `${task} embeds the server`);
        assert.doesNotMatch(embedded, /node_modules|npm/, `${task} embeds no npm package`);
        for (const name of embeds) assert.ok(embedded.includes(name), `${task} embeds ${name}`);
        for (const name of ["tests", "bench"]) {
          // A site outside the repository makes the listing start at "/", so the checkout's own
          // path shows as the repository's ancestors: a checkout at /work/bench/ names "bench"
          // once without embedding bench/.
          const word = new RegExp(`\\b${name}\\b`, "g");
          const inCheckoutPath = REPO_PATH.match(word)?.length ?? 0;
          const listed = embedded.match(word)?.length ?? 0;
          assert.ok(listed <= inCheckoutPath, `${task} embeds ${name}:\n${embedded}`);
        }
        if (task === "compile:site") {
          assert.match(embedded, /dist/, "the manifest is embedded");
          const expected = site ?? new URL(DEFAULT_SITE, REPO).pathname;
          assert.equal(await manifestRoot(), expected, "the manifest names the site");
        }
        const size = (await Deno.stat(output)).size;
        assert.ok(size > (await Deno.stat(PLACEHOLDER_RUNTIME)).size, "the program was appended");
      }
      // A SITE that is not a directory is one line and exit 1, before anything is compiled.
      const missing = await compile("compile:site", `${dir}/x`, {}, `${dir}/no-such-site`);
      assert.equal(missing.success, false);
      assert.match(missing.text, /^compile:site: .*no-such-site does not exist\n$/);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside.dir, { recursive: true });
      // The manifest this test's compile:site wrote names a site just removed: leave none.
      await Deno.remove(new URL(EMBEDDED_SITE_MANIFEST, REPO)).catch(() => {});
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Running the program: under `deno run` with the baked flags (every run), and as executables.

/** A spawned server: its URL (from its start line) and a way to stop it. */
interface RunningServer {
  url: URL;
  firstLine: string;
  stop(): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Reads a stream to its end as text, in the background. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/**
 * Spawns a server and waits for the line announcing its URL on stdout. The process is stopped
 * by PID with SIGTERM.
 */
async function startServer(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = REPO_PATH,
): Promise<RunningServer> {
  const child = new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", ...env },
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = drain(child.stderr);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let url: URL | undefined;
  const guard = setTimeout(() => reader.cancel("no start line in time"), STARTUP_GUARD_MS);
  try {
    while (url === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
      const match = /http:\/\/\S+/.exec(stdout);
      if (match) url = new URL(match[0]);
    }
  } finally {
    clearTimeout(guard);
  }
  const rest = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += r.value;
  })();
  const stop = async () => {
    try {
      Deno.kill(child.pid, "SIGTERM");
    } catch {
      // Already exited.
    }
    const status = await child.status;
    await rest;
    return { code: status.code, stdout, stderr: await stderr };
  };
  if (url === undefined) {
    const result = await stop();
    assert.fail(`server printed no URL (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  }
  return { url, firstLine: stdout.split("\n")[0] ?? "", stop };
}

async function runToEnd(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", ...env },
    cwd: REPO_PATH,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function getText(url: URL): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** A site on disk with a marker of its own, to tell which site a server serves. */
async function makeDiskSite(): Promise<{ dir: string; marker: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sockserve-site-" });
  const marker = `disk site ${crypto.randomUUID()}`;
  await Deno.writeTextFile(`${dir}/index.html`, `<!doctype html><p>${marker}</p>\n`);
  return { dir, marker };
}

/** Environment of a server under test: loopback only, any free port (through PORT and HOST). */
const LOOPBACK_ENV = { PORT: "0", HOST: "127.0.0.1" };

/**
 * Checks a program (an executable, or `deno run` with the executable's flags) end to end:
 * version, serving a directory on the port and host taken from PORT/HOST, and its health check.
 */
async function checkProgram(command: string, prefix: string[]): Promise<void> {
  const version = await runToEnd(command, [...prefix, "--version"], {});
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), `sockserve ${DENO_JSON.version}`);

  const site = await makeDiskSite();
  try {
    // PORT and HOST come from the environment: this proves --allow-env=PORT,HOST is enough.
    const server = await startServer(command, [...prefix, site.dir], LOOPBACK_ENV);
    try {
      assert.equal(server.url.hostname, "127.0.0.1", server.firstLine);
      const page = await getText(server.url);
      assert.equal(page.status, 200);
      assert.match(page.body, new RegExp(site.marker));
      // As the container's HEALTHCHECK runs it: no URL, PORT from the environment.
      const health = await runToEnd(command, [...prefix, "healthcheck"], {
        PORT: server.url.port,
      });
      assert.equal(health.code, 0, health.stdout + health.stderr);
    } finally {
      const result = await server.stop();
      assert.doesNotMatch(result.stderr, /NotCapable|Requires \w+ access/, result.stderr);
    }
  } finally {
    await Deno.remove(site.dir, { recursive: true });
  }
}

Deno.test("the program works under exactly the executable's permissions (deno run)", async () => {
  const flags = runtimeFlags(taskWords("compile"));
  await checkProgram(DENO, ["run", "--no-prompt", ...flags, "main.ts"]);
});

/**
 * Where a Deno runtime for `deno compile` can be found without a download: DENORT_BIN, or the
 * archive `deno compile` caches in DENO_DIR/dl after its first online run.
 */
function findRuntime(): string | undefined {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv !== undefined && fromEnv !== "") {
    try {
      if (Deno.statSync(fromEnv).isFile) return `DENORT_BIN=${fromEnv}`;
    } catch {
      return undefined;
    }
  }
  const info = new Deno.Command(DENO, { args: ["info", "--json"], stdout: "piped" }).outputSync();
  const denoDir = (JSON.parse(new TextDecoder().decode(info.stdout)) as { denoDir?: string })
    .denoDir;
  if (denoDir === undefined) return undefined;
  const cached = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  try {
    return Deno.statSync(cached).isFile ? cached : undefined;
  } catch {
    return undefined;
  }
}

const RUNTIME = findRuntime();
const NO_RUNTIME_REASON = ` (ignored: no Deno ${Deno.version.deno} runtime (denort) here; ` +
  `set DENORT_BIN or run one online deno compile, see docs/operations.md)`;

Deno.test({
  name: "compiled executable: --version, serves ROOT with PORT/HOST, healthcheck" +
    (RUNTIME ? "" : NO_RUNTIME_REASON),
  ignore: RUNTIME === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sockserve-exe-" });
    try {
      const executable = `${dir}/sockserve`;
      const built = await compile("compile", executable, {});
      assert.ok(built.success, built.text);
      await checkProgram(executable, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "compiled site executable: serves its embedded site without ROOT, the disk with ROOT" +
    (RUNTIME ? "" : NO_RUNTIME_REASON),
  ignore: RUNTIME === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sockserve-exe-" });
    const emptyDir = await Deno.makeTempDir({ prefix: "sockserve-cwd-" });
    const site = await makeDiskSite();
    // The site to embed lies outside the repository, as a user's site usually does.
    const toEmbed = await makeDiskSite();
    await Deno.mkdir(`${toEmbed.dir}/files`);
    await Deno.writeTextFile(`${toEmbed.dir}/files/hello.txt`, "nested and embedded\n");
    try {
      const executable = `${dir}/sockserve-site`;
      const built = await compile("compile:site", executable, {}, toEmbed.dir);
      assert.ok(built.success, built.text);
      // Only the executable's copy of the site is left to answer.
      await Deno.remove(toEmbed.dir, { recursive: true });
      await checkProgram(executable, []);

      // Run from an empty directory so that nothing on disk can stand in for the embedded site.
      const embedded = await startServer(executable, [], LOOPBACK_ENV, emptyDir);
      try {
        assert.match(embedded.firstLine, /serving the embedded site/);
        const page = await getText(embedded.url);
        assert.equal(page.status, 200);
        assert.match(page.body, new RegExp(toEmbed.marker));
        const nested = await getText(new URL("files/hello.txt", embedded.url));
        assert.equal(nested.body, "nested and embedded\n");
      } finally {
        await embedded.stop();
      }

      const disk = await startServer(executable, [site.dir], LOOPBACK_ENV);
      try {
        assert.match((await getText(disk.url)).body, new RegExp(site.marker));
      } finally {
        await disk.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(emptyDir, { recursive: true });
      await Deno.remove(site.dir, { recursive: true });
      await Deno.remove(toEmbed.dir, { recursive: true }).catch(() => {});
    }
  },
});
