"""Running the UART's cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog: the bench file it
reads and the runner."""

import json

import numpy as np

from ...golden.fixed.uart import ByteSource, UARTConfig
from ...hdl.uart import UART
from ..kit.cocotb_sim import run_result_bench
from .stimulus import CLOCK_NS, UNITS, LineScript

__all__ = ["bench_cycles", "save_bench", "load_bench", "run_cocotb_uart"]


def bench_cycles(config, script, source):
    """Cycles a bench runs: the script and the bytes sent, each with time to finish (the
    receiver's latency, the sink's last stop bit) and a margin."""
    rx = -(-script.length // UNITS) + config.rx_latency
    tx = sum(source.delays) + len(source.data) * config.frame_cycles + 2 * config.divisor
    return max(rx, tx) + 20


def save_bench(path, config, script, source, ready, offset_ns):
    """Write what :mod:`.cocotb_tb` reads: the configuration, the line script, the bytes to
    send with their delays, the ``o.ready`` pattern (one entry per cycle the bench runs) and
    the script's start (an odd number of ns after reset, below the clock period)."""
    if not (isinstance(offset_ns, int) and offset_ns % 2 == 1 and 0 < offset_ns < CLOCK_NS):
        raise ValueError(f"offset_ns must be an odd integer in (0, {CLOCK_NS}), not "
                         f"{offset_ns!r}")
    np.savez(path, config=np.str_(config.to_json()), script=script.to_array(),
             data=np.array(source.data, dtype=np.int64),
             delays=np.array(source.delays, dtype=np.int64),
             ready=np.asarray(ready, dtype=np.int64), offset_ns=offset_ns)


def load_bench(path):
    """What :func:`save_bench` wrote, as a dict (``config``, ``script``, ``source``, ``ready``,
    ``cycles``, ``offset_ns``)."""
    with np.load(path) as z:
        config = UARTConfig.from_dict(json.loads(str(z["config"])))
        return {"config": config, "script": LineScript.from_array(config, z["script"]),
                "source": ByteSource(z["data"].tolist(), z["delays"].tolist()),
                "ready": z["ready"], "cycles": len(z["ready"]),
                "offset_ns": int(z["offset_ns"])}


def run_cocotb_uart(config, script, source, ready, *, offset_ns=1, build_dir, waves=False):
    """Run :mod:`hetq.sim.uart.cocotb_tb` on :class:`~hetq.hdl.uart.UART` of ``config``
    (raises :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` when a check fails); returns what
    the bench recorded (a dict of arrays: ``rx``, ``tx``, ``valid``, ``payload``, ``errors``,
    ``data`` the bytes taken, ``received`` the sink's bytes, ...)."""
    result, failure = run_result_bench(
        UART(config), "uart", "hetq.sim.uart.cocotb_tb", build_dir,
        lambda path: save_bench(path, config, script, source, ready, offset_ns), waves=waves)
    with np.load(result) as z:
        seen = {k: z[k] for k in z.files}
    if failure is not None:
        raise failure
    return seen
