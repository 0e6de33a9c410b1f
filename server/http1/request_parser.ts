/**
 * Incremental HTTP/1.1 request parser: bytes in, events out. No I/O, no clock, no `Deno`.
 *
 * Rules this file enforces (RFC 9112 unless noted):
 * - Lines end in CRLF. A bare LF is rejected, not accepted (§2.2 lets a recipient accept it; we
 *   take the strict choice because lenient line endings are a request-smuggling vector between a
 *   proxy and a server that disagree). A bare CR anywhere is rejected (§2.2 MUST).
 * - Up to {@linkcode MAX_LEADING_EMPTY_LINES} empty lines before a request line are ignored
 *   (§2.2 SHOULD, for clients that send an extra CRLF after a body).
 * - Request line: `method SP request-target SP HTTP-version`, exactly one SP each (§3). A line
 *   still arriving is refused (400) as soon as its bytes cannot begin a valid one (a TLS
 *   ClientHello sent to a plain port), checked only when a read ends within the line.
 *   HTTP/1.0 and HTTP/1.1 are served, HTTP/1.2 to 1.9 as 1.1 (RFC 9110 §2.5); another major
 *   version gets 505.
 * - Field lines: `name ":" OWS value OWS` (§5). Whitespace before the colon, obs-fold and
 *   whitespace before the first field are rejected (§5.1, §5.2, §2.2), as are CTLs in values.
 * - Host: exactly one on HTTP/1.1, at most one on HTTP/1.0, and a valid value (§3.2).
 * - Body framing by `decideRequestFraming` (message_framing.ts), chunked bodies by a resumable
 *   state machine that can stop at any byte (§7.1).
 *
 * This file is the state machine and its input buffer. The grammar of the request line is in
 * request_line.ts, a chunk-size line's in chunked_coding.ts, a trailer field line's in fields.ts;
 * the head it produces is described in request_head.ts.
 *
 * Linear time: each call resumes where the last one stopped. Completed lines are consumed at once;
 * only a partial line is kept (copied into the parser's own buffer), and the search for its end
 * resumes after the bytes already searched.
 *
 * Buffer contract: bytes given to {@linkcode RequestParser.feed} are borrowed until `next()`
 * returns `NEED_DATA`; `data` events are views that stay valid only until the next `feed()`.
 *
 * @module
 */

import {
  checkChunkExtensions,
  chunkSizeValue,
  MAX_CHUNK_SIZE_DIGITS,
  scanChunkSize,
} from "./chunked_coding.ts";
import { badRequest, HttpError } from "./errors.ts";
import { FieldList, parseFieldLine, specialFieldName } from "./fields.ts";
import { decideRequestFraming } from "./message_framing.ts";
import type { RequestHead } from "./request_head.ts";
import {
  classifyTarget,
  internMethod,
  isValidHost,
  parseHttpVersion,
  RequestLinePrefix,
  scanMethod,
  scanTarget,
  type TargetForm,
} from "./request_line.ts";
import {
  COLON,
  CR,
  FIELD_VALUE_BYTE,
  HTAB,
  latin1,
  LF,
  skipOws,
  SP,
  TCHAR,
  trimOws,
  trimOwsEnd,
} from "./syntax.ts";
import { DEFAULT_FRAMING_LIMITS, type FramingLimits } from "../limits.ts";

/** Shared empty input, so that dropping a borrowed buffer allocates nothing. */
const EMPTY = new Uint8Array(0);

/** Empty lines ignored before a request line (RFC 9112 §2.2 asks for "at least one"). */
export const MAX_LEADING_EMPTY_LINES = 8;

/** Events returned by {@linkcode RequestParser.next}. */
export type ParseEvent =
  | { readonly type: "head"; readonly head: RequestHead }
  | { readonly type: "data"; readonly data: Uint8Array }
  | { readonly type: "end"; readonly trailers: FieldList | null }
  | { readonly type: "need-data" };

/**
 * What was received of the request line of a request refused before its head was complete (see
 * {@linkcode RequestParser.requestLineSoFar}): the parsed line, or the bytes of an unparsed one.
 */
export type RequestLineSoFar =
  | {
    readonly parsed: true;
    readonly method: string;
    readonly target: string;
    readonly minorVersion: 0 | 1;
  }
  | {
    readonly parsed: false;
    /**
     * The line's first bytes up to its first CR or LF, one character per byte (Latin-1), at most
     * the `maxBytes` asked for.
     */
    readonly text: string;
    /**
     * True when bytes were received after `text` other than the CRLF that ends a line (or a CR
     * received last, which may begin one): the line went on past `maxBytes`, or past a bare CR
     * or a bare LF, which end no line here.
     */
    readonly cut: boolean;
  };

/** The single "need more bytes" event. */
export const NEED_DATA: ParseEvent = Object.freeze({ type: "need-data" });

/** The errors of lines over their limit, made only when thrown (no closure per line scanned). */
const requestLineTooLong = () => new HttpError(414, "request line too long");
const chunkSizeLineTooLong = () => badRequest("chunk-size line too long");
const trailersTooLarge = () => new HttpError(431, "trailer section too large");

/** The end of a message without trailers (the usual case), shared. */
const END_WITHOUT_TRAILERS: ParseEvent = Object.freeze({ type: "end", trailers: null });

const enum State {
  RequestLine,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  MessageEnd,
  Failed,
}

/**
 * An incremental request parser for one connection; it parses any number of requests in a row.
 *
 * @example
 * ```ts
 * import { RequestParser } from "./request_parser.ts";
 * const parser = new RequestParser();
 * parser.feed(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 * const event = parser.next();
 * if (event.type === "head") console.log(event.head.method, event.head.target); // GET /
 * console.log(parser.next().type); // "end"
 * ```
 */
export class RequestParser {
  readonly #limits: FramingLimits;
  #state = State.RequestLine;
  #failure: HttpError | null = null;
  /** The state `next()` threw in, once it has. */
  #failedIn = State.RequestLine;

  // Unconsumed input: bytes [#start, #end) of #buffer. #ownsBuffer says whether #buffer is ours
  // (a copy of a partial line) or borrowed from the caller.
  #buffer: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  #ownsBuffer = false;
  #ownBuffer: Uint8Array | null = null;
  /** Bytes after #start already searched for LF (or validated) without finding the line end. */
  #scanned = 0;
  /** Length of the current header line's name once its colon has been seen, else 0. */
  #nameLength = 0;
  /** How far the request line still arriving has been judged (request_line.ts). */
  readonly #linePrefix = new RequestLinePrefix();

  // Per-message state.
  #emptyLines = 0;
  #method = "";
  #target = "";
  #targetForm: TargetForm = "origin";
  #minorVersion: 0 | 1 = 1;
  #fields = new FieldList();
  #headerBytes = 0;
  /** The first Host field's value, and how many Host fields there were. */
  #host: string | null = null;
  #hostCount = 0;
  #contentLength: string[] = [];
  #transferEncoding: string[] = [];
  #connectionClose = false;
  #connectionKeepAlive = false;
  #expectContinue = false;
  #remaining = 0;
  #bodyBytes = 0;
  #extensionBytes = 0;
  #trailers: FieldList | null = null;
  /**
   * Header fields validated on bytes but not yet turned into strings: offsets [nameStart,
   * nameEnd, valueStart, valueEnd] into #buffer, and the shared name when it is a known one.
   * The whole region is decoded at once when the head is complete (or before the bytes are
   * given back to the caller), then sliced: one native decode instead of two per field. The
   * first #pendingCount fields are pending; the arrays keep their room from one head to the
   * next (emptying an array with `length = 0` gives its storage up, and every head grew it
   * again: ~45 ns per array and head).
   */
  #pendingOffsets: number[] = [];
  #pendingNames: (string | null)[] = [];
  #pendingCount = 0;
  #pendingFrom = -1;
  #pendingTo = 0;

  constructor(limits: Partial<FramingLimits> = {}) {
    this.#limits = { ...DEFAULT_FRAMING_LIMITS, ...limits };
  }

  /** True when no bytes of a next request are buffered and no message is in progress. */
  get isIdle(): boolean {
    return this.#state === State.RequestLine && this.#start === this.#end && this.#scanned === 0;
  }

  /** True when bytes are buffered that have not been parsed yet (for example pipelined ones). */
  get hasBufferedBytes(): boolean {
    return this.#start < this.#end;
  }

  /** How many bytes are buffered and not parsed yet. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Copies the bytes not parsed yet into the parser's own buffer, so that the caller may reuse
   * the buffer it fed them in (to read more while they wait). A no-op when nothing is borrowed.
   */
  detachInput(): void {
    if (this.#start < this.#end && !this.#ownsBuffer) this.#keep(0);
  }

  /**
   * Takes the bytes received and not parsed yet, as a copy, leaving none: after a protocol
   * switch (RFC 9110 §7.8) they belong to the new protocol. Only between messages.
   */
  takeUnparsed(): Uint8Array {
    const bytes = this.#buffer.slice(this.#start, this.#end);
    this.#start = this.#end;
    this.#scanned = 0;
    this.#linePrefix.reset();
    return bytes;
  }

  /**
   * The request line of the request in progress, for the record of a request refused before its
   * head was complete (after `next()` threw, or when the input ends or times out within a head):
   * the parsed method, target and version once the line was parsed; before that, its first
   * `maxBytes` bytes as received, up to its CR or LF (the bytes of a line are kept until it is
   * parsed, so this needs no copy while the line is read).
   *
   * @example
   * ```ts
   * import { RequestParser } from "./request_parser.ts";
   * const parser = new RequestParser();
   * parser.feed(new TextEncoder().encode("GET /a b HTTP/1.1\r\n\r\n"));
   * try {
   *   parser.next();
   * } catch {
   *   parser.requestLineSoFar(256); // { parsed: false, text: "GET /a b HTTP/1.1", cut: false }
   * }
   * ```
   */
  requestLineSoFar(maxBytes: number): RequestLineSoFar {
    const state = this.#state === State.Failed ? this.#failedIn : this.#state;
    if (state !== State.RequestLine) {
      return {
        parsed: true,
        method: this.#method,
        target: this.#target,
        minorVersion: this.#minorVersion,
      };
    }
    const buffer = this.#buffer;
    const start = this.#start;
    const limit = Math.min(this.#end, start + maxBytes);
    const received = this.#end;
    let end = start;
    while (end < limit && buffer[end] !== CR && buffer[end] !== LF) end++;
    // Cut unless nothing follows the text or its CRLF does: a line ends only at CRLF (bare CR and
    // bare LF are refused), so one stopped by either went on, as one stopped by `maxBytes` did. A
    // CR received last may be the first half of the CRLF.
    const cut = end < received &&
      !(buffer[end] === CR && (end + 1 === received || buffer[end + 1] === LF));
    return { parsed: false, text: latin1(buffer, start, end), cut };
  }

  /** True while a request body is being parsed. */
  get inBody(): boolean {
    return this.#state >= State.BodyLength && this.#state <= State.Trailers;
  }

  /** Adds received bytes. They are borrowed until `next()` returns `NEED_DATA`. */
  feed(chunk: Uint8Array): void {
    // A failed parser keeps its one error; more input is ignored (buffering it would also
    // replay field lines left pending by the failure, throwing a second error from feed()).
    if (chunk.length === 0 || this.#failure !== null) return;
    if (this.#start === this.#end) {
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#ownsBuffer = false;
      return;
    }
    this.#keep(chunk.length);
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Copies the unconsumed bytes into our own buffer with room for `extra` more bytes. */
  #keep(extra: number): void {
    this.#materializeFields();
    const pending = this.#end - this.#start;
    const needed = pending + extra;
    let target = this.#ownBuffer;
    if (target === null || target.length < needed) {
      target = new Uint8Array(Math.max(needed, 2 * (target?.length ?? 256)));
    }
    if (!this.#ownsBuffer || target !== this.#buffer || this.#start !== 0) {
      target.set(this.#buffer.subarray(this.#start, this.#end), 0);
    }
    this.#ownBuffer = target;
    this.#buffer = target;
    this.#ownsBuffer = true;
    this.#start = 0;
    this.#end = pending;
  }

  /** Returns the next event, or throws the {@linkcode HttpError} to answer with. */
  next(): ParseEvent {
    if (this.#failure !== null) throw this.#failure;
    try {
      const event = this.#step();
      if (event === NEED_DATA) this.#release();
      return event;
    } catch (error) {
      this.#failedIn = this.#state;
      this.#state = State.Failed;
      this.#failure = error instanceof HttpError ? error : badRequest("internal parser fault");
      // A fault of the parser itself surfaces as what it is (tests must see it); the connection
      // still answers 400 and closes.
      throw error;
    }
  }

  /** At NEED_DATA: keep a partial line in our own buffer so the caller may reuse theirs. */
  #release(): void {
    this.#materializeFields();
    if (this.#start === this.#end) {
      this.#buffer = this.#ownBuffer ?? EMPTY;
      this.#start = this.#end = 0;
      this.#ownsBuffer = this.#ownBuffer !== null;
    } else if (!this.#ownsBuffer) {
      this.#keep(0);
    }
  }

  #step(): ParseEvent {
    for (;;) {
      switch (this.#state) {
        case State.RequestLine: {
          const lineEnd = this.#findLineEnd(
            this.#limits.maxRequestLineBytes,
            requestLineTooLong,
          );
          if (lineEnd === -1) {
            // A read ended within the line: refuse it now if it can no longer become a request
            // line, rather than when (if ever) it ends. A lone CR may yet be an empty line (§2.2).
            const start = this.#start;
            if (this.#end - start !== 1 || this.#buffer[start] !== CR) {
              this.#linePrefix.check(this.#buffer, start, this.#end);
            }
            return NEED_DATA;
          }
          this.#linePrefix.reset();
          if (lineEnd === this.#start) {
            // An empty line before the request line.
            if (++this.#emptyLines > MAX_LEADING_EMPTY_LINES) {
              throw badRequest("too many empty lines before the request line");
            }
            this.#consumeLine(lineEnd);
            continue;
          }
          this.#parseRequestLine(this.#start, lineEnd);
          this.#consumeLine(lineEnd);
          this.#state = State.Headers;
          continue;
        }

        case State.Headers: {
          const lineEnd = this.#scanFieldLine(this.#limits.maxHeaderBytes - this.#headerBytes);
          if (lineEnd === -1) return NEED_DATA;
          this.#headerBytes += lineEnd - this.#start + 2;
          if (lineEnd === this.#start) {
            this.#consumeLine(lineEnd);
            return this.#finishHead();
          }
          if (this.#fields.size + this.#pendingCount >= this.#limits.maxHeaderCount) {
            throw new HttpError(431, "too many header fields");
          }
          this.#deferField(this.#start, this.#start + this.#nameLength, lineEnd);
          this.#consumeLine(lineEnd);
          continue;
        }

        case State.BodyLength:
          return this.#takeData(State.MessageEnd);

        case State.ChunkSize: {
          const lineEnd = this.#findLineEnd(
            MAX_CHUNK_SIZE_DIGITS + this.#limits.maxChunkExtensionBytes,
            chunkSizeLineTooLong,
          );
          if (lineEnd === -1) return NEED_DATA;
          const size = this.#chunkSizeLine(this.#start, lineEnd);
          this.#consumeLine(lineEnd);
          if (size === 0) {
            this.#state = State.Trailers;
            this.#headerBytes = 0;
            continue;
          }
          this.#bodyBytes += size;
          if (this.#bodyBytes > this.#limits.maxBodyBytes) {
            throw new HttpError(413, "chunked body too large");
          }
          this.#remaining = size;
          this.#state = State.ChunkData;
          continue;
        }

        case State.ChunkData:
          return this.#takeData(State.ChunkDataEnd);

        case State.ChunkDataEnd: {
          // Exactly CRLF after chunk data (RFC 9112 §7.1): anything else is a framing error.
          const available = this.#end - this.#start;
          if (available === 0) return NEED_DATA;
          if (this.#buffer[this.#start] !== CR) throw badRequest("missing CRLF after chunk data");
          if (available === 1) return NEED_DATA;
          if (this.#buffer[this.#start + 1] !== LF) {
            throw badRequest("missing CRLF after chunk data");
          }
          this.#start += 2;
          this.#state = State.ChunkSize;
          continue;
        }

        case State.Trailers: {
          const lineEnd = this.#findLineEnd(
            this.#limits.maxTrailerBytes - this.#headerBytes,
            trailersTooLarge,
          );
          if (lineEnd === -1) return NEED_DATA;
          this.#headerBytes += lineEnd - this.#start + 2;
          if (lineEnd === this.#start) {
            this.#consumeLine(lineEnd);
            this.#state = State.MessageEnd;
            continue;
          }
          this.#trailers ??= new FieldList();
          if (this.#trailers.size >= this.#limits.maxHeaderCount) {
            throw new HttpError(431, "too many trailer fields");
          }
          parseFieldLine(this.#buffer, this.#start, lineEnd, this.#trailers);
          this.#consumeLine(lineEnd);
          continue;
        }

        case State.MessageEnd: {
          const trailers = this.#trailers;
          this.#resetMessage();
          return trailers === null ? END_WITHOUT_TRAILERS : { type: "end", trailers };
        }

        case State.Failed:
          throw this.#failure ?? badRequest("parser failed");
      }
    }
  }

  /**
   * Finds the CR of the CRLF that ends the line starting at #start, or returns -1 when the line
   * is not complete yet. Throws `overflow()` when the line is longer than `limit` bytes.
   */
  #findLineEnd(limit: number, overflow: () => HttpError): number {
    const buffer = this.#buffer;
    // Search only the unconsumed bytes: our own buffer has spare room past #end, and scanning
    // it on every resumed call would make a line fed byte by byte quadratic in its length.
    const live = this.#end === buffer.length ? buffer : buffer.subarray(0, this.#end);
    const lf = live.indexOf(LF, this.#start + this.#scanned);
    if (lf === -1 || lf >= this.#end) {
      const pending = this.#end - this.#start;
      // Without its LF, a line of `limit` bytes may still have its CR in the buffer.
      if (pending > limit + 1) throw overflow();
      this.#scanned = pending;
      return -1;
    }
    this.#scanned = 0;
    if (lf === this.#start || buffer[lf - 1] !== CR) {
      throw badRequest("line ends in a bare LF");
    }
    const lineEnd = lf - 1;
    if (lineEnd - this.#start > limit) throw overflow();
    return lineEnd;
  }

  /** Body bytes up to #remaining (a view, no copy); `after` is the state once all are taken. */
  #takeData(after: State): ParseEvent {
    const available = this.#end - this.#start;
    if (available === 0) return NEED_DATA;
    const take = Math.min(available, this.#remaining);
    const data = this.#buffer.subarray(this.#start, this.#start + take);
    this.#start += take;
    this.#remaining -= take;
    if (this.#remaining === 0) this.#state = after;
    return { type: "data", data };
  }

  #consumeLine(lineEnd: number): void {
    this.#start = lineEnd + 2;
  }

  /**
   * Finds the end of a header field line and validates it in the same pass (one loop over its
   * bytes instead of a search for LF followed by a validation pass): `token ":" field-value`
   * with only field-value bytes up to the CR, and the CR followed by LF. Returns the CR's
   * index, the line start for the empty line that ends the head, or -1 for more input; the
   * name's length is left in #nameLength. Resumes where the last call stopped (#scanned).
   */
  #scanFieldLine(limit: number): number {
    const buffer = this.#buffer;
    const start = this.#start;
    const end = this.#end;
    let i = start + this.#scanned;
    if (this.#nameLength === 0) {
      if (i === start) {
        if (i === end) return -1;
        const first = buffer[i]!;
        if (first === CR) {
          if (i + 1 === end) return -1;
          if (buffer[i + 1] !== LF) throw badRequest("bare CR");
          return i; // The empty line: end of the head.
        }
        if (first === LF) throw badRequest("line ends in a bare LF");
        // obs-fold, or whitespace before the first field line (RFC 9112 §5.2, §2.2).
        if (first === SP || first === HTAB) throw badRequest("obsolete line folding");
      }
      while (i < end && TCHAR[buffer[i]!] === 1) i++;
      if (i === end) return this.#suspendLine(i, limit);
      const byte = buffer[i]!;
      if (byte !== COLON || i === start) {
        throw badRequest(
          byte === SP || byte === HTAB ? "whitespace before colon" : "invalid field name",
        );
      }
      this.#nameLength = i - start;
      i++;
    }
    while (i < end && FIELD_VALUE_BYTE[buffer[i]!] === 1) i++;
    if (i === end) return this.#suspendLine(i, limit);
    const byte = buffer[i]!;
    if (byte === LF) throw badRequest("line ends in a bare LF");
    if (byte !== CR) throw badRequest("invalid byte in field value");
    if (i + 1 === end) return this.#suspendLine(i, limit);
    if (buffer[i + 1] !== LF) throw badRequest("bare CR in field value");
    if (i - start > limit) throw new HttpError(431, "header section too large");
    this.#scanned = 0;
    return i;
  }

  /** A field line is incomplete: remember how far it was checked, and enforce the limit. */
  #suspendLine(scannedTo: number, limit: number): number {
    const pending = this.#end - this.#start;
    if (pending > limit + 1) throw new HttpError(431, "header section too large");
    this.#scanned = scannedTo - this.#start;
    return -1;
  }

  /** Records a validated header field line for decoding with the rest of the head. */
  #deferField(start: number, nameEnd: number, end: number): void {
    const buffer = this.#buffer;
    const valueStart = skipOws(buffer, nameEnd + 1, end);
    const valueEnd = trimOwsEnd(buffer, valueStart, end);
    this.#nameLength = 0;
    if (this.#pendingFrom === -1) this.#pendingFrom = start;
    this.#pendingTo = end;
    const k = this.#pendingCount++;
    const offsets = this.#pendingOffsets;
    offsets[4 * k] = start;
    offsets[4 * k + 1] = nameEnd;
    offsets[4 * k + 2] = valueStart;
    offsets[4 * k + 3] = valueEnd;
    this.#pendingNames[k] = specialFieldName(buffer, start, nameEnd);
  }

  #parseRequestLine(start: number, end: number): void {
    const buffer = this.#buffer;
    const methodEnd = scanMethod(buffer, start, start, end);
    if (methodEnd === end) throw badRequest("invalid method");
    this.#method = internMethod(buffer, start, methodEnd);

    const targetStart = methodEnd + 1;
    const targetEnd = scanTarget(buffer, targetStart, targetStart, end);
    if (targetEnd === end) throw badRequest("invalid request-target");
    this.#target = latin1(buffer, targetStart, targetEnd);

    this.#minorVersion = parseHttpVersion(buffer, targetEnd + 1, end);
    this.#targetForm = classifyTarget(this.#method, this.#target);
  }

  /** Decodes the deferred header fields (see #pendingOffsets) and records them. */
  #materializeFields(): void {
    const count = this.#pendingCount;
    if (count === 0) return;
    const names = this.#pendingNames;
    const offsets = this.#pendingOffsets;
    const from = this.#pendingFrom;
    const text = latin1(this.#buffer, from, this.#pendingTo);
    this.#pendingFrom = -1;
    try {
      for (let k = 0, o = 0; k < count; k++, o += 4) {
        const name = names[k] ??
          text.slice(offsets[o]! - from, offsets[o + 1]! - from).toLowerCase();
        this.#addHeader(name, text.slice(offsets[o + 2]! - from, offsets[o + 3]! - from));
      }
    } finally {
      // Emptied even when a field fails: nothing is decoded twice.
      this.#pendingCount = 0;
    }
  }

  #addHeader(name: string, value: string): void {
    this.#fields.add(name, value);
    switch (name) {
      case "host":
        if (this.#hostCount++ === 0) this.#host = value;
        break;
      case "content-length":
        this.#contentLength.push(value);
        break;
      case "transfer-encoding":
        this.#transferEncoding.push(value);
        break;
      case "connection":
        for (const option of value.split(",")) {
          const token = trimOws(option).toLowerCase();
          if (token === "close") this.#connectionClose = true;
          else if (token === "keep-alive") this.#connectionKeepAlive = true;
        }
        break;
      case "expect":
        if (value.length === 12 && value.toLowerCase() === "100-continue") {
          this.#expectContinue = true;
        } else {
          // RFC 9110 §10.1.1: an expectation we cannot meet may be answered with 417.
          throw new HttpError(417, "unsupported expectation");
        }
        break;
    }
  }

  #finishHead(): ParseEvent {
    this.#materializeFields();
    const minorVersion = this.#minorVersion;
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, for more than one Host, and for
    // an invalid Host value.
    if (this.#hostCount > 1) throw badRequest("more than one Host");
    const host = this.#host;
    if (host === null && minorVersion === 1) throw badRequest("missing Host");
    if (host !== null && !isValidHost(host)) throw badRequest("invalid Host");

    const framing = decideRequestFraming({
      minorVersion,
      transferEncoding: this.#transferEncoding,
      contentLength: this.#contentLength,
      maxBodyBytes: this.#limits.maxBodyBytes,
    });
    const keepAlive = !this.#connectionClose && (minorVersion === 1 || this.#connectionKeepAlive);
    const head: RequestHead = {
      method: this.#method,
      target: this.#target,
      targetForm: this.#targetForm,
      minorVersion,
      fields: this.#fields,
      host,
      framing,
      keepAlive,
      // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request MUST be ignored.
      expectContinue: this.#expectContinue && minorVersion === 1 && framing.kind !== "none",
    };
    switch (framing.kind) {
      case "none":
        this.#state = State.MessageEnd;
        break;
      case "length":
        this.#remaining = framing.length;
        this.#state = State.BodyLength;
        break;
      case "chunked":
        this.#state = State.ChunkSize;
        break;
    }
    return { type: "head", head };
  }

  /** A chunk-size line (chunked_coding.ts), within the extension limits; returns the size. */
  #chunkSizeLine(start: number, end: number): number {
    const buffer = this.#buffer;
    const digitsEnd = scanChunkSize(buffer, start, end);
    const size = chunkSizeValue(buffer, start, digitsEnd, this.#limits.maxBodyBytes);
    checkChunkExtensions(buffer, digitsEnd, end);
    const extensionLength = end - digitsEnd;
    if (extensionLength > this.#limits.maxChunkExtensionBytes) {
      throw badRequest("chunk extension too long");
    }
    this.#extensionBytes += extensionLength;
    if (this.#extensionBytes > this.#limits.maxChunkExtensionsTotalBytes) {
      throw badRequest("too many chunk extension bytes");
    }
    return size;
  }

  #resetMessage(): void {
    this.#state = State.RequestLine;
    this.#emptyLines = 0;
    this.#fields = new FieldList(); // the previous one belongs to the previous head
    this.#headerBytes = 0;
    this.#host = null;
    this.#hostCount = 0;
    this.#contentLength.length = 0;
    this.#transferEncoding.length = 0;
    this.#connectionClose = false;
    this.#connectionKeepAlive = false;
    this.#expectContinue = false;
    this.#remaining = 0;
    this.#bodyBytes = 0;
    this.#extensionBytes = 0;
    this.#trailers = null;
    this.#pendingFrom = -1;
    this.#pendingCount = 0;
    this.#nameLength = 0;
  }
}
