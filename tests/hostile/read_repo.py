# expect: FileNotFoundError
source = open("__REPO__/pyproject.toml").read()


def add(a, b):
    return a + b
