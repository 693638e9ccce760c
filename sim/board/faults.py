"""Fault injection between a client and a board: a port wrapper that corrupts, drops and
inserts bytes in both directions at a set rate, and knows which frames it damaged."""

import numpy as np

__all__ = ["FaultyPort", "damaged_frames"]


def damaged_frames(sent, received):
    """How many frames of ``received`` (bytes after faults) are not exactly a frame of ``sent``
    (bytes before): what a receiver that checks every frame must throw away. Frames are split
    at 0x00 delimiters; empty ones are ignored."""
    good = [f for f in bytes(sent).split(b"\x00") if f]
    got = [f for f in bytes(received).split(b"\x00") if f]
    pool = {}
    for f in good:
        pool[f] = pool.get(f, 0) + 1
    bad = 0
    for f in got:
        if pool.get(f, 0):
            pool[f] -= 1
        else:
            bad += 1
    return bad


class FaultyPort:
    """Wraps a port; each byte written or read is, with probability ``rate`` each, replaced by
    a random other byte, dropped, or followed by an inserted random byte. ``seed`` seeds the
    faults. The bytes before and after the faults are kept per direction (``sent_in``,
    ``sent_out`` for host to device; ``got_in``, ``got_out`` for device to host) so that tests
    can count the damaged frames with :func:`damaged_frames`; ``faults`` counts them by kind
    and direction."""

    KINDS = ("corrupt", "drop", "insert")

    def __init__(self, port, rate, seed=0, *, directions=("to_device", "to_host")):
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), not {rate}")
        self.port, self.rate = port, float(rate)
        self.rng = np.random.default_rng(seed)
        self.directions = tuple(directions)
        self.faults = {(d, k): 0 for d in ("to_device", "to_host") for k in self.KINDS}
        self.sent_in, self.sent_out = bytearray(), bytearray()
        self.got_in, self.got_out = bytearray(), bytearray()

    def _mangle(self, data, direction):
        if direction not in self.directions or not self.rate:
            return bytes(data)
        out = bytearray()
        draws = self.rng.random(len(data))
        for b, r in zip(data, draws):
            if r >= self.rate:
                out.append(b)
                continue
            kind = self.KINDS[int(self.rng.integers(0, 3))]
            self.faults[(direction, kind)] += 1
            if kind == "corrupt":
                out.append((b + int(self.rng.integers(1, 256))) & 0xFF)
            elif kind == "insert":
                out += bytes([b, int(self.rng.integers(0, 256))])
        return bytes(out)

    def write(self, data):
        data = bytes(data)
        mangled = self._mangle(data, "to_device")
        self.sent_in += data
        self.sent_out += mangled
        self.port.write(mangled)
        return len(data)

    def read(self, n=1):
        data = self.port.read(n)
        mangled = self._mangle(data, "to_host")
        self.got_in += data
        self.got_out += mangled
        return mangled

    def close(self):
        close = getattr(self.port, "close", None)
        if close is not None:
            close()
