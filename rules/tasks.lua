-- Opt-in example: security tasks (Defender's vulnerabilities and security
-- recommendations, `mtdgate tasks`) as a compliance rule. Enable it in
-- policy.lua (USE_TASKS = true).
--
-- "A critical vulnerability open for more than 14 days makes the device
-- noncompliant": a vulnerability task at min_severity or above whose vendor
-- first saw it more than max_days ago. Edit the numbers, or add a rule for
-- recommendations, to taste.
local fmt = string.format

local M = {
  max_days = 14,
  min_severity = "critical",
}

local rank = { low = 1, medium = 2, high = 3, critical = 4 }

-- One reason per overdue task, naming it (vendor, task id, CVE, software);
-- an empty list when none is overdue. device.tasks holds the open tasks of
-- the connectors in force for the device.
function M.overdue(device, ctx)
  local bad = {}
  for _, t in ipairs(device.tasks) do
    if t.kind == "vulnerability" and rank[t.severity] >= rank[M.min_severity]
        and ctx.now - t.first_seen > M.max_days * 86400 then
      bad[#bad + 1] = fmt("%s: %s vulnerability %s (task %s)%s open since %s, more than %d days",
        t.vendor, t.severity, t.cve or "without a CVE", t.id,
        t.software and fmt(" in %s %s", t.software, t.version or "") or "",
        mtd.time(t.first_seen), M.max_days)
    end
  end
  return bad
end

return M
