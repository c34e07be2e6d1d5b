-- Recreates a lost unread set, unless another request did meanwhile.
-- KEYS[1] the unread set; ARGV[1] the sentinel, ARGV[2..] the sort keys of
-- the unread messages. Returns the count.
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('ZCARD', KEYS[1]) - 1 end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
return redis.call('ZCARD', KEYS[1]) - 1
