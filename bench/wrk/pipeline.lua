-- S5: every write carries 16 requests; wrk counts the requests in the batch and waits for as
-- many responses before it writes the next batch on that connection. bench/wrk.ts appends
-- report.lua to this script for the summary line.
local depth = 16
local batch

init = function(args)
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format("GET", "/")
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
