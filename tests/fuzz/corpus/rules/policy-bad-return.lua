return {}
--@@ policy.lua
return { compliance = function() return 1, {}, "reasons" end,
         app_protection = function() return "explode" end }
