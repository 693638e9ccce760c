"""``hetq compare quantizer``: the phase quantizer's RTL against its golden model."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.fixed.formats import DEFAULT_FORMAT
from . import SIMULATORS, exclusive

__all__ = ["CompareReport", "compare_quantizer"]


@dataclass
class CompareReport:
    """Outcome of :func:`compare_quantizer`.

    Members
    -------
    mismatches : int
        Output records (mc, drive, phase, last) that differ from the model, plus any missing
        or extra ones.
    examples : list
        Up to ten mismatches as (chunk, record index, got, expected).
    cycles_per_sample : float
        Clock cycles from the first sample transfer to the last output, per sample.
    """

    simulator: str
    sensors: int
    duplication: int
    samples: int
    outputs: int
    writes: int
    mismatches: int
    cycles_per_sample: float
    seconds: float
    stall: float
    examples: list = field(default_factory=list)


def _chunk_size(simulator, mcs):
    if simulator in ("icarus", "verilator"):
        return max(64, (1 << 21) // mcs)
    return 2000


def compare_quantizer(vectors, seed, *, simulator="icarus", sensors=8, duplication=32,
                      fmt=DEFAULT_FORMAT, stall=0.0, writes=True, build_dir="build/compare",
                      chunk=None, progress=None):
    """Drive ``vectors`` random samples (edge cases first) with table writes mid-stream into
    the RTL of :class:`~hetq.hdl.quantizer.SensorQuantizer` and compare every output with
    :class:`~hetq.golden.fixed.quantizer.QuantizerModel`.

    The run is cut into chunks (each a fresh simulation from the initial tables; the initial
    weight table is the same for all chunks, so a compiled bench is reused); ``stall`` is
    the probability of an idle source cycle and of a low ``o.ready``. ``progress(n)`` is
    called with the samples finished after each chunk. Returns a :class:`CompareReport`.
    Raises ValueError for bad arguments, RuntimeError when a simulator is missing.
    """
    from ..sim.stimulus import initial_weights

    if isinstance(vectors, bool) or not isinstance(vectors, (int, np.integer)) or vectors < 1:
        raise ValueError(f"vectors must be an integer >= 1, not {vectors!r}")
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if not 0 <= stall < 1:
        raise ValueError(f"stall must be in [0, 1), not {stall}")
    for name, value in (("sensors", sensors), ("duplication", duplication)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
    mcs = sensors * duplication
    size = chunk or _chunk_size(simulator, mcs)
    weights = initial_weights(sensors, duplication, fmt, np.random.default_rng([seed, 0]))
    build_dir = Path(build_dir) / f"{simulator}_{sensors}x{duplication}"
    build_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(build_dir):
        return _compare_chunks(vectors, seed, simulator, sensors, duplication, fmt, stall,
                               writes, build_dir, size, weights, progress)


def _compare_chunks(vectors, seed, simulator, sensors, duplication, fmt, stall, writes,
                    build_dir, size, weights, progress):
    from ..sim.stimulus import expected_records, make_stimulus

    start = time.perf_counter()
    done = outputs = nwrites = mismatches = cycles = 0
    examples = []
    k = 0
    while done < vectors:
        n = min(size, vectors - done)
        stim = make_stimulus([seed, 1, k], n, sensors=sensors, duplication=duplication,
                             fmt=fmt, writes=writes, edges=(k == 0), weights=weights)
        bench_seed = int(np.random.default_rng([seed, 2, k]).integers(1, 2**31 - 1))
        if simulator == "amaranth":
            from ..sim.amaranth_bench import run_amaranth
            res = run_amaranth(stim, seed=bench_seed, stall=stall)
        elif simulator == "cocotb":
            from ..sim.cocotb_runner import BenchFailure, run_cocotb
            try:
                res = run_cocotb(stim, seed=bench_seed, stall=stall, build_dir=build_dir)
            except BenchFailure as e:
                raise RuntimeError(str(e)) from None
        else:
            from ..sim.file_bench import run_file_bench
            res = run_file_bench(stim, simulator=simulator, seed=bench_seed, stall=stall,
                                 build_dir=build_dir)
        expected = expected_records(stim, res.order)
        got = res.records
        common = min(len(got), len(expected))
        bad = np.nonzero(np.any(got[:common] != expected[:common], axis=1))[0]
        mismatches += len(bad) + abs(len(got) - len(expected))
        for i in bad[:max(0, 10 - len(examples))]:
            examples.append((k, int(i), got[i].tolist(), expected[i].tolist()))
        outputs += len(got)
        nwrites += len(stim.writes)
        cycles += res.last_out - res.first_in + 1
        done += n
        k += 1
        if progress is not None:
            progress(n)
    return CompareReport(simulator=simulator, sensors=sensors, duplication=duplication,
                         samples=done, outputs=outputs, writes=nwrites, mismatches=mismatches,
                         cycles_per_sample=cycles / done, seconds=time.perf_counter() - start,
                         stall=stall, examples=examples)


# -- the MC array against the golden model ----------------------------------------------------
