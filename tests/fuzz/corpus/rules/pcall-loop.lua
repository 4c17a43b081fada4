local function f() local x = 0 for i = 1, 1e9 do x = x + i end end
while true do pcall(f) end
