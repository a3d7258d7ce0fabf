# expect: solution: timeout
while True:
    pass
