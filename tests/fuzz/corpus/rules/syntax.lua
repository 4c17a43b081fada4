return { default = { max_level = "low" }
