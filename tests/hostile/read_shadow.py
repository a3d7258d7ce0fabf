# expect: FileNotFoundError|PermissionError
shadow = open("/etc/shadow").read()


def add(a, b):
    return a + b
