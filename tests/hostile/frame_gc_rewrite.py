# expect: ^test 0: AssertionError
# Walks the frames and the gc up to the harness and rewrites its state: the spec's tests and
# leaves, the queued leaf sources, its tag. The old harness ran the tests it found there, so
# replacing them with `pass` scored 1.0; now the sandbox decides nothing and `add` is never
# defined honestly, so each leaf reports True and the reward's `True == 3` fails.
import gc
import sys

frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()):
        if isinstance(value, dict) and "tests" in value:
            value["tests"] = ["pass"] * len(value["tests"])
        if isinstance(value, dict) and "leaves" in value:
            for leaf in value["leaves"]:
                leaf["source"], leaf["phase"] = "True", "program"
        if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            value[:] = [(i, "True") for i, _ in value]
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, dict) and isinstance(obj.get("tests"), list):
        obj["tests"] = ["pass"] * len(obj["tests"])
