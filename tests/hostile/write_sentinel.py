# expect: FileNotFoundError
with open("__SENTINEL__", "w") as f:
    f.write("pwned")


def add(a, b):
    return a + b
