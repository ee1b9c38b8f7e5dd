-- GET /api/history?conv=CONV&after=A&limit=L, with A drawn at random from
-- 0..LAST-L so that requests read different pages of a conversation that
-- holds LAST messages.
--   CONV   the conversation (default "d:bob:system", where publish.lua with
--          TO=u:bob writes)
--   LAST   its last seq (default 1000)
--   LIMIT  messages per page (default 50)
-- Usage: API_KEY_FILE=key wrk -s bench/wrk/history.lua http://HOST:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local conv = os.getenv("CONV") or "d:bob:system"
local last = tonumber(os.getenv("LAST") or "1000")
local limit = tonumber(os.getenv("LIMIT") or "50")
local headers = common.headers()
local base = "/api/history?conv=" .. conv .. "&limit=" .. limit .. "&after="

setup = common.setup
done = common.done

function init(args)
  math.randomseed(os.time() + thread_id)
end

function request()
  local after = math.random(0, math.max(0, last - limit))
  return wrk.format("GET", base .. after, headers)
end
