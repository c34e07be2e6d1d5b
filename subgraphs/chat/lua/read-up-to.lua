-- Removes everything up to a message from one member's unread set.
-- KEYS[1] the unread set; ARGV[1] the read message's sort key, ARGV[2] the
-- sentinel (removal starts after it). Returns the count left, or -1 when the
-- set was lost.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('ZREMRANGEBYLEX', KEYS[1], '(' .. ARGV[2], '[' .. ARGV[1])
return redis.call('ZCARD', KEYS[1]) - 1
