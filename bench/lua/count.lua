-- count.lua - wrk script: stop after N responses (first argument after "--"),
-- sending requests pipelined D deep (second argument, default 1). With one
-- wrk thread the server serves N requests, plus at most one per connection
-- already in flight. bench/instr.sh uses it to count instructions per request.
local n, seen, batch = 1000, 0, nil

init = function(args)
  n = tonumber(args[1]) or n
  local depth, reqs = tonumber(args[2]) or 1, {}
  for i = 1, depth do
    reqs[i] = wrk.format()
  end
  batch = table.concat(reqs)
end

request = function()
  return batch
end

response = function()
  seen = seen + 1
  if seen >= n then
    wrk.thread:stop()
  end
end
