# expect: output limit exceeded
import sys

while True:
    sys.stderr.write("spam" * 1000)
