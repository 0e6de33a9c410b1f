/**
 * Throwaway certificates for the HTTPS tests, made at test time with openssl (Debian's `openssl`
 * package; `.ci/run` installs it): a certificate authority, a server certificate it signed for
 * `localhost` and 127.0.0.1, and the broken material a server must refuse at start (a key of
 * another certificate, an encrypted key). Made once per test process in a temporary directory,
 * removed at exit.
 *
 * @module
 */

import { join } from "node:path";
import { findBinary, runProgram } from "./binaries.ts";

/** The openssl program, or null (tests that need it are then ignored, saying why). */
export const openssl: string | null = findBinary("openssl", "/usr/bin/openssl");

/** Why the HTTPS tests are ignored on a machine without openssl. */
export const NO_OPENSSL = "openssl is not installed (apt-get install openssl; .ci/run does)";

/** The PEM files of one test run. */
export interface TlsFixtures {
  /** Directory holding the files. */
  readonly dir: string;
  /** The certificate authority's certificate (what clients trust). */
  readonly caFile: string;
  readonly ca: string;
  /** The server's certificate (signed by the CA, for localhost and 127.0.0.1) and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /** The same key in the traditional SEC1 form (`EC PRIVATE KEY`). */
  readonly keySec1: string;
  /** Another certificate's key: does not match `cert`. */
  readonly otherKey: string;
  /** `key`, encrypted with a passphrase. */
  readonly encryptedKey: string;
  /** A self-signed certificate (CA:TRUE, as `openssl req -x509` makes) and its key. */
  readonly selfSignedFile: string;
  readonly selfSignedKeyFile: string;
}

let fixtures: Promise<TlsFixtures> | null = null;

async function run(args: string[], cwd: string): Promise<void> {
  const result = await runProgram(openssl!, args, { cwd });
  if (result.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
}

async function make(): Promise<TlsFixtures> {
  if (openssl === null) throw new Error(NO_OPENSSL);
  const dir = await Deno.makeTempDir({ prefix: "sockserve_tls_" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone.
    }
  });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=sockserve test CA",
  ], dir);
  await run(
    ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    dir,
  );
  await Deno.writeTextFile(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n" +
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ], dir);
  await run(["ec", "-in", "server.key", "-out", "server-sec1.key"], dir);
  await run([
    "pkcs8",
    "-topk8",
    "-in",
    "server.key",
    "-out",
    "server-encrypted.key",
    "-passout",
    "pass:secret",
  ], dir);
  await run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "self.key",
    "-out",
    "self.pem",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ], dir);
  const read = (name: string) => Deno.readTextFile(join(dir, name));
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    ca: await read("ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    cert: await read("server.pem"),
    key: await read("server.key"),
    keySec1: await read("server-sec1.key"),
    otherKey: await read("ca.key"),
    encryptedKey: await read("server-encrypted.key"),
    selfSignedFile: join(dir, "self.pem"),
    selfSignedKeyFile: join(dir, "self.key"),
  };
}

/**
 * The certificates of this test process (made on first use).
 *
 * @example
 * ```ts ignore
 * const tls = await tlsFixtures();
 * await using server = serve({ port: 0, cert: tls.cert, key: tls.key }, handler);
 * ```
 */
export function tlsFixtures(): Promise<TlsFixtures> {
  fixtures ??= make();
  return fixtures;
}
