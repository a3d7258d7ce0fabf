# expect: ^test 0: AssertionError: `add\(1, 2\) == expected\[0\]` is false
# setup: "expected = [3, 7]"
# tests: ["assert add(1, 2) == expected[0]", "assert add(2, 5) == expected[1]"]
# The program runs after the setup code and overwrites what the tests read from it. The
# setup's values are reported before the program starts, so the reward still compares with 3.
import sys

expected[:] = [0, 0]  # noqa: F821 - defined by the setup code
expected = [0, 0]
sys.modules["__main__"].expected = [0, 0]


def add(a, b):
    return 0
