/**
 * What a call did, as a string a test can compare: for tests of what a handler may and may not
 * change on the objects it is given.
 *
 * @module
 */

/** What a call did: "changed", or the class and message of what it threw. */
export function attempt(change: () => unknown): string {
  try {
    change();
    return "changed";
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}
