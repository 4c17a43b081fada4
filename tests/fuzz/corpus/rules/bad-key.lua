return { default = { max_level = "low", colour = "red" } }
