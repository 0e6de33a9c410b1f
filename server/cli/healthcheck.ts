/**
 * `sockserve healthcheck`: one GET, healthy on 2xx or 3xx. Container images without curl use it
 * as their HEALTHCHECK, so it must finish within its timeout whatever the server does.
 *
 * The probe speaks HTTP/1.1 itself over the connection it opens (TCP, TLS or a Unix socket) and
 * reads only the status line: redirects are answers (the server is up), and no body is read. Over
 * HTTPS the certificate is verified unless the probe is told not to (`--insecure`, and probes of
 * the server's own state file, whose point is liveness, not the server's identity: a self-signed
 * certificate, or one for a name other than 127.0.0.1, must not make a live server unhealthy).
 *
 * @module
 */

import { connect as connectNodeTls, type TLSSocket } from "node:tls";
import { unixSocketPermissionFlags } from "./permissions.ts";

/** Exit code of a healthy check. */
export const EXIT_HEALTHY = 0;
/** Exit code of an unhealthy check (the only failure code Docker's HEALTHCHECK understands). */
export const EXIT_UNHEALTHY = 1;

/** Longest status line read (a real one is a few dozen bytes). */
const MAX_STATUS_LINE_BYTES = 8 * 1024;

/** Outcome of {@linkcode healthcheck}. */
export interface HealthcheckResult {
  /** True on a 2xx or 3xx answer within the timeout. */
  healthy: boolean;
  /** One line saying what happened, for the container's health log. */
  message: string;
}

/** What to probe: a URL, and how to reach it. */
export interface ProbeTarget {
  /** `http://` or `https://`, with the path to GET. */
  readonly url: string;
  /** Connect to this Unix socket instead of the URL's host and port. */
  readonly unixSocket?: string;
  /** Over HTTPS, accept any certificate. */
  readonly insecure?: boolean;
}

/** The little the probe needs of a connection. */
interface ProbeStream {
  write(bytes: Uint8Array): Promise<void>;
  /** The next bytes, or null at the end. */
  read(): Promise<Uint8Array | null>;
  close(): void;
}

function denoStream(conn: Deno.Conn): ProbeStream {
  const buffer = new Uint8Array(4096);
  return {
    async write(bytes) {
      for (let offset = 0; offset < bytes.length;) {
        offset += await conn.write(bytes.subarray(offset));
      }
    },
    async read() {
      const n = await conn.read(buffer);
      return n === null ? null : buffer.slice(0, n);
    },
    close() {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** A `node:tls` client that accepts any certificate (no permission beyond --allow-net needed). */
function insecureTlsStream(hostname: string, port: number): Promise<ProbeStream> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let ended = false;
    let failure: Error | null = null;
    let wake: (() => void) | null = null;
    const notify = () => {
      const waiting = wake;
      wake = null;
      waiting?.();
    };
    const isIp = /^[\d.]+$/.test(hostname) || hostname.includes(":");
    const socket: TLSSocket = connectNodeTls({
      host: hostname,
      port,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
      ...(isIp ? {} : { servername: hostname }),
    });
    socket.on("data", (chunk: Uint8Array) => {
      chunks.push(chunk);
      notify();
    });
    socket.on("end", () => {
      ended = true;
      notify();
    });
    socket.on("close", () => {
      ended = true;
      notify();
    });
    socket.on("error", (error: Error) => {
      failure = error;
      notify();
      reject(error);
    });
    socket.on("secureConnect", () =>
      resolve({
        write: (bytes) =>
          new Promise((done, fail) => socket.write(bytes, (e) => e ? fail(e) : done())),
        async read() {
          while (chunks.length === 0 && !ended && failure === null) {
            await new Promise<void>((resume) => wake = resume);
          }
          if (chunks.length > 0) return chunks.shift()!;
          if (failure !== null) throw failure;
          return null;
        },
        close: () => socket.destroy(),
      }));
  });
}

async function open(url: URL, target: ProbeTarget): Promise<ProbeStream> {
  if (target.unixSocket !== undefined) {
    return denoStream(await Deno.connect({ transport: "unix", path: target.unixSocket }));
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const https = url.protocol === "https:";
  const port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
  if (!https) return denoStream(await Deno.connect({ hostname, port }));
  if (target.insecure === true) return await insecureTlsStream(hostname, port);
  return denoStream(await Deno.connectTls({ hostname, port, alpnProtocols: ["http/1.1"] }));
}

/** Sends the GET and reads the status line; returns the status code and reason phrase. */
async function exchange(stream: ProbeStream, url: URL): Promise<[number, string]> {
  const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    "User-Agent: sockserve-healthcheck\r\nConnection: close\r\n\r\n";
  await stream.write(new TextEncoder().encode(request));
  let head = "";
  const decoder = new TextDecoder("latin1");
  while (!head.includes("\r\n")) {
    if (head.length > MAX_STATUS_LINE_BYTES) throw new Error("the status line is too long");
    const bytes = await stream.read();
    if (bytes === null) throw new Error("the connection closed before an answer");
    head += decoder.decode(bytes, { stream: true });
  }
  const line = head.slice(0, head.indexOf("\r\n"));
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(line);
  if (match === null) {
    throw new Error(`not an HTTP/1.1 answer: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return [Number(match[1]), match[2] ?? ""];
}

/**
 * Sends one GET to the target and reports whether the server is healthy. Redirects are not
 * followed (a 3xx is an answer, so the server is up); the body is not read.
 *
 * @example
 * ```ts
 * import { healthcheck } from "./healthcheck.ts";
 * const result = await healthcheck("http://127.0.0.1:8000/healthz", 3000);
 * console.log(result.message);
 * const viaSocket = await healthcheck(
 *   { url: "http://localhost/healthz", unixSocket: "/run/sockserve/app.sock" },
 *   3000,
 * );
 * console.log(viaSocket.healthy);
 * ```
 */
export async function healthcheck(
  target: string | ProbeTarget,
  timeoutMs: number,
): Promise<HealthcheckResult> {
  const probe: ProbeTarget = typeof target === "string" ? { url: target } : target;
  const url = new URL(probe.url);
  const where = probe.unixSocket === undefined
    ? probe.url
    : `${probe.url} (through unix:${probe.unixSocket})`;
  const opening = open(url, probe);
  const answering = opening.then((stream) => exchange(stream, url));
  // Whatever loses the race below settles later: never as an unhandled rejection.
  answering.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const answer = await Promise.race([answering, timedOut]);
    if (answer === "timeout") {
      return {
        healthy: false,
        message: `unhealthy: no answer from ${where} within ${timeoutMs}ms`,
      };
    }
    const [code, reason] = answer;
    const status = `${code}${reason === "" ? "" : ` ${reason}`}`;
    const healthy = code >= 200 && code < 400;
    return {
      healthy,
      message: `${healthy ? "healthy" : "unhealthy"}: ${where} answered ${status}`,
    };
  } catch (error) {
    const reason = probe.unixSocket !== undefined && error instanceof Deno.errors.NotCapable
      // Deno connects to a Unix socket only with read, write and net permission for its path.
      ? `no permission to connect: run deno with ${unixSocketPermissionFlags(probe.unixSocket)}`
      : error instanceof Error
      ? error.message.split("\n")[0]
      : String(error);
    return { healthy: false, message: `unhealthy: ${where}: ${reason}` };
  } finally {
    clearTimeout(timer);
    // The connection, as soon as it is open (now, or when a slow connect completes).
    opening.then((stream) => stream.close(), () => {});
  }
}
