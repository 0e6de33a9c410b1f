-- Prints wrk's summary as one JSON line so that bench/wrk.ts need not parse wrk's text output.
-- Latencies are in microseconds; "status" counts responses that were not 2xx or 3xx; cpuSec is
-- wrk's own CPU time (os.clock), so the harness can tell how much CPU other processes took.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"bytes":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,' ..
    '"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,' ..
    '"cpuSec":%.3f}\n',
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout, os.clock()))
end
