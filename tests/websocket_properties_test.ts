/**
 * Properties of the WebSocket codec, checked with fast-check: any input gives events or a close
 * code (never another exception, never a hang), identically in every split; and generated
 * messages, fragmented, masked and interleaved with control frames, read back exactly.
 *
 * Every run uses a fresh seed unless FUZZ_SEED is set; on failure fast-check prints the seed and
 * the shrunk counterexample (`FUZZ_SEED=<seed> deno test -A tests/websocket_properties_test.ts`
 * replays it), which then becomes a row of tests/websocket_codec_test.ts.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeClosePayload } from "../server/http1/websocket_close.ts";
import { encodeFrame, OPCODE } from "../server/http1/websocket_frames.ts";
import { cutsArb } from "./support/generators.ts";
import { join, rawFrame, readInPieces, type Seen } from "./support/websocket_frames.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);

function check<T>(property: fc.IProperty<T>, numRuns: number) {
  fc.assert(property, { seed: SEED, numRuns, endOnFailure: false });
}

const { CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG } = OPCODE;
const CLOSE_CODES = [0, 1000, 1001, 1005, 1006, 1012, 1016, 3000, 4999, 5000];

/** One frame, valid or nearly so: any opcode, bits, mask, length encoding and payload. */
const nearFrameArb: fc.Arbitrary<Uint8Array> = fc.record({
  opcode: fc.constantFrom(CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG, 3, 11),
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, 0, 0, 0, 1, 4),
  masked: fc.constantFrom(true, true, true, false),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 20 }).map((text) => new TextEncoder().encode(text)),
    fc.constantFrom(...CLOSE_CODES).map((code) => new Uint8Array([code >> 8, code & 0xff])),
    fc.uint8Array({ minLength: 120, maxLength: 300 }),
  ),
  lengthBits: fc.constantFrom(undefined, undefined, undefined, 16, 64),
}).map(({ opcode, fin, rsv, masked, payload, lengthBits }) =>
  rawFrame(opcode, payload, {
    fin,
    rsv,
    mask: masked ? [0x12, 0x34, 0x56, 0x78] : null,
    ...(lengthBits === undefined ? {} : { lengthBits: lengthBits as 16 | 64 }),
  })
);

/** Near-frames, random bytes, or near-frames with a few bytes flipped. */
const anyInputArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(nearFrameArb, { maxLength: 6 }).map((frames) => join(...frames)),
  fc.tuple(
    fc.array(nearFrameArb, { minLength: 1, maxLength: 4 }).map((frames) => join(...frames)),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  ).map(([input, flips]) => {
    for (const [at, value] of flips) input[at % input.length] = value;
    return input;
  }),
);

Deno.test("any byte sequence, whole or in any split, gives the same events or the same close code", () => {
  check(
    fc.property(
      anyInputArb.chain((input) =>
        fc.tuple(fc.constant(input), cutsArb(input.length), fc.integer({ min: 1, max: 400 }))
      ),
      ([input, cuts, maxMessageBytes]) => {
        // readInPieces throws ContractViolation on a foreign exception or on a hang.
        const whole = readInPieces(input, [], { maxMessageBytes });
        const split = readInPieces(input, cuts, { maxMessageBytes });
        assert.deepEqual(split.events, whole.events);
        assert.equal(split.errorCode, whole.errorCode);
        if (whole.errorCode !== null) assert.ok([1002, 1007, 1009].includes(whole.errorCode));
        const client = readInPieces(input, cuts, { expectMasked: false });
        const clientWhole = readInPieces(input, [], { expectMasked: false });
        assert.deepEqual(client.events, clientWhole.events);
        assert.equal(client.errorCode, clientWhole.errorCode);
      },
    ),
    4000,
  );
});

const dataMessageArb = fc.oneof(
  fc.tuple(fc.string({ unit: "grapheme", maxLength: 30 }), fc.array(fc.nat(), { maxLength: 4 }))
    .map(([text, cuts]) => ({ text: true, payload: new TextEncoder().encode(text), cuts })),
  fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 4 }))
    .map(([payload, cuts]) => ({ text: false, payload, cuts })),
);

const controlArb = fc.record({
  opcode: fc.constantFrom(PING, PONG),
  payload: fc.uint8Array({ maxLength: 125 }),
  position: fc.nat(),
});

/** Cuts `payload` into fragments at `cuts` (mod its length), each a frame with its own mask. */
function fragments(
  opcode: number,
  payload: Uint8Array,
  cuts: number[],
  seed: number,
): Uint8Array[] {
  const at = [...new Set(cuts.map((cut) => payload.length === 0 ? 0 : cut % payload.length))]
    .filter((cut) => cut > 0).sort((a, b) => a - b);
  const bounds = [0, ...at, payload.length];
  const frames: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const mask = new Uint8Array([seed & 0xff, (seed >> 8) & 0xff, i, 0xa5]);
    frames.push(encodeFrame({
      opcode: i === 0 ? opcode : CONTINUATION,
      fin: i + 2 === bounds.length,
      mask,
    }, payload.subarray(bounds[i], bounds[i + 1])));
  }
  return frames;
}

const latin1 = (data: Uint8Array) => String.fromCharCode(...data);

Deno.test("generated messages, fragmented and masked, with control frames anywhere between frames, read back exactly in any split", () => {
  check(
    fc.property(
      fc.array(dataMessageArb, { maxLength: 6 }),
      fc.array(controlArb, { maxLength: 4 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 20 }),
      (messages, controls, seed, closeAtEnd, rawCuts) => {
        // Frames in wire order, each with the event it completes (the last fragment completes its
        // message; a control frame is its own event).
        const items: { frame: Uint8Array; event: Seen | null }[] = [];
        for (const message of messages) {
          const frames = fragments(
            message.text ? TEXT : BINARY,
            message.payload,
            message.cuts,
            seed,
          );
          frames.forEach((frame, i) => {
            const last = i + 1 === frames.length;
            const event: Seen = message.text
              ? ["text", new TextDecoder().decode(message.payload)]
              : ["binary", latin1(message.payload)];
            items.push({ frame, event: last ? event : null });
          });
        }
        for (const control of controls) {
          const frame = encodeFrame(
            { opcode: control.opcode, mask: new Uint8Array([1, 2, 3, seed & 0xff]) },
            control.payload,
          );
          const event: Seen = [control.opcode === PING ? "ping" : "pong", latin1(control.payload)];
          items.splice(control.position % (items.length + 1), 0, { frame, event });
        }
        if (closeAtEnd) {
          items.push({
            frame: encodeFrame(
              { opcode: CLOSE, mask: new Uint8Array(4) },
              encodeClosePayload(1000, "end"),
            ),
            event: ["close", 1000, "end"],
          });
        }
        const wire = join(...items.map((item) => item.frame));
        const expected = items.flatMap((item) => item.event === null ? [] : [item.event]);
        const cuts = [...new Set(rawCuts.map((cut) => cut % Math.max(1, wire.length)))]
          .filter((cut) => cut > 0).sort((a, b) => a - b);
        assert.deepEqual(readInPieces(wire, []), {
          events: expected,
          errorCode: null,
          errorAfter: null,
        });
        assert.deepEqual(readInPieces(wire, cuts).events, expected);
        const bytewise = Array.from({ length: Math.max(0, wire.length - 1) }, (_, i) => i + 1);
        assert.deepEqual(readInPieces(wire, bytewise).events, expected);
      },
    ),
    1000,
  );
});
