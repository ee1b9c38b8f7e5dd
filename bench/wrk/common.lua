-- Shared by the bench/wrk/*.lua scripts (loaded with dofile from the same
-- directory): the API key, per-thread unique ids, and a machine-readable
-- summary line.
--
-- wrk runs one Lua state per thread plus one for setup() and done(); each
-- script's request() runs in its thread's state. Environment:
--   API_KEY_FILE  the file given to the server's --api-key-file (its first
--                 line is the key, sent as "Authorization: Bearer <key>")
--   RUN_ID        a prefix that makes cmids unique across runs against the
--                 same server (default: the start time and a random number)

local M = {}

-- The key from API_KEY_FILE, trailing whitespace removed; "" when unset.
function M.api_key()
  local path = os.getenv("API_KEY_FILE")
  if path == nil or path == "" then return "" end
  local f = assert(io.open(path, "r"), "cannot open API_KEY_FILE " .. path)
  local key = f:read("*l") or ""
  f:close()
  return (key:gsub("%s+$", ""))
end

function M.headers(extra)
  local h = { ["Authorization"] = "Bearer " .. M.api_key() }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

-- setup(): gives every thread a number, so that its cmids are its own.
local threads = 0
local run_id = os.getenv("RUN_ID")
if run_id == nil or run_id == "" then
  math.randomseed(os.time())
  run_id = os.time() .. "-" .. math.random(1, 1000000)
end
function M.setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
  thread:set("run_id", run_id)
end

-- done(): one line that bench/http_api.sh parses. Latencies in microseconds;
-- errors are wrk's socket errors plus responses with a status >= 400.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d req_s=%.0f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "mean_us=%.0f connect_err=%d read_err=%d write_err=%d timeouts=%d bad_status=%d bytes=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout, e.status, summary.bytes))
end

return M
