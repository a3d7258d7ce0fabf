# expect: ^test 0: AssertionError: `add\(1, 2\) == 3` is false
# Returns subclasses of int and list whose __eq__, __index__, __int__, __repr__ and __iter__
# lie. (bool cannot be subclassed.) The harness reads a subclass through its base type's own
# methods, so the reward sees the genuine 0 and [] and compares those.
class LyingInt(int):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False  # noqa: E731
    __hash__ = int.__hash__
    __index__ = __int__ = lambda self: 3  # noqa: E731
    __repr__ = __str__ = lambda self: "3"  # noqa: E731


class LyingList(list):
    def __eq__(self, other):
        return True

    def __iter__(self):
        return iter([3])


def add(a, b):
    return LyingInt(0) if a == 1 else LyingList()
