-- Per-group thresholds (SPEC 4.4). A group inherits what it does not set from
-- default; a device in several groups gets the strictest of them.
return {
  default    = { max_level = "medium", app_max_level = "low", app_action = "block" },
  Executives = { max_level = "low" },
}
