# expect: Read-only file system
with open("/usr/lib/rlpost-pwned", "w") as f:
    f.write("pwned")


def add(a, b):
    return a + b
