-- hang: backtracking in C within the sandbox's limits (64 KiB subject, 256-byte pattern)
string.find(string.rep("a", 65536), string.rep("a*", 24) .. "b")
