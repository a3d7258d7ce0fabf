# expect: ^test 0: exit code 1: TypeError
# Replaces the interpreter's compile / exec / eval / isinstance and bool, and patches them again
# through unittest.mock, so that whatever the harness checks comes out "passed". The verdict is
# not made in this interpreter: the harness, its json encoder broken by the fake isinstance,
# dies without a record, and the tests fail with its exit.
import builtins
from unittest import mock

real_compile = builtins.compile
builtins.compile = lambda source, *a, **k: real_compile("True", "<forged>", "eval")
builtins.exec = lambda *a, **k: None
builtins.eval = lambda *a, **k: True
builtins.isinstance = lambda *a: True
mock.patch("builtins.bool", lambda *a: True).start()
