# expect: ^test 0: timeout
def add(a, b):
    while True:
        pass
