# expect: File too large
with open("fill.bin", "wb") as f:
    while True:
        f.write(b"\0" * (1 << 20))
