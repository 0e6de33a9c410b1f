/**
 * The raw HTTP/1.1 GET the harness uses to check that a server answers (readiness, warm-up of
 * the idle-memory scenarios, bench/idle_client.ts): no `fetch`, so that no pool holds extra
 * connections to the server.
 *
 * @module
 */

/** Deadline for one readiness or probe request (connect, write, read). */
export const PROBE_TIMEOUT_MS = 2_000;

/** The result of {@linkcode httpGet}: the connection is left open for the caller. */
export interface ProbeResponse {
  /** Response status code. */
  status: number;
  /** Body bytes received (by Content-Length). */
  bodyBytes: number;
  /** The still-open connection (keep-alive), to hold or close. */
  connection: Deno.Conn;
}

const HEAD_END = new Uint8Array([13, 10, 13, 10]);

function indexOfSequence(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * One keep-alive GET over a raw socket, reading exactly one Content-Length-framed response.
 * Raw rather than `fetch` so that no connection pool holds extra connections to the server.
 * With `caCert`, over TLS (handshake included) trusting only that PEM certificate. Fails after
 * {@linkcode PROBE_TIMEOUT_MS}.
 *
 * @example
 * ```ts
 * const { status, connection } = await httpGet(8000, "/");
 * connection.close();
 * ```
 */
export async function httpGet(
  port: number,
  path: string,
  caCert?: string,
): Promise<ProbeResponse> {
  const connection = caCert === undefined
    ? await Deno.connect({ hostname: "127.0.0.1", port })
    : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
  const timer = setTimeout(() => {
    try {
      connection.close();
    } catch {
      // Already closed by the caller's error path.
    }
  }, PROBE_TIMEOUT_MS);
  try {
    const request = new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: sockserve-bench\r\n\r\n`,
    );
    let written = 0;
    while (written < request.length) written += await connection.write(request.subarray(written));
    let received = new Uint8Array(0);
    const buffer = new Uint8Array(16 * 1024);
    let headEnd = -1;
    while (headEnd < 0) {
      const count = await connection.read(buffer);
      if (count === null) throw new Error("connection closed before the response head ended");
      const joined = new Uint8Array(received.length + count);
      joined.set(received);
      joined.set(buffer.subarray(0, count), received.length);
      received = joined;
      headEnd = indexOfSequence(received, HEAD_END);
    }
    const head = new TextDecoder().decode(received.subarray(0, headEnd));
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (Number.isNaN(status) || lengthMatch === null) {
      throw new Error(`unexpected response head: ${head.slice(0, 200)}`);
    }
    const bodyBytes = Number(lengthMatch[1]);
    let bodyReceived = received.length - headEnd - HEAD_END.length;
    while (bodyReceived < bodyBytes) {
      const count = await connection.read(buffer);
      if (count === null) throw new Error("connection closed inside the body");
      bodyReceived += count;
    }
    clearTimeout(timer);
    return { status, bodyBytes, connection };
  } catch (error) {
    clearTimeout(timer);
    try {
      connection.close();
    } catch {
      // Closed by the timer.
    }
    throw error;
  }
}
