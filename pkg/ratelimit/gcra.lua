-- GCRA: one request against the budget in KEYS[1].
-- ARGV[1] emission interval (Per/Rate), ARGV[2] burst tolerance, ARGV[3] now
-- or -1 for the server's clock; all in microseconds.
-- The key holds the theoretical arrival time (TAT) and expires when the
-- budget is full again. Returns {1, 0} when allowed, {0, wait} when refused.
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end

local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end

tat = tat + interval
-- Microseconds since 1970 need 16 digits; format them as an integer, since
-- Redis turns Lua numbers into strings with only 14 significant digits.
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
return {1, 0}
