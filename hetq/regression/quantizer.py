"""``hetq compare quantizer``: the phase quantizer's RTL against its golden model."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.fixed.quantizer import QuantizerConfig
from . import MAX_EXAMPLES, check_run, exclusive, require_simulator

__all__ = ["CompareReport", "compare_quantizer"]


@dataclass
class CompareReport:
    """Outcome of :func:`compare_quantizer`.

    Members
    -------
    config : QuantizerConfig
        The design that was verified.
    mismatches : int
        Output records (mc, drive, phase, last) that differ from the model, plus any missing
        or extra ones.
    examples : list
        Up to ten mismatches as (chunk, record index, got, expected).
    cycles_per_sample : float
        Clock cycles from the first sample transfer to the last output, per sample.
    """

    config: QuantizerConfig
    simulator: str
    samples: int
    outputs: int
    writes: int
    mismatches: int
    cycles_per_sample: float
    seconds: float
    stall: float
    examples: list = field(default_factory=list)

    sensors = property(lambda self: self.config.sensors)
    duplication = property(lambda self: self.config.duplication)


def _chunk_size(simulator, mcs):
    if simulator in ("icarus", "verilator"):
        return max(64, (1 << 21) // mcs)
    return 2000


def compare_quantizer(vectors, seed, config=QuantizerConfig(), *, simulator="icarus",
                      stall=0.0, writes=True, build_dir="build/compare", chunk=None,
                      progress=None):
    """Drive ``vectors`` random samples (edge cases first) with table writes mid-stream into
    the RTL of :class:`~hetq.hdl.quantizer.SensorQuantizer` of ``config`` and compare every
    output with :class:`~hetq.golden.fixed.quantizer.QuantizerModel`.

    The run is cut into chunks (each a fresh simulation from the initial tables; the initial
    weight table is the same for all chunks, so a compiled bench is reused); ``stall`` is
    the probability of an idle source cycle and of a low ``o.ready``. ``progress(n)`` is
    called with the samples finished after each chunk. Returns a :class:`CompareReport`.
    Raises TypeError / ValueError for bad arguments, RuntimeError when a simulator is
    missing.
    """
    from ..sim.quantizer.stimulus import initial_weights

    if not isinstance(config, QuantizerConfig):
        raise TypeError(f"config must be a QuantizerConfig, not {type(config).__name__}")
    check_run(vectors=vectors, seed=seed, simulator=simulator, stall=stall, writes=writes,
              chunk=chunk)
    require_simulator(simulator)
    size = chunk or _chunk_size(simulator, config.mcs)
    weights = initial_weights(config, np.random.default_rng([seed, 0]))
    build_dir = Path(build_dir) / (f"{simulator}_{config.sensors}x{config.duplication}"
                                   f"_n{config.norm_lanes}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(build_dir):
        return _compare_chunks(vectors, seed, config, simulator, stall, writes, build_dir,
                               size, weights, progress)


def _run(simulator, stim, seed, stall, build_dir, size):
    if simulator == "amaranth":
        from ..sim.quantizer.amaranth_bench import run_amaranth
        return run_amaranth(stim, seed=seed, stall=stall)
    if simulator == "cocotb":
        from ..sim.kit.cocotb_sim import BenchFailure
        from ..sim.quantizer.cocotb_bench import run_cocotb
        try:
            return run_cocotb(stim, seed=seed, stall=stall, build_dir=build_dir)
        except BenchFailure as e:
            raise RuntimeError(str(e)) from None
    from ..sim.quantizer.file_bench import run_file_bench
    return run_file_bench(stim, simulator=simulator, seed=seed, stall=stall,
                          build_dir=build_dir, capacity=size)


def _compare_chunks(vectors, seed, config, simulator, stall, writes, build_dir, size, weights,
                    progress):
    from ..sim.quantizer.stimulus import expected_records, make_stimulus

    start = time.perf_counter()
    done = outputs = nwrites = mismatches = cycles = 0
    examples = []
    k = 0
    while done < vectors:
        n = min(size, vectors - done)
        stim = make_stimulus([seed, 1, k], n, config, writes=writes, edges=(k == 0),
                             weights=weights)
        bench_seed = int(np.random.default_rng([seed, 2, k]).integers(1, 2**31 - 1))
        res = _run(simulator, stim, bench_seed, stall, build_dir, size)
        expected = expected_records(stim, res.order)
        got = res.records
        common = min(len(got), len(expected))
        bad = np.nonzero(np.any(got[:common] != expected[:common], axis=1))[0]
        mismatches += len(bad) + abs(len(got) - len(expected))
        for i in bad[:max(0, MAX_EXAMPLES - len(examples))]:
            examples.append((k, int(i), got[i].tolist(), expected[i].tolist()))
        outputs += len(got)
        nwrites += len(stim.writes)
        cycles += res.last_out - res.first_in + 1
        done += n
        k += 1
        if progress is not None:
            progress(n)
    return CompareReport(config=config, simulator=simulator, samples=done, outputs=outputs,
                         writes=nwrites, mismatches=mismatches,
                         cycles_per_sample=cycles / done, seconds=time.perf_counter() - start,
                         stall=stall, examples=examples)
