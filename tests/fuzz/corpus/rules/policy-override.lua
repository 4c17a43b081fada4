return { default = { max_level = "low" } }
--@@ policy.lua
local M = {}
function M.compliance(device, policy, ctx)
  local r = {}
  for i = 1, 40 do r[i] = device.id .. i end
  return "noncompliant", device.vendors[2] and device.vendors[2].level or "none", r
end
function M.app_protection(device, policy, ctx)
  return policy.app_action or "none", { "x", 7 }
end
return M
