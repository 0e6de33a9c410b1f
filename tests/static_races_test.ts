/**
 * Races between the file server and a tree that changes while it is served (issue 9): a directory
 * swapped with a symlink to outside the root, files replaced by rename or changed in place. Each
 * race is bounded (a fixed number of swaps and of requests) and asserts what a client must never
 * see: bytes from outside the root, or a response whose headers describe one version of a file
 * and whose bytes are another's. Where the file system seam allows, the swap is put exactly
 * between two steps of a request, so that the race is not left to chance.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CTIME_MARGIN_MS,
  type DirectoryState,
  judgeSnapshots,
  type Verdict,
} from "../server/static/containment.ts";
import { createFileServer } from "../server/static/file_server.ts";
import { denoFileSystem, type StaticFileSystem } from "../server/static/file_system.ts";
import { openInRoot } from "../server/static/open_file.ts";
import { ServedRoot } from "../server/static/served_root.ts";
import { startServer } from "./support/test_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SWAPPER = new URL("./support/swapper.ts", import.meta.url).pathname;

async function makeTree(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sockserve_race_" }));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeFile(full, typeof content === "string" ? encoder.encode(content) : content);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// The judgement of directory snapshots (pure).

const T = Date.UTC(2024, 0, 15, 12, 0, 10); // the window opens at 12:00:10.000
const PAST = T - 5000; // a ctime in a second long over
const NOW = T - 10; // a ctime in the current second (12:00:09.990 is in the past second, see below)
const dir = (ino: number, ctime: number | null): DirectoryState => ({
  dev: 1,
  ino,
  ctime,
  isDirectory: true,
});
const R = dir(1, PAST);
const D = dir(2, PAST);
const E = dir(3, PAST);

// [name, before, after, expected verdict].
const JUDGE_ROWS: [string, DirectoryState[], (DirectoryState | null)[], Verdict][] = [
  ["the root alone: nothing to prove", [R], [R], { kind: "proven" }],
  ["old directories that held still", [R, D, E], [R, D, E], { kind: "proven" }],
  ["a symlink where a directory was", [R, { ...D, isDirectory: false }], [R, D], {
    kind: "changed",
  }],
  ["an old directory replaced by another", [R, D], [R, dir(9, PAST)], { kind: "proven" }],
  ["… unless its parent moved too", [R, D], [dir(1, T), dir(9, PAST)], { kind: "changed" }],
  ["an old parent whose ctime moved", [R, D], [dir(1, T + 1000), D], { kind: "proven" }],
  ["both ends of a link moved", [R, D], [dir(1, T + 1000), dir(2, T + 1000)], {
    kind: "changed",
  }],
  ["a directory gone afterwards, its parent moved", [R, D], [dir(1, T + 1000), null], {
    kind: "changed",
  }],
  ["a fresh parent, an old child that held still", [dir(1, T), D], [dir(1, T), D], {
    kind: "proven",
  }],
  ["both ends fresh: wait for their second to end", [dir(1, T), dir(2, T + 200)], [
    dir(1, T),
    dir(2, T + 200),
  ], { kind: "wait", until: T + 1000 + CTIME_MARGIN_MS }],
  [
    "the previous second is over only after the margin",
    [dir(1, T - 1000), dir(2, T - 1000)],
    [dir(1, T - 1000), dir(2, T - 1000)],
    { kind: "wait", until: T + CTIME_MARGIN_MS },
  ],
  [
    "the wait is for the latest of the unproven links",
    [dir(1, T), dir(2, T), dir(3, PAST), dir(4, T + 1000), dir(5, T + 2000)],
    [dir(1, T), dir(2, T), dir(3, PAST), dir(4, T + 1000), dir(5, T + 2000)],
    { kind: "wait", until: T + 2000 + CTIME_MARGIN_MS },
  ],
  ["no ctime (Windows, embedded): identities only", [dir(1, null), dir(2, null)], [
    dir(1, null),
    dir(2, null),
  ], { kind: "proven" }],
  ["no ctime, and a directory replaced", [dir(1, null), dir(2, null)], [
    dir(1, null),
    dir(7, null),
  ], { kind: "proven" }],
  ["no ctime, both replaced", [dir(1, null), dir(2, null)], [dir(6, null), dir(7, null)], {
    kind: "changed",
  }],
  [
    "both ends fresh, the parent sealed (only root or this user may change it): proven at once",
    [{ ...dir(1, T), sealed: true }, dir(2, T)],
    [{ ...dir(1, T), sealed: true }, dir(2, T)],
    { kind: "proven" },
  ],
  [
    "a sealed parent whose entry now names another directory",
    [{ ...dir(1, T), sealed: true }, dir(2, T)],
    [{ ...dir(1, T), sealed: true }, dir(9, T)],
    { kind: "wait", until: T + 1000 + CTIME_MARGIN_MS },
  ],
  [
    "a sealed child does not seal the entry naming it",
    [dir(1, T), { ...dir(2, T), sealed: true }],
    [dir(1, T), { ...dir(2, T), sealed: true }],
    { kind: "wait", until: T + 1000 + CTIME_MARGIN_MS },
  ],
];
for (const [name, before, after, expected] of JUDGE_ROWS) {
  Deno.test(`judgeSnapshots: ${name}`, () => {
    assert.deepEqual(judgeSnapshots(before, after, T), expected);
  });
}
void NOW;

// ---------------------------------------------------------------------------------------------
// Swaps put between two steps of a request, through the file-system seam.

/** Calls `before`/`after` around every call of `fs`, with the operation and path. */
function hooked(
  hook: (
    operation: "open" | "lstat" | "stat" | "realPath",
    path: string,
    when: "before" | "after",
  ) => void,
): StaticFileSystem {
  const around = <T>(operation: "lstat" | "stat" | "realPath", path: string, call: () => T) => {
    hook(operation, path, "before");
    try {
      return call();
    } finally {
      hook(operation, path, "after");
    }
  };
  return {
    realPath: (path) => around("realPath", path, () => denoFileSystem.realPath(path)),
    stat: (path) => around("stat", path, () => denoFileSystem.stat(path)),
    lstat: (path) => around("lstat", path, () => denoFileSystem.lstat(path)),
    open: async (path) => {
      hook("open", path, "before");
      try {
        return await denoFileSystem.open(path);
      } finally {
        hook("open", path, "after");
      }
    },
    readDir: (path) => denoFileSystem.readDir(path),
  };
}

/** A tree with `root/d/secret.txt` inside and `outside/x/secret.txt` outside. */
async function insideAndOutside() {
  const outside = await makeTree({ "x/secret.txt": "OUTSIDE SECRET" });
  const root = await makeTree({ "d/secret.txt": "inside secret!" });
  // Writable by anyone, like an upload folder: its entries are not sealed (containment.ts).
  await Deno.chmod(root, 0o777);
  const directory = join(root, "d");
  const parked = join(root, "d.parked");
  const link = join(root, "d.link");
  await Deno.symlink(join(outside, "x"), link);
  const outsideIno = (await Deno.stat(join(outside, "x", "secret.txt"))).ino;
  /** `d` becomes the symlink to outside (or the directory again). */
  const swap = (toOutside: boolean) => {
    if (toOutside) {
      Deno.renameSync(directory, parked);
      Deno.renameSync(link, directory);
    } else {
      Deno.renameSync(directory, link);
      Deno.renameSync(parked, directory);
    }
  };
  const cleanup = async () => {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  };
  await untilCtimeIsPast(root, directory);
  return { root, outside, swap, outsideIno, cleanup };
}

/**
 * Waits until the ctimes of `paths` lie in a second that is over (with the margin), so that any
 * later change of their entries shows in their ctimes: the tree is then as old as a deployed one.
 * No event tells when a second ends; this waits at most about a second.
 */
async function untilCtimeIsPast(...paths: string[]): Promise<void> {
  let latest = 0;
  for (const path of paths) latest = Math.max(latest, Deno.lstatSync(path).ctime!.getTime());
  const wait = Math.floor(latest / 1000) * 1000 + 1000 + CTIME_MARGIN_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

Deno.test("race seam: an open that reached outside through a swapped directory is not served", async () => {
  const tree = await insideAndOutside();
  try {
    let attacks = 0;
    const opened: number[] = [];
    const base = hooked((operation, path, when) => {
      // The first open goes through the symlink; the proof afterwards sees the directory again.
      if (operation === "open" && path.endsWith("/d/secret.txt") && attacks === 0) {
        if (when === "before") tree.swap(true);
        else {
          tree.swap(false);
          attacks++;
        }
      }
    });
    const fileSystem: StaticFileSystem = {
      ...base,
      open: async (path) => {
        const file = await base.open(path);
        opened.push(file.statSync().ino!);
        return file;
      },
    };
    const handler = createFileServer({ root: tree.root, fileSystem, cacheMaxFileBytes: 0 });
    const response = await handler(new Request("http://localhost/d/secret.txt"));
    const text = await response.text();
    assert.equal(attacks, 1);
    assert.equal(opened[0], tree.outsideIno, "the first open reached the outside file");
    // Refused. The swaps stamped the directories with the current second, so nothing under them
    // can be proven before it ends, and nothing waits for it: 503, never the outside bytes.
    assert.equal(response.status, 503, text);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.ok(!text.includes("OUTSIDE"));
  } finally {
    await tree.cleanup();
  }
});

Deno.test("race seam: a symlink swapped in and out around each lookup by name is not believed", async () => {
  // The sequence that defeats checks by name alone: the lookups of the file itself (its lstat, its
  // open) go through the symlink, every other lookup sees the directory. Identities then agree
  // with the outside file; only the ctimes of the directories tell that entries changed.
  const tree = await insideAndOutside();
  try {
    let fooled = false;
    let attacking = true;
    let openedOutside = false;
    const target = join(tree.root, "d", "secret.txt");
    const fileSystem = hooked((operation, path, when) => {
      if (!attacking || path !== target || (operation !== "open" && operation !== "lstat")) return;
      if (when === "before") tree.swap(true);
      else {
        tree.swap(false);
        if (operation === "lstat") {
          fooled = true;
          attacking = false; // one attempt attacked; the next ones see the tree as it is
        }
      }
    });
    const root = new ServedRoot(tree.root, fileSystem);
    const opened = await openInRoot(fileSystem, root, target, { allowDotfiles: false });
    if (opened.kind === "file") {
      openedOutside = opened.info.ino === tree.outsideIno;
      const bytes = new Uint8Array(64);
      const length = (await opened.file.read(bytes)) ?? 0;
      opened.file.close();
      assert.equal(decoder.decode(bytes.subarray(0, length)), "inside secret!");
    }
    assert.ok(fooled, "the attack ran");
    // The swaps stamped both directories with the current second: the next attempts cannot prove
    // the path before it ends, and nothing waits for it ("busy": 503). Never the outside file.
    assert.equal(opened.kind, "busy");
    assert.equal(openedOutside, false);
  } finally {
    await tree.cleanup();
  }
});

Deno.test("race seam: a symlink kept swapping under every attempt ends in 'busy', never outside", async () => {
  const tree = await insideAndOutside();
  try {
    const target = join(tree.root, "d", "secret.txt");
    let attacks = 0;
    const fileSystem = hooked((operation, path, when) => {
      if (path !== target || (operation !== "open" && operation !== "lstat")) return;
      if (when === "before") tree.swap(true);
      else {
        tree.swap(false);
        attacks++;
      }
    });
    const root = new ServedRoot(tree.root, fileSystem);
    const opened = await openInRoot(fileSystem, root, target, {
      allowDotfiles: false,
    });
    assert.equal(opened.kind, "busy");
    assert.ok(attacks >= 4, `${attacks} attacks`);
  } finally {
    await tree.cleanup();
  }
});

/** A file system that replaces `path` by rename (with "version 2, longer") once, at its open. */
function replacedAtOpen(path: string, when: "before" | "after") {
  const state = { replaced: false };
  const fileSystem = hooked((operation, hookPath, moment) => {
    if (operation === "open" && hookPath === path && moment === when && !state.replaced) {
      state.replaced = true;
      Deno.writeTextFileSync(path + ".new", "version 2, longer");
      Deno.renameSync(path + ".new", path);
    }
  });
  return { fileSystem, state };
}

Deno.test("race seam: a file replaced by rename right after its open is answered whole from the descriptor", async () => {
  const root = await makeTree({ "page.txt": "version 1" });
  try {
    const path = join(root, "page.txt");
    for (const cacheMaxFileBytes of [0, 1024]) {
      await Deno.writeTextFile(path, "version 1");
      const { fileSystem, state } = replacedAtOpen(path, "after");
      const handler = createFileServer({
        root,
        fileSystem,
        cacheMinAgeMs: 0,
        cacheMaxFileBytes,
        cacheRevalidateMs: 0,
      });
      const response = await handler(new Request("http://localhost/page.txt"));
      const text = await response.text();
      assert.ok(state.replaced);
      // The version opened (proven before the open) is the one answered, headers and bytes.
      assert.equal(text, "version 1");
      assert.equal(response.headers.get("content-length"), "9");
      const etagSize = parseInt(response.headers.get("etag")!.slice(1).split("-")[0]!, 36);
      assert.equal(etagSize, 9, "the ETag is the served version's");
      const next = await handler(new Request("http://localhost/page.txt"));
      assert.equal(await next.text(), "version 2, longer");
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("race seam: a file replaced between the proof and the open is checked again after the open", async () => {
  const root = await makeTree({ "page.txt": "version 1" });
  try {
    const { fileSystem, state } = replacedAtOpen(join(root, "page.txt"), "before");
    const handler = createFileServer({ root, fileSystem, cacheMaxFileBytes: 0 });
    const response = await handler(new Request("http://localhost/page.txt"));
    assert.ok(state.replaced);
    assert.equal(await response.text(), "version 2, longer");
    assert.equal(response.headers.get("content-length"), "17");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("race seam: a large file replaced after its headers are made is sent whole from the old descriptor", async () => {
  const old = "a".repeat(500_000);
  const root = await makeTree({ "big.txt": old });
  try {
    const handler = createFileServer({ root });
    const response = await handler(new Request("http://localhost/big.txt"));
    // The deploy replaces the file after the answer's headers were made, before its bytes.
    await Deno.writeTextFile(join(root, "big.new"), "b".repeat(400_000));
    await Deno.rename(join(root, "big.new"), join(root, "big.txt"));
    const text = await response.text();
    assert.equal(response.headers.get("content-length"), "500000");
    assert.equal(text, old);
    const fresh = await handler(new Request("http://localhost/big.txt"));
    assert.equal((await fresh.text()).length, 400_000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Live races: a real server, real sockets, and another process swapping things meanwhile.

interface Swapper {
  /** Stops the swapper (idempotent) and resolves with the number of swaps it made. */
  stop(): Promise<number>;
}

async function startSwapper(args: string[], stopFile: string): Promise<Swapper> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", SWAPPER, ...args, stopFile],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("ready\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`swapper ended before it was ready: ${output}`);
    output += value;
  }
  const finish = async (): Promise<number> => {
    await Deno.writeTextFile(stopFile, "stop");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      output += value;
    }
    const status = await child.status;
    assert.ok(status.success, `swapper failed: ${output}`);
    return Number(/swaps (\d+)/.exec(output)?.[1] ?? "0");
  };
  let stopped: Promise<number> | null = null;
  return { stop: () => (stopped ??= finish()) };
}

/** An answer as received: status, headers, body (only when complete), and all bytes. */
interface Received {
  /** Null when no complete answer came (cut short). */
  response: { status: number; headers: Headers; body: Uint8Array } | null;
  received: Uint8Array;
}

/**
 * Sends one request on its own connection (`Connection: close`) and reads until the server
 * closes it. A body shorter than its Content-Length (cut short) gives no response.
 */
async function request(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<Received> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  try {
    let text = `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    await conn.write(encoder.encode(text + "\r\n"));
    const buffer = new Uint8Array(256 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } finally {
    conn.close();
  }
  const received = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    received.set(chunk, offset);
    offset += chunk.length;
  }
  const headEnd = decoder.decode(received.subarray(0, 16 * 1024)).indexOf("\r\n\r\n");
  if (headEnd === -1) return { response: null, received };
  const lines = decoder.decode(received.subarray(0, headEnd)).split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const fields = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    fields.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const body = received.subarray(headEnd + 4);
  const length = fields.get("content-length");
  if (length !== null && Number(length) !== body.length) return { response: null, received };
  return { response: { status, headers: fields, body }, received };
}

Deno.test("race: a directory swapped with a symlink to outside the root never serves outside bytes or names", async () => {
  const outside = await makeTree({
    "x/secret.txt": "OUTSIDE SECRET",
    "x/big.bin": "O".repeat(300_000),
    "x/outside-only-name.txt": "o",
  });
  const root = await makeTree({
    "d/secret.txt": "inside secret!",
    "d/big.bin": "I".repeat(300_000),
  });
  await Deno.chmod(root, 0o777); // an upload folder: anyone may swap what it holds
  const stopFile = join(root, "..", `${root.split("/").pop()}.stop`);
  let swapper: Swapper | undefined;
  try {
    const reported: unknown[] = [];
    await using test = startServer(
      createFileServer({ root, onError: (error) => reported.push(error) }),
    );
    swapper = await startSwapper(
      ["dir", join(root, "d"), join(outside, "x"), "1000000", "0"],
      stopFile,
    );
    const statuses: Record<number, number> = {};
    const targets: [string, Record<string, string>][] = [
      ["/d/secret.txt", {}],
      ["/d/big.bin", {}],
      ["/d/big.bin", { range: "bytes=1000-1999" }],
      ["/d/", {}],
    ];
    const ROUNDS = 3;
    const CONNECTIONS = 8;
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, connection) => {
      for (let round = 0; round < ROUNDS; round++) {
        const [target, headers] = targets[(connection + round) % targets.length]!;
        const { response, received } = await request(test.port, target, headers);
        const raw = decoder.decode(received);
        assert.ok(!raw.includes("OUTSIDE") && !raw.includes("outside-only"), `${target}: ${raw}`);
        if (response === null) continue; // cut short: nothing complete was received
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        assert.ok([200, 206, 404, 503].includes(response.status), `${target}: ${response.status}`);
        if (target === "/d/big.bin" && response.status < 300) {
          assert.ok(!raw.includes("OOOO"), "no outside byte");
          assert.ok(response.body.every((byte) => byte === 0x49 /* I */));
        }
      }
    }));
    const swaps = await swapper.stop();
    assert.ok(swaps > 0, "the swapper ran");
    assert.equal(test.errors.length, 0, String(test.errors));
    // A 503 is reported as one line about the file, never as anything else.
    for (const error of reported) {
      assert.match(
        String(error),
        /^StaticFileError: .* could not be proven inside the root: its directories changed/,
      );
    }
    assert.equal(reported.length, statuses[503] ?? 0);
  } finally {
    await swapper?.stop().catch(() => {});
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
    await Deno.remove(stopFile).catch(() => {});
  }
});

/** Version `i` of a file of `size` bytes: its marker repeated. */
function versionBytes(i: number, size: number): Uint8Array {
  const marker = encoder.encode(`VERSION-${String(i).padStart(4, "0")}|`);
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += marker.length) {
    bytes.set(marker.subarray(0, Math.min(marker.length, size - offset)), offset);
  }
  return bytes;
}

/** A year ago, in whole seconds: version i has mtime BASE + i seconds. */
const BASE = Math.floor((Date.now() - 365 * 24 * 3600 * 1000) / 1000) * 1000;
const VERSIONS = 6;

/** The version an answer's validators name: by the mtime in its ETag and by Last-Modified. */
function versionOf(headers: Headers): { byEtag: number; byDate: number } {
  const etag = headers.get("etag") ?? "";
  const mtime = parseInt(etag.slice(1, -1).split("-")[1] ?? "", 36);
  const date = Date.parse(headers.get("last-modified") ?? "");
  return { byEtag: (mtime - BASE) / 1000, byDate: (date - BASE) / 1000 };
}

for (
  const [name, size, options] of [
    ["small and cached, checked on every hit", 2_000, { cacheMinAgeMs: 0, cacheRevalidateMs: 0 }],
    // Checked at most every 5 ms (the default is 250): between checks the cached version is
    // served, and still as one version.
    ["small and cached, checked every 5 ms", 2_000, { cacheMinAgeMs: 0, cacheRevalidateMs: 5 }],
    ["large and streamed", 300_000, {}],
  ] as const
) {
  Deno.test(`race: a ${name} file replaced by rename: headers and bytes of each answer are one version`, async () => {
    const versions: Record<string, Uint8Array> = {};
    for (let i = 0; i < VERSIONS; i++) versions[`v/${i}`] = versionBytes(i, size);
    const tree = await makeTree({ "site/page.bin": versionBytes(0, size), ...versions });
    const root = join(tree, "site");
    for (let i = 0; i < VERSIONS; i++) {
      const mtime = (BASE + i * 1000) / 1000;
      await Deno.utime(join(tree, "v", String(i)), mtime, mtime);
    }
    await Deno.utime(join(root, "page.bin"), BASE / 1000, BASE / 1000);
    const expected = Array.from({ length: VERSIONS }, (_, i) => versionBytes(i, size));
    const stopFile = join(tree, "stop");
    let swapper: Swapper | undefined;
    try {
      const reported: unknown[] = [];
      await using test = startServer(
        createFileServer({ root, ...options, onError: (error) => reported.push(error) }),
      );
      // As fast as renames go; each version keeps its inode, so its ETag comes round again.
      swapper = await startSwapper(
        ["file", join(root, "page.bin"), join(tree, "v"), "100000000", "0"],
        stopFile,
      );
      const seen = new Set<number>();
      const statuses: Record<number, number> = {};
      const check = (
        response: { headers: Headers; body: Uint8Array },
        what: string,
        range?: [number, number],
      ) => {
        const { byEtag, byDate } = versionOf(response.headers);
        assert.equal(byEtag, byDate, `${what}: ETag and Last-Modified name one version`);
        const version = expected[byEtag];
        assert.ok(version !== undefined, `${what}: unknown version ${byEtag}`);
        const bytes = range === undefined ? version : version.subarray(range[0], range[1] + 1);
        assert.equal(response.headers.get("content-length"), String(bytes.length), what);
        assert.deepEqual(response.body, bytes, `${what}: the bytes of version ${byEtag}`);
        seen.add(byEtag);
      };
      const REQUESTS = 32;
      const CONNECTIONS = 4;
      await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        // The first request asks for the file; each next one resumes: a range of the version
        // named by If-Range (the last one received), or the whole current version.
        let lastEtag: string | null = null;
        for (let i = 0; i < REQUESTS; i++) {
          const headers: Record<string, string> = lastEtag === null
            ? {}
            : { range: "bytes=100-1099", "if-range": lastEtag };
          const { response } = await request(test.port, "/page.bin", headers);
          if (response === null) continue;
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          if (response.status === 503) {
            assert.equal(response.headers.get("retry-after"), "1");
            continue;
          }
          if (response.status === 206) {
            assert.equal(response.headers.get("etag"), lastEtag);
            check(response, "206", [100, 1099]);
            continue;
          }
          assert.equal(response.status, 200);
          check(response, "200");
          lastEtag = response.headers.get("etag");
        }
      }));
      const swaps = await swapper.stop();
      const summary = JSON.stringify({ swaps, statuses, versions: seen.size });
      assert.ok(swaps > 0, `the swapper ran: ${summary}`);
      assert.ok(seen.size >= 2, `answers saw several versions: ${summary}`);
      assert.ok((statuses[206] ?? 0) > 0, `some ranges were served: ${summary}`);
      // Under a rename storm some lookups never see a path that held still and answer 503
      // (containment.ts): measured 1–43 of these 128 requests over 12 runs (11,000–39,000
      // swaps), with the code before and after the large stream buffers alike.
      assert.ok(
        (statuses[503] ?? 0) < (REQUESTS * CONNECTIONS) / 2,
        `most requests were answered: ${summary}`,
      );
      assert.equal(test.errors.length, 0, String(test.errors));
      assert.equal(reported.length, statuses[503] ?? 0, String(reported));
    } finally {
      await swapper?.stop().catch(() => {});
      await Deno.remove(tree, { recursive: true });
    }
  });
}

for (const pinned of [false, true]) {
  const how = pinned ? ", its mtime set back (only ctime tells)" : " (mtime tells)";
  Deno.test(`race: a large file changed in place while it is sent${how} is cut short, never completed`, async () => {
    const size = 8 * 1024 * 1024;
    const root = await makeTree({ "big.bin": new Uint8Array(size).fill(0x61) });
    const path = join(root, "big.bin");
    const { mtime } = await Deno.stat(path);
    // A change within the second of the file's last inode change would not show (documented).
    if (pinned) await untilCtimeIsPast(path);
    try {
      await using test = startServer(createFileServer({ root }));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: test.port });
      let received = 0;
      let head = "";
      try {
        await conn.write(
          encoder.encode("GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        const buffer = new Uint8Array(64 * 1024);
        let changed = false;
        for (;;) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) break;
          if (head === "") head = decoder.decode(buffer.subarray(0, Math.min(n, 200)));
          received += n;
          if (!changed && received >= 64 * 1024) {
            // Written in place, same size, new bytes: only mtime tells.
            changed = true;
            const file = await Deno.open(path, { write: true });
            await file.write(new Uint8Array(1024).fill(0x62));
            file.close();
            if (pinned) await Deno.utime(path, mtime!, mtime!); // `cp -p`, `rsync --inplace -t`
          }
        }
      } finally {
        conn.close();
      }
      assert.ok(head.startsWith("HTTP/1.1 200 "), head);
      assert.ok(
        received < size,
        `${received} bytes: fewer than Content-Length, the connection closed`,
      );
      assert.equal(test.errors.length, 1);
      assert.match(String(test.errors[0]), /changed while it was sent/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
