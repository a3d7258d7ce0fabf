# expect: ^test 0: NotPlain: value of type Liar is not a plain value
# Returns an object equal to everything (and true, hashable, printing as the right answer).
# Only plain builtin values leave the sandbox; anything else is an error for that leaf.
class Liar:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    def __hash__(self):
        return 3

    def __repr__(self):
        return "3"


def add(a, b):
    return Liar()
