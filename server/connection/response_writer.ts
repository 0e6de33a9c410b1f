/**
 * Writing a handler's `Response` to the wire: the framing and persistence decisions of the pure
 * module, the head from its one encoder, then the content — in memory here, or pumped from a
 * stream by streamed_content.ts.
 *
 * Two fast paths skip building a `Headers` object; both are caches of the encoder's output, keyed
 * by everything that goes into it, so they cannot write a byte the general path would not
 * (tests/engine_one_encoder_test.ts and tests/static_prepared_face_test.ts compare them):
 * - a response that is only a status, a content type and a string (Deno's own record of
 *   `new Response("text")`, read in response_source.ts);
 * - a prepared answer from a handler's prepared face (prepared_response.ts).
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { parseContentLength } from "../http1/message_framing.ts";
import type { RequestHead } from "../http1/request_head.ts";
import {
  type ConnectionField,
  decidePersistence,
  decideResponseFraming,
  type ResponseContent,
  type ResponseFraming,
} from "../http1/response_framing.ts";
import { encodeLatin1, encodeResponseHead, writeLatin1 } from "../http1/response_head.ts";
import type { PreparedAnswer } from "../prepared_response.ts";
import { CloseReason, type ConnectionState, Writing } from "./connection_state.ts";
import { bodySource, textResponseParts } from "./response_source.ts";
import { OUTPUT_BUFFER_BYTES, type SocketIO } from "./socket_io.ts";
import { pumpContent, StreamChunks } from "./streamed_content.ts";

/**
 * What the writer records about the response of one exchange. Its content bytes that have left
 * are {@linkcode bodyBytesSent}: the pieces whose writes finished, and the part of the piece being
 * written that the socket has taken.
 */
export interface ResponseProgress {
  /** The head has been queued: the response can no longer be replaced. */
  headWritten: boolean;
  /**
   * Content bytes of the pieces written whole (not counting the head or chunk framing); a small
   * in-memory response, whose record is made as soon as it is queued, counts once queued.
   */
  bodyBytesWritten: number;
  /** Where the content of the piece being written begins in the output (`SocketIO.bytesQueued`). */
  pieceStart: number;
  /** Content bytes of the piece being written from `pieceStart` on; 0 when none is. */
  pieceBytes: number;
  /** Cancels the streamed body being pumped, if any (the connection closes). */
  stop: (() => void) | null;
}

/**
 * Content bytes of the response that the socket has taken (nginx's `$body_bytes_sent`, without
 * the chunk framing): the pieces written whole, and of the piece being written the part that
 * has left, partial writes included — so a download cut in the middle of a piece counts what
 * went out of it. Two subtractions, read once per exchange.
 */
export function bodyBytesSent(progress: ResponseProgress, io: SocketIO): number {
  const left = io.bytesWritten - progress.pieceStart;
  return progress.bodyBytesWritten + (left <= 0 ? 0 : Math.min(left, progress.pieceBytes));
}

/**
 * Marks `bytes` of content, queued from the next byte of the output on (after `prefix` bytes of
 * framing), as the piece being written.
 */
export function pieceQueued(
  progress: ResponseProgress,
  io: SocketIO,
  prefix: number,
  bytes: number,
): void {
  progress.pieceStart = io.bytesQueued + prefix;
  progress.pieceBytes = bytes;
}

/** The piece being written has left whole: its bytes join the count. */
export function pieceWritten(progress: ResponseProgress): void {
  progress.bodyBytesWritten += progress.pieceBytes;
  progress.pieceBytes = 0;
}

/** What writing a response needs of its connection. */
export interface WriterHost {
  readonly io: SocketIO;
  readonly state: ConnectionState;
  readonly clock: Clock;
  reportError(error: unknown): void;
}

/**
 * Writes `response` as the answer to `head`. Returns true when it went out complete (queued in
 * order), false when it was cut short (the connection must then close). Throws only before
 * anything is queued (an invalid header, a used body): the caller may answer 500 instead.
 */
export function writeResponse(
  w: WriterHost,
  head: RequestHead,
  progress: ResponseProgress,
  response: Response,
): boolean | Promise<boolean> {
  // Fastest path: a status, a content type and a string; no Headers object is ever built.
  const text = response.statusText === "" ? textResponseParts(response) : null;
  if (text !== null) {
    const length = asciiLength(text.body);
    if (length !== -1 && length <= OUTPUT_BUFFER_BYTES / 2) {
      const cached = textHeadCache.get(w, head, text.status, text.contentType, length);
      if (cached !== null) {
        const sendBody = cached.sendBody;
        const io = w.io;
        const output = io.reserve(cached.bytes.length + (sendBody ? length : 0));
        output.set(cached.bytes, io.outputEnd);
        let end = io.outputEnd + cached.bytes.length;
        if (sendBody) end = writeLatin1(text.body, output, end);
        io.commit(end);
        headWritten(w, progress);
        progress.bodyBytesWritten = sendBody ? length : 0;
        w.state.writing = Writing.Done;
        return true;
      }
    }
  }

  return writeGeneral(w, head, progress, response);
}

/**
 * Writes a prepared answer (prepared_response.ts): its head is the encoder's output for its
 * fields, kept by its PreparedHead for the next identical answer.
 */
export function writePrepared(
  w: WriterHost,
  head: RequestHead,
  progress: ResponseProgress,
  answer: PreparedAnswer,
): boolean | Promise<boolean> {
  const status = answer.status;
  const content = answer.content;
  const decision = decideResponseFraming({
    method: head.method,
    minorVersion: head.minorVersion,
    status,
    content: { kind: "sized", length: content.length },
    declaredLength: null,
  });
  const connection = persistence(w, head, false, decision.framing);
  const headBytes = answer.head.encode(status, decision, connection, w.clock.date);
  return writeInMemory(w, progress, headBytes, decision.framing.kind === "length" ? content : null);
}

/** Whether the connection persists after this response; records the reason if it does not. */
function persistence(
  w: WriterHost,
  head: RequestHead,
  handlerClose: boolean,
  framing: ResponseFraming,
): ConnectionField {
  const state = w.state;
  const field = decidePersistence({
    minorVersion: head.minorVersion,
    clientKeepAlive: head.keepAlive,
    handlerClose,
    framing,
    serverClose: state.closing,
  });
  if (field === "close") {
    state.disable(
      !head.keepAlive
        ? CloseReason.ClientClose
        : handlerClose
        ? CloseReason.HandlerClose
        : framing.kind === "close"
        ? CloseReason.CloseDelimited
        : state.closeReason,
    );
  }
  return field;
}

function headWritten(w: WriterHost, progress: ResponseProgress): void {
  progress.headWritten = true;
  w.state.writing = Writing.Body;
}

/** Head and in-memory content: one buffer when they fit, else the head then the content. */
function writeInMemory(
  w: WriterHost,
  progress: ResponseProgress,
  headBytes: Uint8Array,
  content: Uint8Array | null,
): boolean | Promise<boolean> {
  const io = w.io;
  headWritten(w, progress);
  progress.bodyBytesWritten = content?.length ?? 0;
  const total = headBytes.length + (content?.length ?? 0);
  if (total <= OUTPUT_BUFFER_BYTES) {
    const output = io.reserve(total);
    let end = io.outputEnd;
    output.set(headBytes, end);
    end += headBytes.length;
    if (content !== null) {
      output.set(content, end);
      end += content.length;
    }
    io.commit(end);
    w.state.writing = Writing.Done;
    return true;
  }
  io.append(headBytes);
  if (content === null) {
    w.state.writing = Writing.Done;
    return true;
  }
  // Large content is counted as it leaves: a client that leaves midway got only part of it.
  progress.bodyBytesWritten = 0;
  pieceQueued(progress, io, 0, content.length);
  return io.send(content).then(() => {
    pieceWritten(progress);
    w.state.writing = Writing.Done;
    return true;
  });
}

/** The general path: any headers, in-memory or streamed content. */
async function writeGeneral(
  w: WriterHost,
  head: RequestHead,
  progress: ResponseProgress,
  response: Response,
): Promise<boolean> {
  const status = response.status;
  const source = bodySource(response);
  const headers = response.headers;
  const declaredLength = parseLength(headers.get("content-length"));
  const handlerClose = hasCloseOption(headers.get("connection"));
  const content: ResponseContent = source.kind === "empty"
    ? { kind: "empty" }
    : source.kind === "bytes"
    ? { kind: "sized", length: source.bytes.length }
    : { kind: "stream", length: declaredLength ?? source.length };
  const decision = decideResponseFraming({
    method: head.method,
    minorVersion: head.minorVersion,
    status,
    content,
    declaredLength,
  });
  const connection = persistence(w, head, handlerClose, decision.framing);
  const headText = encodeResponseHead({
    status,
    statusText: response.statusText,
    fields: headers,
    framing: decision.framing,
    announcedLength: decision.announcedLength,
    connection,
    date: w.clock.date,
  });
  const framing = decision.framing;
  if (source.kind !== "stream" || framing.kind === "none") {
    // Nothing to pump: a stream that will not be sent (HEAD, 204, 304) is cancelled.
    if (source.kind === "stream") source.stream.cancel().catch(() => {});
    const bytes = source.kind === "bytes" && framing.kind === "length" ? source.bytes : null;
    return await writeInMemory(w, progress, encodeLatin1(headText), bytes);
  }
  // The reader first: a stream that cannot be read (locked, say) fails before the head is queued,
  // so the client gets a 500 rather than a head and nothing.
  const chunks = new StreamChunks(
    source.stream,
    framing.kind === "length" ? framing.length : null,
  );
  w.io.appendLatin1(headText);
  headWritten(w, progress);
  return await pumpContent(w, progress, chunks, framing);
}

/** A text response's head as the encoder made it, and whether its content goes out after it. */
interface TextHead {
  readonly bytes: Uint8Array;
  readonly sendBody: boolean;
}

/**
 * The last head of a text response, kept with everything that went into it: the inputs of the
 * framing and persistence decisions and of the encoder. Servers answer the same way over and
 * over (same status, type and length, the same kind of request, within one second of Date), so
 * the decisions and the bytes are usually reused as they are: a hit makes no decision objects
 * and reads no clock. Measured on bench S1 with the clock's `recentDate`: 0.98× the server's CPU
 * per response (2026-11-30, medians of eight 8 s rounds run side by side).
 */
class TextHeadCache {
  #status = 0;
  #contentType = "";
  #length = -1;
  #method = "";
  #minorVersion = -1;
  #keepAlive = false;
  #closing = false;
  #date = "";
  #head: TextHead | null = null;
  #framing: ResponseFraming | null = null;
  #connection: ConnectionField = "none";

  /** The head, or null for a content type that may not go on the wire (general path). */
  get(
    w: WriterHost,
    request: RequestHead,
    status: number,
    contentType: string,
    length: number,
  ): TextHead | null {
    const date = w.clock.recentDate; // no field here can carry a time: the last tick's will do
    const closing = w.state.closing;
    const cached = this.#head;
    if (
      cached !== null && status === this.#status && length === this.#length &&
      date === this.#date && request.method === this.#method &&
      request.minorVersion === this.#minorVersion && request.keepAlive === this.#keepAlive &&
      closing === this.#closing && contentType === this.#contentType
    ) {
      // The same decisions again; the persistence one has an effect (a reason to close).
      if (this.#connection === "close") persistence(w, request, false, this.#framing!);
      return cached;
    }
    const decision = decideResponseFraming({
      method: request.method,
      minorVersion: request.minorVersion,
      status,
      content: { kind: "sized", length },
      declaredLength: null,
    });
    const connection = persistence(w, request, false, decision.framing);
    let headText: string;
    try {
      headText = encodeResponseHead({
        status,
        fields: [["content-type", contentType]],
        framing: decision.framing,
        announcedLength: decision.announcedLength,
        connection,
        date,
      });
    } catch {
      return null; // The general path answers 500 for it.
    }
    this.#status = status;
    this.#contentType = contentType;
    this.#length = length;
    this.#method = request.method;
    this.#minorVersion = request.minorVersion;
    this.#keepAlive = request.keepAlive;
    this.#closing = closing;
    this.#date = date;
    this.#framing = decision.framing;
    this.#connection = connection;
    this.#head = {
      bytes: encodeLatin1(headText),
      sendBody: decision.framing.kind === "length",
    };
    return this.#head;
  }
}

const textHeadCache = new TextHeadCache();

/** UTF-8 length of a string if it is all ASCII (then it equals its length), else -1. */
function asciiLength(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return -1;
  return text.length;
}

/** A handler's Content-Length as the request side reads one (RFC 9110 §8.6), or null if invalid. */
function parseLength(value: string | null): number | null {
  if (value === null) return null;
  try {
    return parseContentLength([value]); // the request side's parser: one grammar for both
  } catch {
    return null;
  }
}

/** Whether a Connection value lists the `close` option (RFC 9112 §9.6). */
function hasCloseOption(value: string | null): boolean {
  if (value === null) return false;
  for (const option of value.split(",")) if (option.trim().toLowerCase() === "close") return true;
  return false;
}
