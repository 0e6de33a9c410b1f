/**
 * A certificate and its private key, checked once before the server listens: a TLS server whose
 * key does not match its certificate would otherwise fail every handshake, and a certificate
 * given as a file name would fail them all with a message about parsing.
 *
 * Each problem is a TypeError with one sentence saying what is wrong and what to do: not PEM
 * (with a hint when it looks like a file name, or when certificate and key are swapped), a
 * certificate of the chain that does not parse, an encrypted or unreadable key, a key that is not
 * the certificate's. The checks parse with `node:crypto` (`X509Certificate`, `createPrivateKey`,
 * `checkPrivateKey`), the same PEM the TLS stack then loads: the blocks checked are what
 * {@linkcode CheckedCertifiedKey.pem} hands on.
 *
 * As with `Deno.serve`, a file may hold the certificate chain and the key together (either
 * order, the same text passed as `cert` and as `key`): `cert` is its CERTIFICATE blocks, `key`
 * its one PRIVATE KEY block; other blocks (`EC PARAMETERS`, say) are ignored.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import { nodeCrypto } from "./node_builtins.ts";

/** A certificate chain and its private key, in PEM. */
export interface CertifiedKey {
  /** The chain, the server's own certificate first. */
  readonly cert: string;
  /** The private key of the first certificate. */
  readonly key: string;
}

/** What the checks learned about the certificate, for start-up messages. */
export interface CertificateSummary {
  /** The first certificate's subject, one line (`CN=example.com`). */
  readonly subject: string;
  /** Certificates in the chain. */
  readonly chainLength: number;
  /** When the first certificate becomes valid. */
  readonly validFrom: Date;
  /** When the first certificate expires. */
  readonly validTo: Date;
}

/** A certificate and key that passed the checks. */
export interface CheckedCertifiedKey extends CertificateSummary {
  /** The blocks that were checked, alone: the chain's CERTIFICATE blocks and the key's block. */
  readonly pem: CertifiedKey;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_LABEL = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/;
const PRIVATE_KEY_BLOCK =
  /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/** True for text that looks like a file name rather than PEM (one line, no PEM armour). */
function looksLikePath(text: string): boolean {
  return !text.includes("\n") && !text.includes("-----") && text.length < 4096 &&
    /[/\\.]/.test(text);
}

function notPem(what: "cert" | "key", text: string, expected: string): TypeError {
  if (looksLikePath(text)) {
    return new TypeError(
      `${what} must be the PEM text, not a file name (${JSON.stringify(text)}): read the file ` +
        `first, e.g. Deno.readTextFileSync(${JSON.stringify(text)})`,
    );
  }
  if (what === "cert" && PRIVATE_KEY_LABEL.test(text)) {
    return new TypeError("cert holds a private key, not a certificate: are cert and key swapped?");
  }
  if (what === "key" && text.includes("-----BEGIN CERTIFICATE-----")) {
    return new TypeError("key holds a certificate, not a private key: are cert and key swapped?");
  }
  return new TypeError(`${what} is not PEM: it has no ${expected} block`);
}

/**
 * Checks that `cert` holds a PEM certificate chain and `key` the PEM private key of its first
 * certificate (in one block; `cert` and `key` may be the same text holding both). Throws a
 * TypeError saying what is wrong; returns what it learned and the blocks checked.
 *
 * @example
 * ```ts
 * import { checkCertifiedKey } from "./certificate.ts";
 * try {
 *   checkCertifiedKey({ cert: "./cert.pem", key: "./key.pem" });
 * } catch (error) {
 *   console.log((error as Error).message); // cert must be the PEM text, not a file name (...)
 * }
 * ```
 */
export function checkCertifiedKey(pair: CertifiedKey): CheckedCertifiedKey {
  const { cert, key } = pair;
  if (typeof cert !== "string" || cert.trim() === "") {
    throw new TypeError("cert must be the certificate chain in PEM (a non-empty string)");
  }
  if (typeof key !== "string" || key.trim() === "") {
    throw new TypeError("key must be the private key in PEM (a non-empty string)");
  }
  const blocks = cert.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw notPem("cert", cert, "-----BEGIN CERTIFICATE-----");
  // Loaded outside the checks below, so that a missing built-in is not called a bad certificate.
  const { X509Certificate, createPrivateKey } = nodeCrypto();
  const chain = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      const which = blocks.length === 1
        ? "the certificate"
        : `certificate ${index + 1} of the chain`;
      throw new TypeError(`cert: ${which} cannot be read: ${reason(error)}`);
    }
  });
  const begun = PRIVATE_KEY_LABEL.exec(key)?.[1];
  if (begun === undefined) throw notPem("key", key, "-----BEGIN PRIVATE KEY-----");
  const keyBlocks = [...key.matchAll(PRIVATE_KEY_BLOCK)];
  if (keyBlocks.length === 0) {
    throw new TypeError(`key: the ${begun} block has no -----END ${begun}----- line`);
  }
  if (keyBlocks.length > 1) {
    throw new TypeError(
      `key holds ${keyBlocks.length} private keys; give only the certificate's own key`,
    );
  }
  const [keyBlock, label] = keyBlocks[0]! as unknown as [string, string];
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw new TypeError(
      "key is encrypted with a passphrase, which the server cannot enter: give it the key " +
        "unencrypted (openssl pkey -in key.pem -out key-plain.pem)",
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBlock);
  } catch (error) {
    throw new TypeError(`key: the ${label} cannot be read: ${reason(error)}`);
  }
  const leaf = chain[0]!;
  const subject = leaf.subject.replaceAll("\n", ", ");
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TypeError(
      `key does not match the certificate (${subject}): it is the key of another certificate`,
    );
  }
  return {
    subject,
    chainLength: chain.length,
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
    pem: { cert: blocks.join("\n") + "\n", key: keyBlock + "\n" },
  };
}
