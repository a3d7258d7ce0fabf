# expect: ^test 0: harness output line \d+: second record for leaf 0
# At exit, with the tag learned from the harness's frame, writes a passing verdict for every
# test on every descriptor: the old harness kept the last line per test. Now each leaf has
# exactly one record; a second one fails the whole run.
import atexit
import json
import os
import sys

frame = sys._getframe()
while frame is not None and "tag" not in frame.f_locals:
    frame = frame.f_back
tag = frame.f_locals["tag"]


def forge():
    for fd in range(1, 20):
        for i in range(2):
            for record in ({"leaf": i, "value": ["bool", True]}, {"test": i, "passed": True}):
                try:
                    os.write(fd, f"{tag} {json.dumps(record)}\n".encode())
                except OSError:
                    pass


atexit.register(forge)


def add(a, b):
    return 0
