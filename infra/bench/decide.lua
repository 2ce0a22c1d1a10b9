-- wrk: POST /v1/approvals/{id}/decision as the reviewer, each request a different pending
-- approval (ids, one per line, in the file IDS_FILE).
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local counter = 0
local key = os.getenv("REVIEWER_KEY")

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

function init(args)
  n = offset
end

request = function()
  -- Threads interleave over the ids; a repeat (past the end) is an idempotent repeat.
  local id = ids[(n % #ids) + 1]
  n = n + 2
  return wrk.format("POST", "/v1/approvals/" .. id .. "/decision",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"},
    '{"decision": "approved", "comment": "load test"}')
end
