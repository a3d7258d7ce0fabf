# expect: BlockingIOError|Resource temporarily unavailable
import os

while True:
    os.fork()
