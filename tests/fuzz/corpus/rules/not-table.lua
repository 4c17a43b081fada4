return "default"
