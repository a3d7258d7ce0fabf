# expect: FileNotFoundError
secret = open("__SENTINEL__").read()


def add(a, b):
    return a + b
