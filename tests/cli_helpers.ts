// Helpers for tests that run the sockserve command line as a real process.
import { fileURLToPath } from "node:url";

/** main.ts, as an absolute path. */
export const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/**
 * Upper bound on waiting for a line or an exit. Not a synchronization device: every wait is for
 * an event (a line, an exit); this only turns a hang into a failure with a message.
 */
export const PROCESS_WAIT_LIMIT_MS = 30_000;

/** Collects the lines of a stream as they arrive and lets a test wait for a particular one. */
export class LineCollector {
  readonly lines: string[] = [];
  readonly done: Promise<void>;
  #ended = false;
  #waiters: { predicate: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        pending += text;
        let newline: number;
        while ((newline = pending.indexOf("\n")) !== -1) {
          this.#push(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      }
    } finally {
      if (pending !== "") this.#push(pending);
      this.#ended = true;
      for (const waiter of this.#waiters) waiter.resolve("");
      this.#waiters = [];
    }
  }

  #push(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.predicate(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** The full text received so far. */
  get text(): string {
    return this.lines.join("\n");
  }

  /** Resolves with the first line (already received or yet to come) that matches. */
  async waitFor(pattern: RegExp, what = String(pattern)): Promise<string> {
    const predicate = (line: string) => pattern.test(line);
    const seen = this.lines.find(predicate);
    if (seen !== undefined) return seen;
    if (this.#ended) throw new Error(`stream ended without ${what}; got:\n${this.text}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const line = await Promise.race([
        new Promise<string>((resolve) => this.#waiters.push({ predicate, resolve })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no line ${what} within the limit; got:\n${this.text}`)),
            PROCESS_WAIT_LIMIT_MS,
          );
        }),
      ]);
      if (!predicate(line)) throw new Error(`stream ended without ${what}; got:\n${this.text}`);
      return line;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Options for running main.ts. */
export interface RunOptions {
  /** Deno permission flags; default: what docs/cli.md documents, with read access to all. */
  permissions?: string[];
  /** Environment for the child (added to a clean one: only PATH, HOME and NO_COLOR are kept). */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /**
   * The program to run instead of `deno run <permissions> main.ts`, e.g. an installed command;
   * `permissions` is then ignored.
   */
  program?: string;
}

const DEFAULT_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-env=PORT,HOST"];

function command(args: string[], options: RunOptions): Deno.Command {
  const program = options.program ?? Deno.execPath();
  const prefix = options.program !== undefined
    ? []
    : ["run", "--quiet", ...(options.permissions ?? DEFAULT_PERMISSIONS), MAIN_TS];
  return new Deno.Command(program, {
    args: [...prefix, ...args],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR") ?? "" } : {}),
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
}

/** Runs main.ts to completion (for commands that exit by themselves). */
export async function runSockserve(
  args: string[],
  options: RunOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await command(args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A running sockserve process. */
export interface SockserveProcess {
  child: Deno.ChildProcess;
  stdout: LineCollector;
  stderr: LineCollector;
  /** The start line, e.g. `sockserve 0.1.0 serving /tmp/x at http://127.0.0.1:41234/`. */
  startLine: string;
  /** The URL from the start line. */
  url: URL;
  /** The port from the start line. */
  port: number;
  /** Resolves with the exit status once the process has ended and its output is read. */
  status: Promise<Deno.CommandStatus>;
  /** Kills the process (SIGKILL) if it still runs and waits for it; for `finally` blocks. */
  close(): Promise<void>;
}

/** The start line's pattern: an http:// or https:// URL, or a Unix socket (`unix:PATH`). */
export const START_LINE =
  /^sockserve \S+ serving .* at (https?:\/\/\S+|unix:\S+)(?: \((?:bound to|curl --unix-socket) .*\))?$/;

/**
 * Starts main.ts with `args` and waits for its start line. Pass `--port 0` (and usually
 * `--host 127.0.0.1`) so that the OS picks a free port.
 */
export async function startSockserve(
  args: string[],
  options: RunOptions = {},
): Promise<SockserveProcess> {
  const child = command(args, options).spawn();
  const stdout = new LineCollector(child.stdout);
  const stderr = new LineCollector(child.stderr);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await Promise.all([stdout.done, stderr.done]);
    return s;
  });
  const close = async () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // it ended meanwhile
      }
    }
    await status;
  };
  let startLine: string;
  try {
    startLine = await stdout.waitFor(START_LINE, "start line");
  } catch (error) {
    await close();
    throw new Error(`${(error as Error).message}\nstderr:\n${stderr.text}`);
  }
  const url = new URL(START_LINE.exec(startLine)?.[1] ?? "");
  return { child, stdout, stderr, startLine, url, port: Number(url.port), status, close };
}

/**
 * Runs the Deno that runs the tests with `args` (a `deno fmt`, `deno install`, `deno run` ...) to
 * completion, with NO_COLOR added to `env`.
 */
export async function runDeno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Makes a temporary site directory with the given files; returns its path. */
export async function makeSite(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sockserve_site_" }));
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return dir;
}
