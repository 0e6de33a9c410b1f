/**
 * The other side of a race: swaps things on disk in a tight loop, in a process of its own, while
 * a test sends requests. Bounded: at most COUNT swaps and {@linkcode MAX_SECONDS}, and it stops
 * earlier once STOP exists (or when the test that started it is gone and cannot create STOP).
 * Prints "ready" before the first swap and "swaps N" when done; the tree is left as it was found.
 *
 * Usage:
 *   deno run --allow-read --allow-write swapper.ts dir DIR OUTSIDE COUNT PAUSE_MS STOP
 *     DIR (a directory) and a symlink to OUTSIDE trade places, by rename, COUNT times.
 *   deno run --allow-read --allow-write swapper.ts file FILE VERSIONS COUNT PAUSE_MS STOP
 *     FILE is replaced by rename with VERSIONS/0, VERSIONS/1, … in turn, COUNT times: a hard link
 *     to each is renamed over FILE, so that each version keeps its inode (and its ETag) from one
 *     turn to the next.
 * PAUSE_MS: how long each state lasts (0: as fast as the system calls go).
 */

const [mode, target, source, countText, pauseText, stop] = Deno.args;
if (mode === undefined || target === undefined || source === undefined || stop === undefined) {
  throw new Error("usage: swapper.ts dir|file TARGET SOURCE COUNT PAUSE_MS STOP");
}
const count = Number(countText);
const pauseMs = Number(pauseText);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks for PAUSE_MS (a synchronous sleep: the loop has nothing else to do). */
function pause(): void {
  if (pauseMs > 0) Atomics.wait(sleeper, 0, 0, pauseMs);
}

/** Longest run, whatever COUNT says: a test that died must not leave a swapper running. */
const MAX_SECONDS = 30;
const deadline = Date.now() + MAX_SECONDS * 1000;

function stopped(): boolean {
  if (Date.now() > deadline) return true;
  try {
    Deno.statSync(stop!);
    return true;
  } catch {
    return false;
  }
}

let swaps = 0;
if (mode === "dir") {
  const link = target + ".link";
  const parked = target + ".parked";
  Deno.symlinkSync(source, link);
  // deno-lint-ignore no-console
  console.log("ready");
  while (swaps < count && (swaps % 64 !== 0 || !stopped())) {
    Deno.renameSync(target, parked);
    Deno.renameSync(link, target); // TARGET is now the symlink to OUTSIDE
    pause();
    Deno.renameSync(target, link);
    Deno.renameSync(parked, target); // and the directory again
    pause();
    swaps++;
  }
  Deno.removeSync(link);
} else if (mode === "file") {
  const versions = [...Deno.readDirSync(source)].map((entry) => entry.name).sort();
  const fresh = target + ".next";
  // deno-lint-ignore no-console
  console.log("ready");
  while (swaps < count && (swaps % 16 !== 0 || !stopped())) {
    Deno.linkSync(`${source}/${versions[swaps % versions.length]}`, fresh);
    Deno.renameSync(fresh, target);
    pause();
    swaps++;
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
// deno-lint-ignore no-console
console.log(`swaps ${swaps}`);
