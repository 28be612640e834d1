-- wrk script for hsd's failover test: counts every response that is not a
-- 200 carrying exactly the expected body.  Usage:
--   wrk -t2 -c50 -d10s -s check_body.lua URL -- EXPECTED_BODY_FILE
-- done() prints "bad N total M" summed over all threads.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	local path = args[1] or os.getenv("HSD_EXPECTED_BODY")
	if path == nil then
		error("check_body.lua: give the expected body file after --")
	end
	local f = assert(io.open(path, "rb"))
	expected = f:read("*a")
	f:close()
	bad = 0
	total = 0
end

function response(status, headers, body)
	total = total + 1
	if status ~= 200 or body ~= expected then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local b, t = 0, 0
	for _, thread in ipairs(threads) do
		b = b + thread:get("bad")
		t = t + thread:get("total")
	end
	io.write(string.format("bad %d total %d\n", b, t))
end
