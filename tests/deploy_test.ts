/**
 * The container image and the Kubernetes manifest checked against the code, without a Docker
 * engine or a cluster: the Dockerfile's stages, user, port, signal and health check, and the
 * manifest's ports, probes, grace period and security settings must agree with the server's
 * defaults and with each other.
 */

import assert from "node:assert/strict";
import { DEFAULT_GRACE_PERIOD_MS } from "../server/limits.ts";
import { type Command, parseCommandLine } from "../server/cli/config.ts";
import type { ServeConfig } from "../server/cli/serve_config.ts";
import {
  dockerDurationMs,
  dockerignoreMatcher,
  envVariables,
  execForm,
  type Instruction,
  leadingOptions,
  parseDockerfile,
  parseInstructions,
  type Stage,
} from "./dockerfile.ts";
import { formatState, parseState } from "../server/cli/state_file.ts";
import { EXECUTABLE_SOCKET_DIR } from "../server/cli/startup.ts";
import { parseYamlDocuments, YamlSubsetError } from "./yaml_subset.ts";

const REPO = new URL("../", import.meta.url);
const readRepoText = (path: string) => Deno.readTextFileSync(new URL(path, REPO));

const DENO_JSON = JSON.parse(readRepoText("deno.json")) as {
  version: string;
  tasks: Record<string, string>;
};

/** The Deno version CI runs (`npx -y deno@X` in .ci/run): the one the image must build with. */
function pinnedDenoVersion(): string {
  const versions = new Set(
    [...readRepoText(".ci/run").matchAll(/deno@(\d+\.\d+\.\d+)/g)].map((m) => m[1]),
  );
  assert.equal(versions.size, 1, `.ci/run pins one Deno version, found ${[...versions]}`);
  return [...versions][0] ?? "";
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

const STAGES = parseDockerfile(readRepoText("Dockerfile"));
const BUILD_STAGE = STAGES[0];
const RUNTIME_STAGE = STAGES.at(-1);

function only(stage: Stage | undefined, keyword: string): Instruction {
  const found = stage?.instructions.filter((i) => i.keyword === keyword) ?? [];
  assert.equal(
    found.length,
    1,
    `expected exactly one ${keyword} in the stage, found ${found.length}`,
  );
  return found[0] as Instruction;
}

function runtimeEnv(): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of RUNTIME_STAGE?.instructions ?? []) {
    if (i.keyword === "ENV") { for (const [k, v] of envVariables(i.args)) env.set(k, v); }
  }
  return env;
}

/** The port the image serves on: EXPOSE and ENV PORT must name the same one. */
function imagePort(): number {
  const exposed = only(RUNTIME_STAGE, "EXPOSE").args.split(/\s+/);
  assert.equal(exposed.length, 1, "one exposed port");
  const port = Number((exposed[0] ?? "").replace(/\/tcp$/, ""));
  assert.equal(runtimeEnv().get("PORT"), String(port), "ENV PORT equals EXPOSE");
  return port;
}

/** The absolute path of the executable in the runtime stage, from its COPY --from=build. */
function imageExecutable(): string {
  const copies = (RUNTIME_STAGE?.instructions ?? [])
    .filter((i) => i.keyword === "COPY")
    .map((i) => leadingOptions(i.args))
    .filter(({ options }) => options.get("from") === BUILD_STAGE?.name);
  const compileOutput = taskOutput("compile");
  const executable = copies
    .map(({ rest }) => rest.split(/\s+/))
    .find(([source]) => source === `/src/${compileOutput}` || source === compileOutput);
  assert.ok(executable, `the runtime stage copies ${compileOutput} from the build stage`);
  return executable[1] ?? "";
}

/** What the real command-line parser makes of an argv and environment; fails on usage errors. */
function cliCommand(argv: readonly string[], env: Map<string, string>): Command {
  const parsed = parseCommandLine(argv, Object.fromEntries(env));
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  return parsed.command;
}

/** The arguments the ENTRYPOINT gives the executable before the CMD's (or `docker run`'s). */
function entrypointOptions(): string[] {
  const entrypoint = execForm(only(RUNTIME_STAGE, "ENTRYPOINT").args);
  assert.ok(entrypoint, "exec-form ENTRYPOINT");
  return entrypoint.slice(1);
}

/**
 * The serve configuration the image starts with: its ENTRYPOINT's options, then `args` (its CMD
 * by default, or what `docker run IMAGE ...` gives instead) and its ENV, read by the CLI.
 */
function imageServeConfig(args?: string[], env = runtimeEnv()): ServeConfig {
  const cmd = args ?? execForm(only(RUNTIME_STAGE, "CMD").args);
  assert.ok(cmd, "exec-form CMD");
  const command = cliCommand([...entrypointOptions(), ...cmd], env);
  assert.equal(command.kind, "serve");
  return command.config;
}

/** The `--output` path of a deno.json compile task. */
function taskOutput(task: string): string {
  const words = (DENO_JSON.tasks[task] ?? "").split(/\s+/);
  const index = words.indexOf("--output");
  assert.ok(index > 0, `task ${task} has --output`);
  return words[index + 1] ?? "";
}

Deno.test("Dockerfile reader: continuations, comments, exec form, ENV forms, durations", () => {
  const instructions = parseInstructions(
    '# c\nFROM a AS b\nRUN one \\\n  # dropped\n  two\nCMD ["x", "y z"]\n',
  );
  assert.deepEqual(instructions.map((i) => [i.keyword, i.args, i.line]), [
    ["FROM", "a AS b", 2],
    ["RUN", "one two", 3],
    ["CMD", '["x", "y z"]', 6],
  ]);
  assert.deepEqual(execForm('["x", "y z"]'), ["x", "y z"]);
  assert.equal(execForm("x y"), undefined);
  assert.deepEqual([...envVariables('A=1 B="two words" C=')], [["A", "1"], ["B", "two words"], [
    "C",
    "",
  ]]);
  assert.deepEqual([...envVariables("PORT 8080")], [["PORT", "8080"]]);
  assert.equal(dockerDurationMs("1m30s"), 90_000);
  assert.equal(dockerDurationMs("500ms"), 500);
  assert.throws(() => dockerDurationMs("5"), SyntaxError);
  const ignored = dockerignoreMatcher("dist\n**/*.log\n!keep.log\n");
  assert.equal(ignored("dist/sockserve"), true);
  assert.equal(ignored("a/b/c.log"), true);
  assert.equal(ignored("keep.log"), false);
  assert.equal(ignored("distant.ts"), false);
});

Deno.test("Dockerfile builds with the official Deno image pinned to the version CI uses", () => {
  assert.ok(STAGES.length >= 2, "multi-stage: a build stage and a runtime stage");
  const match = /^denoland\/deno:(?:[a-z]+-)?(\d+\.\d+\.\d+)$/.exec(BUILD_STAGE?.image ?? "");
  assert.ok(match, `build stage FROM denoland/deno:<version>, got ${BUILD_STAGE?.image}`);
  assert.equal(match[1], pinnedDenoVersion());
  assert.ok(BUILD_STAGE?.name, "the build stage is named so the runtime stage can copy from it");
});

/** The `case "$TESTS" in` branches of the build stage's RUN: value → command. */
function testBranches(): { at: number; branches: Map<string, string> } {
  const runs = (BUILD_STAGE?.instructions ?? []).filter((i) => i.keyword === "RUN");
  const at = runs.findIndex((i) => /^case "\$TESTS" in /.test(i.args));
  assert.ok(at >= 0, 'RUN case "$TESTS" in ...');
  const branches = new Map<string, string>();
  for (const m of (runs[at]?.args ?? "").matchAll(/([\w*]+)\)\s*([\s\S]*?)\s*;;/g)) {
    branches.set(m[1] ?? "", m[2] ?? "");
  }
  return { at, branches };
}

/** The test files a deno.json task runs with `deno test`, and what it runs before. */
function taskTestFiles(task: string): { before: string; files: string[] } {
  const text = DENO_JSON.tasks[task] ?? "";
  const at = text.indexOf("deno test ");
  assert.ok(at >= 0, `${task} runs deno test`);
  return {
    before: text.slice(0, at),
    files: text.slice(at).split(/\s+/).filter((w) => w.startsWith("tests/")),
  };
}

/** What makes a test depend on timing or the machine's load: sockets, processes, clocks. */
const TIMING_SENSITIVE =
  /Deno\.(listen|connect|serve)\b|startSockserve|startServer|attack_server|test_server|setTimeout\(|performance\.now|SOAK_SECONDS|wrk\b/;

Deno.test("Dockerfile build stage compiles, then runs fast deterministic checks by default", () => {
  const runs = (BUILD_STAGE?.instructions ?? []).filter((i) => i.keyword === "RUN");
  const compileAt = runs.findIndex((i) => /\bdeno task compile\b(?!:)/.test(i.args));
  assert.ok(compileAt >= 0, "RUN deno task compile");
  const { at, branches } = testBranches();
  // Compiling first puts Deno's runtime in the cache, so the compile tests really run.
  assert.ok(compileAt < at, "compile before the checks");
  const arg = (BUILD_STAGE?.instructions ?? []).find((i) =>
    i.keyword === "ARG" && i.args.startsWith("TESTS=")
  );
  assert.equal(arg?.args, "TESTS=quick", "the fast checks by default");
  assert.equal(branches.get("quick"), "deno task test:quick");
  assert.equal(branches.get("full"), "deno task test", "the whole suite on request");
  assert.equal(branches.get("none"), "");
  assert.match(branches.get("*") ?? "", /exit 2/, "an unknown TESTS value fails the build");
});

Deno.test("test:quick: every static check, then tests that depend on no timing", () => {
  const quick = taskTestFiles("test:quick");
  const full = taskTestFiles("test");
  // The same checks as the full suite before any test.
  assert.equal(quick.before.trim(), "deno task check &&");
  assert.equal(full.before.trim(), "deno task check &&");
  assert.ok(quick.files.length >= 10, `${quick.files.length} test files`);
  for (const file of quick.files) {
    // This file spells the pattern out; it parses files and nothing else.
    if (file === "tests/deploy_test.ts") continue;
    const source = readRepoText(file);
    assert.match(file, /^tests\/\w+_test\.ts$/, "a test file of the suite");
    assert.doesNotMatch(source, TIMING_SENSITIVE, `${file} depends on no timing`);
  }
  // The heuristic recognizes the suite's timing-sensitive files.
  for (const file of ["tests/attack_slowloris_test.ts", "tests/soak_test.ts"]) {
    assert.match(readRepoText(file), TIMING_SENSITIVE, file);
  }
});

Deno.test("Dockerfile runtime stage is minimal and has no Deno toolchain", () => {
  const image = RUNTIME_STAGE?.image ?? "";
  assert.match(image, /^(gcr\.io\/distroless\/cc-debian\d+|debian:[\w.-]*slim)(:[\w.-]+)?$/);
  assert.doesNotMatch(image, /deno/);
});

Deno.test("Dockerfile runs as a numeric non-root user (verifiable by runAsNonRoot)", () => {
  const [user = "", group] = only(RUNTIME_STAGE, "USER").args.split(":");
  assert.match(user, /^\d+$/, "USER is numeric");
  assert.notEqual(Number(user), 0, "USER is not root");
  if (group !== undefined) assert.notEqual(Number(group), 0, "group is not root");
});

Deno.test("Dockerfile ENTRYPOINT is exec-form and starts the compiled executable", () => {
  const entrypoint = execForm(only(RUNTIME_STAGE, "ENTRYPOINT").args);
  assert.ok(entrypoint, "exec-form ENTRYPOINT, so SIGTERM reaches sockserve and not a shell");
  assert.equal(entrypoint[0], imageExecutable());
  // Only options: a ROOT here would leave `docker run IMAGE /other/site` two ROOTs.
  for (const word of entrypoint.slice(1)) assert.ok(!word.startsWith("/srv"), word);
  const cmd = execForm(only(RUNTIME_STAGE, "CMD").args);
  assert.ok(cmd, "exec-form CMD");
  // The default ROOT is the directory the site was copied to.
  const siteCopy = (RUNTIME_STAGE?.instructions ?? [])
    .filter((i) => i.keyword === "COPY")
    .map((i) => leadingOptions(i.args).rest.split(/\s+/))
    .find(([, destination]) => destination === cmd[0]);
  assert.ok(siteCopy, `the CMD's ROOT ${cmd[0]} is populated by a COPY`);
});

Deno.test("Dockerfile CMD and ENV make the server listen on the exposed port, all interfaces", () => {
  assert.equal(imagePort(), 8080);
  const config = imageServeConfig();
  assert.equal(config.port, imagePort());
  const host = config.hostname;
  assert.ok(host === "0.0.0.0" || host === "::", `published ports need a wildcard HOST: ${host}`);
});

Deno.test("Dockerfile STOPSIGNAL is SIGTERM, the signal that starts a graceful shutdown", () => {
  assert.equal(only(RUNTIME_STAGE, "STOPSIGNAL").args, "SIGTERM");
});

/** The HEALTHCHECK's options and its probe, as the real CLI parses it. */
function imageProbe() {
  const { options, rest } = leadingOptions(only(RUNTIME_STAGE, "HEALTHCHECK").args);
  const command = /^CMD\s+(.*)$/.exec(rest);
  assert.ok(command, "HEALTHCHECK CMD ...");
  const argv = execForm(command[1] ?? "");
  assert.ok(argv, "exec-form HEALTHCHECK: the image has no shell");
  assert.equal(argv[0], imageExecutable());
  const probe = cliCommand(argv.slice(1), runtimeEnv());
  assert.ok(probe.kind === "healthcheck", "the healthcheck subcommand");
  return { options, probe };
}

Deno.test("Dockerfile HEALTHCHECK reads the state file the server writes", () => {
  const { options, probe } = imageProbe();
  const stateFile = imageServeConfig().stateFile;
  assert.ok(stateFile, "the image's server writes a state file (ENTRYPOINT --state-file)");
  assert.equal(probe.stateFile, stateFile, "the probe reads the file the server writes");
  // The executable may write exactly that file, and Unix sockets under /run/sockserve.
  const compileWords = (DENO_JSON.tasks["compile"] ?? "").split(/\s+/);
  assert.deepEqual(compileWords.filter((w) => w.startsWith("--allow-write")), [
    `--allow-write=${stateFile},${EXECUTABLE_SOCKET_DIR}`,
  ]);
  // Docker must not kill the probe before its own timeout reports the failure.
  const dockerTimeoutMs = dockerDurationMs(options.get("timeout") ?? "30s");
  assert.ok(dockerTimeoutMs > probe.timeoutMs, `${dockerTimeoutMs} ms > ${probe.timeoutMs} ms`);
  for (const name of options.keys()) {
    assert.ok(["interval", "timeout", "start-period", "start-interval", "retries"].includes(name));
  }
  // Without the state file the probe would fall back to PORT on the loopback.
  const url = new URL(probe.url);
  assert.equal(url.hostname, "127.0.0.1", "probes the server inside the container");
  assert.equal(url.port, String(imagePort()));
});

Deno.test("Dockerfile HEALTHCHECK follows the port and health path however they are set", () => {
  const { probe } = imageProbe();
  // `docker run IMAGE ...` arguments and `-e` variables, as a user changes the port.
  const runs: [string[] | undefined, Record<string, string>][] = [
    [undefined, {}],
    [undefined, { PORT: "9000" }],
    [["/srv/www", "--port", "9001"], {}],
    [["/srv/www", "-p", "9002", "--health-path", "/-/ready"], { PORT: "9000" }],
    [["/srv/www", "--no-health-path"], {}],
  ];
  for (const [args, env] of runs) {
    const config = imageServeConfig(args, new Map([...runtimeEnv(), ...Object.entries(env)]));
    assert.equal(config.stateFile, probe.stateFile, "arguments never drop the state file");
    // What the server writes once bound, read back as the probe reads it.
    const state = parseState(formatState(
      1,
      { transport: "tcp", hostname: config.hostname, port: config.port, tls: false },
      config.healthPath,
    ));
    assert.ok(state, "a state file the probe can read");
    const target = new URL(state.health ?? state.url);
    assert.equal(target.port, String(config.port), `${args ?? "CMD"} ${JSON.stringify(env)}`);
    assert.equal(target.pathname, config.healthPath ?? "/");
    assert.equal(target.hostname, "127.0.0.1");
  }
});

/** Every file below `root` (relative, `/`-separated), skipping what is never in a checkout. */
function walk(root: string): string[] {
  const files: string[] = [];
  const visit = (relative: string) => {
    for (const entry of Deno.readDirSync(new URL(`${relative}/`, REPO))) {
      const path = relative === "." ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory) visit(path);
      else files.push(path);
    }
  };
  const info = Deno.statSync(new URL(root, REPO));
  if (info.isDirectory) visit(root);
  else files.push(root);
  return files;
}

Deno.test(".dockerignore keeps build outputs out and everything the build needs in", () => {
  const ignored = dockerignoreMatcher(readRepoText(".dockerignore"));
  for (const path of [".git/HEAD", "dist/sockserve", "node_modules/x/index.js"]) {
    assert.ok(ignored(path), `${path} stays out of the build context`);
  }
  // The build stage runs `deno task test`, which reads all of these.
  const needed = [
    "deno.json",
    "deno.lock",
    "main.ts",
    "server",
    "tests",
    "bench",
    "site",
    ".ci/run",
    "Dockerfile",
    ".dockerignore",
    "deploy",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "docs",
    "tools",
  ];
  for (const root of needed) {
    for (const path of walk(root)) {
      if (path.startsWith("bench/results/tmp/")) continue;
      assert.ok(!ignored(path), `${path} is needed in the build context`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Kubernetes manifest

type Json = Record<string, unknown>;

/** Follows a path of keys and array indexes through parsed YAML, failing with the path. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const [i, key] of path.entries()) {
    assert.ok(
      current !== null && typeof current === "object",
      `missing ${path.slice(0, i + 1).join(".")}`,
    );
    current = (current as Json)[key];
  }
  assert.notEqual(current, undefined, `missing ${path.join(".")}`);
  return current;
}

const MANIFESTS = parseYamlDocuments(readRepoText("deploy/kubernetes.yaml")) as Json[];

function manifest(kind: string): Json {
  const found = MANIFESTS.filter((m) => m["kind"] === kind);
  assert.equal(found.length, 1, `one ${kind} in deploy/kubernetes.yaml`);
  return found[0] as Json;
}

const DEPLOYMENT = manifest("Deployment");
const POD = at(DEPLOYMENT, "spec", "template", "spec") as Json;
const CONTAINER = at(POD, "containers", 0) as Json;

/** Resolves a probe's or a Service's port (a number or a container port name) to a number. */
function containerPortNumber(port: unknown): number {
  if (typeof port === "number") return port;
  const named = (at(CONTAINER, "ports") as Json[]).find((p) => p["name"] === port);
  assert.ok(named, `container port named ${String(port)}`);
  return named["containerPort"] as number;
}

/**
 * The serve configuration the pod starts with: the container's command and args (or the image's
 * ENTRYPOINT and CMD) and its environment over the image's, read by the real CLI parser.
 */
function podServeConfig(): ServeConfig {
  assert.equal(CONTAINER["command"], undefined, "the image's ENTRYPOINT starts sockserve");
  const args = (CONTAINER["args"] as string[] | undefined) ??
    execForm(only(RUNTIME_STAGE, "CMD").args) ?? [];
  const env = new Map(runtimeEnv());
  for (const variable of (CONTAINER["env"] ?? []) as Json[]) {
    env.set(String(variable["name"]), String(variable["value"]));
  }
  return imageServeConfig(args, env);
}

/** True when `subset`'s labels all appear in the pod template's labels. */
function selectsPods(subset: unknown): boolean {
  const labels = at(DEPLOYMENT, "spec", "template", "metadata", "labels") as Json;
  const entries = Object.entries(subset as Json);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

Deno.test("YAML subset reader: mappings, sequences, scalars, and refusals", () => {
  assert.deepEqual(
    parseYamlDocuments(
      "a: 1\nb:\n  c: 'it''s'\n  d:\n  - x\n  - k: \"v\"\n    n: 2.5\ne: []\n---\n- true\n- null\n",
    ),
    [{ a: 1, b: { c: "it's", d: ["x", { k: "v", n: 2.5 }] }, e: [] }, [true, null]],
  );
  assert.deepEqual(parseYamlDocuments("image: sockserve:0.1.0 # tag\nurl: a#b\n"), [
    { image: "sockserve:0.1.0", url: "a#b" },
  ]);
  for (
    const bad of ["a: &x 1", "a: |\n  text", "a:\n\tb: 1", "a: yes", "a: [1, 2]", "a: 1\na: 2"]
  ) {
    assert.throws(() => parseYamlDocuments(bad), YamlSubsetError, bad);
  }
});

Deno.test("kubernetes.yaml: replicas roll one at a time with no pod unavailable", () => {
  assert.ok((at(DEPLOYMENT, "spec", "replicas") as number) >= 2, "at least two replicas");
  assert.equal(at(DEPLOYMENT, "spec", "strategy", "type"), "RollingUpdate");
  assert.equal(at(DEPLOYMENT, "spec", "strategy", "rollingUpdate", "maxUnavailable"), 0);
  const surge = at(DEPLOYMENT, "spec", "strategy", "rollingUpdate", "maxSurge");
  assert.ok(
    surge === "100%" || (typeof surge === "number" && surge >= 1) || /^[1-9]\d*%$/.test(
      String(surge),
    ),
    "maxSurge lets a new pod start before an old one stops",
  );
  assert.ok(selectsPods(at(DEPLOYMENT, "spec", "selector", "matchLabels")));
});

Deno.test("kubernetes.yaml: the server listens on the container port, which the image exposes", () => {
  const ports = at(CONTAINER, "ports") as Json[];
  assert.equal(ports.length, 1);
  assert.equal(at(ports[0], "containerPort"), imagePort());
  assert.equal(podServeConfig().port, imagePort(), "the server listens on the container port");
  assert.equal(String(at(CONTAINER, "image")).split(":").at(-1), DENO_JSON.version);
});

Deno.test("kubernetes.yaml: readiness and liveness probe the server's own health path", () => {
  const healthPath = podServeConfig().healthPath;
  assert.ok(healthPath, "the pod's server has a health path");
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    assert.equal(containerPortNumber(at(CONTAINER, probe, "httpGet", "port")), imagePort());
    // Not a path of the site: a site without index.html (or replaced) must not fail probes.
    assert.equal(at(CONTAINER, probe, "httpGet", "path"), healthPath);
  }
  // Liveness must be the more patient of the two: a busy pod leaves the endpoints, not life.
  const patience = (probe: string) =>
    (at(CONTAINER, probe, "periodSeconds") as number) *
    (at(CONTAINER, probe, "failureThreshold") as number);
  assert.ok(patience("livenessProbe") > patience("readinessProbe"));
});

Deno.test("kubernetes.yaml: termination grace covers the preStop pause and the server's grace", () => {
  const preStopSeconds = at(CONTAINER, "lifecycle", "preStop", "sleep", "seconds") as number;
  assert.ok(preStopSeconds > 0, "a preStop pause lets endpoints drain before SIGTERM");
  // The server's grace period as the pod runs it (--grace-period in its args, or the default).
  const serverGraceSeconds = podServeConfig().gracePeriodMs / 1000;
  if (!("args" in CONTAINER)) {
    assert.equal(serverGraceSeconds, DEFAULT_GRACE_PERIOD_MS / 1000, "the server's default grace");
  }
  const terminationGrace = at(POD, "terminationGracePeriodSeconds") as number;
  assert.ok(
    terminationGrace > preStopSeconds + serverGraceSeconds,
    `terminationGracePeriodSeconds ${terminationGrace} > preStop ${preStopSeconds} s + grace ${serverGraceSeconds} s`,
  );
});

/** A Kubernetes memory quantity in MiB (Mi and Gi only: what the manifest uses). */
function mebibytes(quantity: unknown): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  assert.ok(match, `memory quantity in Mi or Gi: ${quantity}`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}

Deno.test("kubernetes.yaml: memory requests and limits follow the measured figures beside them", () => {
  for (const kind of ["requests", "limits"]) {
    for (const resource of ["cpu", "memory"]) at(CONTAINER, "resources", kind, resource);
  }
  const text = readRepoText("deploy/kubernetes.yaml");
  const measured = /# measured: idle (\d+) MiB; served (\d+) MiB; peak (\d+) MiB/.exec(text);
  assert.ok(measured, "the measured figures are written next to the resources");
  assert.match(text, /deno run -A tools\/measure_memory\.ts /, "with how to measure again");
  const [idle, served, peak] = measured.slice(1).map(Number) as [number, number, number];
  assert.ok(idle < served && served <= peak, "figures in order");
  const request = mebibytes(at(CONTAINER, "resources", "requests", "memory"));
  const limit = mebibytes(at(CONTAINER, "resources", "limits", "memory"));
  assert.ok(request >= served, `request ${request} Mi covers a served site (${served} MiB)`);
  assert.ok(limit >= peak * 1.25, `limit ${limit} Mi is 25% above the peak (${peak} MiB)`);
  assert.ok(request < limit);
});

Deno.test("kubernetes.yaml: runs as the image's non-root user on a read-only root", () => {
  const [imageUser] = only(RUNTIME_STAGE, "USER").args.split(":");
  assert.equal(at(POD, "securityContext", "runAsNonRoot"), true);
  assert.equal(at(POD, "securityContext", "runAsUser"), Number(imageUser));
  assert.equal(at(CONTAINER, "securityContext", "readOnlyRootFilesystem"), true);
  assert.equal(at(CONTAINER, "securityContext", "allowPrivilegeEscalation"), false);
  assert.deepEqual(at(CONTAINER, "securityContext", "capabilities", "drop"), ["ALL"]);
  // A compiled Deno executable writes its V8 code cache to the temp directory, and the server
  // its state file (the image's --state-file) there.
  const stateFile = podServeConfig().stateFile ?? "";
  assert.ok(stateFile.startsWith("/tmp/"), `the state file is in /tmp: ${stateFile}`);
  const mounts = at(CONTAINER, "volumeMounts") as Json[];
  const tmp = mounts.find((m) => m["mountPath"] === "/tmp");
  assert.ok(tmp, "a writable /tmp");
  const volume = (at(POD, "volumes") as Json[]).find((v) => v["name"] === tmp["name"]);
  assert.ok(volume && "emptyDir" in volume, "/tmp is an emptyDir");
});

Deno.test("kubernetes.yaml: the Service and the disruption budget select the pods", () => {
  const service = manifest("Service");
  assert.ok(selectsPods(at(service, "spec", "selector")));
  const ports = at(service, "spec", "ports") as Json[];
  assert.equal(ports.length, 1);
  assert.equal(containerPortNumber(at(ports[0], "targetPort")), imagePort());
  const budget = manifest("PodDisruptionBudget");
  assert.ok(selectsPods(at(budget, "spec", "selector", "matchLabels")));
  assert.ok((at(budget, "spec", "minAvailable") as number) >= 1);
});
