/**
 * Answering with one version of a file, Go's `serveContent`: preconditions (RFC 9110 §13.2.2),
 * content coding, Range (§14) and the body. Every header and every byte of an answer comes from
 * the one version it is given (and its descriptor); nothing is looked up by name here.
 *
 * @module
 */

import { PreparedHead, type PreparedResult } from "../prepared_response.ts";
import type { RequestLike } from "../request_like.ts";
import type { CodedVariant, CodedVariants } from "./coded_variants.ts";
import { type CodingOptions, type Selected, selectRepresentation } from "./content_coding.ts";
import { sameContent } from "./file_cache.ts";
import { describeRequest, FileChangedError } from "./file_errors.ts";
import { fileStream, type StreamCopy } from "./file_stream.ts";
import {
  type FileVersion,
  type HeaderList,
  type OpenVersion,
  release,
  takeFile,
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
  /** Compressed representations made on the fly, once. */
  variants: CodedVariants;
  /** `Cache-Control` of files and their 304s, or null. */
  cacheControl: string | null;
  maxRanges: number;
  streamChunkBytes: number;
  /** How a content coding is chosen (sidecars, sizes for coding on the fly). */
  coding: CodingOptions;
  /**
   * A copy to keep of a version a 200 streams whole from its descriptor, or null (the file
   * cache's admission of large files: `VersionStore.keepWhileStreaming`).
   */
  keep: (open: OpenVersion) => StreamCopy | null;
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
   * Synchronous when everything it needs is in memory (a cached file, and any compressed or
   * sidecar representation of it already made): then no promise is made at all.
   */
  answer(
    request: RequestLike,
    original: OpenVersion,
    status: 200 | 404,
  ): PreparedResult | Promise<PreparedResult> {
    let choice: Selected | null | Promise<Selected | null>;
    try {
      if (status === 404) return this.#notFoundPage(request, original);
      choice = selectRepresentation(request, original, this.#options.coding);
    } catch (error) {
      release(original);
      throw error;
    }
    if (choice instanceof Promise) return this.#answerLater(request, original, choice);
    let answer: PreparedResult | Promise<PreparedResult>;
    try {
      answer = this.#answerSelected(request, original, choice);
    } catch (error) {
      releaseBoth(original, choice);
      throw error;
    }
    if (answer instanceof Promise) return answer.finally(() => releaseBoth(original, choice));
    releaseBoth(original, choice);
    return answer;
  }

  async #answerLater(
    request: RequestLike,
    original: OpenVersion,
    choice: Promise<Selected | null>,
  ): Promise<PreparedResult> {
    let selected: Selected | null = null;
    try {
      selected = await choice;
      return await this.#answerSelected(request, original, selected);
    } finally {
      releaseBoth(original, selected);
    }
  }

  #notFoundPage(request: RequestLike, page: OpenVersion): Response {
    try {
      const version = page.version;
      const headers: HeaderList = [
        ["content-type", version.contentType],
        ["content-length", String(version.size)],
      ];
      const body = request.method === "GET"
        ? this.#body(request, page, [{ start: 0, length: version.size }])
        : null;
      return new Response(body, { status: 404, headers: this.#options.answers.finish(headers) });
    } finally {
      release(page);
    }
  }

  /**
   * The answer with `selected` (null: `original` as it is). Synchronous, but for a coding made on
   * the fly the first time it is asked for (made once, then kept).
   */
  #answerSelected(
    request: RequestLike,
    original: OpenVersion,
    selected: Selected | null,
  ): PreparedResult | Promise<PreparedResult> {
    const method = request.method;
    const isGet = method === "GET";
    const source = selected?.source ?? original;
    const version = source.version;
    const etag = selected?.etag ?? version.etag;
    const vary = original.version.compressible;
    const validators: Validators = { etag, lastModified: version.lastModified };
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
          headers: answers.finish(this.#validatorHeaders(etag, version, vary)),
        });
      }
      if (outcome === "precondition-failed") return answers.text(412, method);
    }

    if (selected !== null) {
      if (selected.onTheFly !== null) return this.#onTheFly(request, original, selected);
      // A precompressed sidecar: its own validators, the original's type.
      const responseHeaders = this.#validatorHeaders(etag, version, true);
      responseHeaders.push(["content-type", original.version.contentType]);
      responseHeaders.push(["content-encoding", selected.coding]);
      responseHeaders.push(["content-length", String(version.size)]);
      const body = isGet ? this.#wholeBody(request, selected.source) : null;
      return new Response(body, { status: 200, headers: answers.finish(responseHeaders) });
    }

    // Identity: Range applies to GET only (RFC 9110 §14.2), and only if If-Range allows it.
    const rangeHeader = isGet ? headers.get("range") : null;
    if (
      rangeHeader !== null &&
      ifRangeAllowsRange(headers.get("if-range"), validators)
    ) {
      const range = parseRange(rangeHeader, version.size, this.#options.maxRanges);
      if (range.kind === "unsatisfiable") {
        return answers.text(416, method, [
          ["content-range", `bytes */${version.size}`],
          ["accept-ranges", "bytes"],
        ]);
      }
      if (range.kind === "ranges") return this.#partial(request, source, vary, range.ranges);
    }
    // The common answer (200, identity, whole file): its headers are computed once per version.
    if (version.okHeaders === null) {
      const responseHeaders = this.#validatorHeaders(etag, version, vary);
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
    const body = isGet ? this.#wholeBody(request, source) : null;
    return new Response(body, { status: 200, headers: version.okHeaders });
  }

  /**
   * A coding made on the fly: the variant made before, or made now (once, whoever else asks for
   * it meanwhile). When it cannot be made — the file changed while it was read, or too many
   * compressions are pending — the file is sent as it is.
   */
  #onTheFly(
    request: RequestLike,
    original: OpenVersion,
    selected: Selected,
  ): PreparedResult | Promise<PreparedResult> {
    const coding = selected.onTheFly!;
    const variants = this.#options.variants;
    const version = original.version;
    const ready = variants.ready(version, coding);
    if (ready !== null) return this.#codedAnswer(version, selected, ready);
    const made = variants.make(original, coding);
    if (made === null) return this.#answerSelected(request, original, null);
    return made.then((variant) =>
      variant === null
        ? this.#answerSelected(request, original, null)
        : this.#codedAnswer(version, selected, variant)
    );
  }

  /** The 200 answer of a variant, made once per variant (a prepared answer, as for files). */
  #codedAnswer(version: FileVersion, selected: Selected, variant: CodedVariant): PreparedResult {
    if (variant.answer === null || variant.answerType !== version.contentType) {
      const headers = this.#validatorHeaders(selected.etag, version, true);
      headers.push(["content-type", version.contentType]);
      headers.push(["content-encoding", selected.coding]);
      headers.push(["content-length", String(variant.bytes.length)]);
      variant.answer = {
        status: 200,
        head: new PreparedHead(this.#options.answers.finish(headers)),
        content: variant.bytes,
      };
      variant.answerType = version.contentType;
    }
    return variant.answer;
  }

  /** Headers shared by 200, 206 and 304 answers for a representation. */
  #validatorHeaders(etag: string, version: FileVersion, vary: boolean): HeaderList {
    const headers: HeaderList = [["etag", etag]];
    if (version.lastModifiedText !== null) {
      headers.push(["last-modified", version.lastModifiedText]);
    }
    if (this.#options.cacheControl !== null) {
      headers.push(["cache-control", this.#options.cacheControl]);
    }
    if (vary) headers.push(["vary", "Accept-Encoding"]);
    return headers;
  }

  #partial(
    request: RequestLike,
    source: OpenVersion,
    vary: boolean,
    ranges: ByteRange[],
  ): Response {
    const version = source.version;
    const headers = this.#validatorHeaders(version.etag, version, vary);
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
    const body = this.#body(request, source, parts);
    return new Response(body, { status: 206, headers: this.#options.answers.finish(headers) });
  }

  /** The whole of a version as a 200's body, a copy kept of it when the cache admits one. */
  #wholeBody(request: RequestLike, open: OpenVersion): BodyInit {
    const whole = [{ start: 0, length: open.version.size }];
    return this.#body(request, open, whole, this.#options.keep(open));
  }

  /**
   * The bytes of `parts` of a version: from memory, or streamed from its descriptor (which the
   * stream then owns), failing if the file changes in place while it is read; with `copy`, the
   * stream of a whole file keeps a copy of it (`file_stream.ts`).
   */
  #body(
    request: RequestLike,
    open: OpenVersion,
    parts: BodyPart[],
    copy: StreamCopy | null = null,
  ): BodyInit {
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
    if (file === null) {
      copy?.abandon();
      throw new Error("the version's descriptor was already used");
    }
    return fileStream(file, parts, this.#options.streamChunkBytes, {
      unchanged: () => sameContent(version.identity, file.statSync()),
      error: (sent, total) =>
        new FileChangedError(
          version.requestPath,
          describeRequest(request.method, request.url),
          sent,
          total,
        ),
    }, copy);
  }
}

/** Closes the descriptors an answer no longer needs (none once a body has taken them). */
function releaseBoth(original: OpenVersion, selected: Selected | null): void {
  release(original);
  if (selected !== null) release(selected.source);
}
