# expect: NameError
import subprocess
import sys

# a detached child that would outlive the run (its command line carries the marker the test looks for)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "__MARKER__"], start_new_session=True)
