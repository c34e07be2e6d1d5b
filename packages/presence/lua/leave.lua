-- Removes one socket of a user and records now as their last-seen time: the
-- user was live until this moment either way.
-- KEYS[1] the user's socket set, KEYS[2] their last-seen key; ARGV[1]
-- last-seen ttl ms, ARGV[2] socket id. Drops lapsed sockets too (Redis
-- deletes a set left empty). Returns the sockets left.
--
-- The time is Redis's (TIME), as in touch.lua.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('SET', KEYS[2], string.format('%.0f', now), 'PX', ARGV[1])
return redis.call('ZCARD', KEYS[1])
