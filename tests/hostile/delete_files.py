# expect: FileNotFoundError
import shutil

shutil.rmtree("__SENTINEL_DIR__")


def add(a, b):
    return a + b
