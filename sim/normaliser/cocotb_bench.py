"""Running the normaliser's cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog."""

from pathlib import Path

import numpy as np

from ...hdl.normaliser import Normaliser
from ..kit.cocotb_sim import run_cocotb_module

__all__ = ["run_cocotb_normaliser"]


def run_cocotb_normaliser(config, samples, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run :mod:`hetq.sim.normaliser.cocotb_tb` on raw sensor codes ``samples`` through the
    Normaliser of ``config``; raises :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` on any
    mismatch."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    bench = build_dir / "normaliser.npz"
    np.savez(bench, samples=np.asarray(samples, dtype=np.int64), seed=seed, stall=stall,
             config=np.str_(config.to_json()))
    run_cocotb_module(Normaliser(config), "normaliser", "hetq.sim.normaliser.cocotb_tb",
                      build_dir, {"HETQ_BENCH": str(bench)}, waves=waves)
