/**
 * The throwaway certificate of the TLS scenario (T1): a self-signed P-256 certificate for
 * 127.0.0.1 and localhost, made with openssl in the run's temporary directory at start and
 * removed with it. It is an end-entity certificate (`CA:FALSE`), so that a client given it as
 * its only trusted certificate (the readiness probe) accepts it; wrk does not verify.
 *
 * @module
 */

import { join } from "node:path";
import { missingTool } from "./options.ts";
import { hasProgram, oneLine } from "./processes.ts";

/** The PEM files of the run's certificate, and the certificate's text for the probe. */
export interface TlsFiles {
  /** The certificate, PEM. */
  certFile: string;
  /** Its private key (PKCS #8), PEM. */
  keyFile: string;
  /** The certificate's PEM text: what the readiness probe trusts. */
  cert: string;
}

/** Days the certificate is valid: a run takes minutes. */
const VALID_DAYS = 1;

/**
 * Makes the certificate and key in `dir`; returns why not (openssl missing or failing) as a
 * one-line reason for the report.
 *
 * @example
 * ```ts
 * const tls = await makeSelfSignedCertificate(await Deno.makeTempDir());
 * if (typeof tls === "string") console.log(`T1 skipped: ${tls}`);
 * ```
 */
export async function makeSelfSignedCertificate(dir: string): Promise<TlsFiles | string> {
  if (!await hasProgram("openssl")) return missingTool("openssl", "T1 needs a certificate");
  const certFile = join(dir, "bench-cert.pem");
  const keyFile = join(dir, "bench-key.pem");
  const output = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      String(VALID_DAYS),
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "keyUsage=critical,digitalSignature",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    return oneLine(
      `openssl could not make the certificate: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return { certFile, keyFile, cert: await Deno.readTextFile(certFile) };
}
