/**
 * Type-level parity with `Deno.serve`: options typed with Deno's own declarations (Deno 2.9.6's
 * `Deno.ServeTcpOptions`, `Deno.TlsCertifiedKeyPem`, `Deno.ServeUnixOptions`, `Deno.ServeInit`)
 * are accepted by `serve()` as they are — switching is one import. `deno check` (part of
 * `deno task test`) compiles this file; a declaration of sockserve that is narrower than Deno's
 * fails it ("No overload matches this call"). The tests also run the calls, on real sockets.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { serve, type Server } from "../server/mod.ts";
import { NO_OPENSSL, openssl, tlsFixtures } from "./support/tls_fixtures.ts";

const hello: Deno.ServeHandler<Deno.NetAddr> = () => new Response("hello\n");

Deno.test({
  name: "types: Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem is accepted as it is" +
    (openssl === null ? ` (ignored: ${NO_OPENSSL})` : ""),
  ignore: openssl === null,
  async fn() {
    const tls = await tlsFixtures();
    // automaticCompression is `boolean` in Deno's declarations: `false` must type-check.
    const options: Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem = {
      hostname: "127.0.0.1",
      port: 0,
      cert: tls.cert,
      key: tls.key,
      keyFormat: "pem",
      automaticCompression: false,
      onListen() {},
    };
    await using server: Server<Deno.NetAddr> = serve(options, hello);
    // What Deno.serve returns can be replaced by what serve() returns.
    const asDeno: Deno.HttpServer<Deno.NetAddr> = server;
    assert.equal(asDeno.addr.port, server.addr.port);
    const client = Deno.createHttpClient({ caCerts: [tls.ca] });
    try {
      const response = await fetch(`https://localhost:${server.addr.port}/`, { client });
      assert.equal(await response.text(), "hello\n");
    } finally {
      client.close();
    }
  },
});

Deno.test("types: Deno.ServeUnixOptions is accepted as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sockserve_types_" });
  try {
    const unixOptions = { path: join(dir, "s.sock"), onListen() {} };
    await using server = serve(unixOptions as Deno.ServeUnixOptions, () => new Response("unix\n"));
    const addr: Deno.UnixAddr = server.addr;
    assert.equal(addr.path, unixOptions.path);
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: addr.path } });
    try {
      const response = await fetch("http://localhost/", { client });
      assert.equal(await response.text(), "unix\n");
    } finally {
      client.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("types: Deno.ServeTcpOptions & Deno.ServeInit<Deno.NetAddr> is accepted as it is", async () => {
  const init = {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    handler: (_request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      new Response(`${info.remoteAddr.transport}\n`),
  };
  await using server = serve(init as Deno.ServeTcpOptions & Deno.ServeInit<Deno.NetAddr>);
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(await response.text(), "tcp\n");
});

Deno.test("types: automaticCompression typed as a boolean; true is still refused at run time", () => {
  const compress: boolean = true;
  assert.throws(
    () => serve({ hostname: "127.0.0.1", port: 0, onListen() {}, automaticCompression: compress }),
    TypeError,
  );
});
