/**
 * Starts support/attack_server.ts in a child process and measures it from outside: open file
 * descriptors (/proc/<pid>/fd), resident memory (/proc/<pid>/status), and whether it is alive.
 *
 * @module
 */

import type { ServeOptions } from "../../server/mod.ts";

const SERVER_SCRIPT = new URL("./attack_server.ts", import.meta.url).pathname;

/** Bound on the child's start-up. */
const START_TIMEOUT_MS = 20_000;

/** A running server process. */
export interface ServerProcess extends AsyncDisposable {
  readonly pid: number;
  readonly port: number;
  /** Open file descriptors of the server process right now. */
  fdCount(): number;
  /**
   * Open TCP sockets of the server process (listener included). Total fds also move when the
   * runtime lazily opens its own files and unix sockets; TCP sockets are the ones a leak adds.
   */
  tcpSocketCount(): number;
  /** Resident set size of the server process right now, in bytes. */
  rssBytes(): number;
  /** True while the process has not exited. */
  readonly alive: boolean;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** Kills the process (SIGKILL) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts the attack server with the given `serve()` options (JSON-serializable ones only).
 *
 * @example
 * ```ts ignore
 * await using server = await startServerProcess({ headerTimeoutMs: 1000 });
 * console.log(server.port, server.fdCount());
 * ```
 */
export async function startServerProcess(
  options: Partial<ServeOptions> = {},
  v8Flags: string[] = [],
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : []),
      SERVER_SCRIPT,
      JSON.stringify(options),
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stderrText = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(text) {
        stderrText += text;
      },
    }),
  ).catch(() => {});

  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdoutText = "";
  let port = 0;
  const deadline = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
  try {
    while (port === 0) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`server process exited before listening: ${stderrText}`);
      stdoutText += value;
      const match = /PORT (\d+)/.exec(stdoutText);
      if (match !== null) port = Number(match[1]);
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const stdoutDone = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // Closed.
    }
  })();

  const pid = child.pid;
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await status;
    await stdoutDone;
    await stderrDone;
  };
  return {
    pid,
    port,
    fdCount: () => [...Deno.readDirSync(`/proc/${pid}/fd`)].length,
    tcpSocketCount: () => {
      const inodes = new Set<string>();
      for (const table of ["tcp", "tcp6"]) {
        const lines = Deno.readTextFileSync(`/proc/${pid}/net/${table}`).split("\n").slice(1);
        for (const line of lines) {
          const inode = line.trim().split(/\s+/)[9];
          if (inode !== undefined && inode !== "0") inodes.add(inode);
        }
      }
      let count = 0;
      for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
        try {
          const link = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
          if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) count++;
        } catch {
          // Closed between listing and reading.
        }
      }
      return count;
    },
    rssBytes: () => {
      const match = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      if (match === null) throw new Error("no VmRSS");
      return Number(match[1]) * 1024;
    },
    get alive() {
      return !exited;
    },
    stderr: () => stderrText,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Waits until `condition()` holds, polling every `intervalMs`, failing after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Sends one request on a new connection and returns the status (raw socket, reads to close). */
export async function quickStatus(port: number, target = "/hello"): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = `GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
    return match === null ? 0 : Number(match[1]);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
}
