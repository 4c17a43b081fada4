-- hang: a __gc finalizer runs outside the instruction budget (here while
-- policy.lua is parsed; at the latest in lua_close)
setmetatable({}, { __gc = function() while true do end end })
return { default = { max_level = "low" } }
