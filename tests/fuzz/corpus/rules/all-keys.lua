return {
  default    = { max_level = "medium", app_max_level = "low", app_action = "block",
                 app_partner_priority = "defender" },
  Executives = { max_level = "secured", app_action = "wipe" },
  Sales      = { app_max_level = "high", app_action = "warn", app_partner_priority = "third_party" },
  a          = {},
}
