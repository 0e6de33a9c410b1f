/**
 * `deno task compile:site [SITE] [--output PATH]`: one executable that serves SITE (default: the
 * demo in `site/`) when run without ROOT.
 *
 * It runs exactly what `deno task compile` runs (the permissions and flags are read from that
 * task, so the two executables cannot drift apart), plus `--include SITE` and the manifest
 * {@linkcode EMBEDDED_SITE_MANIFEST}, which tells the executable where in its embedded file
 * system the site is. SITE may be anywhere on disk.
 *
 * @module
 */

import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { EMBEDDED_SITE_MANIFEST, embeddedSiteManifest } from "../server/cli/startup.ts";

/** The directory of `main.ts`: the repository. */
const REPO_DIR = fileURLToPath(new URL("../", import.meta.url));

/** The site embedded when none is named: the demo site. */
export const DEFAULT_SITE = "site";
/** Where the executable is written when `--output` is not given. */
export const DEFAULT_OUTPUT = "dist/sockserve-site";

/** Usage of `deno task compile:site`. */
export const USAGE = `Usage: deno task compile:site [SITE] [--output PATH]

Builds one executable that serves SITE (default: ${DEFAULT_SITE}/, the demo site) when it is run
without a ROOT; given a ROOT, it serves that directory from disk like \`deno task compile\`'s.

  SITE             the directory to embed (anywhere on disk)
  --output PATH    where to write the executable (default: ${DEFAULT_OUTPUT})
  -h, --help       this text
`;

/** What to build, or why not. */
export type CompileSiteRequest =
  | { readonly kind: "build"; readonly site: string; readonly output: string }
  | { readonly kind: "help" }
  | { readonly kind: "error"; readonly message: string };

/**
 * Reads the task's arguments (what follows `deno task compile:site`).
 *
 * @example
 * ```ts
 * import { parseCompileSiteArgs } from "./compile_site.ts";
 * parseCompileSiteArgs(["my-site", "--output", "dist/my-site"]);
 * // { kind: "build", site: "my-site", output: "dist/my-site" }
 * ```
 */
export function parseCompileSiteArgs(args: readonly string[]): CompileSiteRequest {
  let site: string | undefined;
  let output = DEFAULT_OUTPUT;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (arg === "--output" || arg.startsWith("--output=")) {
      const value = arg === "--output" ? args[++i] : arg.slice("--output=".length);
      if (value === undefined || value === "") {
        return { kind: "error", message: "--output needs a path" };
      }
      output = value;
    } else if (arg.startsWith("-") && arg !== "-") {
      return { kind: "error", message: `unknown option ${arg}` };
    } else if (site !== undefined) {
      return { kind: "error", message: `one SITE directory, got ${site} and ${arg}` };
    } else site = arg;
  }
  return { kind: "build", site: site ?? DEFAULT_SITE, output };
}

/**
 * The `deno compile` arguments (after `deno`): the words of the `compile` task with its output
 * replaced by `output` and `--include` of the site and the manifest added before the entry
 * module. `site` is the path to pass to `--include` (relative to the repository or absolute).
 *
 * @example
 * ```ts
 * import { compileSiteArgs } from "./compile_site.ts";
 * compileSiteArgs("deno compile --allow-net --output dist/sockserve main.ts", "site", "dist/x");
 * // ["compile", "--allow-net", "--output", "dist/x", "--include", "site",
 * //  "--include", "dist/embedded_site.json", "main.ts"]
 * ```
 */
export function compileSiteArgs(compileTask: string, site: string, output: string): string[] {
  const words = compileTask.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile") {
    throw new Error(`the compile task is not one deno compile command: ${compileTask}`);
  }
  const args = words.slice(1);
  const outputAt = args.indexOf("--output");
  if (outputAt < 0 || outputAt + 1 >= args.length) {
    throw new Error(`the compile task has no --output: ${compileTask}`);
  }
  args[outputAt + 1] = output;
  const entry = args.pop() ?? "";
  return [...args, "--include", site, "--include", EMBEDDED_SITE_MANIFEST, entry];
}

/** Checks that `path` is a directory; returns what is wrong with it, or undefined. */
function siteProblem(path: string): string | undefined {
  try {
    return Deno.statSync(path).isDirectory ? undefined : `${path} is not a directory`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `${path} does not exist`
      : `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Builds the executable; returns the exit code. */
async function run(args: readonly string[]): Promise<number> {
  const request = parseCompileSiteArgs(args);
  if (request.kind === "help") {
    await Deno.stdout.write(new TextEncoder().encode(USAGE));
    return 0;
  }
  const fail = (message: string, code: number) => {
    // deno-lint-ignore no-console -- a command-line tool's one error line
    console.error(`compile:site: ${message}`);
    return code;
  };
  if (request.kind === "error") {
    return fail(`${request.message} (deno task compile:site --help for usage)`, 2);
  }
  // Paths as the user typed them are relative to where `deno task` was run (INIT_CWD), while
  // deno compile runs in the repository.
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const site = resolve(cwd, request.site);
  const problem = siteProblem(site);
  if (problem !== undefined) return fail(problem, 1);
  const output = resolve(cwd, request.output);
  const siteFromRepo = relative(REPO_DIR, site) || ".";
  if (siteFromRepo === "." || !relative(site, REPO_DIR).startsWith("..")) {
    return fail(`${site} holds sockserve itself: embed a directory of its own`, 1);
  }
  const compileTask = (JSON.parse(await Deno.readTextFile(join(REPO_DIR, "deno.json"))) as {
    tasks: Record<string, string>;
  }).tasks["compile"] ?? "";

  await Deno.mkdir(join(REPO_DIR, "dist"), { recursive: true });
  await Deno.writeTextFile(
    join(REPO_DIR, EMBEDDED_SITE_MANIFEST),
    embeddedSiteManifest(siteFromRepo.split(sep).join("/")),
  );
  const include = isAbsolute(siteFromRepo) ? site : siteFromRepo;
  const status = await new Deno.Command(Deno.execPath(), {
    args: compileSiteArgs(compileTask, include, output),
    cwd: REPO_DIR,
    stdin: "null",
  }).spawn().status;
  return status.code;
}

if (import.meta.main) Deno.exit(await run(Deno.args));
