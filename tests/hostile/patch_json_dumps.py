# expect: ^test 0: harness output line \d+: not a phase record
# Replaces json.dumps so every record the harness writes says the test passed (333 times over).
# The reward reads records strictly: one of an unknown shape fails the whole run.
import json

json.dumps = lambda *a, **k: '{"test": 0, "passed": 333}'
