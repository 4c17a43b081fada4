-- Opt-in example: a device's app inventory as a source of risk.
-- Enable it in policy.lua (USE_APP_RISK = true); the engine then hands the
-- rules device.apps (mtdgate inventory import).
--
-- An ad-hoc signed app (not from the App Store, signed for a few devices)
-- or an app that failed validation raises the device's level to the level
-- below. Edit the levels, or the checks, to taste.
local M = {
  adhoc_signed = "medium",
  unvalidated = "medium",
}

-- The highest level the inventory calls for, and what called for it;
-- nil when nothing does.
function M.assess(device)
  local level, why
  for _, a in ipairs(device.apps or {}) do
    local l, w
    if a.adhoc_signed then
      l, w = M.adhoc_signed, "ad-hoc signed app " .. a.app_id
    elseif a.validated == false then
      l, w = M.unvalidated, "unvalidated app " .. a.app_id
    end
    if l and (not level or mtd.above(l, level)) then
      level, why = l, w
    end
  end
  return level, why
end

return M
