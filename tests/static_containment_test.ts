/**
 * Containment without waiting (issue 9): what a request gets when the path to its file cannot be
 * proven inside the root right now (directories changed within the current second), and when Deno
 * refuses to describe the file that was opened (`NotCapable`). Through the file-system seam, with
 * a clock that stands still, so that any wait on a timer would show as a test that never ends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createFileServer } from "../server/static/file_server.ts";
import { denoFileSystem, type StaticFileSystem } from "../server/static/file_system.ts";
import { openInRoot } from "../server/static/open_file.ts";
import { ServedRoot } from "../server/static/served_root.ts";

async function makeTree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sockserve_containment_" }));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
  return dir;
}

for (const sealed of [false, true]) {
  const what = sealed
    ? "only root or this user may change: served at once"
    : "anyone may write to: 503 at once, no timer";
  Deno.test(`containment: fresh nested directories that ${what}`, async () => {
    // Just made: every ctime on the path is in the current second, which nothing can judge until
    // it ends. The clock stands still, so any wait for the second to end would never return.
    const root = await makeTree({ "a/b/page.txt": "fresh" });
    for (const path of ["", "a", "a/b"]) await Deno.chmod(join(root, path), sealed ? 0o755 : 0o777);
    let lstats = 0;
    const fileSystem: StaticFileSystem = {
      ...denoFileSystem,
      lstat: (path) => {
        lstats++;
        return denoFileSystem.lstat(path);
      },
    };
    const frozen = Deno.lstatSync(join(root, "a", "b")).ctime!.getTime() + 1;
    try {
      const served = new ServedRoot(root, fileSystem);
      const opened = await openInRoot(fileSystem, served, join(root, "a", "b", "page.txt"), {
        allowDotfiles: false,
        now: () => frozen,
      });
      if (opened.kind === "file") opened.file.close();
      if (sealed) assert.equal(opened.kind, "file");
      else {
        assert.equal(opened.kind, "busy");
        // 8 attempts, each: a, a/b before; the file; a, a/b after.
        assert.equal(lstats, 8 * 5, "bounded attempts, one after the other");
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("containment: an open whose metadata Deno refuses (NotCapable) reached outside: 404, nothing logged", async () => {
  // What a directory swapped with a symlink during the open gives under a narrow --allow-read:
  // Deno checks an open file's fstat against its real path, outside what may be read.
  const root = await makeTree({ "d/page.txt": "inside" });
  const reported: unknown[] = [];
  try {
    const fileSystem: StaticFileSystem = {
      ...denoFileSystem,
      open: async (path) => {
        const file = await denoFileSystem.open(path);
        return {
          read: (buffer) => file.read(buffer),
          seek: (offset, whence) => file.seek(offset, whence),
          close: () => file.close(),
          statSync: () => {
            throw new Deno.errors.NotCapable(`Requires read access to "/elsewhere/page.txt"`);
          },
        };
      },
    };
    const handler = createFileServer({
      root,
      fileSystem,
      onError: (error) => reported.push(error),
    });
    const response = await handler(new Request("http://localhost/d/page.txt"));
    assert.equal(response.status, 404);
    assert.ok(!(await response.text()).includes("allow-read"));
    assert.deepEqual(reported, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
