/**
 * Starting, watching and stopping the processes of a benchmark run: servers pinned to a core,
 * their readiness, and what /proc says about their CPU time, memory and open files.
 *
 * @module
 */

import { httpGet } from "./probe.ts";

/** How long a server may take from spawn to answering its first request. */
export const SERVER_READY_TIMEOUT_MS = 15_000;

/** How long a server gets to exit after SIGTERM before it is killed with SIGKILL. */
export const SERVER_STOP_GRACE_MS = 3_000;

/** Most stderr bytes kept per server, to explain a failed start. */
const STDERR_TAIL_BYTES = 4096;

/**
 * Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`). It is 100 on every Linux
 * architecture Deno runs on; the kernel fixes USER_HZ at 100 for user space.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Runs a command after raising the soft open-files limit to the hard limit (M1 holds 1,000
 * connections; many systems start shells at 1,024), then `exec`s so the PID stays the
 * command's own and /proc readings are of the right process.
 */
const RAISE_NOFILE_AND_EXEC = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

/**
 * The argv that runs `command` with a raised open-files limit and, when `core` is a number,
 * pinned to that CPU core with taskset.
 *
 * @example
 * ```ts
 * wrapCommand(["wrk", "-t1"], 1); // ["sh", "-c", "…", "sh", "taskset", "-c", "1", "wrk", "-t1"]
 * ```
 */
export function wrapCommand(command: readonly string[], core: number | null): string[] {
  const pinned = core === null ? [...command] : ["taskset", "-c", String(core), ...command];
  return ["sh", "-c", RAISE_NOFILE_AND_EXEC, "sh", ...pinned];
}

/** How to launch one server. */
export interface LaunchSpec {
  /** Name for messages. */
  name: string;
  /** argv of the server (before wrapping). */
  command: string[];
  /**
   * When set, the server listens on this port and does not print it (nginx); otherwise the
   * server prints `LISTENING <port>` on stdout.
   */
  fixedPort?: number;
  /** Path to GET for the readiness check. */
  readyPath: string;
  /**
   * When set, the server speaks TLS with this PEM certificate, and the readiness check connects
   * with TLS trusting only it.
   */
  caCert?: string;
  /** Core to pin the server to, or null to leave it unpinned. */
  core: number | null;
  /** Working directory. */
  cwd?: string;
}

/** A running server process. */
export interface ServerProcess {
  /** Name for messages. */
  readonly name: string;
  /** PID of the server itself (the wrapper `exec`s). */
  readonly pid: number;
  /** Port it listens on at 127.0.0.1. */
  readonly port: number;
  /** The last stderr output, to explain failures. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after {@linkcode SERVER_STOP_GRACE_MS}; resolves when it exited. */
  stop(): Promise<void>;
}

/** An error with the server's stderr attached. */
export class ServerStartError extends Error {
  override name = "ServerStartError";
}

/**
 * Spawns a server, waits until it listens and answers `readyPath` with a 2xx status.
 *
 * @example
 * ```ts
 * const server = await startServer({ name: "x", command: ["node", "s.mjs", "hello"],
 *   readyPath: "/", core: 0 });
 * await server.stop();
 * ```
 */
export async function startServer(spec: LaunchSpec): Promise<ServerProcess> {
  const child = new Deno.Command(wrapCommand(spec.command, spec.core)[0] as string, {
    args: wrapCommand(spec.command, spec.core).slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Plain error text: it ends up in the report when a server fails to start.
    env: { NO_COLOR: "1" },
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    }
  })().catch(() => {});
  let announcedPort: ((port: number) => void) | undefined;
  const portAnnounced = new Promise<number>((resolve) => announcedPort = resolve);
  const stdoutDone = (async () => {
    let pending = "";
    // Keep draining after the port line so that a chatty server never blocks on a full pipe.
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        const match = /^LISTENING (\d+)$/.exec(line);
        if (match !== null) announcedPort?.(Number(match[1]));
      }
      if (pending.length > STDERR_TAIL_BYTES) pending = pending.slice(-STDERR_TAIL_BYTES);
    }
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((result) => {
    exited = true;
    return result;
  });

  const stop = async (): Promise<void> => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited between the check and the kill.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        status.then(() => false),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(true), SERVER_STOP_GRACE_MS)
        ),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited just now.
        }
      }
    }
    await status;
    await Promise.all([stdoutDone, stderrDone]);
  };

  const deadline = Date.now() + SERVER_READY_TIMEOUT_MS;
  try {
    const port = spec.fixedPort ?? await raceDeadline(
      Promise.race([
        portAnnounced,
        status.then((result) => {
          throw new ServerStartError(`exited with code ${result.code} before listening`);
        }),
      ]),
      deadline,
      "did not print LISTENING <port>",
    );
    while (true) {
      if (exited) throw new ServerStartError("exited before answering the readiness request");
      try {
        const probe = await httpGet(port, spec.readyPath, spec.caCert);
        probe.connection.close();
        if (probe.status >= 200 && probe.status < 300) break;
        throw new ServerStartError(`readiness request got status ${probe.status}`);
      } catch (error) {
        if (error instanceof ServerStartError) throw error;
        if (Date.now() > deadline) throw new ServerStartError("did not answer within the deadline");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return {
      name: spec.name,
      pid: child.pid,
      port,
      stderrTail: () => stderr,
      stop,
    };
  } catch (error) {
    await stop();
    const message = error instanceof Error ? error.message : String(error);
    throw new ServerStartError(
      oneLine(`${spec.name} ${message}${stderr.trim() === "" ? "" : `; stderr: ${stderr}`}`),
    );
  }
}

/** Longest failure reason kept for the report. */
const REASON_MAX_CHARS = 300;

/**
 * Squeezes a multi-line error (with possible ANSI colours) into one line of at most
 * {@linkcode REASON_MAX_CHARS} characters for the report.
 *
 * @example
 * ```ts
 * oneLine("error:\n  at x"); // "error: at x"
 * ```
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "").replace(/\s+/g, " ").trim();
  return plain.length > REASON_MAX_CHARS ? `${plain.slice(0, REASON_MAX_CHARS - 1)}…` : plain;
}

async function raceDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new ServerStartError(what)),
          Math.max(0, deadline - Date.now()),
        )
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * User + system CPU time of a process (all its threads) in seconds, from /proc/PID/stat.
 *
 * @example
 * ```ts
 * const before = await readCpuSeconds(Deno.pid);
 * ```
 */
export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime) of the full line are 11 and 12 after the name and state.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/**
 * User + system CPU time of the whole machine (all CPUs) in seconds, from /proc/stat. Interrupt
 * and softirq time are left out, as they are from a process's own utime + stime, so that the
 * difference to the processes under test is the time taken by everything else.
 */
export async function readMachineCpuSeconds(): Promise<number> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0] ?? "";
  const [user = 0, nice = 0, system = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process in KiB (VmRSS of /proc/PID/status). */
export async function readRssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for PID ${pid}`);
  return Number(match[1]);
}

/** Number of open file descriptors of a process. */
export async function countOpenFds(pid: number): Promise<number> {
  let count = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) count++;
  return count;
}

/**
 * Whether a program is on PATH (or is an existing executable path).
 *
 * @example
 * ```ts
 * if (!await hasProgram("wrk")) console.log("apt-get install wrk");
 * ```
 */
export async function hasProgram(program: string): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", 'command -v "$1" >/dev/null 2>&1', "sh", program],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/** Runs a short command and returns its trimmed stdout+stderr, or null if it failed to run. */
export async function commandOutput(program: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    return text.trim();
  } catch {
    return null;
  }
}

/** Resolves after `ms` milliseconds (pauses between phases, never used to synchronise). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
