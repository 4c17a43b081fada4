return { default = { max_level = 3 }, [1] = { max_level = "low" } }
