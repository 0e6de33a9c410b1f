/**
 * Entry module of each `--workers` isolate: serves the same site on the same port as the main
 * thread, with its own accept loop on a SO_REUSEPORT listener.
 *
 * @module
 */

import { writeAllSync } from "../access_log.ts";
import { runWorker } from "../workers.ts";
import { startSite, type WorkerData } from "./site.ts";

const encoder = new TextEncoder();

runWorker(async (data, port) => {
  let failure = "";
  const { config, isolates, certifiedKey } = data as WorkerData;
  const result = await startSite(config, {
    reusePort: true,
    port,
    isolates,
    ...(certifiedKey === undefined ? {} : { certifiedKey }),
    printError: (line) => {
      failure = line;
      writeAllSync(Deno.stderr, encoder.encode(`${line}\n`));
    },
  });
  return typeof result === "number" ? failure || `worker could not start (exit ${result})` : result;
});
