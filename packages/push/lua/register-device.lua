-- Stores a push subscription of one user, with now (Redis clock) as its
-- registration time, keeping the createdAt of an earlier registration of the
-- same endpoint, then drops the devices registered longest ago beyond the cap.
-- KEYS[1] the user's device hash; ARGV[1] endpoint, ARGV[2] the subscription
-- as JSON, ARGV[3] devices kept, ARGV[4] createdAt for a new device.
-- Returns the stored JSON.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- Strictly after every other device of the user, so that two registrations
-- within one millisecond still list newest first (at most 10 to look at).
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, other = pcall(cjson.decode, value)
  if ok and type(other) == 'table' and type(other.registeredAt) == 'number' and other.registeredAt >= now then
    now = other.registeredAt + 1
  end
end
local device = cjson.decode(ARGV[2])
device.registeredAt = now
if not device.createdAt then
  local previous = redis.call('HGET', KEYS[1], ARGV[1])
  if previous then
    local ok, old = pcall(cjson.decode, previous)
    if ok and type(old) == 'table' and type(old.createdAt) == 'string' then
      device.createdAt = old.createdAt
    end
  end
  if not device.createdAt then device.createdAt = ARGV[4] end
end
local stored = cjson.encode(device)
redis.call('HSET', KEYS[1], ARGV[1], stored)
local cap = tonumber(ARGV[3])
local count = redis.call('HLEN', KEYS[1])
if count > cap then
  local all = redis.call('HGETALL', KEYS[1])
  local others = {}
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[1] then
      local ok, d = pcall(cjson.decode, all[i + 1])
      local at = 0
      if ok and type(d) == 'table' and type(d.registeredAt) == 'number' then at = d.registeredAt end
      others[#others + 1] = { all[i], at }
    end
  end
  table.sort(others, function(a, b)
    if a[2] == b[2] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  for i = 1, count - cap do
    redis.call('HDEL', KEYS[1], others[i][1])
  end
end
return stored
