# expect: PermissionError|AssertionError
import os

leaked = b""
for pid in os.listdir("/proc"):
    if pid.isdigit():
        leaked += open(f"/proc/{pid}/environ", "rb").read()
assert b"__SECRET_ENV__" in leaked


def add(a, b):
    return a + b
