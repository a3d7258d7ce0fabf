# expect: ^test 0: NotPlain: value of more than 8000 parts
# Returns a value meant to cost the reward process: 100,000 items (and a set of ints that
# all hash alike would make the reward's set building quadratic). Values are bounded in parts,
# depth and encoded size before they leave the sandbox, and again when read.
def add(a, b):
    return [(2**61 - 1) * k for k in range(10**5)]
