/**
 * A parser for the small subset of YAML that `deploy/kubernetes.yaml` is written in, so that the
 * deployment tests need no dependency. Anything outside the subset is an error naming the line,
 * never a silently different reading.
 *
 * The subset: documents separated by `---`; block mappings (`key: value`, `key:` + a nested
 * block); block sequences (`- value`, `- key: value` + continuation lines, also at the key's own
 * indentation); comments; plain, single- and double-quoted scalars; `[]` and `{}`. Scalars follow
 * YAML 1.2's core schema: `true`/`false`, `null`/`~`, integers and decimals; the rest are strings.
 * Not supported (rejected): tabs for indentation, anchors and aliases, tags, block scalars
 * (`|`, `>`), flow collections with content, multi-line plain scalars, nested `- -` sequences.
 *
 * @example
 * ```ts
 * import { parseYamlDocuments } from "./yaml_subset.ts";
 * parseYamlDocuments("a: 1\nb:\n  - x\n"); // [{ a: 1, b: ["x"] }]
 * ```
 *
 * @module
 */

/** A line of content: its indentation (spaces), its text without comment, its 1-based number. */
interface Line {
  indent: number;
  text: string;
  number: number;
}

/** Thrown for input outside the supported subset or malformed YAML. */
export class YamlSubsetError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "YamlSubsetError";
  }
}

/** Removes a comment (`#` at the start or after whitespace, outside quotes) and trailing spaces. */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || text[i - 1] === " ")) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

/** Splits the text into documents of significant lines. */
function splitDocuments(text: string): Line[][] {
  const documents: Line[][] = [[]];
  text.split(/\r?\n/).forEach((raw, index) => {
    const number = index + 1;
    const indentMatch = /^[ \t]*/.exec(raw)?.[0] ?? "";
    const content = stripComment(raw.slice(indentMatch.length));
    if (content === "") return;
    if (indentMatch.includes("\t")) throw new YamlSubsetError(number, "tab in indentation");
    if (indentMatch === "" && content === "---") {
      documents.push([]);
      return;
    }
    if (indentMatch === "" && (content.startsWith("%") || content === "...")) {
      throw new YamlSubsetError(number, `unsupported directive or marker: ${content}`);
    }
    documents.at(-1)?.push({ indent: indentMatch.length, text: content, number });
  });
  return documents.filter((lines) => lines.length > 0);
}

const INTEGER = /^[-+]?\d+$/;
const DECIMAL = /^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Reads one scalar (the whole rest of a line). */
function parseScalar(text: string, line: number): unknown {
  if (text.startsWith('"')) {
    if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) {
      throw new YamlSubsetError(line, `bad double-quoted scalar: ${text}`);
    }
    // JSON's escapes are a subset of YAML's double-quoted escapes.
    return JSON.parse(text);
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) {
      throw new YamlSubsetError(line, `bad single-quoted scalar: ${text}`);
    }
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (text === "[]") return [];
  if (text === "{}") return {};
  if (/^[&*!|>%@`{[\]},?]/.test(text) || text.startsWith("- ")) {
    throw new YamlSubsetError(line, `unsupported scalar syntax: ${text}`);
  }
  if (text.includes(": ") || text.endsWith(":")) {
    throw new YamlSubsetError(line, `ambiguous plain scalar (quote it): ${text}`);
  }
  // Spellings that YAML 1.1 readers (Kubernetes' among them) or other schemas read differently.
  if (/^(y|n|yes|no|on|off)$/i.test(text) || /^[-+]?(0[xo]|\.(inf|nan)$)/i.test(text)) {
    throw new YamlSubsetError(line, `ambiguous plain scalar (quote it): ${text}`);
  }
  if (/^(true|false|null)$/i.test(text) && text !== text.toLowerCase()) {
    throw new YamlSubsetError(line, `write ${text.toLowerCase()} in lower case`);
  }
  if (text === "true" || text === "false") return text === "true";
  if (text === "null" || text === "~") return null;
  if (INTEGER.test(text) || DECIMAL.test(text)) return Number(text);
  return text;
}

const KEY_VALUE =
  /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#:\-?][^:]*?|-[^\s:][^:]*?):(?: +(.*))?$/;

/** Splits `key: value` into its key and the (possibly empty) rest, or `undefined`. */
function splitKeyValue(text: string, line: number): [string, string] | undefined {
  const match = KEY_VALUE.exec(text);
  if (!match) return undefined;
  const rawKey = match[1] ?? "";
  const key = rawKey.startsWith('"') || rawKey.startsWith("'")
    ? String(parseScalar(rawKey, line))
    : rawKey;
  return [key, match[2] ?? ""];
}

function isSequenceItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

/** A cursor over one document's lines. */
class Parser {
  #lines: Line[];
  #index = 0;

  constructor(lines: Line[]) {
    this.#lines = lines;
  }

  parseDocument(): unknown {
    const first = this.#peek();
    if (first === undefined) return null;
    const value = this.#parseBlock(first.indent);
    const rest = this.#peek();
    if (rest !== undefined) throw new YamlSubsetError(rest.number, "unexpected indentation");
    return value;
  }

  #peek(): Line | undefined {
    return this.#lines[this.#index];
  }

  #parseBlock(indent: number): unknown {
    const line = this.#peek();
    if (line === undefined) return null;
    if (isSequenceItem(line.text)) return this.#parseSequence(indent);
    if (splitKeyValue(line.text, line.number) !== undefined) return this.#parseMapping(indent);
    // A lone scalar on its own line (a document or a value on the next line).
    this.#index++;
    return parseScalar(line.text, line.number);
  }

  /** The value after `key:` or `-` with nothing else on the line: a nested block or null. */
  #parseNested(parentIndent: number, allowCompactSequence: boolean): unknown {
    const next = this.#peek();
    if (next === undefined) return null;
    if (next.indent > parentIndent) return this.#parseBlock(next.indent);
    if (allowCompactSequence && next.indent === parentIndent && isSequenceItem(next.text)) {
      return this.#parseSequence(parentIndent);
    }
    return null;
  }

  #parseMapping(indent: number): Record<string, unknown> {
    const mapping: Record<string, unknown> = {};
    for (let line = this.#peek(); line !== undefined; line = this.#peek()) {
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlSubsetError(line.number, "unexpected indentation");
      if (isSequenceItem(line.text)) break;
      const pair = splitKeyValue(line.text, line.number);
      if (pair === undefined) throw new YamlSubsetError(line.number, `expected key: ${line.text}`);
      const [key, rest] = pair;
      if (Object.hasOwn(mapping, key)) {
        throw new YamlSubsetError(line.number, `duplicate key: ${key}`);
      }
      this.#index++;
      mapping[key] = rest === "" ? this.#parseNested(indent, true) : parseScalar(rest, line.number);
    }
    return mapping;
  }

  #parseSequence(indent: number): unknown[] {
    const sequence: unknown[] = [];
    for (let line = this.#peek(); line !== undefined; line = this.#peek()) {
      if (line.indent < indent || !isSequenceItem(line.text)) break;
      if (line.indent > indent) throw new YamlSubsetError(line.number, "unexpected indentation");
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        this.#index++;
        sequence.push(this.#parseNested(indent, false));
        continue;
      }
      if (isSequenceItem(rest)) throw new YamlSubsetError(line.number, "nested `- -` sequence");
      if (splitKeyValue(rest, line.number) !== undefined) {
        // `- key: value`: a mapping whose lines are indented to where `key` starts.
        const itemIndent = line.indent + (line.text.length - rest.length);
        this.#lines[this.#index] = { indent: itemIndent, text: rest, number: line.number };
        sequence.push(this.#parseMapping(itemIndent));
        continue;
      }
      this.#index++;
      sequence.push(parseScalar(rest, line.number));
    }
    return sequence;
  }
}

/**
 * Parses every document of a YAML text written in the subset described above.
 *
 * @example
 * ```ts
 * import { parseYamlDocuments } from "./yaml_subset.ts";
 * const [deployment] = parseYamlDocuments("kind: Deployment\nspec:\n  replicas: 2\n");
 * ```
 */
export function parseYamlDocuments(text: string): unknown[] {
  return splitDocuments(text).map((lines) => new Parser(lines).parseDocument());
}
