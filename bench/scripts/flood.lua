-- Each request carries a distinct invalid key: `wrk ... -s flood.lua -- malformed|unknown`.
local counter = 0
local kind = "malformed"
local prefix = ""

function init(args)
  kind = args[1] or "malformed"
  prefix = tostring(math.random(1, 1000000000))
end

function request()
  counter = counter + 1
  local key
  if kind == "unknown" then
    key = "bk_unknown_" .. prefix .. "_" .. counter -- well-formed, in no store
  else
    local m = counter % 4
    if m == 0 then key = "bad key " .. prefix .. counter          -- a space
    elseif m == 1 then key = "bad,key" .. prefix .. counter       -- a comma
    elseif m == 2 then key = "bk_" .. string.rep("x", 300) .. counter -- longer than maxKeyLength
    else key = "k\195\169y-" .. prefix .. counter end              -- non-ASCII
  end
  return wrk.format("GET", "/bench", { ["X-API-Key"] = key })
end
