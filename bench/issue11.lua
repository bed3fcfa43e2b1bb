-- wrk script of the issue 11 bench (bench/issue11.py): a mixed load on intake.
--
-- Most requests open a ticket (POST /api/tickets, unconfirmed: every one goes through rule 6's
-- duplicate-case check), from customers of many organisations; the rest are messages of a
-- customer on one of his own recent tickets, answers of an agent of the ticket's desk, and
-- closes (an agent ends a ticket he answered, so the open set per organisation stays what a
-- help desk has, not everything ever opened). The configuration (tokens, vocabulary, shares) is a
-- Lua table in the file named by BENCH_WRK_CONFIG. wrk does not say which request an answer
-- belongs to: each request carries its kind and client in X-Correlation-Id, which intake echoes.
-- Prints one `BENCH_JSON {...}` line with flat counts "<kind>:<status>" and "refused".

local config = dofile(os.getenv("BENCH_WRK_CONFIG"))
local vocab = config.vocab
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  counts = {}
  sent = 0
  mine = {}        -- client index -> list of its open ticket numbers (most recent last)
  answerable = {SOPORTE = {}, IMPLANTACIONES = {}}  -- desk -> list of {number, client} open tickets
  answered = {SOPORTE = {}, IMPLANTACIONES = {}}    -- desk -> {number, client} answered by an agent
  closed = {}      -- number -> true
end

local KIND_TICKET, KIND_MESSAGE, KIND_ANSWER, KIND_CLOSE = 1, 2, 3, 4
local KEEP = 400  -- recent tickets remembered per list

local function pick(list)
  return list[math.random(#list)]
end

local function push(list, item)
  table.insert(list, item)
  if #list > KEEP then table.remove(list, 1) end
end

local function take(list)
  -- a random open entry, removed from the list; nil when none
  while #list > 0 do
    local i = math.random(#list)
    local item = list[i]
    list[i] = list[#list]
    list[#list] = nil
    local number = type(item) == "table" and item[1] or item
    if not closed[number] then return item end
  end
  return nil
end

local function desk_of(number)
  return number:sub(1, 3) == "IMP" and "IMPLANTACIONES" or "SOPORTE"
end

-- Mirrors ticket_body() in issue11.py: module, a case with its own voucher number (a case
-- customers tell apart by the number), a description of several sentences, contact details.
local function ticket_body(client)
  local desk = pick(client.desks)
  local module = pick(vocab.modules[desk])
  local case = pick(vocab.subjects) .. " " .. math.random(1000, 99999) .. " " .. pick(vocab.qualifiers) .. " en "
               .. pick(vocab.places) .. " de " .. pick(vocab.months)
  local parts = {}
  for i = 1, 4 do
    parts[i] = string.format(pick(vocab.sentences), pick(vocab.subjects):lower(), math.random(1000, 9999),
                             pick(vocab.places), pick(vocab.months))
  end
  local n = math.random(1, 9999)
  return string.format(
    '{"desk":"%s","subject":"%s, %s","description":"%s","contact":{"name":"%s","email":"%s","phone":"%s"},'
    .. '"member_number":"%04d-A","dates":["2025-03-%02d","2025-03-28"],"vouchers":["CD-%04d","CD-%04d"],'
    .. '"menu_path":"%s","urgency":"normal"}',
    desk, module, case, table.concat(parts, " "), client.name, client.email, client.phone,
    n, math.random(1, 27), n, n + 1, pick(vocab.menu_paths))
end

local function correlation(kind, client)
  return string.format("00000000-%04x-4%03x-8000-%012x", client, kind, sent)
end

local function post(kind, client, token, path, body)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
                   ["X-Correlation-Id"] = correlation(kind, client)}
  return wrk.format("POST", path, headers, body)
end

local function new_ticket()
  local c = sent % #config.clients + 1
  local client = config.clients[c]
  return post(KIND_TICKET, c, client.token, "/api/tickets", ticket_body(client))
end

function request()
  sent = sent + 1
  local r = math.random()
  local s = config.shares
  if r < s.message then
    local c = math.random(#config.clients)
    local list = mine[c]
    local number = list and #list > 0 and list[math.random(#list)]
    if number and not closed[number] then
      return post(KIND_MESSAGE, c, config.clients[c].token, "/api/tickets/" .. number .. "/messages",
                  string.format('{"body":"%s"}', pick(vocab.customer_messages)))
    end
  elseif r < s.message + s.answer then
    local desk = pick({"SOPORTE", "IMPLANTACIONES"})
    local item = take(answerable[desk])
    if item then
      push(answered[desk], item)
      return post(KIND_ANSWER, 0, pick(config.agents[desk]), "/api/tickets/" .. item[1] .. "/messages",
                  string.format('{"body":"%s"}', pick(vocab.agent_answers)))
    end
  elseif r < s.message + s.answer + s.close then
    local desk = pick({"SOPORTE", "IMPLANTACIONES"})
    local item = take(answered[desk])
    if item then
      closed[item[1]] = true
      return post(KIND_CLOSE, 0, pick(config.agents[desk]), "/api/tickets/" .. item[1] .. "/close",
                  '{"reason":"closed_by_agent"}')
    end
  end
  return new_ticket()
end

function response(status, headers, body)
  local id = headers["X-Correlation-Id"] or headers["x-correlation-id"] or ""
  local client, kind = id:match("^%x+%-(%x+)%-4(%x%x%x)%-")
  kind = kind and tonumber(kind, 16) or 0
  client = client and tonumber(client, 16) or 0
  local key = kind .. ":" .. status
  counts[key] = (counts[key] or 0) + 1
  if kind == KIND_TICKET then
    if status == 201 then
      local number = body:match('"number"%s*:%s*"([^"]+)"')
      if number then
        mine[client] = mine[client] or {}
        push(mine[client], number)
        local desk = desk_of(number)
        push(answerable[desk], {number, client})
      end
    elseif status == 409 and body:find("R6_DUPLICATE_OPEN_CASE", 1, true) then
      counts["refused"] = (counts["refused"] or 0) + 1
    end
  end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("counts")) do
      totals[key] = (totals[key] or 0) + count
    end
  end
  local items = {}
  for key, count in pairs(totals) do
    table.insert(items, string.format('"%s":%d', key, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"counts":{%s},'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"p50":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, table.concat(items, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
