"""A port (``write``/``read``) backed by :class:`~hetq.golden.fixed.system.DeviceModel`: the
device's protocol with no hardware, for tests of the host side."""

import socket
import threading
from contextlib import contextmanager

__all__ = ["ModelPort", "serve_model"]


class ModelPort:
    """Bytes written go to the model, its replies are read back (immediately)."""

    def __init__(self, model):
        self.model = model
        self._out = bytearray()

    def write(self, data):
        self._out += self.model.receive(bytes(data))
        return len(data)

    def read(self, n=1):
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def close(self):
        pass


@contextmanager
def serve_model(model):
    """Serve ``model`` on a TCP socket of localhost (one connection after another, as the
    simulated board serves its bytes); yields its ``socket://127.0.0.1:PORT`` URL."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    lock = threading.Lock()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.1)
                while not stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    with lock:
                        out = model.receive(data)
                    if out:
                        conn.sendall(out)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()
