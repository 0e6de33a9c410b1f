/**
 * sockserve command line: serves a directory over HTTP/1.1.
 *
 * This file only wires configuration to the library: the command line is parsed by
 * `server/cli/config.ts`, files are served by `createFileServer()`, connections by `serve()`,
 * requests are logged by `server/access_log.ts` and signals handled by `server/cli/lifecycle.ts`.
 *
 * ```sh
 * deno run --allow-net --allow-read=site --allow-env=PORT,HOST main.ts site --port 8080
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "./deno.json" with { type: "json" };
import {
  writeAllSync,
  writeStderrLine as printError,
  writeStdoutLine,
} from "./server/access_log.ts";
import { type CliEnv, parseCommandLine } from "./server/cli/config.ts";
import type { ServeConfig } from "./server/cli/serve_config.ts";
import {
  EXIT_HEALTHY,
  EXIT_UNHEALTHY,
  healthcheck,
  type ProbeTarget,
} from "./server/cli/healthcheck.ts";
import { readCertificateFiles } from "./server/cli/certificate_files.ts";
import { denoSignalSource, handleStopSignals } from "./server/cli/lifecycle.ts";
import { startSite, type WorkerData } from "./server/cli/site.ts";
import {
  describeWorkersReadProblem,
  EXIT_STARTUP_FAILURE,
  helpCommand,
  type Listening,
  startLine,
} from "./server/cli/startup.ts";
import { formatState, parseState, type ServerState } from "./server/cli/state_file.ts";
import { healthcheckUsage, usage } from "./server/cli/usage.ts";
import type { ServeAddr, Server } from "./server/mod.ts";
import type { CertifiedKey } from "./server/tls/certificate.ts";
import { ErrorLog } from "./server/error_log.ts";
import { startWorkers } from "./server/workers.ts";

/** The version in deno.json, bundled into executables through the JSON import. */
export const VERSION: string = denoJson.version;

/** Environment variables the CLI reads; `--allow-env=PORT,HOST` is all it needs. */
const ENV_NAMES = ["PORT", "HOST"] as const;

const encoder = new TextEncoder();

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

/**
 * Starts serving as configured: one isolate, or with `--workers N` this thread plus N - 1
 * workers on the same SO_REUSEPORT port. Returns an exit code when it could not start, or the
 * running server and its start line, which the caller prints once the signal handlers are
 * installed: whoever waits for the line (a person, a test, a supervisor) may send SIGTERM the
 * moment it appears, and must get a graceful shutdown, not the default kill.
 */
/** Whether the server listens on TCP (its address has a port), as `--workers` needs. */
function isTcpServer(server: Server<ServeAddr>): server is Server<Deno.NetAddr> {
  return "port" in server.addr;
}

async function startServer(
  config: ServeConfig,
  errorLog: ErrorLog,
): Promise<number | { server: Server<ServeAddr>; announce: string; where: Listening }> {
  const isolates = config.workers === "auto" ? navigator.hardwareConcurrency : config.workers;
  const workerModule = new URL("./server/cli/worker_entry.ts", import.meta.url);
  if (isolates > 1 && !Deno.build.standalone && workerModule.protocol === "file:") {
    // Under `deno run`, every worker loads sockserve's own files at run time: say so before
    // anything starts, rather than after a worker has died of it.
    const state = Deno.permissions.querySync({ name: "read", path: workerModule }).state;
    if (state !== "granted") {
      printError(
        describeWorkersReadProblem(
          resolve(Deno.cwd(), config.root ?? "."),
          fileURLToPath(new URL(".", import.meta.url)),
        ),
      );
      return EXIT_STARTUP_FAILURE;
    }
  }
  // The certificate and key are read once, here; workers get their text.
  let certifiedKey: CertifiedKey | undefined;
  if (config.certFile !== undefined && config.keyFile !== undefined) {
    const read = readCertificateFiles({ certFile: config.certFile, keyFile: config.keyFile });
    if (typeof read === "string") {
      printError(read);
      return EXIT_STARTUP_FAILURE;
    }
    certifiedKey = read;
  }
  let announce = "";
  let where: Listening | undefined;
  const primary = await startSite(config, {
    reusePort: isolates > 1,
    isolates,
    ...(certifiedKey === undefined ? {} : { certifiedKey }),
    onListen: (listening, root) => {
      where = listening;
      announce = startLine(VERSION, root, listening)
        .replace(" at http", isolates > 1 ? ` with ${isolates} workers at http` : " at http");
    },
    printError,
    errorLog,
  });
  if (typeof primary === "number") return primary;
  let server = primary;
  // Workers share a TCP port; the command line refuses --workers with --unix-socket.
  if (isolates > 1 && isTcpServer(primary)) {
    try {
      server = await startWorkers({
        primary,
        workers: isolates - 1,
        moduleUrl: workerModule,
        data: (certifiedKey === undefined
          ? { config, isolates }
          : { config, isolates, certifiedKey }) satisfies WorkerData,
        // A worker that dies is logged and replaced; one that keeps dying stops the process
        // with exit 1, so that its supervisor restarts it (docs/operations.md).
        log: printError,
        onGiveUp: (reason) => {
          printError(`sockserve: ${reason}: stopping so that the process is restarted`);
          void server.shutdown().finally(() =>
            Deno.exit(1)
          );
        },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      printError(`sockserve: ${message.split("\n")[0]}`);
      return EXIT_STARTUP_FAILURE;
    }
  }
  return { server, announce, where: where as Listening };
}

/**
 * Writes the state file; a failure is one line on stderr and the server keeps serving (a probe
 * reading the file then reports it unhealthy, which says what is wrong where it is watched).
 */
function writeState(path: string, where: Listening, healthPath?: string): void {
  try {
    Deno.writeTextFileSync(path, formatState(Deno.pid, where, healthPath));
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? `no permission: run deno with --allow-write=${path}`
      : error instanceof Error
      ? error.message
      : String(error);
    printError(`sockserve: cannot write --state-file ${path}: ${reason}`);
  }
}

/** Removes the state file of this process, if it is still the one this process wrote. */
function removeState(path: string): void {
  try {
    if (parseState(Deno.readTextFileSync(path))?.pid === Deno.pid) Deno.removeSync(path);
  } catch {
    // Not there, or not ours to remove: nothing to do at exit.
  }
}

/** Reads a state file for healthcheck; a string says why it could not. */
function readState(path: string): ServerState | string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `no state file ${path} (the server is not running, or has not started listening)`
      : `cannot read state file ${path}: ${error instanceof Error ? error.message : error}`;
  }
  return parseState(text) ?? `${path} is not a sockserve state file`;
}

/**
 * Runs the command line. Returns the exit code, or `undefined` while the server runs (it exits
 * the process itself on SIGTERM/SIGINT).
 */
export async function main(args: readonly string[]): Promise<number | undefined> {
  const parsed = parseCommandLine(
    args,
    readEnv(),
    helpCommand({
      standalone: Deno.build.standalone,
      execPath: Deno.execPath(),
      mainModule: Deno.mainModule,
      cwd: Deno.cwd(),
    }),
  );
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
      let target: ProbeTarget = {
        url: command.url,
        insecure: command.insecure,
        ...(command.unixSocket === undefined ? {} : { unixSocket: command.unixSocket }),
      };
      if (command.stateFile !== undefined) {
        const state = readState(command.stateFile);
        if (typeof state === "string") {
          printError(`unhealthy: ${state}`);
          return EXIT_UNHEALTHY;
        }
        // The server this process probes is the one that wrote the file: its liveness, not its
        // identity, is in question, so a self-signed certificate is no failure.
        target = {
          url: state.health ?? state.url,
          insecure: true,
          ...(state.socket === undefined ? {} : { unixSocket: state.socket }),
        };
      }
      const result = await healthcheck(target, command.timeoutMs);
      if (result.healthy) writeStdoutLine(result.message);
      else printError(result.message);
      return result.healthy ? EXIT_HEALTHY : EXIT_UNHEALTHY;
    }
    case "serve": {
      const { config } = command;
      // Errors while serving: one line each, rate-limited (server/error_log.ts).
      const errorLog = new ErrorLog({ write: printError });
      const started = await startServer(config, errorLog);
      if (typeof started === "number") return started;
      const { server } = started;
      handleStopSignals(server, {
        gracePeriodMs: config.gracePeriodMs,
        log: writeStdoutLine,
        logError: printError,
        exit: (code) => {
          if (config.stateFile !== undefined) removeState(config.stateFile);
          errorLog.flush(); // errors left out by the rate limit are still counted
          Deno.exit(code);
        },
        onSignal: denoSignalSource,
      });
      // Then the state file and the start line: whoever waits for the line finds the file, and
      // a SIGTERM sent on seeing it is handled.
      if (config.stateFile !== undefined) {
        writeState(config.stateFile, started.where, config.healthPath);
      }
      writeStdoutLine(started.announce);
      return undefined;
    }
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code !== undefined) Deno.exit(code);
}
