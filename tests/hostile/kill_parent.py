# expect: ProcessLookupError
import os

os.kill(int("__PARENT_PID__"), 9)


def add(a, b):
    return a + b
