/**
 * HTTPS certificates in PEM as people have them: a file holding the chain and the key together
 * (either order, passed as both `cert` and `key`, as `Deno.serve` accepts), with blocks the TLS
 * stack does not need (`EC PARAMETERS`), served to a real client; and the key text that cannot
 * serve (no key block, several, a block cut short), refused at the call with a sentence saying so.
 */

import assert from "node:assert/strict";
import { serve } from "../server/mod.ts";
import { NO_OPENSSL, openssl, tlsFixtures } from "./support/tls_fixtures.ts";

const ignore = openssl === null;
const noOpenssl = ignore ? ` (ignored: ${NO_OPENSSL})` : "";

/** Serves `cert`/`key` and fetches one response over TLS, trusting the test CA. */
async function servedWith(cert: string, key: string): Promise<string> {
  const tls = await tlsFixtures();
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    () => new Response("over tls\n"),
  );
  const client = Deno.createHttpClient({ caCerts: [tls.ca] });
  try {
    const response = await fetch(`https://localhost:${server.addr.port}/`, { client });
    return await response.text();
  } finally {
    client.close();
  }
}

Deno.test({
  name: "https: one PEM file with the certificate and the key, in either order, serves" + noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const certThenKey = `${tls.cert}${tls.key}`;
    const keyThenCert = `${tls.key}\n${tls.cert}`;
    assert.equal(await servedWith(certThenKey, certThenKey), "over tls\n");
    assert.equal(await servedWith(keyThenCert, keyThenCert), "over tls\n");
    // The chain with its CA, the SEC1 key after EC PARAMETERS (what `openssl ecparam -genkey`
    // writes), and text around the blocks.
    const params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    const everything = `Bag Attributes: none\n${tls.cert}${tls.ca}${params}${tls.keySec1}`;
    assert.equal(await servedWith(everything, everything), "over tls\n");
  },
});

Deno.test({
  name: "https: key text without exactly one whole private key is refused, saying which" +
    noOpenssl,
  ignore,
  async fn() {
    const tls = await tlsFixtures();
    const cut = tls.key.slice(0, tls.key.indexOf("-----END"));
    const cases: [string, RegExp][] = [
      [tls.cert, /key holds a certificate, not a private key: are cert and key swapped\?/],
      [
        `${tls.key}${tls.otherKey}`,
        /key holds 2 private keys; give only the certificate's own key/,
      ],
      [`${tls.cert}${tls.key}${tls.keySec1}`, /key holds 2 private keys/],
      [cut, /key: the PRIVATE KEY block has no -----END PRIVATE KEY----- line/],
      [`${tls.cert}${tls.otherKey}`, /key does not match the certificate \(CN=localhost\)/],
    ];
    for (const [key, message] of cases) {
      assert.throws(
        () =>
          serve(
            { hostname: "127.0.0.1", port: 0, cert: tls.cert, key, onListen() {} },
            () => new Response("never\n"),
          ),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    }
  },
});
