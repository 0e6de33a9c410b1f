// Lifecycle: SIGTERM/SIGINT handling. First in-process against a fake server (every branch of
// the state machine), then against the real server process (see the second half).
import assert from "node:assert/strict";
import {
  EXIT_FORCED,
  EXIT_GRACEFUL,
  EXIT_INTERRUPTED,
  handleStopSignals,
  type StopSignal,
} from "../server/cli/lifecycle.ts";

/** A server whose shutdown finishes when the test says so, and a signal source to drive it. */
function harness(gracePeriodMs: number, connections: number) {
  let finishShutdown = () => {};
  let shutdownCalls = 0;
  let deadlineChecked = () => {};
  const deadlineCheckedPromise = new Promise<void>((resolve) => deadlineChecked = resolve);
  const state = { connections, shuttingDown: false };
  const server = {
    shutdown(): Promise<void> {
      shutdownCalls++;
      state.shuttingDown = true;
      return new Promise<void>((resolve) => finishShutdown = resolve);
    },
    get connectionCount(): number {
      // The deadline timer is the only reader after the first log line; tell the test.
      if (state.shuttingDown) queueMicrotask(deadlineChecked);
      return state.connections;
    },
  };
  const handlers = new Map<StopSignal, () => void>();
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  let exited = (_code: number) => {};
  const firstExit = new Promise<number>((resolve) => exited = resolve);
  const uninstall = handleStopSignals(server, {
    gracePeriodMs,
    log: (line) => out.push(line),
    logError: (line) => err.push(line),
    exit: (code) => {
      exits.push(code);
      exited(code);
    },
    onSignal: (signal, handler) => {
      handlers.set(signal, handler);
      return () => handlers.delete(signal);
    },
  });
  return {
    state,
    out,
    err,
    exits,
    firstExit,
    handlers,
    uninstall,
    deadlineChecked: deadlineCheckedPromise,
    get shutdownCalls() {
      return shutdownCalls;
    },
    send(signal: StopSignal) {
      const handler = handlers.get(signal);
      assert.ok(handler, `no handler for ${signal}`);
      handler();
    },
    finishShutdown: () => finishShutdown(),
  };
}

Deno.test("lifecycle: SIGTERM shuts down gracefully and exits 0 when connections finish", async () => {
  const h = harness(60_000, 2);
  h.send("SIGTERM");
  assert.equal(h.shutdownCalls, 1);
  assert.deepEqual(h.exits, []);
  assert.match(
    h.out[0] ?? "",
    /SIGTERM received: shutting down gracefully \(2 open connections, grace period 60s\)/,
  );
  h.state.connections = 0;
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
  assert.match(h.out.at(-1) ?? "", /shutdown complete/);
  assert.deepEqual(h.err, []);
});

Deno.test("lifecycle: SIGINT also shuts down gracefully and mentions Ctrl-C", async () => {
  const h = harness(60_000, 1);
  h.send("SIGINT");
  assert.match(h.out[0] ?? "", /SIGINT received: .*1 open connection,.*Ctrl-C again/);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: grace period over with open connections exits 1 and counts them", async () => {
  const h = harness(10, 3);
  h.send("SIGTERM");
  assert.equal(await h.firstExit, EXIT_FORCED);
  assert.match(h.err[0] ?? "", /grace period of 10ms over: force-closing 3 connections/);
  h.finishShutdown(); // the process would be gone; settle the fake
});

Deno.test("lifecycle: grace period over with nothing open waits for shutdown to report", async () => {
  const h = harness(10, 0);
  h.send("SIGTERM");
  await h.deadlineChecked;
  await Promise.resolve();
  assert.deepEqual(h.exits, []);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: a second SIGINT exits 130 at once", async () => {
  const h = harness(60_000, 1);
  h.send("SIGTERM");
  h.send("SIGINT");
  assert.equal(await h.firstExit, EXIT_INTERRUPTED);
  assert.match(h.err[0] ?? "", /second SIGINT: exiting now with 1 connection open/);
  h.finishShutdown(); // clears the grace timer
});

Deno.test("lifecycle: a second SIGTERM is noted and changes nothing", async () => {
  const h = harness(60_000, 1);
  h.send("SIGTERM");
  h.send("SIGTERM");
  assert.equal(h.shutdownCalls, 1);
  assert.deepEqual(h.exits, []);
  assert.match(h.out[1] ?? "", /SIGTERM again: already shutting down/);
  h.finishShutdown();
  assert.equal(await h.firstExit, EXIT_GRACEFUL);
});

Deno.test("lifecycle: the returned function removes both signal handlers", () => {
  const h = harness(60_000, 0);
  assert.equal(h.handlers.size, 2);
  h.uninstall();
  assert.equal(h.handlers.size, 0);
});
