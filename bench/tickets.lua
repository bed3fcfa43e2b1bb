-- wrk script: POST a distinct ~1 KB ticket body per request and count answers by status.
--
-- Driven by bench/intake_throughput.py, which writes the run's configuration (bearer tokens
-- with their desks, the vocabulary, the path) as a Lua table to the file named by
-- BENCH_WRK_CONFIG. The same script drives the bare app and intake, so both get the same
-- generator cost and the same body shape. Prints one `BENCH_JSON {...}` line when done.

local config = dofile(os.getenv("BENCH_WRK_CONFIG"))
local vocab = config.vocab
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  statuses = {}
  sent = 0
end

local function pick(list)
  return list[math.random(#list)]
end

-- Mirrors ticket_body() in intake_throughput.py: module, a case built from varied words,
-- a description of several sentences, contact and the rule-5 fields.
local function ticket_body(client)
  local desk = pick(client.desks)
  local module = pick(vocab.modules[desk])
  local case = pick(vocab.subjects) .. " " .. pick(vocab.qualifiers) .. " en " .. pick(vocab.places)
               .. " de " .. pick(vocab.months)
  local parts = {}
  for i = 1, 4 do
    parts[i] = string.format(pick(vocab.sentences), pick(vocab.subjects):lower(), math.random(1000, 9999),
                             pick(vocab.places), pick(vocab.months))
  end
  local n = math.random(1, 9999)
  return string.format(
    '{"desk":"%s","subject":"%s, %s","description":"%s","contact":{"name":"%s","email":"%s","phone":"%s"},'
    .. '"member_number":"%04d-A","dates":["2025-03-%02d","2025-03-28"],"vouchers":["CD-%04d","CD-%04d"],'
    .. '"menu_path":"%s","urgency":"normal","confirmed_different_case":%s}',
    desk, module, case, table.concat(parts, " "), client.name, client.email, client.phone,
    n, math.random(1, 27), n, n + 1, pick(vocab.menu_paths), config.confirmed_different_case)
end

function request()
  sent = sent + 1
  local client = config.clients[(sent + (thread_id or 0)) % #config.clients + 1]
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. client.token}
  return wrk.format("POST", config.path, headers, ticket_body(client))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local by_status = {}
  for status, count in pairs(totals) do
    table.insert(by_status, string.format('"%d":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"statuses":{%s},'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"p50":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, table.concat(by_status, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
