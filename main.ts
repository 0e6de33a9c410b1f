/**
 * sockserve command line: serves a directory over HTTP/1.1.
 *
 * This file only wires configuration to the library: the command line is parsed by
 * `server/cli/config.ts`, files are served by `createFileServer()`, connections by `serve()`,
 * requests are logged by `server/access_log.ts` and signals handled by `server/cli/lifecycle.ts`.
 *
 * ```sh
 * deno run --allow-net --allow-read=public --allow-env=PORT,HOST main.ts public --port 8080
 * ```
 *
 * @module
 */

import { join } from "node:path";
import denoJson from "./deno.json" with { type: "json" };
import { createAccessLogger, writeAllSync, writeStdoutLine } from "./server/access_log.ts";
import {
  type CliEnv,
  EXIT_USAGE,
  parseCommandLine,
  type ServeConfig,
} from "./server/cli/config.ts";
import { EXIT_HEALTHY, EXIT_UNHEALTHY, healthcheck } from "./server/cli/healthcheck.ts";
import { denoSignalSource, handleStopSignals } from "./server/cli/lifecycle.ts";
import {
  checkRootDirectory,
  chooseRoot,
  describeListenError,
  EXIT_STARTUP_FAILURE,
  startLine,
} from "./server/cli/startup.ts";
import { healthcheckUsage, usage } from "./server/cli/usage.ts";
import { serve, type Server } from "./server/mod.ts";
import { createFileServer } from "./server/static/file_server.ts";

/** The version in deno.json, bundled into executables through the JSON import. */
export const VERSION: string = denoJson.version;

/** Environment variables the CLI reads; `--allow-env=PORT,HOST` is all it needs. */
const ENV_NAMES = ["PORT", "HOST"] as const;

const encoder = new TextEncoder();

function printError(line: string): void {
  writeAllSync(Deno.stderr, encoder.encode(`${line}\n`));
}

/** Reads the variables the CLI knows, skipping those it may not read (never prompting). */
function readEnv(): CliEnv {
  const env: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state === "granted") {
      env[name] = Deno.env.get(name);
    }
  }
  return env;
}

/** Whether a path exists (used only for the site embedded in an executable). */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts serving as configured. Returns an exit code when it could not start, or the running
 * server (the lifecycle then decides when the process exits).
 */
async function startServer(config: ServeConfig): Promise<number | Server> {
  if (config.workers !== 1) {
    printError(
      `sockserve: --workers ${config.workers} is not supported by this build; ` +
        `run one process per CPU behind a load balancer instead (run 'sockserve --help' for usage)`,
    );
    return EXIT_USAGE;
  }
  const embeddedSiteDir = join(import.meta.dirname ?? ".", "public");
  const root = chooseRoot({
    rootArg: config.root,
    standalone: Deno.build.standalone,
    embeddedSiteDir,
    embeddedSiteExists: Deno.build.standalone && exists(embeddedSiteDir),
    cwd: Deno.cwd(),
  });
  const problem = await checkRootDirectory(root.path);
  if (problem !== undefined) {
    printError(problem);
    return EXIT_STARTUP_FAILURE;
  }

  const handler = createFileServer({
    root: root.path,
    cors: config.cors,
    spa: config.spa,
    dirListing: config.dirListing,
    dotfiles: config.dotfiles,
    headers: config.headers,
    compression: config.compression,
    ...(config.cacheControl === undefined ? {} : { cacheControl: config.cacheControl }),
  });
  try {
    return serve({
      ...config.limits,
      gracePeriodMs: config.gracePeriodMs,
      port: config.port,
      hostname: config.hostname,
      onListen: (addr) => writeStdoutLine(startLine(VERSION, root, addr.hostname, addr.port)),
      ...(config.log === "off" ? {} : { onRequestEnd: createAccessLogger(config.log) }),
    }, handler);
  } catch (error) {
    printError(describeListenError(error, config.hostname, config.port));
    return EXIT_STARTUP_FAILURE;
  }
}

/**
 * Runs the command line. Returns the exit code, or `undefined` while the server runs (it exits
 * the process itself on SIGTERM/SIGINT).
 */
export async function main(args: readonly string[]): Promise<number | undefined> {
  const parsed = parseCommandLine(args, readEnv());
  if (!parsed.ok) {
    printError(parsed.message);
    return parsed.exitCode;
  }
  const command = parsed.command;
  switch (command.kind) {
    case "help":
      writeAllSync(Deno.stdout, encoder.encode(usage(VERSION)));
      return 0;
    case "healthcheck-help":
      writeAllSync(Deno.stdout, encoder.encode(healthcheckUsage()));
      return 0;
    case "version":
      writeStdoutLine(`sockserve ${VERSION}`);
      return 0;
    case "healthcheck": {
      const result = await healthcheck(command.url, command.timeoutMs);
      if (result.healthy) writeStdoutLine(result.message);
      else printError(result.message);
      return result.healthy ? EXIT_HEALTHY : EXIT_UNHEALTHY;
    }
    case "serve": {
      const server = await startServer(command.config);
      if (typeof server === "number") return server;
      handleStopSignals(server, {
        gracePeriodMs: command.config.gracePeriodMs,
        log: writeStdoutLine,
        logError: printError,
        exit: (code) => Deno.exit(code),
        onSignal: denoSignalSource,
      });
      return undefined;
    }
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code !== undefined) Deno.exit(code);
}
