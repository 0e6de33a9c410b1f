/**
 * Answering with one version of a file, Go's `serveContent`: preconditions (RFC 9110 §13.2.2),
 * content coding, Range (§14) and the body. Every header and every byte of an answer comes from
 * the one version it is given (and its descriptor); nothing is looked up by name here.
 *
 * @module
 */

import { PreparedHead, type PreparedResult } from "../prepared_response.ts";
import type { RequestLike } from "../request_like.ts";
import { type FindFile, gzip, type Selected, selectRepresentation } from "./content_coding.ts";
import { sameContent } from "./file_cache.ts";
import { describeRequest, FileChangedError } from "./file_errors.ts";
import { fileStream } from "./file_stream.ts";
import {
  type FileVersion,
  type HeaderList,
  type OpenVersion,
  release,
  takeFile,
  type VersionStore,
} from "./file_version.ts";
import { evaluatePreconditions, ifRangeAllowsRange, type Validators } from "./preconditions.ts";
import {
  type BodyPart,
  type ByteRange,
  contentRange,
  joinParts,
  multipartLayout,
  parseRange,
} from "./ranges.ts";
import type { Answers } from "./responses.ts";

/** Settings of a {@linkcode FileAnswers}. */
export interface FileAnswersOptions {
  answers: Answers;
  store: VersionStore;
  /** `Cache-Control` of files and their 304s, or null. */
  cacheControl: string | null;
  maxRanges: number;
  gzipMinBytes: number;
  streamChunkBytes: number;
  /** Opens a sidecar (`file.br`, `file.gz`) of the file being answered. */
  findFile: FindFile;
}

/** Builds the answers of one file server for versions of files. */
export class FileAnswers {
  readonly #options: FileAnswersOptions;
  readonly #boundary = "sockserve-" + crypto.randomUUID().replaceAll("-", "");

  constructor(options: FileAnswersOptions) {
    this.#options = options;
  }

  /**
   * Answers `request` with `original` (owned from now on: its descriptor is closed, or handed to
   * the body that reads it). `status` 404 sends it as the body of a Not Found (a custom 404 page:
   * no validators or ranges, the page is not a representation of the resource asked for).
   */
  async answer(
    request: RequestLike,
    original: OpenVersion,
    status: 200 | 404,
  ): Promise<PreparedResult> {
    let selected: Selected | null = null;
    try {
      if (status === 404) return this.#notFoundPage(request, original);
      const choice = selectRepresentation(
        request,
        original,
        this.#options.findFile,
        this.#options.gzipMinBytes,
      );
      selected = choice instanceof Promise ? await choice : choice;
      const response = this.#answerSelected(request, original.version, selected);
      return response instanceof Promise ? await response : response;
    } finally {
      release(original);
      if (selected !== null) release(selected.source);
    }
  }

  #notFoundPage(request: RequestLike, page: OpenVersion): Response {
    const version = page.version;
    const headers: HeaderList = [
      ["content-type", version.contentType],
      ["content-length", String(version.size)],
    ];
    const body = request.method === "GET"
      ? this.#body(request, page, [{ start: 0, length: version.size }])
      : null;
    return new Response(body, { status: 404, headers: this.#options.answers.finish(headers) });
  }

  /** Synchronous, but for gzip made on the fly from a file in memory (made once, then kept). */
  #answerSelected(
    request: RequestLike,
    original: FileVersion,
    selected: Selected,
  ): PreparedResult | Promise<PreparedResult> {
    const method = request.method;
    const isGet = method === "GET";
    const version = selected.source.version;
    const validators: Validators = { etag: selected.etag, lastModified: version.lastModified };
    const headers = request.headers;
    const answers = this.#options.answers;
    if (
      headers.has("if-match") || headers.has("if-none-match") ||
      headers.has("if-modified-since") || headers.has("if-unmodified-since")
    ) {
      const outcome = evaluatePreconditions(method, headers, validators);
      if (outcome === "not-modified") {
        return new Response(null, {
          status: 304,
          headers: answers.finish(this.#validatorHeaders(selected)),
        });
      }
      if (outcome === "precondition-failed") return answers.text(412, method);
    }

    if (selected.coding !== null) {
      const responseHeaders = this.#validatorHeaders(selected);
      responseHeaders.push(["content-type", original.contentType]);
      responseHeaders.push(["content-encoding", selected.coding]);
      let body: BodyInit | null = null;
      if (!selected.onTheFly) {
        responseHeaders.push(["content-length", String(version.size)]);
        if (isGet) {
          body = this.#body(request, selected.source, [{ start: 0, length: version.size }]);
        }
      } else if (version.bytes !== null) {
        return this.#gzipOf(version).then((compressed) => {
          responseHeaders.push(["content-length", String(compressed.length)]);
          return new Response(isGet ? compressed : null, {
            status: 200,
            headers: answers.finish(responseHeaders),
          });
        });
      } else if (isGet) {
        // Large file: compressed while streaming, so its length is unknown (chunked).
        const stream = this.#body(request, selected.source, [{ start: 0, length: version.size }]);
        body = (stream as ReadableStream<Uint8Array<ArrayBuffer>>).pipeThrough(
          new CompressionStream("gzip"),
        );
      }
      return new Response(body, { status: 200, headers: answers.finish(responseHeaders) });
    }

    // Identity: Range applies to GET only (RFC 9110 §14.2), and only if If-Range allows it.
    const rangeHeader = isGet ? headers.get("range") : null;
    if (
      rangeHeader !== null &&
      ifRangeAllowsRange(headers.get("if-range"), validators, Date.now())
    ) {
      const range = parseRange(rangeHeader, version.size, this.#options.maxRanges);
      if (range.kind === "unsatisfiable") {
        return answers.text(416, method, [
          ["content-range", `bytes */${version.size}`],
          ["accept-ranges", "bytes"],
        ]);
      }
      if (range.kind === "ranges") return this.#partial(request, selected, range.ranges);
    }
    // The common answer (200, identity, whole file): its headers are computed once per version.
    if (version.okHeaders === null) {
      const responseHeaders = this.#validatorHeaders(selected);
      responseHeaders.push(["accept-ranges", "bytes"]);
      responseHeaders.push(["content-type", version.contentType]);
      responseHeaders.push(["content-length", String(version.size)]);
      version.okHeaders = answers.finish(responseHeaders);
    }
    if (version.bytes !== null) {
      // In memory: one prepared answer per version, whose head the encoder makes once (and which
      // the ordinary face turns into a complete Response; prepared_response.ts).
      return version.okAnswer ??= {
        status: 200,
        head: new PreparedHead(version.okHeaders),
        content: version.bytes,
      };
    }
    const body = isGet
      ? this.#body(request, selected.source, [{ start: 0, length: version.size }])
      : null;
    return new Response(body, { status: 200, headers: version.okHeaders });
  }

  /** Headers shared by 200, 206 and 304 answers for a representation. */
  #validatorHeaders(selected: Selected): HeaderList {
    const version = selected.source.version;
    const headers: HeaderList = [["etag", selected.etag]];
    if (version.lastModifiedText !== null) {
      headers.push(["last-modified", version.lastModifiedText]);
    }
    if (this.#options.cacheControl !== null) {
      headers.push(["cache-control", this.#options.cacheControl]);
    }
    if (selected.vary) headers.push(["vary", "Accept-Encoding"]);
    return headers;
  }

  /** gzip of a version held in memory, made once and kept next to its bytes. */
  #gzipOf(version: FileVersion): Promise<Uint8Array<ArrayBuffer>> {
    if (version.gzipBytes === null) {
      const pending = gzip(version.bytes!);
      version.gzipBytes = pending;
      pending.then((bytes) => this.#options.store.grow(version, bytes.length), () => {
        version.gzipBytes = null;
      });
    }
    return version.gzipBytes;
  }

  #partial(request: RequestLike, selected: Selected, ranges: ByteRange[]): Response {
    const version = selected.source.version;
    const headers = this.#validatorHeaders(selected);
    headers.push(["accept-ranges", "bytes"]);
    let parts: BodyPart[];
    if (ranges.length === 1) {
      const range = ranges[0]!;
      const length = range.end - range.start + 1;
      headers.push(["content-type", version.contentType]);
      headers.push(["content-range", contentRange(range, version.size)]);
      headers.push(["content-length", String(length)]);
      parts = [{ start: range.start, length }];
    } else {
      const layout = multipartLayout(ranges, version.size, version.contentType, this.#boundary);
      headers.push(["content-type", layout.contentType]);
      headers.push(["content-length", String(layout.length)]);
      parts = layout.parts;
    }
    const body = this.#body(request, selected.source, parts);
    return new Response(body, { status: 206, headers: this.#options.answers.finish(headers) });
  }

  /**
   * The bytes of `parts` of a version: from memory, or streamed from its descriptor (which the
   * stream then owns), failing if the file changes in place while it is read.
   */
  #body(request: RequestLike, open: OpenVersion, parts: BodyPart[]): BodyInit {
    const version = open.version;
    if (version.bytes !== null) {
      if (parts.length === 1 && !(parts[0] instanceof Uint8Array)) {
        const { start, length } = parts[0]!;
        return start === 0 && length === version.size
          ? version.bytes
          : version.bytes.subarray(start, start + length);
      }
      let length = 0;
      for (const part of parts) length += part instanceof Uint8Array ? part.length : part.length;
      return joinParts(parts, length, version.bytes);
    }
    const file = takeFile(open);
    if (file === null) throw new Error("the version's descriptor was already used");
    return fileStream(file, parts, this.#options.streamChunkBytes, {
      unchanged: () => sameContent(version.identity, file.statSync()),
      error: (sent, total) =>
        new FileChangedError(
          version.requestPath,
          describeRequest(request.method, request.url),
          sent,
          total,
        ),
    });
  }
}
