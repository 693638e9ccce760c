"""RTL against the bit-exact twins, at any size (``hetq compare``): one module per block, each
driving seeded stimulus through the block's benches (Amaranth simulator, cocotb + Icarus, or
the file-driven Icarus/Verilator bench) in chunks and comparing every output. Every run takes
the block's configuration object, the same one ``hetq build`` synthesises.
"""

from contextlib import contextmanager
from pathlib import Path

from ..golden.checks import check_bool, check_fraction, check_int

__all__ = ["SIMULATORS", "MAX_EXAMPLES", "exclusive", "check_run", "require_simulator"]

#: The simulators a regression can run under.
SIMULATORS = ("amaranth", "cocotb", "icarus", "verilator")

#: Mismatch examples a report keeps.
MAX_EXAMPLES = 10


def check_run(*, vectors, seed, simulator, stall, writes, chunk):
    """Validate the arguments every regression takes (TypeError / ValueError naming them)."""
    check_int("vectors", vectors, 1)
    check_int("seed", seed, 0)
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    check_fraction("stall", stall)
    check_bool("writes", writes)
    if chunk is not None:
        check_int("chunk", chunk, 1)


def require_simulator(simulator):
    """RuntimeError naming the install command when ``simulator`` needs a tool that is not
    installed (Icarus Verilog for cocotb and icarus, Verilator for verilator)."""
    from ..sim.kit.cocotb_sim import require_icarus
    from ..sim.kit.filebench import check_simulator

    if simulator == "cocotb":
        require_icarus()
    elif simulator in ("icarus", "verilator"):
        check_simulator(simulator)


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
