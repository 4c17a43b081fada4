-- Example devices with the decisions the rules in this directory must give.
-- Run with: mtdgate rules test [DIR]. Change a rule, change or add a case.
-- Format: rules/README.md, "Rule tests".
return {
  {
    name = "a clean enrolled iPhone is compliant",
    device = { platform = "ios", vendors = { lookout = "secured" } },
    expect = { state = "compliant", level = "secured", access = "allow",
               reasons = { "lookout reports secured; group default allows at most medium" } },
  },
  {
    name = "high on a default device: noncompliant and blocked (R4, R7)",
    device = { platform = "android", vendors = { lookout = "high" } },
    expect = { state = "noncompliant", level = "high", access = "block",
               reasons = { "lookout reports high; group default allows at most medium" } },
  },
  {
    name = "Executives allow at most low",
    device = { platform = "ios", groups = { "Executives" }, vendors = { zimperium = "medium" } },
    expect = { state = "noncompliant", access = "block",
               reasons = { "group Executives allows at most low" } },
  },
  {
    name = "the strictest group wins",
    device = { platform = "ios", groups = { "Sales", "Executives" }, vendors = { lookout = "medium" } },
    expect = { state = "noncompliant", reasons = { "Executives" } },
  },
  {
    name = "no connector in force: compliant, level none",
    device = { platform = "windows" },
    expect = { state = "compliant", level = "none", access = "allow" },
  },
  {
    name = "two third-party vendors, one has not scanned: missing scan (R5)",
    device = { platform = "android", vendors = { lookout = "secured", zimperium = "missing" } },
    expect = { state = "noncompliant", reasons = { "missing scan: zimperium" } },
  },
  {
    name = "Defender beside a third party is exempt from the missing-scan rule (R5)",
    device = { platform = "android", vendors = { lookout = "secured", defender = "missing" } },
    expect = { state = "compliant" },
  },
  {
    name = "block_missing_data: no report from the vendor is noncompliant",
    device = { platform = "ios", vendors = { lookout = { level = "missing", block_missing_data = true } } },
    expect = { state = "noncompliant", reasons = { "block_missing_data" } },
  },
  {
    name = "block_unsupported_os: the vendor says the OS is unsupported",
    device = { platform = "ios",
               vendors = { lookout = { level = "secured", os_supported = false, block_unsupported_os = true } } },
    expect = { state = "noncompliant", reasons = { "unsupported OS" } },
  },
  {
    name = "unenrolled: not compliance-evaluated, apps blocked above low (R8)",
    device = { platform = "android", management = "unenrolled", ownership = "personal",
               app_vendors = { lookout = "medium" } },
    expect = { state = "not_evaluated", level = "medium", app_protection = "block", access = "block",
               reasons = { "apps: lookout reports medium" } },
  },
  {
    name = "app protection: Defender and a third party, unset priority, the higher counts",
    device = { platform = "ios", app_vendors = { defender = "low", lookout = "high" } },
    expect = { app_protection = "block", reasons = { "apps: lookout reports high" } },
  },
}
