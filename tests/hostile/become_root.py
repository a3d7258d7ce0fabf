# expect: PermissionError
import os

os.setuid(0)


def add(a, b):
    return a + b
