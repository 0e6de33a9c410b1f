# syntax=docker/dockerfile:1

# sockserve container image: the standalone sockserve executable serving a static site.
#
#   docker build -t sockserve:0.1.0 .                          # fast, deterministic checks
#   docker build --build-arg TESTS=full -t sockserve:0.1.0 .   # the whole suite, as CI runs it
#   docker run --rm -p 8080:8080 sockserve:0.1.0                                # the demo site
#   docker run --rm -p 8080:8080 -v "$PWD/site:/srv/www:ro" sockserve:0.1.0     # your site
#
# tests/deploy_test.ts checks this file against the code (version, user, port, signal, probe).

# Build stage: the Deno release the project is tested with (.ci/run pins the same version), so the
# executable in the image is built by the toolchain the test suite ran on.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY . .
# Compile first: it fetches Deno's runtime (denort) into DENO_DIR, where the compile tests find
# it, so that with TESTS=full they build and run real executables inside this build instead of
# reporting themselves skipped (TESTS=quick leaves them out).
RUN deno task compile
# TESTS=quick (default): format, lint, type and doc checks, publish dry run and the tests that
# depend on no timing (deno task test:quick, about a minute), so a slow or busy builder does not
# fail the image. TESTS=full: the whole suite, timing-sensitive attack and soak tests included (CI
# runs it on every change). TESTS=none: no checks, for a quick local rebuild.
ARG TESTS=quick
RUN case "$TESTS" in \
      quick) deno task test:quick ;; \
      full) deno task test ;; \
      none) ;; \
      *) echo "TESTS must be quick, full or none, not '$TESTS'" >&2; exit 2 ;; \
    esac

# Runtime stage: glibc and libgcc (all a Deno executable links against); no shell, no package
# manager, nothing to exploit besides the server itself.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/dist/sockserve /usr/local/bin/sockserve
# The demo site; replace it with a volume at /srv/www or a COPY in an image built FROM this one.
COPY --from=build /src/site /srv/www
# distroless's "nonroot" user, given by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# HOST: every interface, or the published port would reach nothing.
ENV PORT=8080 HOST=0.0.0.0
# At most two glibc malloc arenas: each thread (the compression worker, file I/O threads) otherwise
# gets its own, which keeps its freed memory. Measured with tools/measure_memory.ts (857 files, 32
# clients, 5 runs each): peak RSS 183-224 MiB without, 154-177 MiB with.
ENV MALLOC_ARENA_MAX=2
EXPOSE 8080
# SIGTERM starts sockserve's graceful shutdown (finish in-flight requests, then exit 0).
STOPSIGNAL SIGTERM
# The server writes where it listens to the state file (the one file the executable may write),
# and the probe reads it: the health check follows the port however it was set (PORT, --port in
# the command) and probes the server's own health path, whatever the site holds. The image has
# no curl: the executable probes itself. Docker's timeout is above the subcommand's own (3 s), so
# a slow answer is reported by sockserve rather than killed.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/sockserve", "healthcheck", "--state-file", "/tmp/sockserve.json"]
# Arguments of `docker run IMAGE ...` replace CMD and follow these, so the state file stays.
ENTRYPOINT ["/usr/local/bin/sockserve", "--state-file", "/tmp/sockserve.json"]
CMD ["/srv/www"]
