# expect: ^test 0: NameError: name 'add' is not defined
# Searches the harness's memory (frames, every gc object, argv, the run directory) for the
# test strings to learn the expected values, and defines `add` only if it finds them. The old
# harness held the tests in memory; now only leaf sources such as `add(1, 2)` enter the sandbox.
import gc
import os
import re
import sys

found = {}
texts = [str(v) for v in gc.get_objects() if isinstance(v, (dict, list, tuple))] + sys.argv
frame = sys._getframe()
while frame is not None:
    texts += [str(v) for v in frame.f_locals.values()]
    frame = frame.f_back
for name in os.listdir("."):
    if os.path.isfile(name):
        texts.append(open(name).read())
for text in texts:
    for a, b, value in re.findall(r"add\((\d+), (\d+)\) == (\d+)", text):
        found[(int(a), int(b))] = int(value)
if found:

    def add(a, b):
        return found[(a, b)]
