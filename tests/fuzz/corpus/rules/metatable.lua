local g = setmetatable({}, { __index = function() return "low" end, __pairs = error })
g.default = setmetatable({ max_level = "medium" }, { __index = error })
return g
