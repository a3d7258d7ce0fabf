# expect: SystemExit
raise SystemExit(0)
