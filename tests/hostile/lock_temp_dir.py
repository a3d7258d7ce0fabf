# expect: NameError
import os

os.makedirs("a/b/c")
open("a/b/c/file", "w").write("x")
os.chmod("a/b", 0)
os.chmod("a", 0)
os.chmod(".", 0o500)
