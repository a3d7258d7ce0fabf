# expect: ^test 0: AssertionError
# Installs trace, profile and import hooks that rewrite the harness's locals as it runs (the
# value of every leaf becomes True, every error is dropped) and an audit hook that hides the
# failure. At most this chooses the value a leaf reports; the comparison is the reward's.
import sys


def tracer(frame, event, arg):
    if "value" in frame.f_locals:
        frame.f_locals["value"] = True
    return tracer


class Finder:
    def find_spec(self, name, path, target=None):
        return None


sys.meta_path.insert(0, Finder())
sys.addaudithook(lambda event, args: None)
sys.settrace(tracer)
sys.setprofile(lambda frame, event, arg: None)
frame = sys._getframe()
while frame is not None:
    frame.f_trace = tracer
    frame = frame.f_back


def add(a, b):
    return None
