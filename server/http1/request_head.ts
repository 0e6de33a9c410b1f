/**
 * A parsed request head: what the request parser (request_parser.ts) hands the engine once a
 * request line (RFC 9112 §3) and its header section (§5) are complete and checked — the Host
 * (§3.2), the body's framing (§6.3) and whether the client wants the connection kept (§9.3)
 * decided. The engine depends on this shape, not on the parser.
 *
 * @module
 */

import type { FieldList } from "./fields.ts";
import type { RequestFraming } from "./message_framing.ts";
import type { TargetForm } from "./request_line.ts";

/** A parsed request head. */
export interface RequestHead {
  /** Method token, case preserved (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The request-target exactly as received. */
  readonly target: string;
  /** Which of the four forms the target has. */
  readonly targetForm: TargetForm;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** All header fields in received order. */
  readonly fields: FieldList;
  /** The Host field value, or null when absent (only possible on HTTP/1.0). */
  readonly host: string | null;
  /** How the body is framed. */
  readonly framing: RequestFraming;
  /** Whether the client wants the connection kept open (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  readonly expectContinue: boolean;
}
