-- Adds or extends sockets of one user and keeps their last-seen time.
-- KEYS[1] the user's socket set, KEYS[2] their last-seen key; ARGV[1] ttl ms,
-- ARGV[2] last-seen ttl ms, ARGV[3..] socket ids. Drops the user's lapsed
-- sockets and keeps the whole set alive for one ttl: the newest expiry is
-- now + ttl, so a set nobody extends any more disappears by itself.
--
-- The time is Redis's (TIME), not the caller's: router instances and the
-- services reading presence run on different machines whose clocks may
-- disagree by more than a heartbeat interval. Writing the server's time keeps
-- every expiry comparable with the `now` readers get from the same server.
-- Scripts may call TIME before writing since Redis 5 (effects replication).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local expiry = string.format('%.0f', now + tonumber(ARGV[1]))
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], expiry, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], string.format('%.0f', now), 'PX', ARGV[2])
return 1
