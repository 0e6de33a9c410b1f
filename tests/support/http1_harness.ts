/**
 * Test-side tools for the framing module: drive a {@linkcode RequestParser} over bytes in any
 * split and normalize what it produced, and a small independent HTTP/1.1 response parser used to
 * check the serializer's output.
 *
 * @module
 */

import { HttpError } from "../../server/http1/errors.ts";
import { RequestParser } from "../../server/http1/request_parser.ts";
import type { FramingLimits } from "../../server/limits.ts";

/** One request as the parser reported it, with the body concatenated. */
export interface ParsedMessage {
  method: string;
  target: string;
  targetForm: string;
  minorVersion: number;
  /** Field lines as [lower-case name, value] in received order. */
  fields: [string, string][];
  framing: string;
  keepAlive: boolean;
  expectContinue: boolean;
  /** Body bytes as a latin1 string (easy to compare and print). */
  body: string;
  /** Trailer fields, null when the body was not chunked or had none. */
  trailers: [string, string][] | null;
  /** True once the `end` event arrived. */
  complete: boolean;
}

/** What parsing a byte sequence gave: the messages seen, and the error it ended with, if any. */
export interface ParseOutcome {
  messages: ParsedMessage[];
  /** Status of the HttpError the parser threw, or null when it only ran out of input. */
  errorStatus: number | null;
  /** Number of `next()` calls made (for the hang guard and operation counts). */
  steps: number;
}

/** Thrown when the parser breaks its contract (a foreign exception, or no progress). */
export class ContractViolation extends Error {
  override name = "ContractViolation";
}

function fieldPairs(list: { entries: string[] }): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < list.entries.length; i += 2) {
    pairs.push([list.entries[i]!, list.entries[i + 1]!]);
  }
  return pairs;
}

function latin1String(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 4096)));
  }
  return text;
}

/**
 * Feeds `input` cut at the given (sorted, in-range) offsets, draining events after each piece.
 * Any exception other than {@linkcode HttpError} is re-thrown wrapped in a
 * {@linkcode ContractViolation}; so is a parser that keeps returning events without consuming
 * input (the hang guard: at most a few events per input byte).
 *
 * @example
 * ```ts
 * import { bytes, parseInPieces } from "./http1_harness.ts";
 * const outcome = parseInPieces(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), [3, 10]);
 * console.log(outcome.messages[0]?.method, outcome.errorStatus); // GET null
 * ```
 */
export function parseInPieces(
  input: Uint8Array,
  cuts: readonly number[],
  limits: Partial<FramingLimits> = {},
): ParseOutcome {
  const parser = new RequestParser(limits);
  const messages: ParsedMessage[] = [];
  let current: ParsedMessage | null = null;
  let bodyParts: string[] = [];
  let steps = 0;
  // Each event consumes input or completes a message; a generous cap still catches a loop.
  const maxSteps = 4 * input.length + 64;
  const bounds = [0, ...cuts, input.length];
  try {
    for (let piece = 0; piece + 1 < bounds.length; piece++) {
      const chunk = input.slice(bounds[piece]!, bounds[piece + 1]!);
      parser.feed(chunk);
      for (;;) {
        if (++steps > maxSteps) throw new ContractViolation("parser made no progress (hang)");
        const event = parser.next();
        if (event.type === "need-data") break;
        if (event.type === "head") {
          const head = event.head;
          current = {
            method: head.method,
            target: head.target,
            targetForm: head.targetForm,
            minorVersion: head.minorVersion,
            fields: fieldPairs(head.fields),
            framing: head.framing.kind === "length"
              ? `length ${head.framing.length}`
              : head.framing.kind,
            keepAlive: head.keepAlive,
            expectContinue: head.expectContinue,
            body: "",
            trailers: null,
            complete: false,
          };
          bodyParts = [];
          messages.push(current);
        } else if (event.type === "data") {
          if (current === null) throw new ContractViolation("data event before a head");
          bodyParts.push(latin1String(event.data));
        } else if (event.type === "end") {
          if (current === null) throw new ContractViolation("end event before a head");
          current.complete = true;
          current.body = bodyParts.join("");
          current.trailers = event.trailers === null ? null : fieldPairs(event.trailers);
          current = null;
        }
      }
    }
  } catch (error) {
    if (current !== null) current.body = bodyParts.join("");
    if (error instanceof ContractViolation) throw error;
    if (!(error instanceof HttpError)) {
      throw new ContractViolation(`parser threw a non-HttpError: ${String(error)}`, {
        cause: error,
      });
    }
    if (!Number.isInteger(error.status) || error.status < 400 || error.status > 599) {
      throw new ContractViolation(`HttpError with status ${error.status}`);
    }
    // After an error the parser must keep failing the same way, never resume.
    try {
      parser.feed(new Uint8Array([0x0d, 0x0a]));
      parser.next();
      throw new ContractViolation("parser resumed after an error");
    } catch (again) {
      if (again instanceof ContractViolation) throw again;
      if (again !== error) throw new ContractViolation("parser changed its error after failing");
    }
    return { messages, errorStatus: error.status, steps };
  }
  if (current !== null) current.body = bodyParts.join("");
  return { messages, errorStatus: null, steps };
}

/** Parses the whole input in one piece. */
export function parseWhole(input: Uint8Array, limits: Partial<FramingLimits> = {}): ParseOutcome {
  return parseInPieces(input, [], limits);
}

/** Parses the input one byte at a time. */
export function parseBytewise(
  input: Uint8Array,
  limits: Partial<FramingLimits> = {},
): ParseOutcome {
  const cuts: number[] = [];
  for (let i = 1; i < input.length; i++) cuts.push(i);
  return parseInPieces(input, cuts, limits);
}

/** Only the messages whose `end` arrived: what a split cannot change for valid input. */
export function completeMessages(outcome: ParseOutcome): ParsedMessage[] {
  return outcome.messages.filter((message) => message.complete);
}

/** Encodes a string of code units 0..255 as bytes (the wire form of a test string). */
export function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** A response as the test-side parser read it. */
export interface ParsedResponse {
  status: number;
  reason: string;
  /** Header fields as received (name case preserved). */
  headers: [string, string][];
  /** Body as a latin1 string. */
  body: string;
  /** How the body was delimited. */
  framing: "length" | "chunked" | "none" | "close";
  /** Offset just past this response in the input. */
  end: number;
}

/**
 * A deliberately small, strict HTTP/1.1 response parser, written independently of the server's
 * code so that a serializer bug cannot be hidden by a matching parser bug. `bodyless` says the
 * response answers HEAD (or is 1xx/204/304) and so has no body whatever its headers say.
 * Returns null when the input does not hold a complete response yet; throws on bad syntax.
 *
 * @example
 * ```ts
 * import { bytes, parseResponse } from "./http1_harness.ts";
 * const response = parseResponse(bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"));
 * console.log(response?.status, response?.body); // 200 "hi"
 * ```
 */
export function parseResponse(
  input: Uint8Array,
  offset = 0,
  bodyless = false,
): ParsedResponse | null {
  const text = latin1String(input.subarray(offset));
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return null;
  const lines = text.slice(0, headEnd).split("\r\n");
  const statusMatch = /^HTTP\/1\.1 ([1-9][0-9]{2}) ([\t\x20-\x7e\x80-\xff]*)$/.exec(lines[0]!);
  if (statusMatch === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(statusMatch[1]);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (match === null) throw new Error(`bad header line ${JSON.stringify(line)}`);
    // deno-lint-ignore no-control-regex -- looking for control bytes is the point
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(match[2]!)) throw new Error("control byte in a value");
    headers.push([match[1]!, match[2]!]);
  }
  const get = (name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  let position = headEnd + 4;
  const base = {
    status,
    reason: statusMatch[2]!,
    headers,
  };
  if (bodyless || status < 200 || status === 204 || status === 304) {
    return { ...base, body: "", framing: "none", end: offset + position };
  }
  const transferEncoding = get("transfer-encoding");
  const contentLength = get("content-length");
  if (transferEncoding.length > 0 && contentLength.length > 0) {
    throw new Error("response has both Transfer-Encoding and Content-Length");
  }
  if (transferEncoding.length > 0) {
    if (transferEncoding.join(",").trim().toLowerCase() !== "chunked") {
      throw new Error(`unexpected Transfer-Encoding ${transferEncoding}`);
    }
    let body = "";
    for (;;) {
      const lineEnd = text.indexOf("\r\n", position);
      if (lineEnd === -1) return null;
      const sizeText = text.slice(position, lineEnd);
      if (!/^[0-9a-f]+$/.test(sizeText)) throw new Error(`bad chunk size ${sizeText}`);
      const size = parseInt(sizeText, 16);
      position = lineEnd + 2;
      if (size === 0) {
        if (text.length < position + 2) return null;
        if (text.slice(position, position + 2) !== "\r\n") throw new Error("trailers in response");
        position += 2;
        return { ...base, body, framing: "chunked", end: offset + position };
      }
      if (text.length < position + size + 2) return null;
      body += text.slice(position, position + size);
      if (text.slice(position + size, position + size + 2) !== "\r\n") {
        throw new Error("chunk not followed by CRLF");
      }
      position += size + 2;
    }
  }
  if (contentLength.length > 0) {
    if (contentLength.length !== 1 || !/^[0-9]+$/.test(contentLength[0]!)) {
      throw new Error(`bad Content-Length ${contentLength}`);
    }
    const length = Number(contentLength[0]);
    if (text.length < position + length) return null;
    return {
      ...base,
      body: text.slice(position, position + length),
      framing: "length",
      end: offset + position + length,
    };
  }
  return { ...base, body: text.slice(position), framing: "close", end: offset + text.length };
}
