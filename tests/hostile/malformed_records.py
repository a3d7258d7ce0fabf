# expect: ^test 0: harness output line \d+: (?s:.*)(nested deeper|maximum recursion)
# Writes tagged records the reward could choke on: nesting far past any limit first, then
# invalid JSON, NaN, a boolean leaf id, unhashable set items. The reader must score the run
# 0 with a reason and never raise.
import os
import sys

frame = sys._getframe()
while frame is not None and "tag" not in frame.f_locals:
    frame = frame.f_back
tag, out = frame.f_locals["tag"], frame.f_locals["out"]
deep = '{"leaf": 0, "value": ' + '["list", [' * 5000 + "]]" * 5000 + "}"
for line in (deep, "{not json", '{"leaf": true, "value": ["none"]}', '{"leaf": 1, "value": ["set", [["list", []]]]}'):
    os.write(out, f"{tag} {line}\n".encode())
os._exit(0)
