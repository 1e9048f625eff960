-- count.lua - wrk script: stop after N responses (first argument after "--"),
-- sending requests pipelined D deep (second argument, default 1; the
-- batching is pipeline.lua's). With one wrk thread the server serves N
-- requests, plus at most one per connection already in flight.
-- bench/instr.sh uses it to count instructions per request.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "pipeline.lua")

local pipeline_init = init
local n, seen = 1000, 0

init = function(args)
  n = tonumber(args[1]) or n
  pipeline_init({ args[2] or "1" })
end

response = function()
  seen = seen + 1
  if seen >= n then
    wrk.thread:stop()
  end
end
