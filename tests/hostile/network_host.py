# expect: ConnectionRefusedError
import socket

socket.create_connection(("127.0.0.1", int("__PORT__")), timeout=2)


def add(a, b):
    return a + b
