-- wrk workload for bench/scale.py: one endpoint, a bearer token, every status counted.
--
--   wrk -s bench/wrk/scale_people.lua URL -- MODE TOKEN IDS
--
-- MODE is read (GET /api/v1/individuals/{id}, cycling through the ids in the file IDS, one a
-- line) or create (POST /api/v1/individuals, a new invented person each time). A non-2xx answer
-- is an error even where wrk would not count it. The report is one line of JSON after
-- "SCALEJSON ".

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1]
   headers = {
      ["Authorization"] = "Bearer " .. args[2],
      ["Content-Type"] = "application/json",
   }
   ids = {}
   if mode == "read" then
      for line in io.lines(args[3]) do
         if #line > 0 then
            ids[#ids + 1] = line
         end
      end
   end
   counter = math.random(1, 1000000)
   ok, failed = 0, 0
end

function request()
   counter = counter + 1
   if mode == "read" then
      return wrk.format("GET", "/api/v1/individuals/" .. ids[counter % #ids + 1], headers)
   end
   local body = string.format(
      '{"full_name":"Bench Person %d","nationalities":["KHM"],"current_country":"THA"}', counter)
   return wrk.format("POST", "/api/v1/individuals", headers, body)
end

function response(status, _headers, _body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      failed = failed + 1
   end
end

function done(summary, latency, _requests)
   local good, bad = 0, 0
   for _, thread in ipairs(threads) do
      good = good + thread:get("ok")
      bad = bad + thread:get("failed")
   end
   local errors = summary.errors
   io.write(string.format(
      'SCALEJSON {"requests":%d,"duration_us":%d,"ok":%d,"non_2xx":%d,' ..
      '"socket_errors":%d,"p50_ms":%.2f,"p99_ms":%.2f}\n',
      summary.requests, summary.duration, good, bad,
      errors.connect + errors.read + errors.write + errors.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
