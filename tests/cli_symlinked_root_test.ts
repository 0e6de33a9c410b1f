// A ROOT reached through a symbolic link, as deployments lay it out (`current -> releases/42`;
// every path under macOS's /tmp): served when --allow-read covers where it leads, deployments
// followed, and otherwise a start-up error naming the --allow-read needed, never a silent 404.
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeSite, runSockserve, startSockserve } from "./cli_helpers.ts";

async function releases(): Promise<string> {
  return await makeSite({
    "releases/42/index.html": "release 42",
    "releases/42/css/site.css": "body { color: red }",
    "releases/43/index.html": "release 43",
    "releases/43/css/site.css": "body { color: blue }",
  });
}

Deno.test("cli: a symlinked ROOT is served when --allow-read covers its target, and a swap of the link is followed", async () => {
  const base = await releases();
  const current = join(base, "current");
  await Deno.symlink("releases/42", current);
  const server = await startSockserve([current, "--host", "127.0.0.1", "--port", "0"], {
    permissions: ["--allow-net", `--allow-read=${current},${join(base, "releases")}`],
  });
  try {
    const get = async (path: string) => {
      const response = await fetch(new URL(path, server.url));
      return { status: response.status, text: await response.text() };
    };
    assert.deepEqual(await get("/"), { status: 200, text: "release 42" });
    assert.deepEqual(await get("/css/site.css"), { status: 200, text: "body { color: red }" });
    // The deployment: a new link renamed over the old one.
    await Deno.symlink("releases/43", current + ".new");
    await Deno.rename(current + ".new", current);
    assert.deepEqual(await get("/index.html"), { status: 200, text: "release 43" });
    assert.deepEqual(await get("/css/site.css"), { status: 200, text: "body { color: blue }" });
    assert.equal(server.stderr.text, "");
  } finally {
    await server.close();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("cli: a symlinked ROOT that --allow-read covers only as written is exit 1 naming both paths --allow-read needs", async () => {
  const base = await releases();
  const current = join(base, "current");
  await Deno.symlink("releases/42", current);
  const target = join(base, "releases", "42");
  try {
    const result = await runSockserve([current, "--port", "0"], {
      permissions: ["--allow-net", `--allow-read=${current}`],
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `sockserve: ROOT ${current} leads to ${target} through a symbolic link, which --allow-read ` +
        `does not cover: run deno with --allow-read=${current},${target}\n`,
    );
    // Doing what the message says is enough: no second message naming another path.
    const flag = /run deno with (--allow-read=\S+)/.exec(result.stderr)![1]!;
    const server = await startSockserve([current, "--host", "127.0.0.1", "--port", "0"], {
      permissions: ["--allow-net", flag],
    });
    try {
      const response = await fetch(server.url);
      assert.equal(await response.text(), "release 42");
      assert.equal(server.stderr.text, "");
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("cli: a symlinked ROOT that --allow-read covers only where it leads is exit 1 naming ROOT and saying its target is needed too", async () => {
  const base = await releases();
  const current = join(base, "current");
  await Deno.symlink("releases/42", current);
  try {
    const result = await runSockserve([current, "--port", "0"], {
      permissions: ["--allow-net", `--allow-read=${join(base, "releases", "42")}`],
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `sockserve: no permission to read ${current}: run deno with --allow-read=${current} ` +
        `(if it is a symbolic link, with where it leads too: --allow-read=${current},TARGET)\n`,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("cli: ROOT switched to a release --allow-read does not cover is a 500 and one line naming the --allow-read needed", async () => {
  const base = await releases();
  const current = join(base, "current");
  await Deno.symlink("releases/42", current);
  const release42 = join(base, "releases", "42");
  const release43 = join(base, "releases", "43");
  const server = await startSockserve([current, "--host", "127.0.0.1", "--port", "0"], {
    permissions: ["--allow-net", `--allow-read=${current},${release42}`],
  });
  try {
    const get = async (path: string) => {
      const response = await fetch(new URL(path, server.url));
      return { status: response.status, text: await response.text() };
    };
    assert.deepEqual(await get("/"), { status: 200, text: "release 42" });
    // A deploy to a directory the permissions do not reach: a configuration problem.
    await Deno.symlink("releases/43", current + ".new");
    await Deno.rename(current + ".new", current);
    const answer = await get("/css/site.css");
    assert.equal(answer.status, 500);
    assert.ok(!answer.text.includes("allow-read"), "the client learns nothing of it");
    const line = await server.stderr.waitFor(/--allow-read/, "the permission line");
    assert.equal(
      line,
      `sockserve: ${current}/css/site.css could not be read (GET /css/site.css): ROOT ${current} ` +
        `now leads to ${release43}, which --allow-read does not cover: run deno with ` +
        `--allow-read=${current},${release43} (or a directory above both)`,
    );
    assert.ok(!server.stderr.text.includes("    at "), "no stack trace");
  } finally {
    await server.close();
    await Deno.remove(base, { recursive: true });
  }
});
