# expect: ^test 0: AssertionError: `sorted\(add\(1, 2\)\) == \[1, 2, 3\]` is false
# tests: ["assert sorted(add(1, 2)) == [1, 2, 3]", "assert len(add(1, 2)) == 3"]
# Shadows the builtins the tests apply to the program's value (and patches the builtins module
# too), so that evaluated in the program's process they would return what the tests expect.
# Trusted calls are evaluated by the verifier with its own builtins, on the value alone.
import builtins


def sorted(values):  # noqa: A001 - the attack
    return [1, 2, 3]


def len(values):  # noqa: A001 - the attack
    return 3


builtins.sorted, builtins.len = sorted, len


def add(a, b):
    return [9]
