-- range.lua - wrk script: every request asks for a random, 4 KiB-aligned
-- span of a large file with a Range header. Arguments after "--": the file
-- size and the span in bytes (default 64 MiB and 64 KiB). Loads report.lua
-- for the JSON summary.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local size, span

init = function(args)
  size = tonumber(args[1]) or 64 * 1024 * 1024
  span = tonumber(args[2]) or 64 * 1024
  math.randomseed(12345)
end

request = function()
  local first = math.random(0, math.floor((size - span) / 4096)) * 4096
  return wrk.format(nil, nil, {["Range"] = string.format("bytes=%d-%d", first, first + span - 1)})
end
