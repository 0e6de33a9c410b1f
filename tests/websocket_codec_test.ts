/**
 * WebSocket codec tables (server/http1/websocket_*.ts): every row is read whole, one byte at a
 * time and in two halves, then once more followed by the bytes of a next message (which must be
 * read too, unless the row ends in an error or a Close, after which nothing is read).
 */

import assert from "node:assert/strict";
import {
  applyMask,
  encodeFrame,
  encodeFrameHeader,
  FrameParser,
  OPCODE,
} from "../server/http1/websocket_frames.ts";
import {
  CloseHandshake,
  encodeClosePayload,
  isWireCloseCode,
  parseClosePayload,
} from "../server/http1/websocket_close.ts";
import { WebSocketProtocolError } from "../server/http1/websocket_frames.ts";
import {
  join,
  rawFrame,
  readInPieces,
  RFC_MASK,
  type Seen,
  splits,
} from "./support/websocket_frames.ts";

const { CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG } = OPCODE;

interface Row {
  name: string;
  wire: Uint8Array;
  /** Events before the end of input or the error. */
  events: Seen[];
  /** Close code of the expected protocol error. */
  error?: number;
  /** Bytes fed (one at a time) when the error must be thrown: fail fast, not at message end. */
  failsAt?: number;
  /** Read as a client (server frames are unmasked). */
  client?: boolean;
  maxMessageBytes?: number;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const repeat = (byte: number, count: number) => new Uint8Array(count).fill(byte);
const latin1 = (data: Uint8Array) => String.fromCharCode(...data);
const closePayload = (code: number, reason = "") =>
  join(bytes(code >> 8, code & 0xff), new TextEncoder().encode(reason));

const ROWS: Row[] = [
  // RFC 6455 §5.7, verbatim.
  {
    name: "RFC 6455 §5.7: a single-frame unmasked text message",
    wire: bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    events: [["text", "Hello"]],
    client: true,
  },
  {
    name: "RFC 6455 §5.7: a single-frame masked text message",
    wire: bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    events: [["text", "Hello"]],
  },
  {
    name: "RFC 6455 §5.7: a fragmented unmasked text message",
    wire: bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f),
    events: [["text", "Hello"]],
    client: true,
  },
  {
    name: "RFC 6455 §5.7: an unmasked Ping",
    wire: bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    events: [["ping", "Hello"]],
    client: true,
  },
  {
    name: "RFC 6455 §5.7: a masked Pong",
    wire: bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    events: [["pong", "Hello"]],
  },
  {
    name: "RFC 6455 §5.7: 256 bytes of binary in a single unmasked frame (16-bit length)",
    wire: join(bytes(0x82, 0x7e, 0x01, 0x00), repeat(0x61, 256)),
    events: [["binary", "a".repeat(256)]],
    client: true,
  },
  {
    name: "RFC 6455 §5.7: 64 KiB of binary in a single unmasked frame (64-bit length)",
    wire: join(bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), repeat(0x62, 65536)),
    events: [["binary", "b".repeat(65536)]],
    client: true,
  },
  // Our own: messages.
  {
    name: "fragments with a Ping between them: the Ping comes first, the message whole",
    wire: join(
      rawFrame(TEXT, "Hel", { fin: false }),
      rawFrame(PING, "p"),
      rawFrame(CONTINUATION, "l", { fin: false }),
      rawFrame(PONG, ""),
      rawFrame(CONTINUATION, "o"),
    ),
    events: [["ping", "p"], ["pong", ""], ["text", "Hello"]],
  },
  {
    name: "a binary message in fragments, one of them empty",
    wire: join(
      rawFrame(BINARY, [1, 2], { fin: false }),
      rawFrame(CONTINUATION, [], { fin: false }),
      rawFrame(CONTINUATION, [3]),
    ),
    events: [["binary", "\x01\x02\x03"]],
  },
  {
    name: "empty text and binary messages",
    wire: join(rawFrame(TEXT, ""), rawFrame(BINARY, [])),
    events: [["text", ""], ["binary", ""]],
  },
  {
    name: "a byte order mark is message content, kept",
    wire: rawFrame(TEXT, "\uFEFFa"),
    events: [["text", "\uFEFFa"]],
  },
  {
    name: "a 4-byte UTF-8 sequence split across three fragments",
    wire: join(
      rawFrame(TEXT, [0xf0], { fin: false }),
      rawFrame(CONTINUATION, [0x9f, 0x98], { fin: false }),
      rawFrame(CONTINUATION, [0x80]),
    ),
    events: [["text", "😀"]],
  },
  {
    name: "multi-byte text, U+D7FF and U+10FFFF (the edges of valid UTF-8)",
    wire: rawFrame(TEXT, [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xed, 0x9f, 0xbf, 0xf4, 0x8f, 0xbf, 0xbf]),
    events: [["text", "\u03BA\u1F79\uD7FF\u{10FFFF}"]],
  },
  {
    name: "a Ping of 125 bytes, the most a control frame carries",
    wire: rawFrame(PING, repeat(0x7a, 125)),
    events: [["ping", "z".repeat(125)]],
  },
  {
    name: "a message exactly at maxMessageBytes",
    wire: join(rawFrame(TEXT, "12345", { fin: false }), rawFrame(CONTINUATION, "67890")),
    events: [["text", "1234567890"]],
    maxMessageBytes: 10,
  },
  // Our own: Close.
  {
    name: "Close without payload: code 1005",
    wire: rawFrame(CLOSE, []),
    events: [["close", 1005, ""]],
  },
  {
    name: "Close with code and UTF-8 reason",
    wire: rawFrame(CLOSE, closePayload(1000, "bye ✓")),
    events: [["close", 1000, "bye ✓"]],
  },
  {
    name: "Close with a registered code (1012) and a private one (4999)",
    wire: rawFrame(CLOSE, closePayload(1012)),
    events: [["close", 1012, ""]],
  },
  {
    name: "Close 4999",
    wire: rawFrame(CLOSE, closePayload(4999, "x")),
    events: [["close", 4999, "x"]],
  },
  {
    name: "Close in the middle of a fragmented message ends reading",
    wire: join(rawFrame(TEXT, "ab", { fin: false }), rawFrame(CLOSE, closePayload(1001))),
    events: [["close", 1001, ""]],
  },
  // Our own: frame violations (1002).
  {
    name: "unmasked frame from a client",
    wire: rawFrame(TEXT, "hi", { mask: null }),
    events: [],
    error: 1002,
    failsAt: 2,
  },
  {
    name: "masked frame from a server",
    wire: rawFrame(TEXT, "hi"),
    events: [],
    error: 1002,
    failsAt: 2,
    client: true,
  },
  ...[1, 2, 4].map((rsv): Row => ({
    name: `reserved bit RSV${rsv === 4 ? 1 : rsv === 2 ? 2 : 3} set`,
    wire: rawFrame(TEXT, "hi", { rsv }),
    events: [],
    error: 1002,
    failsAt: 2,
  })),
  ...[3, 7, 11, 15].map((opcode): Row => ({
    name: `reserved opcode ${opcode}`,
    wire: rawFrame(opcode, "x"),
    events: [],
    error: 1002,
    failsAt: 2,
  })),
  {
    name: "fragmented Ping",
    wire: rawFrame(PING, "x", { fin: false }),
    events: [],
    error: 1002,
    failsAt: 2,
  },
  {
    name: "Ping of 126 bytes",
    wire: rawFrame(PING, repeat(0, 126)),
    events: [],
    error: 1002,
    failsAt: 2,
  },
  {
    name: "Close of 126 bytes (16-bit length on a control frame)",
    wire: rawFrame(CLOSE, repeat(0x20, 126)),
    events: [],
    error: 1002,
    failsAt: 2,
  },
  {
    name: "non-minimal 16-bit length",
    wire: rawFrame(BINARY, "abc", { lengthBits: 16 }),
    events: [],
    error: 1002,
    failsAt: 8,
  },
  {
    name: "non-minimal 64-bit length",
    wire: rawFrame(BINARY, repeat(1, 200), { lengthBits: 64 }),
    events: [],
    error: 1002,
    failsAt: 14,
  },
  {
    name: "64-bit length with the most significant bit set",
    wire: rawFrame(BINARY, [], { announcedLength: 1n << 63n }),
    events: [],
    error: 1002,
    failsAt: 14,
  },
  {
    name: "64-bit length of 2^53 (beyond exact counting): too big before any payload",
    wire: rawFrame(BINARY, [], { announcedLength: 1n << 53n }),
    events: [],
    error: 1009,
    failsAt: 14,
  },
  {
    name: "64-bit length of 2^62: too big",
    wire: rawFrame(BINARY, [], { announcedLength: 1n << 62n }),
    events: [],
    error: 1009,
    failsAt: 14,
  },
  // Our own: message violations.
  {
    name: "continuation without a message",
    wire: rawFrame(CONTINUATION, "x"),
    events: [],
    error: 1002,
    failsAt: 6,
  },
  {
    name: "a new text message inside a fragmented one (after a Ping)",
    wire: join(rawFrame(TEXT, "a", { fin: false }), rawFrame(PING, ""), rawFrame(TEXT, "b")),
    events: [["ping", ""]],
    error: 1002,
    failsAt: 7 + 6 + 6,
  },
  {
    name: "a Close of 1 byte",
    wire: rawFrame(CLOSE, [0x03]),
    events: [],
    error: 1002,
  },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code): Row => ({
    name: `Close with code ${code}, not valid on the wire`,
    wire: rawFrame(CLOSE, closePayload(code)),
    events: [],
    error: 1002,
  })),
  {
    name: "Close reason that is not UTF-8",
    wire: rawFrame(CLOSE, join(closePayload(1000), bytes(0xff))),
    events: [],
    error: 1007,
  },
  {
    name: "text with a byte that never occurs in UTF-8: fails at that byte",
    wire: rawFrame(TEXT, [0x61, 0xff, 0x62, 0x63]),
    events: [],
    error: 1007,
    failsAt: 6 + 2,
  },
  {
    name: "an encoded surrogate split across fragments: fails at the fragment, not the message end",
    wire: join(
      rawFrame(TEXT, [0xce, 0xba, 0xed], { fin: false }),
      rawFrame(CONTINUATION, [0xa0, 0x80], { fin: false }),
      rawFrame(CONTINUATION, "never read"),
    ),
    events: [],
    error: 1007,
    failsAt: 9 + 6 + 1,
  },
  {
    name: "an overlong encoding",
    wire: rawFrame(TEXT, [0xc0, 0xaf]),
    events: [],
    error: 1007,
    failsAt: 7,
  },
  {
    name: "a code point above U+10FFFF",
    wire: rawFrame(TEXT, [0xf4, 0x90, 0x80, 0x80]),
    events: [],
    error: 1007,
    failsAt: 8,
  },
  {
    name: "a message ending inside a UTF-8 sequence",
    wire: join(rawFrame(TEXT, [0x61, 0xe2, 0x82], { fin: false }), rawFrame(CONTINUATION, [])),
    events: [],
    error: 1007,
  },
  {
    name: "a single frame over maxMessageBytes: refused from its header",
    wire: rawFrame(BINARY, repeat(0, 11)),
    events: [],
    error: 1009,
    failsAt: 6,
    maxMessageBytes: 10,
  },
  {
    name: "fragments adding up to more than maxMessageBytes: refused at the fragment's header",
    wire: join(rawFrame(TEXT, "123456", { fin: false }), rawFrame(CONTINUATION, "78901")),
    events: [],
    error: 1009,
    failsAt: 12 + 6,
    maxMessageBytes: 10,
  },
];

const NEXT = rawFrame(TEXT, "next");

for (const row of ROWS) {
  const options = {
    expectMasked: row.client !== true,
    ...(row.maxMessageBytes === undefined ? {} : { maxMessageBytes: row.maxMessageBytes }),
  };
  const next = row.client === true ? rawFrame(TEXT, "next", { mask: null }) : NEXT;
  for (const [how, cuts] of splits(row.wire.length)) {
    Deno.test(`codec: ${row.name} (${how})`, () => {
      const outcome = readInPieces(row.wire, cuts, options);
      assert.deepEqual(outcome.events, row.events);
      assert.equal(outcome.errorCode, row.error ?? null);
      if (row.failsAt !== undefined && how === "byte by byte") {
        assert.equal(outcome.errorAfter, row.failsAt, "the byte at which the error is found");
      }
    });
  }
  Deno.test(`codec: ${row.name} (followed by another message)`, () => {
    const outcome = readInPieces(join(row.wire, next), [], options);
    const endsReading = row.error !== undefined || row.events.at(-1)?.[0] === "close";
    assert.deepEqual(outcome.events, endsReading ? row.events : [...row.events, ["text", "next"]]);
    assert.equal(outcome.errorCode, row.error ?? null);
  });
}

Deno.test("codec: a reader that failed keeps throwing the same error", () => {
  const wire = rawFrame(TEXT, "x", { mask: null });
  const outcome = readInPieces(wire, [], {});
  assert.equal(outcome.errorCode, 1002);
  const parser = new FrameParser();
  parser.feed(wire.slice());
  assert.throws(() => parser.next(), WebSocketProtocolError);
  parser.feed(NEXT.slice());
  assert.throws(
    () => parser.next(),
    (error) => (error as WebSocketProtocolError).closeCode === 1002,
  );
});

Deno.test("codec: payload events are views unmasked in place, at most one per fed chunk", () => {
  const parser = new FrameParser();
  const wire = rawFrame(BINARY, "abcdef");
  const first = wire.slice(0, 9);
  parser.feed(first);
  assert.deepEqual(parser.next(), { type: "header", fin: true, opcode: BINARY, length: 6 });
  const chunk = parser.next();
  assert.equal(chunk.type, "payload");
  if (chunk.type !== "payload") return;
  assert.equal(latin1(chunk.data), "abc");
  assert.equal(chunk.end, false);
  assert.equal(chunk.data.buffer, first.buffer, "a view of the fed buffer");
  assert.equal(parser.next().type, "need-data");
  parser.feed(wire.slice(9));
  const rest = parser.next();
  assert.ok(rest.type === "payload" && latin1(rest.data) === "def" && rest.end);
});

// The serializer.

Deno.test("serializer: RFC 6455 §5.7's frames, byte for byte", () => {
  const hello = new TextEncoder().encode("Hello");
  assert.deepEqual(
    encodeFrame({ opcode: TEXT }, hello),
    bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  );
  assert.deepEqual(
    encodeFrame({ opcode: TEXT, mask: new Uint8Array(RFC_MASK) }, hello),
    bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
  );
  assert.deepEqual(latin1(hello), "Hello", "the payload given is not modified");
  assert.deepEqual(
    encodeFrame({ opcode: TEXT, fin: false }, hello.subarray(0, 3)),
    bytes(0x01, 0x03, 0x48, 0x65, 0x6c),
  );
  assert.deepEqual(
    encodeFrame({ opcode: CONTINUATION }, hello.subarray(3)),
    bytes(0x80, 0x02, 0x6c, 0x6f),
  );
  assert.deepEqual(encodeFrameHeader({ opcode: BINARY }, 256), bytes(0x82, 0x7e, 0x01, 0x00));
  assert.deepEqual(
    encodeFrameHeader({ opcode: BINARY }, 65536),
    bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0),
  );
});

Deno.test("serializer: the minimal length encoding at every boundary", () => {
  const cases: [number, number[]][] = [
    [0, [0x82, 0]],
    [125, [0x82, 125]],
    [126, [0x82, 126, 0, 126]],
    [65535, [0x82, 126, 0xff, 0xff]],
    [65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
    [2 ** 32 + 5, [0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5]],
    [Number.MAX_SAFE_INTEGER, [0x82, 127, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [length, expected] of cases) {
    assert.deepEqual(
      [...encodeFrameHeader({ opcode: BINARY }, length)],
      expected,
      `length ${length}`,
    );
  }
});

Deno.test("serializer: refuses frames no endpoint may send", () => {
  assert.throws(() => encodeFrameHeader({ opcode: PING }, 126), RangeError);
  assert.throws(() => encodeFrameHeader({ opcode: CLOSE, fin: false }, 0), RangeError);
  assert.throws(() => encodeFrameHeader({ opcode: 3 }, 0), RangeError);
  assert.throws(() => encodeFrameHeader({ opcode: TEXT }, -1), RangeError);
  assert.throws(() => encodeFrameHeader({ opcode: TEXT }, 2 ** 53), RangeError);
  assert.throws(() => encodeFrameHeader({ opcode: TEXT, mask: new Uint8Array(3) }, 1), RangeError);
});

Deno.test("serializer: applyMask at any offset is its own inverse", () => {
  const data = new Uint8Array(37).map((_, i) => i * 7);
  const original = data.slice();
  const mask = new Uint8Array([1, 2, 3, 4]);
  for (let offset = 0; offset < 4; offset++) {
    applyMask(data, mask, offset);
    assert.notDeepEqual(data, original);
    applyMask(data, mask, offset);
    assert.deepEqual(data, original);
  }
  const split = data.slice();
  applyMask(split.subarray(0, 5), mask, 0);
  applyMask(split.subarray(5), mask, 5);
  const whole = data.slice();
  applyMask(whole, mask, 0);
  assert.deepEqual(split, whole);
});

// Close codes, payloads and the handshake's states.

Deno.test("close: codes valid on the wire (RFC 6455 §7.4)", () => {
  const valid = [
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    3000,
    4999,
  ];
  const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535, 1000.5, NaN];
  for (const code of valid) assert.ok(isWireCloseCode(code), String(code));
  for (const code of invalid) assert.ok(!isWireCloseCode(code), String(code));
});

Deno.test("close: payloads encode and decode", () => {
  assert.deepEqual(encodeClosePayload(), new Uint8Array(0));
  assert.deepEqual(encodeClosePayload(1000), bytes(0x03, 0xe8));
  assert.deepEqual(parseClosePayload(encodeClosePayload(4000, "é".repeat(61))), {
    code: 4000,
    reason: "é".repeat(61),
  });
  assert.throws(() => encodeClosePayload(1000, "x".repeat(124)), RangeError);
  assert.throws(() => encodeClosePayload(1005), RangeError);
  assert.throws(() => encodeClosePayload(undefined, "reason"), RangeError);
});

Deno.test("close: the handshake's transitions, as the table in websocket_close.ts", () => {
  const ours = new CloseHandshake();
  assert.equal(ours.maySendData, true);
  assert.equal(ours.sendClose(), true);
  assert.equal(ours.state, "close-sent");
  assert.equal(ours.maySendData, false);
  assert.equal(ours.sendClose(), false, "one Close frame per side");
  ours.receiveClose();
  assert.equal(ours.state, "closed");
  assert.throws(() => ours.receiveClose(), WebSocketProtocolError);

  const theirs = new CloseHandshake();
  theirs.receiveClose();
  assert.equal(theirs.state, "close-received");
  assert.equal(theirs.maySendData, true);
  assert.throws(() => theirs.receiveClose(), WebSocketProtocolError);
  assert.equal(theirs.sendClose(), true);
  assert.equal(theirs.state, "closed");
  assert.equal(theirs.sendClose(), false);
});
