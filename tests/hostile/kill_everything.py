# expect: ProcessLookupError
import os

os.kill(-1, 9)
