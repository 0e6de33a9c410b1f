/**
 * Worker isolates (server/workers.ts): one that dies is logged and replaced; one that keeps dying
 * makes the group give up, which the CLI turns into exit 1 for the orchestrator.
 */
import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import { MAX_WORKER_RESTARTS, startWorkers } from "../server/workers.ts";

const WORKER = new URL("./fixtures/workers/crashing_worker.ts", import.meta.url);

async function group(crashes: number) {
  const counter = await Deno.makeTempFile();
  await Deno.writeTextFile(counter, "0");
  const lines: string[] = [];
  const replaced = Promise.withResolvers<void>();
  const gaveUp = Promise.withResolvers<string>();
  const primary = serve(
    { hostname: "127.0.0.1", port: 0, reusePort: true, onListen() {} },
    () => new Response("primary"),
  );
  const server = await startWorkers({
    primary,
    workers: 1,
    moduleUrl: WORKER,
    data: { counter, crashes },
    log: (line) => {
      lines.push(line);
      if (
        line.endsWith("replaced") && lines.filter((l) => l.endsWith("replaced")).length === crashes
      ) {
        replaced.resolve();
      }
    },
    onGiveUp: (reason) => gaveUp.resolve(reason),
  });
  return { server, lines, replaced: replaced.promise, gaveUp: gaveUp.promise, counter };
}

Deno.test("a_worker_that_dies_is_logged_and_replaced", async () => {
  const { server, lines, replaced, counter } = await group(1);
  try {
    await replaced;
    assert.deepEqual(lines, [
      "sockserve: worker 1 died: Uncaught Error: planned crash 1",
      "sockserve: worker 1 replaced",
    ]);
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await server.shutdown();
    await Deno.remove(counter);
  }
});

Deno.test("workers_that_keep_dying_make_the_group_give_up", async () => {
  const { server, lines, gaveUp, counter } = await group(MAX_WORKER_RESTARTS + 1);
  try {
    const reason = await gaveUp;
    assert.match(reason, /^6 worker deaths within 60 s$/);
    assert.equal(lines.filter((line) => line.includes("died")).length, MAX_WORKER_RESTARTS + 1);
    assert.equal(lines.filter((line) => line.endsWith("replaced")).length, MAX_WORKER_RESTARTS);
  } finally {
    await server.shutdown();
    await Deno.remove(counter);
  }
});
