/**
 * Finding external programs (curl, node) for interop tests, so that a test can be ignored with
 * its reason when the program is missing instead of failing or passing silently.
 *
 * @module
 */

/** Absolute path of `name` on PATH (or `fallback` if it exists), or null. */
export function findBinary(name: string, fallback?: string): string | null {
  const candidates = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "")
    .map((dir) => `${dir}/${name}`);
  if (fallback !== undefined) candidates.unshift(fallback);
  for (const candidate of candidates) {
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // Not there.
    }
  }
  return null;
}

/** Output of a finished program. */
export interface ProgramOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program to completion (bounded by `timeoutMs`: the process is killed past it) with
 * optional stdin, working directory and extra environment variables, and returns its exit code
 * and output as text.
 */
export async function runProgram(
  path: string,
  args: string[],
  options: {
    stdin?: Uint8Array | string;
    timeoutMs?: number;
    cwd?: string;
    env?: Record<string, string>;
  } = {},
): Promise<ProgramOutput> {
  const child = new Deno.Command(path, {
    args,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, options.timeoutMs ?? 30_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(
        typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
      );
      await writer.close();
    }
    const output = await child.output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}
