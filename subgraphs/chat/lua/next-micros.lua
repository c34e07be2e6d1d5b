-- The time of a conversation's next message: Unix microseconds from Redis's
-- clock, strictly after the previous message's, so ids of one conversation
-- are ordered however many instances send.
-- KEYS[1] the conversation's clock; ARGV[1] how long the clock is kept (ms).
-- Returns the microseconds as a string (a Lua number would lose digits).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now <= last then now = last + 1 end
redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', ARGV[1])
return string.format('%.0f', now)
