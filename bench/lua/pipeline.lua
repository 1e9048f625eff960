-- pipeline.lua - wrk script: send requests pipelined N deep (default 16; pass
-- the depth after "--" on wrk's command line). Every request in a batch is
-- the same GET; wrk counts each response separately. Loads report.lua for
-- the JSON summary.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local batch

init = function(args)
  local depth = tonumber(args[1]) or 16
  local reqs = {}
  for i = 1, depth do
    reqs[i] = wrk.format()
  end
  batch = table.concat(reqs)
end

request = function()
  return batch
end
