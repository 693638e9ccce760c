"""RTL against the bit-exact twins, at any size (``hetq compare``): one module per block, each
driving seeded stimulus through the block's benches (Amaranth simulator, cocotb + Icarus, or
the file-driven Icarus/Verilator bench) in chunks and comparing every output.
"""

from contextlib import contextmanager
from pathlib import Path

__all__ = ["SIMULATORS", "MAX_EXAMPLES", "exclusive"]

#: The simulators a regression can run under.
SIMULATORS = ("amaranth", "cocotb", "icarus", "verilator")

#: Mismatch examples a report keeps.
MAX_EXAMPLES = 10


@contextmanager
def exclusive(directory):
    """Hold an exclusive lock on ``directory`` (two runs in one bench folder would overwrite
    each other's files); ValueError if another process holds it."""
    import fcntl

    with open(Path(directory) / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another run is using {directory}; give it another "
                             "--build-dir") from None
        yield
