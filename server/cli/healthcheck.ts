/**
 * `sockserve healthcheck [URL]`: one GET, healthy on 2xx or 3xx. Container images without curl
 * use it as their HEALTHCHECK, so it must finish within its timeout whatever the server does.
 *
 * @module
 */

/** Exit code of a healthy check. */
export const EXIT_HEALTHY = 0;
/** Exit code of an unhealthy check (the only failure code Docker's HEALTHCHECK understands). */
export const EXIT_UNHEALTHY = 1;

/** Outcome of {@linkcode healthcheck}. */
export interface HealthcheckResult {
  /** True on a 2xx or 3xx answer within the timeout. */
  healthy: boolean;
  /** One line saying what happened, for the container's health log. */
  message: string;
}

/**
 * Sends one GET to `url` and reports whether the server is healthy. Redirects are not followed
 * (a 3xx is an answer, so the server is up); the body is not read.
 *
 * @example
 * ```ts
 * import { healthcheck } from "./healthcheck.ts";
 * const result = await healthcheck("http://127.0.0.1:8000/", 3000);
 * console.log(result.message);
 * ```
 */
export async function healthcheck(
  url: string,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<HealthcheckResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      redirect: "manual",
      signal,
      headers: { "user-agent": "sockserve-healthcheck" },
    });
  } catch (error) {
    if (signal.aborted) {
      return { healthy: false, message: `unhealthy: no answer from ${url} within ${timeoutMs}ms` };
    }
    const reason = error instanceof Error ? error.message : String(error);
    return { healthy: false, message: `unhealthy: ${url}: ${reason}` };
  }
  await response.body?.cancel().catch(() => {});
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const healthy = response.status >= 200 && response.status < 400;
  return { healthy, message: `${healthy ? "healthy" : "unhealthy"}: ${url} answered ${status}` };
}
