return { default = { max_level = "low" } }
--@@ policy.lua
-- abort: policy.lua leaves the state at its memory cap; mtd_rules_eval then
-- builds the device table outside a protected call and Lua panics
local M = {}
function M.compliance() return "compliant", "none", {} end
function M.app_protection() return "none", {} end
T = {}
local sz = 1 << 20
while sz >= 8 do
  local ok, s = pcall(string.rep, "x", sz)
  if ok then T[#T + 1] = s else sz = sz // 2 end
end
return M
