"""A port (``write``/``read``) backed by :class:`~hetq.golden.fixed.system.DeviceModel`: the
device's protocol with no hardware, for tests of the host side."""

__all__ = ["ModelPort"]


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
