-- stats.lua -- summary statistics over seeds, as the reports use them.
--
--   stats.mean_ci(xs)      mean and the half-width of its 95% confidence
--                          interval, Student t with n-1 degrees of freedom
--   stats.quantile(xs, p)  linear interpolation between order statistics
--                          (Hyndman & Fan type 7, R's default)
--   stats.median_iqr(xs)   median, first and third quartile
--   stats.summary(xs)      all of the above in one table
--
-- Infinite values (a target never reached) sort last: they make the mean
-- infinite and count in the quantiles as the largest values.

local stats = {}

-- t_{0.975, df} for df = 1..30 (standard tables).
local t975 = {
  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
  2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
  2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
}

--- The 97.5% quantile of Student's t with df degrees of freedom. Beyond the
-- table: the Cornish-Fisher expansion around z = 1.959964 (error < 1e-4).
function stats.t975(df)
  if df < 1 then return math.huge end
  if df <= 30 then return t975[math.floor(df)] end
  local z = 1.959963985
  local g1 = (z ^ 3 + z) / 4
  local g2 = (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / 96
  local g3 = (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / 384
  return z + g1 / df + g2 / df ^ 2 + g3 / df ^ 3
end

local function sorted_copy(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  return s
end

function stats.mean_ci(xs)
  local n = #xs
  if n == 0 then return nil, nil end
  local sum = 0
  for _, x in ipairs(xs) do sum = sum + x end
  local mean = sum / n
  if n == 1 or mean == math.huge then return mean, nil end
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  local sd = math.sqrt(ss / (n - 1))
  return mean, stats.t975(n - 1) * sd / math.sqrt(n)
end

function stats.quantile(xs, p)
  local s = sorted_copy(xs)
  local n = #s
  if n == 0 then return nil end
  local h = (n - 1) * p + 1
  local lo = math.floor(h)
  local hi = math.min(lo + 1, n)
  local frac = h - lo
  if frac == 0 or s[lo] == s[hi] then return s[lo] end
  if s[hi] == math.huge then return frac > 0 and math.huge or s[lo] end
  return s[lo] + frac * (s[hi] - s[lo])
end

function stats.median_iqr(xs)
  return stats.quantile(xs, 0.5), stats.quantile(xs, 0.25), stats.quantile(xs, 0.75)
end

function stats.summary(xs)
  local mean, ci = stats.mean_ci(xs)
  local med, q1, q3 = stats.median_iqr(xs)
  return { n = #xs, mean = mean, ci95 = ci, median = med, q1 = q1, q3 = q3 }
end

return stats
