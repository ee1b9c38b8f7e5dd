-- POST /api/publish, every request with a fresh cmid ("<run>-<thread>-<n>").
--   TO      "u:bob" (default) or "g:team" (create the group first)
--   FROM    the sender (default "system")
--   TEXT    the body's text (default 32 bytes)
-- Usage: API_KEY_FILE=key TO=u:bob wrk -s bench/wrk/publish.lua http://HOST:PORT
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local to = os.getenv("TO") or "u:bob"
local from = os.getenv("FROM") or "system"
local text = os.getenv("TEXT") or string.rep("x", 32)
local headers = common.headers({ ["Content-Type"] = "application/json" })
local prefix
local n = 0

setup = common.setup
done = common.done

function init(args)
  prefix = run_id .. "-" .. thread_id .. "-"
end

function request()
  n = n + 1
  local body = '{"to":"' .. to .. '","from":"' .. from .. '","cmid":"' .. prefix .. n ..
               '","body":{"text":"' .. text .. '"}}'
  return wrk.format("POST", "/api/publish", headers, body)
end
