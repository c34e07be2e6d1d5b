-- Adds a message to members' unread sets.
-- KEYS the unread sets (one per call in practice: they live on different
-- Cluster nodes); ARGV[1] the message's sort key, ARGV[2] the cap.
-- A missing set is left missing: it was lost, and is rebuilt from Cassandra
-- on its next read rather than started again half-empty. Beyond the cap the
-- oldest messages go; rank 0 is the sentinel, which stays.
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', key, 0, ARGV[1])
    local extra = redis.call('ZCARD', key) - 1 - tonumber(ARGV[2])
    if extra > 0 then redis.call('ZREMRANGEBYRANK', key, 1, extra) end
  end
end
return 0
