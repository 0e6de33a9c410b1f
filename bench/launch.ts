/**
 * Launching the servers of a benchmark run: the argv of each server in each mode (or why it
 * cannot run here), starting them, and stopping them (also on an interrupt).
 *
 * @module
 */

import { join } from "node:path";
import { missingTool, NO_COMPRESSED_CACHE_BYTES, SMALL_FILE_NAME } from "./options.ts";
import type { MeasuredServer } from "./report.ts";
import { type LaunchSpec, type ServerProcess, startServer } from "./processes.ts";
import { freePort, nginxConfig } from "./nginx.ts";
import { BENCH_DIR, type Mode, REPO_DIR, type RunContext } from "./context.ts";

/** nginx `worker_connections` of the load scenarios (wrk opens at most 64 + 4). */
const NGINX_WORKER_CONNECTIONS = 4096;

/** nginx connections beyond M1's and M2's idle ones: the listener, the harness's probes. */
const NGINX_SPARE_CONNECTIONS = 64;

/**
 * nginx's connection table over the connections M1 and M2 hold: once fewer than 1/16 of
 * `worker_connections` are free, nginx closes idle keep-alive connections to make room
 * (`ngx_drain_connections`), which would free memory during a batch.
 */
const NGINX_TABLE_HEADROOM = 1.25;

/**
 * How M1 and M2 start a server: with an idle timeout long enough to keep every batch until the
 * last is read. Only they pass it, so no other scenario's configuration changes.
 */
export interface IdleHold {
  /** Idle timeout for keep-alive connections, ms (servers without one keep them anyway). */
  timeoutMs: number;
  /** Idle connections held at once at most (all batches), for nginx's fixed connection table. */
  connections: number;
}

/** Why a server is not in the WebSocket scenario. */
const NO_WEBSOCKET = "no WebSocket server without a library (W1 compares sockserve and Deno.serve)";

/**
 * The argv that starts one server in one mode, or why it cannot run here. With `idle` (M1, M2),
 * the servers that close idle keep-alive connections get its timeout: sockserve's `serve()`
 * entry `--idle-timeout-ms=N` (the baseline's too: an entry that predates the option refuses to
 * start, and bench/idle_memory.ts then starts it without), node:http `--keep-alive-timeout-ms=N`
 * (`server.keepAliveTimeout`), nginx `keepalive_timeout`. Deno.serve and deno-raw-loop have no
 * idle timeout.
 */
export async function launchSpec(
  server: MeasuredServer,
  mode: Mode,
  context: Pick<
    RunContext,
    "filesDir" | "tempDir" | "tools" | "serverCore" | "baseline" | "tls"
  >,
  idle?: IdleHold,
): Promise<LaunchSpec | string> {
  const { filesDir, tempDir, tools, serverCore: core, baseline } = context;
  const files = mode === "static" || mode === "compress";
  // T1: the hello servers with the run's certificate; no certificate, no T1.
  const tls = mode === "tls" ? context.tls : null;
  if (typeof tls === "string") return tls;
  const modeArgs = files
    ? ["static", filesDir]
    : tls !== null
    ? ["hello", `--cert=${tls.certFile}`, `--key=${tls.keyFile}`]
    : [mode];
  // The readiness check of a TLS server connects with TLS, trusting the run's certificate.
  const secure = tls === null ? {} : { caCert: tls.cert };
  const readyPath = files ? `/${SMALL_FILE_NAME}` : "/";
  const denoScript = (file: string, root = REPO_DIR, extra: string[] = []) => [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1",
    `--allow-read`,
    join(root, "bench", "servers", file),
    ...modeArgs,
    ...extra,
  ];
  // S7: a cache with no room for a compressed file, so that sockserve compresses every response.
  const sockserveExtra = [
    ...(mode === "compress" ? [`--cache-max-total-bytes=${NO_COMPRESSED_CACHE_BYTES}`] : []),
    ...(idle === undefined ? [] : [`--idle-timeout-ms=${idle.timeoutMs}`]),
  ];
  if (baseline !== null && server === baseline.server) {
    // The old tree's own entry, run from the old tree so that its deno.json (unstable flags,
    // imports) applies, exactly as the current sockserve is run from the repository.
    if (tls !== null && !await servesTls(baseline.dir)) {
      return `its bench/servers/sockserve.ts predates T1 (no --cert=FILE --key=FILE)`;
    }
    return {
      ...secure,
      name: server,
      command: denoScript("sockserve.ts", baseline.dir, sockserveExtra),
      readyPath,
      core,
      cwd: baseline.dir,
    };
  }
  switch (server) {
    case "sockserve":
      return {
        ...secure,
        name: server,
        command: denoScript("sockserve.ts", REPO_DIR, sockserveExtra),
        readyPath,
        core,
        cwd: REPO_DIR,
      };
    case "deno-serve":
      return {
        ...secure,
        name: server,
        command: denoScript("deno_serve.ts"),
        readyPath,
        core,
        cwd: REPO_DIR,
      };
    case "deno-raw-loop":
      if (tls !== null) return "it speaks plain TCP only (a ceiling for S1 and S5)";
      if (mode !== "hello") return "it only answers Hello, World! (a ceiling, not a file server)";
      return {
        name: server,
        command: denoScript("deno_raw_loop.ts"),
        readyPath,
        core,
        cwd: REPO_DIR,
      };
    case "node-http":
      if (mode === "websocket") return NO_WEBSOCKET;
      if (!tools.node) return missingTool("node");
      return {
        ...secure,
        name: server,
        command: [
          "node",
          join(BENCH_DIR, "servers", "node_http.mjs"),
          ...modeArgs,
          ...(idle === undefined ? [] : [`--keep-alive-timeout-ms=${idle.timeoutMs}`]),
        ],
        readyPath,
        core,
      };
    case "nginx": {
      if (mode === "websocket") return NO_WEBSOCKET;
      if (tools.nginx === null) return missingTool("nginx");
      if (tls !== null && !tools.nginxSsl) {
        return `${tools.nginx} was built without its ssl module (nginx -V lists no ` +
          "--with-http_ssl_module)";
      }
      const prefix = await Deno.makeTempDir({ dir: tempDir, prefix: `nginx-${mode}-` });
      const port = freePort();
      const configPath = join(prefix, "nginx.conf");
      await Deno.writeTextFile(
        configPath,
        nginxConfig({
          prefix,
          port,
          mode: files ? "static" : "hello",
          root: filesDir,
          workerConnections: Math.max(
            NGINX_WORKER_CONNECTIONS,
            Math.ceil(
              ((idle?.connections ?? 0) + NGINX_SPARE_CONNECTIONS) * NGINX_TABLE_HEADROOM,
            ),
          ),
          ...(idle === undefined ? {} : { keepaliveTimeoutSec: Math.ceil(idle.timeoutMs / 1000) }),
          ...(tls === null ? {} : { tls: { certFile: tls.certFile, keyFile: tls.keyFile } }),
        }),
      );
      return {
        name: server,
        ...secure,
        command: [tools.nginx, "-p", prefix, "-c", configPath, "-e", join(prefix, "error.log")],
        fixedPort: port,
        readyPath,
        core,
      };
    }
    default:
      return `unknown server ${server}`;
  }
}

/** Whether the bench server entry of a (baseline) tree takes T1's certificate options. */
async function servesTls(root: string): Promise<boolean> {
  try {
    const args = await Deno.readTextFile(join(root, "bench", "servers", "server_args.ts"));
    return args.includes('"--cert="');
  } catch {
    return false;
  }
}

/** Servers started by this run, so that an interrupt can stop them. */
export const running = new Set<ServerProcess>();

export async function startOrReason(spec: LaunchSpec | string): Promise<ServerProcess | string> {
  if (typeof spec === "string") return spec;
  try {
    const server = await startServer(spec);
    running.add(server);
    return server;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function stopServer(server: ServerProcess): Promise<void> {
  await server.stop();
  running.delete(server);
}

/**
 * sockserve's command line serving the static files, as a user runs it (its default access log
 * on stdout, which the harness reads and drops), for M2; the baseline's from its own tree. With
 * `idle`, `--idle-timeout <seconds>s` too (a command line without the option refuses to start).
 */
export function commandLineSpec(
  name: MeasuredServer,
  context: Pick<RunContext, "filesDir" | "serverCore" | "baseline">,
  idle?: IdleHold,
): LaunchSpec {
  const root = context.baseline !== null && name === context.baseline.server
    ? context.baseline.dir
    : REPO_DIR;
  const port = freePort();
  return {
    name,
    command: [
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      `--allow-read=${context.filesDir}`,
      join(root, "main.ts"),
      context.filesDir,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...(idle === undefined ? [] : ["--idle-timeout", `${Math.ceil(idle.timeoutMs / 1000)}s`]),
    ],
    fixedPort: port,
    readyPath: `/${SMALL_FILE_NAME}`,
    core: context.serverCore,
    cwd: root,
  };
}
