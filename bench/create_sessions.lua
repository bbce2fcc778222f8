-- wrk script: POST a session request to a new table each time, counting 201s and the rest.
-- Each connection walks its own slice of the tables so no two requests race for one table.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  created = 0
  other = 0
  slice = tonumber(args[1])
  offset = tonumber(args[2])
  prefix = args[3]
  first = offset + id * slice
  n = 0
end

function request()
  n = n + 1
  local number = first + ((n - 1) % slice) + 1
  return wrk.format("POST", prefix .. number .. "/session",
    {["Content-Type"] = "application/json"}, '{"customerName": "Bench Diner"}')
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    o = o + thread:get("other")
  end
  io.write(string.format("COUNT created %d\nCOUNT other %d\n", c, o))
end
