return { default = { max_level = lvl } }
