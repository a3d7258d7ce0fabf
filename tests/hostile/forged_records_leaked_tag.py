# expect: ^test 0: AssertionError: `add\(1, 2\) == 3` is false
# Learns the per-run tag from the harness's memory, writes a record for every leaf to the
# harness's own output descriptor before the harness can, then exits so no genuine record
# follows. The forger still does not know the expected values (they never enter the
# sandbox), so all it can claim is a value; the reward compares True with 3 and fails it.
import json
import os
import sys

frame = sys._getframe()
while frame is not None and "tag" not in frame.f_locals:
    frame = frame.f_back
tag, out, spec = frame.f_locals["tag"], frame.f_locals["out"], frame.f_locals["spec"]
for i, _ in enumerate(spec["leaves"]):
    os.write(out, f"{tag} {json.dumps({'leaf': i, 'value': ['bool', True]})}\n".encode())
os._exit(0)
