return {
  default = { max_level = "severe" },
}
