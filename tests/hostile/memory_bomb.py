# expect: MemoryError|solution: timeout
blocks = []
while True:
    blocks.append(bytearray(64 << 20))
