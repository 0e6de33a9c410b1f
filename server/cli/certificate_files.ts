/**
 * `--cert FILE --key FILE`: the two files read once at start (a renewed certificate is served
 * after a restart; there is no reload on SIGHUP), each problem one line that names the file and
 * what to do: a file that is missing, unreadable for this user, outside `--allow-read`, a
 * directory; and, from the library's check of the PEM text, a certificate or key that cannot
 * serve.
 *
 * @module
 */

import type { CertifiedKey } from "../tls/certificate.ts";

/** The two files of `--cert` and `--key`. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/** Why `file` (of `option`) could not be read, one line. */
function describeReadError(error: unknown, option: string, file: string, files: string): string {
  if (error instanceof Deno.errors.NotFound) return `sockserve: ${option} ${file} does not exist`;
  if (error instanceof Deno.errors.NotCapable) {
    return `sockserve: no permission to read ${option} ${file}: run deno with --allow-read ` +
      `covering it (e.g. --allow-read=ROOT,${files})`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `sockserve: ${option} ${file} is not readable by this user`;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return `sockserve: ${option} ${file} is a directory, not a PEM file`;
  }
  return `sockserve: cannot read ${option} ${file}: ${errorText(error)}`;
}

/**
 * Reads the certificate chain and key files as text. Returns them, or the one-line error to
 * print (nothing is checked here but that they can be read: `serve()` checks the PEM).
 *
 * @example
 * ```ts
 * import { readCertificateFiles } from "./certificate_files.ts";
 * const pair = readCertificateFiles({ certFile: "/no/cert.pem", keyFile: "/no/key.pem" });
 * // "sockserve: --cert /no/cert.pem does not exist"
 * ```
 */
export function readCertificateFiles(files: CertificateFiles): CertifiedKey | string {
  const both = `${files.certFile},${files.keyFile}`;
  let cert: string;
  try {
    cert = Deno.readTextFileSync(files.certFile);
  } catch (error) {
    return describeReadError(error, "--cert", files.certFile, both);
  }
  let key: string;
  try {
    key = Deno.readTextFileSync(files.keyFile);
  } catch (error) {
    return describeReadError(error, "--key", files.keyFile, both);
  }
  return { cert, key };
}

/**
 * The one line for a certificate or key that `serve()` refused (its TypeError), naming the
 * files: which one is wrong is in the error's own words (`cert …`, `key …`).
 *
 * @example
 * ```ts
 * import { describeCertificateError } from "./certificate_files.ts";
 * describeCertificateError(
 *   new TypeError("key does not match the certificate (CN=example.com): ..."),
 *   { certFile: "cert.pem", keyFile: "key.pem" },
 * );
 * // "sockserve: cannot serve HTTPS with --cert cert.pem --key key.pem: key does not match ..."
 * ```
 */
export function describeCertificateError(error: unknown, files: CertificateFiles): string {
  return `sockserve: cannot serve HTTPS with --cert ${files.certFile} --key ${files.keyFile}: ` +
    errorText(error);
}
