"""``hetq compare gc-layer``: the GC layer's RTL against its golden model, for runs of any size.

Each chunk is one connectivity: a random mask of the design's size (about as dense as its
synapse memory allows, or with ``prop`` the paper's: each MC to ``round(prop * gcs)`` GCs), random MC drives on a few levels (so that MC spikes coincide and GCs
fire), silent MCs (whose stale stamps bring the penalty), learning on for the first part of
the chunk, the post-training clamp, then learning off. The MC spikes come from the model (with
the GC->MC path, those of MCs that took the model's GC->MC currents); the RTL's GC spikes,
every weight after every sample and, with the path, every GC->MC current it emits are
compared with :class:`~hetq.golden.fixed.gc_layer.GCLayerModel`.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.fixed.gc_layer import GCLayerConfig
from . import MAX_EXAMPLES, check_run, exclusive, require_simulator

__all__ = ["GCCompareReport", "compare_gc_layer", "GC_SIMULATORS"]

#: The simulators ``hetq compare gc-layer`` runs under.
GC_SIMULATORS = ("amaranth", "icarus", "verilator")


@dataclass
class GCCompareReport:
    """Outcome of :func:`compare_gc_layer`.

    Members
    -------
    samples, trained : int
        Windows run, and those with learning on.
    chunks : int
        Connectivities (masks) loaded.
    spikes : int
        GC spike events the RTL sent.
    event_mismatches : int
        Expected events missing plus events that should not be there (or, when the events are
        the right ones in the wrong order, the positions that differ).
    weights, weight_mismatches : int
        Weights compared (every synapse after every sample) and those that differ.
    fit_cycles_per_step, process_cycles_per_step : float
        Measured clock cycles per step of the windows with learning on and off (from the
        bench's waits for idle; nan when there were none).
    synapses_used : int
        Connections of the masks, on average per chunk.
    currents, current_mismatches : int
        With the GC->MC path: currents compared (every MC after every step) and those that
        differ.
    """

    config: GCLayerConfig
    simulator: str
    stall: float
    samples: int
    trained: int
    chunks: int
    spikes: int
    event_mismatches: int
    weights: int
    weight_mismatches: int
    fit_cycles_per_step: float
    process_cycles_per_step: float
    synapses_used: float
    seconds: float
    examples: list = field(default_factory=list)
    currents: int = 0
    current_mismatches: int = 0

    @property
    def mismatches(self):
        return self.event_mismatches + self.weight_mismatches + self.current_mismatches


def _chunk_size(simulator, config):
    """Samples per chunk: about 2**26 synapse updates for Verilator, 2**22 for Icarus and
    2**17 for Amaranth's simulator, at least 4."""
    budget = {"verilator": 1 << 26, "icarus": 1 << 22}.get(simulator, 1 << 17)
    return max(4, budget // (config.window * (config.synapses + config.gcs)))


def _event_mismatches(got, want):
    from .mc_array import _event_mismatches as mismatches
    return mismatches(got, want)


def compare_gc_layer(vectors, seed, config=GCLayerConfig(), *, simulator="verilator",
                     stall=0.0, build_dir="build/compare", chunk=None, progress=None,
                     iic_weight=0, prop=None):
    """Run ``vectors`` sample windows through the GC layer's RTL in chunks (each a new random
    connectivity; see the module docstring) and compare every GC spike and every weight after
    every sample with the golden model. ``stall`` is the probability of an idle cycle before
    each MC spike transfer and of a low ``o.ready``. ``iic_weight`` is the GC->MC weight code
    (needs ``config.iic``). With ``prop`` the masks are the paper's connectivity (each MC to
    ``round(prop * gcs)`` random GCs; ValueError when that exceeds the synapse memory).
    Returns a :class:`GCCompareReport`.

    Raises TypeError / ValueError for bad arguments, RuntimeError when the simulator is
    missing or a bench fails on its own (a timeout)."""
    from ..sim.gc_layer.stimulus import expected_gc, make_gc_stimulus

    if not isinstance(config, GCLayerConfig):
        raise TypeError(f"config must be a GCLayerConfig, not {type(config).__name__}")
    check_run(vectors=vectors, seed=seed, simulator=simulator, stall=stall, writes=True,
              chunk=chunk)
    if simulator not in GC_SIMULATORS:
        raise ValueError(f"the GC layer's benches run under {', '.join(GC_SIMULATORS)}, not "
                         f"{simulator!r}")
    require_simulator(simulator)
    from ..hdl.gc_lanes import check_gc_layer
    check_gc_layer(config)
    if iic_weight and not config.iic:
        raise ValueError("a GC->MC weight needs a layer with the GC->MC path (iic=True)")
    if prop is not None:
        from ..golden.network.connectivity import check_prop
        need = config.mcs * check_prop(config.gcs, prop)
        if need > config.synapses:
            raise ValueError(f"prop {prop:g} connects {need} synapses but the layer holds "
                             f"{config.synapses}")
    size = chunk or _chunk_size(simulator, config)
    name = (f"gc_layer_{simulator}_m{config.mcs}_g{config.gcs}_s{config.synapses}"
            f"_h{config.hold}_r{config.rinse}" + (f"_l{config.lanes}" if config.lanes > 1 else ""))
    build_dir = Path(build_dir) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    density = min(0.4, 0.9 * config.synapses / (config.mcs * config.gcs))
    totals = {"samples": 0, "trained": 0, "chunks": 0, "spikes": 0, "events": 0,
              "weights": 0, "wbad": 0, "fit": [0, 0], "process": [0, 0], "used": 0,
              "currents": 0, "ibad": 0}
    examples = []
    start = time.perf_counter()
    with exclusive(build_dir):
        done = 0
        while done < vectors:
            n = min(size, vectors - done)
            k = totals["chunks"]
            stim = make_gc_stimulus([seed, k], config, n, density=density, prop=prop,
                                    learn=np.arange(n) < max(1, (2 * n + 2) // 3))
            trained = int(stim.learn.sum())
            stim.clamp_after = trained - 1
            stim.iic_weight = iic_weight
            exp = expected_gc(stim)
            res = _run(simulator, stim, exp, seed + k, stall, build_dir)
            bad, ex = _event_mismatches(res.events, exp.events)
            totals["events"] += bad
            examples += [(k, *e) for e in ex]
            if res.weights.shape == exp.weights.shape:
                diff = np.argwhere(res.weights != exp.weights)
                totals["wbad"] += len(diff)
                examples += [(k, "weight", (int(s), int(j)), int(res.weights[s, j]),
                              int(exp.weights[s, j])) for s, j in diff[:MAX_EXAMPLES]]
            else:
                totals["wbad"] += exp.weights.size
                examples.append((k, "weights", 0, f"shape {res.weights.shape}",
                                 f"shape {exp.weights.shape}"))
            if config.iic:
                totals["currents"] += exp.iic.size
                if res.iic.shape == exp.iic.shape:
                    diff = np.argwhere(res.iic != exp.iic)
                    totals["ibad"] += len(diff)
                    examples += [(k, "GC->MC current (emission, MC)", (int(e), int(j)),
                                  int(res.iic[e, j]), int(exp.iic[e, j]))
                                 for e, j in diff[:MAX_EXAMPLES]]
                else:
                    totals["ibad"] += exp.iic.size
                    examples.append((k, "GC->MC currents", 0, f"shape {res.iic.shape}",
                                     f"shape {exp.iic.shape}"))
            if getattr(res, "error", False):
                totals["events"] += 1
                examples.append((k, "error flag", 0, True, False))
            totals["weights"] += exp.weights.size
            totals["spikes"] += len(res.events)
            totals["samples"] += n
            totals["trained"] += trained
            totals["chunks"] += 1
            totals["used"] += int(stim.mask.sum())
            _add_cycles(totals, res, stim, config)
            done += n
            if progress is not None:
                progress(n)
    per = lambda key: (totals[key][0] / totals[key][1] if totals[key][1]  # noqa: E731
                       else float("nan"))
    return GCCompareReport(
        config=config, simulator=simulator, stall=stall, samples=totals["samples"],
        trained=totals["trained"], chunks=totals["chunks"], spikes=totals["spikes"],
        event_mismatches=totals["events"], weights=totals["weights"],
        weight_mismatches=totals["wbad"], fit_cycles_per_step=per("fit"),
        process_cycles_per_step=per("process"),
        synapses_used=totals["used"] / max(totals["chunks"], 1),
        seconds=time.perf_counter() - start, examples=examples[:MAX_EXAMPLES],
        currents=totals["currents"], current_mismatches=totals["ibad"])


def _run(simulator, stim, exp, seed, stall, build_dir):
    if simulator == "amaranth":
        from ..sim.gc_layer.amaranth_bench import run_gc_amaranth
        return run_gc_amaranth(stim, seed=seed, stall=stall, out_stall=stall, exp=exp)
    from ..sim.gc_layer.file_bench import run_gc_file_bench
    res, _ = run_gc_file_bench(stim, build_dir, simulator=simulator, seed=seed + 1, stall=stall,
                               out_stall=stall, exp=exp)
    return res


def _add_cycles(totals, res, stim, config):
    """Cycles per step of the windows with learning on and off, from the file bench's window
    start and end cycles (the MC side feeds a step's spikes faster than the layer runs it, so
    this is the layer's own rate)."""
    windows = getattr(res, "idles", None)
    if windows is None or len(windows) != len(stim.drives):
        return
    for i, (first, last) in enumerate(windows):
        key = "fit" if stim.learn[i] else "process"
        totals[key][0] += int(last - first)
        totals[key][1] += config.window
