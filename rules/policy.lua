-- mtdgate default policy (rules API v1; see rules/README.md).
--
-- compliance(device, policy, ctx)     -> state, level, reasons
-- app_protection(device, policy, ctx) -> action, reasons
--
-- device.vendors lists the connectors in force for compliance on the
-- device's platform (enabled or in error, platform switched on, not
-- unresponsive), sorted by vendor id; device.app_vendors the same for app
-- protection. An entry without a level is a vendor in force that has not
-- reported the device.

local fmt = string.format
local above, maxl = mtd.above, mtd.max

local M = {}

-- Opt-in (rules/app_risk.lua): raise a device's level for ad-hoc signed or
-- unvalidated apps in its inventory. With it on, the engine hands the rules
-- device.apps, which costs a lookup per device.
local USE_APP_RISK = false
local app_risk = USE_APP_RISK and require("app_risk") or nil
M.inventory = USE_APP_RISK

-- Opt-in (rules/tasks.lua): "a critical vulnerability open for more than 14
-- days makes the device noncompliant", from the security tasks Defender's
-- vulnerability management reports (`mtdgate tasks`). With it on, every
-- enrolled device reads device.tasks: a lookup per device, and no device
-- reuses another's decision (see pure below).
local USE_TASKS = false
local tasks = USE_TASKS and require("tasks") or nil

-- A promise: compliance and app_protection depend only on their arguments
-- and keep no state between calls. mtdgate then calls them once per distinct
-- input and reuses the result for devices that look the same to the rules.
-- A call that reads a device-specific field (device.id, previous.since, a
-- report's at or threats, ...) or math.random is not reused, so it stays
-- correct, only slower. Set it to false if you keep state between calls.
M.pure = true

-- "group Executives allows at most low"
local function allowed(policy, key)
  return fmt("group %s allows at most %s", policy.from[key], policy[key])
end

-- "lookout reports high", and when an open threat of the vendor sets that
-- level (above what its latest device report says), which one. v.threat is
-- nil for every other vendor entry, so reading it keeps such devices
-- reusable (pure = true).
local function reports(v)
  local t = v.threat
  if not t then return fmt("%s reports %s", v.vendor, v.level) end
  return fmt("%s reports %s: threat '%s' (%s, %s) open since %s", v.vendor, v.level,
    t.name or t.id, t.id or "no id", t.category, mtd.time(t.since))
end

-- R5: several third-party vendors on one platform must all scan the device;
-- Microsoft Defender for Endpoint is exempt.
local function third_parties(vendors)
  local n = 0
  for _, v in ipairs(vendors) do
    if v.vendor ~= "defender" then n = n + 1 end
  end
  return n
end

-- The reference system's "actions for noncompliance": a device that falls
-- out of compliance is in_grace_period (still allowed) for grace_hours, then
-- noncompliant. The period starts when it first fell out and does not
-- restart while it stays out.
local function grace(device, policy, ctx, level, bad)
  local hours = policy.grace_hours
  if hours > 0 then
    local prev, start = device.previous, ctx.now
    if prev and prev.state == "in_grace_period" then start = prev.since end
    if not (prev and prev.state == "noncompliant") and ctx.now < start + hours * 3600 then
      bad[#bad + 1] = fmt("in grace period until %s (group %s gives %g hours)",
        mtd.time(start + math.floor(hours * 3600)), policy.from.grace_hours, hours)
      return "in_grace_period", level, bad
    end
  end
  return "noncompliant", level, bad
end

function M.compliance(device, policy, ctx)
  if device.management ~= "enrolled" then
    local level = "none"
    for _, v in ipairs(device.app_vendors) do
      if v.level then level = maxl(level, v.level) end
    end
    return "not_evaluated", level,
      { "not enrolled: compliance does not apply; app protection governs its apps" }
  end

  local vendors = device.vendors
  local level, bad, good = "none", {}, {}
  if app_risk then
    local l, why = app_risk.assess(device)
    if l then
      level = l
      local line = fmt("inventory: %s raises the level to %s", why, l)
      if policy.max_level and above(l, policy.max_level) then
        bad[#bad + 1] = line .. "; " .. allowed(policy, "max_level")
      else
        good[#good + 1] = line
      end
    end
  end
  if tasks then
    for _, why in ipairs(tasks.overdue(device, ctx)) do bad[#bad + 1] = why end
  end
  if #vendors == 0 and #bad == 0 and #good == 0 then
    return "compliant", "none", { fmt("no connector in force on %s", device.platform) }
  end

  local several = third_parties(vendors) > 1
  for _, v in ipairs(vendors) do
    if v.level then
      level = maxl(level, v.level)
      if policy.max_level and above(v.level, policy.max_level) then
        bad[#bad + 1] = fmt("%s; %s", reports(v), allowed(policy, "max_level"))
      elseif policy.max_level then
        good[#good + 1] = fmt("%s; %s", reports(v), allowed(policy, "max_level"))
      else
        good[#good + 1] = fmt("%s; no threat level is required", reports(v))
      end
      if v.block_unsupported_os and v.os_supported == false then
        bad[#bad + 1] = fmt("%s reports an unsupported OS version; block_unsupported_os is on", v.vendor)
      end
    elseif v.block_missing_data then
      bad[#bad + 1] = fmt("%s has not reported this device; block_missing_data is on", v.vendor)
    elseif several and v.vendor ~= "defender" then
      bad[#bad + 1] = fmt("missing scan: %s is in force on %s beside another vendor and has not reported this device",
        v.vendor, device.platform)
    else
      good[#good + 1] = fmt("%s has not reported this device yet", v.vendor)
    end
  end
  if #bad > 0 then return grace(device, policy, ctx, level, bad) end
  return "compliant", level, good
end

-- R8: the level that counts for app protection. With Defender and a third
-- party both reporting, app_partner_priority picks; unset, the higher counts.
local function app_level(device, policy)
  local defender, third
  for _, v in ipairs(device.app_vendors) do
    if v.level then
      if v.vendor == "defender" then
        defender = v
      elseif not third or above(v.level, third.level) then
        third = v
      end
    end
  end
  local p = policy.app_partner_priority
  if defender and third then
    if p == "defender" then return defender end
    if p == "third_party" then return third end
    return above(defender.level, third.level) and defender or third
  end
  return defender or third
end

function M.app_protection(device, policy, ctx)
  if not policy.app_max_level or #device.app_vendors == 0 then
    return "none"
  end
  local v = app_level(device, policy)
  if not v then
    return "none"
  end
  if above(v.level, policy.app_max_level) then
    return policy.app_action, {
      fmt("apps: %s; %s, action %s", reports(v), allowed(policy, "app_max_level"),
        policy.app_action) }
  end
  return "none", { fmt("apps: %s; %s", reports(v), allowed(policy, "app_max_level")) }
end

return M
