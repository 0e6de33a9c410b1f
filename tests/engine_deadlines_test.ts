/**
 * The connection's deadline slots (server/connection/deadlines.ts): exact waits fire at their
 * time, armed waits start at the first tick that sees them, and neither fires early.
 */

import assert from "node:assert/strict";
import { Deadlines, Wait } from "../server/connection/deadlines.ts";

Deno.test("an_exact_deadline_fires_at_its_time_once", () => {
  const deadlines = new Deadlines();
  deadlines.set(Wait.Head, 1_000, 300);
  assert.equal(deadlines.takeDue(1_299), -1);
  assert.equal(deadlines.takeDue(1_300), Wait.Head);
  assert.equal(deadlines.takeDue(1_300), -1);
  assert.equal(deadlines.isSet(Wait.Head), false);
});

Deno.test("an_armed_wait_starts_at_the_first_tick_and_fires_its_timeout_after_it", () => {
  const deadlines = new Deadlines();
  deadlines.arm(Wait.Idle, 300);
  assert.equal(deadlines.isSet(Wait.Idle), true);
  // The first tick starts it, whatever its time.
  assert.equal(deadlines.takeDue(50_000), -1);
  assert.equal(deadlines.takeDue(50_299), -1);
  assert.equal(deadlines.takeDue(50_300), Wait.Idle);
  assert.equal(deadlines.takeDue(60_000), -1);
});

Deno.test("re_arming_restarts_the_wait_and_clearing_it_before_a_tick_cancels_it", () => {
  const deadlines = new Deadlines();
  deadlines.arm(Wait.WriteStall, 300);
  assert.equal(deadlines.takeDue(1_000), -1); // started at 1 000
  deadlines.arm(Wait.WriteStall, 300); // a new write: the stall is counted afresh
  assert.equal(deadlines.takeDue(1_250), -1); // restarted at 1 250
  assert.equal(deadlines.takeDue(1_500), -1);
  assert.equal(deadlines.takeDue(1_550), Wait.WriteStall);
  deadlines.arm(Wait.WriteStall, 300);
  deadlines.clear(Wait.WriteStall);
  assert.equal(deadlines.takeDue(99_000), -1);
});

Deno.test("armed_and_exact_waits_keep_each_other_s_deadlines", () => {
  const deadlines = new Deadlines();
  deadlines.set(Wait.Handler, 1_000, 500); // due at 1 500
  deadlines.arm(Wait.Idle, 1_000); // starts at the first tick
  assert.equal(deadlines.takeDue(1_100), -1); // Idle due at 2 100
  assert.equal(deadlines.takeDue(1_500), Wait.Handler);
  assert.equal(deadlines.takeDue(2_099), -1);
  assert.equal(deadlines.takeDue(2_100), Wait.Idle);
  // A timeout of 0 disables a wait.
  deadlines.arm(Wait.Idle, 0);
  assert.equal(deadlines.isSet(Wait.Idle), false);
});
