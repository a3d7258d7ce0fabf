# expect: ^test 0: uncheckable: `check\(add\(1, 2\), 3\)` calls setup-defined `check`
# setup: "def check(value, want):\n    return value == want"
# tests: ["assert check(add(1, 2), 3)", "assert check(add(2, 5), 7)"]
# The tests let a setup helper decide, inside the sandbox, where the program runs after it and
# replaces it. Such a test is refused as uncheckable instead of trusted.
check = lambda *args: True  # noqa: E731


def add(a, b):
    return 0
