# expect: Network is unreachable|OSError
import socket

socket.create_connection(("1.1.1.1", 53), timeout=2)


def add(a, b):
    return a + b
