-- hang: C work the instruction budget does not count (2 MB copied per call)
for i = 1, 1e9 do local s = string.rep("x", 2000000) end
