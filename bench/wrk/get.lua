-- A plain GET of the URL wrk was given (for the /healthz baseline), with the
-- same summary line as the other scripts.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
done = common.done
