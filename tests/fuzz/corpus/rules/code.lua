-- computed groups, string and table helpers of the sandbox
local levels = { "secured", "low", "medium", "high" }
local t = {}
for i, l in ipairs(levels) do
  t[string.format("G%d", i)] = { max_level = l, app_max_level = levels[#levels - i + 1] }
end
local s = ("Executives,Sales"):gsub("%s", "")
for name in s:gmatch("[^,]+") do t[name] = { max_level = mtd.max("low", "secured") } end
t.default = { max_level = mtd.above("high", "low") and "medium" or "low" }
assert(utf8.len("é") == 1 and math.floor(2.5) == 2 and table.concat({ "a", "b" }) == "ab")
return t
