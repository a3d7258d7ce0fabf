# expect: ^test 0: harness output line \d+: second record for leaf 1
# setup: "expected = [3, 7]"
# tests: ["assert add(1, 2) == expected[0]", "assert add(2, 5) == expected[1]"]
# Forges the record of the setup's value (to [0, 0], which `add` then matches) with the leaked
# tag. The genuine one was written before the program started, so this is a second record
# (and out of phase): the run fails.
import json
import os
import sys

frame = sys._getframe()
while frame is not None and "tag" not in frame.f_locals:
    frame = frame.f_back
tag, out = frame.f_locals["tag"], frame.f_locals["out"]
zeros = ["list", [["int", "0"], ["int", "0"]]]
os.write(out, f"{tag} {json.dumps({'leaf': 1, 'value': zeros})}\n".encode())


def add(a, b):
    return 0
