/**
 * A reader for Dockerfiles, enough to check `Dockerfile` against the code without a Docker
 * engine: instructions split into build stages, line continuations joined, comment lines
 * dropped, exec-form (JSON array) arguments decoded.
 *
 * @example
 * ```ts
 * import { parseDockerfile } from "./dockerfile.ts";
 * const [stage] = parseDockerfile("FROM debian:12-slim AS base\nUSER 1000\n");
 * stage?.name; // "base"
 * ```
 *
 * @module
 */

/** One instruction: its keyword in upper case, its argument text and its first line number. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** One build stage: its `FROM` image, its `AS` name if any, and the instructions after it. */
export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions, joining `\` continuations and dropping comments. */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines are removed even inside a continued instruction, as Docker does.
    if (trimmed.startsWith("#")) return;
    if (pending === undefined && trimmed === "") return;
    const continued = trimmed.endsWith("\\");
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending === undefined
      ? { text: part, line: index + 1 }
      : { text: `${pending.text} ${part}`.trim(), line: pending.line };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text);
    if (match) {
      instructions.push({
        keyword: (match[1] ?? "").toUpperCase(),
        args: match[2] ?? "",
        line: pending.line,
      });
    }
    pending = undefined;
  });
  if (pending !== undefined) throw new SyntaxError(`line ${pending.line}: unterminated \\`);
  return instructions;
}

/**
 * Parses a Dockerfile into its stages. Instructions before the first `FROM` (only `ARG` is
 * allowed there) are not part of any stage.
 */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === "FROM") {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith("--platform="));
      const [image = "", as, name] = words;
      stages.push({
        image,
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages.at(-1)?.instructions.push(instruction);
    } else if (instruction.keyword !== "ARG") {
      throw new SyntaxError(`line ${instruction.line}: ${instruction.keyword} before FROM`);
    }
  }
  return stages;
}

/**
 * Decodes an exec-form argument (`["a", "b"]`), or returns `undefined` for the shell form.
 */
export function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === "string")) {
    throw new SyntaxError(`exec form must be a JSON array of strings: ${args}`);
  }
  return parsed;
}

/**
 * Reads `--name=value` options at the start of an argument text (HEALTHCHECK, COPY) and returns
 * them with the rest of the text.
 */
export function leadingOptions(args: string): { options: Map<string, string>; rest: string } {
  const options = new Map<string, string>();
  let rest = args.trimStart();
  for (
    let match = /^--([a-z-]+)=(\S*)\s*/.exec(rest);
    match;
    match = /^--([a-z-]+)=(\S*)\s*/.exec(rest)
  ) {
    options.set(match[1] ?? "", match[2] ?? "");
    rest = rest.slice(match[0].length);
  }
  return { options, rest };
}

/**
 * Reads the variables of an `ENV` instruction: `K=V K2="V 2"`, or the legacy `K V` form.
 */
export function envVariables(args: string): Map<string, string> {
  const variables = new Map<string, string>();
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(args.trim());
  if (legacy) return variables.set(legacy[1] ?? "", (legacy[2] ?? "").trim());
  const pair = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const match of args.matchAll(pair)) {
    const raw = match[2] ?? "";
    const value = raw.startsWith('"')
      ? JSON.parse(raw)
      : raw.startsWith("'")
      ? raw.slice(1, -1)
      : raw;
    variables.set(match[1] ?? "", value);
  }
  return variables;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration as Docker takes them (`30s`, `1m30s`, `500ms`) into milliseconds. */
export function dockerDurationMs(text: string): number {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) throw new SyntaxError(`bad duration: ${text}`);
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ""] ?? Number.NaN);
  }
  return total;
}

function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*" && pattern[i + 1] === "*") {
      // `**/` matches any number of directories, including none.
      source += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += pattern[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Builds the test "is this path (relative to the build context, `/`-separated) left out of the
 * context?" from a `.dockerignore` text. As in Docker: patterns are relative to the context root,
 * a pattern that matches a directory leaves out everything below it, `!` brings paths back and
 * the last matching pattern wins.
 *
 * @example
 * ```ts
 * import { dockerignoreMatcher } from "./dockerfile.ts";
 * const ignored = dockerignoreMatcher(".git\n**\/*.log\n");
 * ignored(".git/config"); // true
 * ```
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+|\/+$/g, "");
      return { negated, regexp: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let ignored = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regexp.test(prefix))) ignored = !rule.negated;
    }
    return ignored;
  };
}
