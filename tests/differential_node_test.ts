/**
 * Differential check: sockserve's request parser against Node's (llhttp, through a real node:http
 * server on loopback, see support/node_parse.mjs) on the same inputs.
 *
 * sockserve is deliberately stricter than Node in places, and accepts a few things Node refuses.
 * Every such case is a row of {@linkcode DISAGREEMENTS} with its RFC justification; any other
 * disagreement fails the test. Where both accept, both must see the same method, target and body
 * (a body that two parsers frame differently is exactly what request smuggling needs).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { bytes, parseWhole } from "./support/http1_harness.ts";
import { requestArb } from "./support/generators.ts";
import { CORPUS, mutate, mutationsArb } from "./support/mutations.ts";

const NODE_SCRIPT = new URL("./support/node_parse.mjs", import.meta.url).pathname;

/** Seed of the generated and mutated inputs: fixed, so that the disagreement list is stable. */
const DIFFERENTIAL_SEED = 20261124;
const GENERATED_CASES = 300;
const MUTATED_CASES = 3000;

type Verdict =
  | { verdict: "accept"; method: string; url: string; body: string }
  | { verdict: "reject"; status: number }
  | { verdict: "incomplete" };

function nodeAvailable(): boolean {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Runs every input through Node's parser in one child process. */
async function nodeVerdicts(inputs: readonly string[]): Promise<Verdict[]> {
  const child = new Deno.Command("node", {
    args: [NODE_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(inputs.map((input) => btoa(input)))));
  await writer.close();
  const output = await child.output();
  assert.ok(output.success, "node_parse.mjs failed");
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * Methods the server answers with 501 itself before any handler (connection.ts): a web Request
 * cannot carry CONNECT, TRACE, TRACK, nor a lower-case spelling of a standard method.
 */
function isAnsweredWith501(method: string): boolean {
  const standard = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"];
  if (standard.includes(method)) return false;
  const upper = method.toUpperCase();
  return ["CONNECT", "TRACE", "TRACK", ...standard].includes(upper);
}

/** What a sockserve server does with the input: handler sees a request, or an error status. */
function sockserveVerdict(input: string): Verdict {
  const outcome = parseWhole(bytes(input));
  const first = outcome.messages[0];
  if (first !== undefined && first.complete) {
    if (isAnsweredWith501(first.method)) return { verdict: "reject", status: 501 };
    return { verdict: "accept", method: first.method, url: first.target, body: first.body };
  }
  if (outcome.errorStatus !== null) return { verdict: "reject", status: outcome.errorStatus };
  return { verdict: "incomplete" };
}

/** Who accepts the input. */
type Side = "sockserve only" | "node only";

interface Disagreement {
  /** What the rule is about. */
  name: string;
  /** Which parser accepts. */
  accepts: Side;
  /** Why sockserve's choice is right (RFC 9110 / RFC 9112 section). */
  rfc: string;
  /** Hand-written example inputs (each is checked to disagree exactly this way). */
  examples: string[];
  /** Recognizes other inputs (from mutation) that disagree for this reason. */
  matches: (input: string) => boolean;
}

const H = "Host: a\r\n";
/** The request line and header section of an input (before the first empty line). */
const headOf = (input: string) => {
  const end = input.indexOf("\r\n\r\n");
  return end === -1 ? input : input.slice(0, end + 2);
};
const requestLineOf = (input: string) => input.replace(/^(\r\n)+/, "").split("\r\n")[0] ?? "";
const targetOf = (input: string) => requestLineOf(input).split(" ")[1] ?? "";
const fieldLines = (input: string) => headOf(input).split("\r\n").slice(1);
const fieldValues = (input: string, name: string) =>
  fieldLines(input).filter((line) => line.toLowerCase().startsWith(`${name}:`)).map((line) =>
    line.slice(name.length + 1).trim()
  );

export const DISAGREEMENTS: Disagreement[] = [
  {
    name: 'bytes Node tolerates in the request-target: # < > " and obs-text',
    accepts: "node only",
    rfc: "RFC 9112 §3.2 / RFC 3986 §2: a request-target is URI characters only; '#' starts a " +
      'fragment, which is never sent (RFC 9110 §7.1), and < > " and bytes >= 0x80 are not URI ' +
      "characters. 400 rather than guessing an encoding.",
    examples: [
      `GET /a#b HTTP/1.1\r\n${H}\r\n`,
      `GET /<a> HTTP/1.1\r\n${H}\r\n`,
      `GET /"a HTTP/1.1\r\n${H}\r\n`,
    ],
    matches: (input) => /[#<>"\x80-\xff]/.test(targetOf(input)),
  },
  {
    name: "more than one Host, or an invalid Host value",
    accepts: "node only",
    rfc: "RFC 9112 §3.2: a server MUST respond 400 to a request with more than one Host field " +
      "line or with a Host field with an invalid field value.",
    examples: [
      `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: u@a\r\n\r\n`,
    ],
    matches: (input) => {
      const hosts = fieldValues(input, "host");
      return hosts.length > 1 ||
        hosts.some((h) =>
          !/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/.test(h)
        );
    },
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    accepts: "node only",
    rfc: "RFC 9112 §6.1: a server MUST treat an HTTP/1.0 message with Transfer-Encoding as " +
      "having faulty framing and close; we answer 400 (a smuggling vector through 1.0 proxies).",
    examples: [`POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    matches: (input) =>
      requestLineOf(input).endsWith("HTTP/1.0") &&
      fieldValues(input, "transfer-encoding").length > 0,
  },
  {
    name: "a transfer coding other than chunked (gzip, chunked)",
    accepts: "node only",
    rfc: "RFC 9112 §6.1: a server that receives a transfer coding it does not understand SHOULD " +
      "respond 501 (Not Implemented); Node passes the still-gzipped body to the application.",
    examples: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    ],
    matches: (input) => fieldValues(input, "transfer-encoding").some((v) => /[a-z]+\s*,/i.test(v)),
  },
  {
    name: "an HTTP version other than 1.0 and 1.1 on an HTTP/1 connection",
    accepts: "node only",
    rfc: "RFC 9110 §15.6.6: 505 for a major version the server does not support; HTTP/2 never " +
      "sends this text framing, so 'HTTP/2.0' here is not HTTP/2.",
    examples: [`GET / HTTP/2.0\r\n${H}\r\n`],
    matches: (input) => /HTTP\/(?!1\.[01]$)\d\.\d$/.test(requestLineOf(input)),
  },
  {
    name: "a request line that is not exactly method SP target SP version (HTTP/0.9, extra SP)",
    accepts: "node only",
    rfc: "RFC 9112 §3: request-line = method SP request-target SP HTTP-version; HTTP/0.9 " +
      "requests (no version) are not supported (RFC 9112 §2.3 / Appendix C.1) and extra " +
      "whitespace is a parsing ambiguity we refuse with 400.",
    examples: [`GET /\r\n\r\n`, `GET  / HTTP/1.1\r\n${H}\r\n`],
    matches: (input) => {
      const line = requestLineOf(input);
      return !/^\S+ \S+ HTTP\/\d\.\d$/.test(line);
    },
  },
  {
    name: "a request-target form the method may not use (GET *)",
    accepts: "node only",
    rfc: "RFC 9112 §3.2.4: asterisk-form is only used with OPTIONS; origin-form must start " +
      "with '/' (§3.2.1).",
    examples: [`GET * HTTP/1.1\r\n${H}\r\n`],
    matches: (input) => {
      const target = targetOf(input);
      const method = requestLineOf(input).split(" ")[0];
      return (target === "*" && method !== "OPTIONS") ||
        (!target.startsWith("/") && target !== "*" && !/^https?:\/\/[^/?]+/i.test(target));
    },
  },
  {
    name: "TRACE (and TRACK), which a web Request cannot carry",
    accepts: "node only",
    rfc: "RFC 9110 §9.3.8: TRACE is optional; the fetch standard forbids it in a Request, so " +
      "the server answers 501 (RFC 9110 §15.6.2) instead of calling the handler.",
    examples: [`TRACE / HTTP/1.1\r\n${H}\r\n`],
    matches: (input) => /^(TRACE|TRACK) /i.test(requestLineOf(input)),
  },
  {
    name: "identical repeated Content-Length values",
    accepts: "sockserve only",
    rfc: "RFC 9110 §8.6 / RFC 9112 §6.3 step 5: a recipient MAY accept a Content-Length made of " +
      "identical repeated values (as a list or as several lines) and use that value; differing " +
      "values are still rejected by both.",
    examples: [
      `POST / HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 2\r\n\r\nab`,
      `POST / HTTP/1.1\r\n${H}Content-Length: 2, 2\r\n\r\nab`,
    ],
    matches: (input) => {
      const values = fieldValues(input, "content-length").flatMap((v) => v.split(","));
      return values.length > 1 && new Set(values.map((v) => v.trim())).size === 1;
    },
  },
  {
    name: "methods outside Node's built-in list",
    accepts: "sockserve only",
    rfc: "RFC 9110 §9.1: the method token is extensible and case-sensitive; an origin server " +
      "passes any token to the application (which may answer 405/501). Node only knows a " +
      "fixed list.",
    examples: [`FOO / HTTP/1.1\r\n${H}\r\n`, `BREW / HTTP/1.1\r\n${H}\r\n`],
    matches: (input) => {
      const method = requestLineOf(input).split(" ")[0] ?? "";
      return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method) &&
        !["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"].includes(method);
    },
  },
  {
    name: "whitespace (BWS) around a chunk extension's ';' and '='",
    accepts: "sockserve only",
    rfc: 'RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS ' +
      "chunk-ext-val ] ); BWS is allowed whitespace, so '1 ;a=b' is a valid chunk-size line.",
    examples: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1 ;a\r\nx\r\n0\r\n\r\n`,
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;a = b\r\nx\r\n0\r\n\r\n`,
    ],
    matches: (input) =>
      /\r\n[0-9a-fA-F]+(;[^\r\n]*)?[ \t]+[;=]/.test(input) ||
      /\r\n[0-9a-fA-F]+;[^\r\n]*[;=][ \t]/.test(input),
  },
  {
    name: "framing fields in a chunked trailer section",
    accepts: "sockserve only",
    rfc: "RFC 9110 §6.5.1-6.5.2: trailer fields are kept apart from the header section and never " +
      "used for framing; sockserve does not merge them into the request, so a Content-Length " +
      "there is inert (RFC 9112 §7.1.2 lets a recipient discard trailers).",
    examples: [
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n`,
    ],
    matches: (input) => {
      const zero = input.search(/\r\n0[^\r\n]*\r\n[^\r\n]/);
      return zero !== -1 && /\r\n0[^\r\n]*\r\n[^\r]/.test(input);
    },
  },
];

function describe(verdict: Verdict): string {
  return verdict.verdict === "reject" ? `reject ${verdict.status}` : verdict.verdict;
}

const ignoreWithoutNode = !nodeAvailable();

Deno.test({
  name: `differential with Node: every listed disagreement is real and justified${
    ignoreWithoutNode ? " (ignored: node is not installed)" : ""
  }`,
  ignore: ignoreWithoutNode,
  async fn() {
    const examples = DISAGREEMENTS.flatMap((row) => row.examples.map((input) => ({ row, input })));
    const node = await nodeVerdicts(examples.map((e) => e.input));
    examples.forEach(({ row, input }, i) => {
      const ours = sockserveVerdict(input);
      const theirs = node[i]!;
      const label = `${row.name}: ${JSON.stringify(input)} sockserve ${describe(ours)}, node ${
        describe(theirs)
      }`;
      if (row.accepts === "node only") {
        assert.equal(theirs.verdict, "accept", label);
        assert.equal(ours.verdict, "reject", label);
      } else {
        assert.equal(ours.verdict, "accept", label);
        assert.notEqual(theirs.verdict, "accept", label);
      }
      assert.ok(row.matches(input), `the row's matcher must recognize its example: ${label}`);
    });
  },
});

/** Inputs both parsers must agree on: the valid corpus, generated requests, mutated ones. */
function sharedInputs(): string[] {
  const generated = fc.sample(
    requestArb.filter(({ expected }) =>
      ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"].includes(expected.method)
    ),
    { seed: DIFFERENTIAL_SEED, numRuns: GENERATED_CASES },
  ).map((request) => request.wire);
  const mutated = fc.sample(
    fc.tuple(fc.constantFrom(...CORPUS, ...generated.slice(0, 50)), mutationsArb),
    { seed: DIFFERENTIAL_SEED, numRuns: MUTATED_CASES },
  ).map(([wire, mutations]) => mutate(wire, mutations));
  return [...CORPUS, ...generated, ...mutated].map(firstMessage);
}

/**
 * The input up to the end of the first request sockserve completes in it (all of it when none
 * completes). Pipelined bytes after it are a second request with its own verdict, and Node
 * answers a broken second request with a 400 that replaces the first response; comparing
 * first requests alone keeps the two verdicts about the same message.
 */
function firstMessage(input: string): string {
  const completes = (length: number) =>
    parseWhole(bytes(input.slice(0, length))).messages[0]?.complete === true;
  if (!completes(input.length)) return input;
  // Completion is monotone in the prefix length, so binary search the shortest prefix.
  let low = 0;
  let high = input.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (completes(middle)) high = middle;
    else low = middle + 1;
  }
  return input.slice(0, low);
}

Deno.test({
  name: `differential with Node: ${GENERATED_CASES} generated and ${MUTATED_CASES} mutated ` +
    `requests, every disagreement explained by the table${
      ignoreWithoutNode ? " (ignored: node is not installed)" : ""
    }`,
  ignore: ignoreWithoutNode,
  async fn() {
    const inputs = sharedInputs();
    const node = await nodeVerdicts(inputs);
    const unexplained: string[] = [];
    const counts = new Map<string, number>();
    let bothAccept = 0;
    inputs.forEach((input, i) => {
      const ours = sockserveVerdict(input);
      const theirs = node[i]!;
      const oursAccepts = ours.verdict === "accept";
      const theirsAccept = theirs.verdict === "accept";
      if (ours.verdict === "accept" && theirs.verdict === "accept") {
        bothAccept++;
        // Same request seen by both: a framing difference here would be a smuggling gap.
        assert.deepEqual(
          { method: ours.method, url: ours.url, body: ours.body },
          { method: theirs.method, url: theirs.url, body: theirs.body },
          `both accept ${JSON.stringify(input)} but see different requests`,
        );
        return;
      }
      if (oursAccepts === theirsAccept) return;
      const side: Side = oursAccepts ? "sockserve only" : "node only";
      const row = DISAGREEMENTS.find((r) => r.accepts === side && r.matches(input));
      if (row === undefined) {
        unexplained.push(
          `${JSON.stringify(input)}: sockserve ${describe(ours)}, node ${describe(theirs)}`,
        );
      } else counts.set(row.name, (counts.get(row.name) ?? 0) + 1);
    });
    assert.ok(bothAccept >= GENERATED_CASES, `only ${bothAccept} inputs accepted by both`);
    // deno-lint-ignore no-console -- the figures of the run
    console.log(`differential: ${inputs.length} inputs, ${bothAccept} accepted by both`, counts);
    assert.deepEqual(unexplained, [], "disagreements missing from the table");
  },
});
