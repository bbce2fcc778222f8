-- wrk script: POST an order of three lines as one diner after another, counting 201s.
-- args: a file of diner tokens (one a line) and a file holding the JSON body to send.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function lines(path)
  local found = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(found, line) end
  end
  return found
end

function init(args)
  created = 0
  other = 0
  tokens = lines(args[1])
  body = table.concat(lines(args[2]), "\n")
  n = 0
end

function request()
  n = n + 1
  local token = tokens[(n - 1) % #tokens + 1]
  return wrk.format("POST", "/api/customer/orders",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
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
