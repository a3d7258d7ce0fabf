# expect: KeyError
import os

secret = os.environ["__SECRET_ENV__"]


def add(a, b):
    return a + b
