local ok, err = pcall(load, "return 1")
assert(not ok)
print("hello")
