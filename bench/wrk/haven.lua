-- wrk workload for Haven and the plaintext baseline (bench/load.py runs it).
--
--   wrk -s bench/wrk/haven.lua URL -- MODE TOKEN IDS NUMBERS ALERTS MIX
--
-- MODE is read (GET a random person), create (POST a new person), or mixed (reads, creates,
-- searches by document number and alert acknowledgements, weighted by MIX, e.g. "60,15,15,10").
-- IDS, NUMBERS and ALERTS are files with one person id, passport number or alert id a line
-- ("-" for none). Every response is counted by status, so a non-2xx answer is an error even
-- where wrk itself would not count it, and the report is one line of JSON after "WRKJSON ".

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local function read_lines(path)
   local items = {}
   if path == nil or path == "" or path == "-" then
      return items
   end
   for line in io.lines(path) do
      if #line > 0 then
         items[#items + 1] = line
      end
   end
   return items
end

local OPS = { "read", "create", "search", "ack" }

function init(args)
   mode = args[1]
   headers = {
      ["Authorization"] = "Bearer " .. args[2],
      ["Content-Type"] = "application/json",
   }
   ids = read_lines(args[3])
   numbers = read_lines(args[4])
   alerts = read_lines(args[5])
   weights = {}
   if mode == "mixed" then
      local i = 1
      for w in string.gmatch(args[6] or "60,15,15,10", "%d+") do
         weights[OPS[i]] = tonumber(w)
         i = i + 1
      end
   else
      weights[mode] = 1
   end
   total_weight = 0
   for _, op in ipairs(OPS) do
      total_weight = total_weight + (weights[op] or 0)
   end
   math.randomseed(os.time() * 1000 + id)
   created = 0
   sent = { read = 0, create = 0, search = 0, ack = 0 }
   statuses = {}
   non2xx = 0
end

local function pick()
   local r = math.random(total_weight)
   for _, op in ipairs(OPS) do
      r = r - (weights[op] or 0)
      if r <= 0 then
         return op
      end
   end
   return OPS[1]
end

function request()
   local op = pick()
   sent[op] = sent[op] + 1
   if op == "read" then
      return wrk.format("GET", "/api/v1/individuals/" .. ids[math.random(#ids)], headers)
   elseif op == "create" then
      created = created + 1
      local body = string.format(
         '{"full_name":"Load Person %d %d","aliases":[],"nationalities":["KHM"],'
            .. '"current_country":"THA","current_location":"District %d"}',
         id, created, math.random(50))
      return wrk.format("POST", "/api/v1/individuals", headers, body)
   elseif op == "search" then
      return wrk.format("GET", "/api/v1/individuals?document_number="
         .. numbers[math.random(#numbers)], headers)
   else
      return wrk.format("POST", "/api/v1/alerts/" .. alerts[math.random(#alerts)]
         .. "/acknowledge", headers, "")
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

local function encode(value)
   if type(value) == "table" then
      local parts = {}
      for k, v in pairs(value) do
         parts[#parts + 1] = string.format('"%s":%s', tostring(k), encode(v))
      end
      return "{" .. table.concat(parts, ",") .. "}"
   elseif type(value) == "string" then
      return '"' .. value .. '"'
   end
   return string.format("%.17g", value)
end

function done(summary, latency, requests)
   local report = {
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      errors = {
         connect = summary.errors.connect,
         read = summary.errors.read,
         write = summary.errors.write,
         status = summary.errors.status,
         timeout = summary.errors.timeout,
      },
      latency_us = {
         mean = latency.mean,
         max = latency.max,
         p50 = latency:percentile(50),
         p90 = latency:percentile(90),
         p99 = latency:percentile(99),
      },
      non2xx = 0,
      statuses = {},
      sent = { read = 0, create = 0, search = 0, ack = 0 },
   }
   for _, thread in ipairs(threads) do
      report.non2xx = report.non2xx + thread:get("non2xx")
      for status, n in pairs(thread:get("statuses")) do
         report.statuses[status] = (report.statuses[status] or 0) + n
      end
      for op, n in pairs(thread:get("sent")) do
         report.sent[op] = report.sent[op] + n
      end
   end
   io.write("WRKJSON " .. encode(report) .. "\n")
end
