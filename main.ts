/**
 * sockserve command line: serves a directory over HTTP/1.1.
 *
 * @module
 */

if (import.meta.main) {
  // Wired up by the CLI work (issue 3).
}
