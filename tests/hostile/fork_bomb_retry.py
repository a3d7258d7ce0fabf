# expect: timeout|CPU time limit
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
