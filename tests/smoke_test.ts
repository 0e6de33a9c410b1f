import assert from "node:assert/strict";
import { resolveLimits } from "../server/limits.ts";

Deno.test("resolveLimits fills defaults and rejects nonsense", () => {
  assert.equal(resolveLimits({ maxHeaderCount: 5 }).maxHeaderCount, 5);
  assert.throws(() => resolveLimits({ maxHeaderCount: -1 }), RangeError);
});
