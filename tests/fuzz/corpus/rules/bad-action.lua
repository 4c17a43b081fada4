return { default = { app_action = "none" }, Sales = { app_partner_priority = "us" } }
