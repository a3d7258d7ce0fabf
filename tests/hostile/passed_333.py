# expect: ^test 0: harness output line \d+: not a leaf record
# One user scored 333: the old reward summed `passed` as given. Records are now read strictly
# (a leaf record has exactly `leaf` and `value`, or `leaf`, `error` and `timeout`) and the
# reward counts one bool per test itself.
import json
import os
import sys

frame = sys._getframe()
while frame is not None and "tag" not in frame.f_locals:
    frame = frame.f_back
tag, out = frame.f_locals["tag"], frame.f_locals["out"]
os.write(out, f"{tag} {json.dumps({'leaf': 0, 'passed': 333, 'value': ['int', '14d']})}\n".encode())
os.write(out, f"{tag} {json.dumps({'test': 0, 'passed': 333})}\n".encode())
os._exit(0)
