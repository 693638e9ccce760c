"""Stimulus of the GC layer benches and its golden expectation.

A stimulus is a configuration, an MC->GC mask, optional preloaded weight codes, MC drive rows,
a learning flag per sample and the GC->MC weight. The expectation runs
:class:`~hetq.golden.fixed.gc_layer.GCLayerModel` sample by sample: the MC raster (what the
benches feed the RTL; with a GC->MC weight it is the raster of the MCs that took the model's
GC->MC currents), the GC spike events ``(step, gc)``, the weights after every sample, the
state after every sample and, with ``config.iic``, every emission of GC->MC currents.
"""

from dataclasses import dataclass

import numpy as np

from ...golden.fixed.gc_layer import GCLayerConfig, GCLayerModel, fanout_lists, lane_fanout_lists

__all__ = ["GCStimulus", "GCExpected", "make_gc_stimulus", "expected_gc", "host_lists",
           "HostTables", "host_tables", "save_gc_stimulus", "load_gc_stimulus"]


@dataclass
class GCStimulus:
    config: GCLayerConfig
    mask: np.ndarray                 # bool (gcs, mcs)
    drives: np.ndarray               # int64 (samples, mcs)
    learn: np.ndarray                # bool (samples,)
    weights: np.ndarray | None = None   # int64 codes loaded after the mask, or None (25 mV)
    clamp_after: int = -1            # the CLAMP command after this sample (-1: none)
    reset_after: int = -1            # the RESET command (reset_neurons) after this sample
    cycle0: int = 0                  # the first step is 50 * cycle0 (written after CONNECT)
    iic_weight: int = 0              # the GC->MC weight code (needs config.iic)


@dataclass
class GCExpected:
    mc_raster: np.ndarray            # bool (samples, window, mcs)
    events: np.ndarray               # int64 (n, 2): (step mod 2**stamp_bits, gc)
    weights: np.ndarray              # int64 (samples, synapses in use)
    gc_v: np.ndarray                 # int64 (samples, gcs)
    gc_r: np.ndarray                 # bool (samples, gcs)
    pre: np.ndarray                  # int64 (samples, mcs): stamp | valid << stamp_bits
    post: np.ndarray                 # int64 (samples, gcs)
    iic: np.ndarray | None = None    # int64 (emissions, mcs), with config.iic: the currents
    #                                  after CONNECT (zero), after every step and after RESET


def make_gc_stimulus(seed, config, samples, *, density=0.4, learn=True, levels=6,
                     empty=True, silent=0.2, prop=None):
    """Random mask (with a GC without inputs and an MC without fan-out when ``empty``) and
    drives drawn from ``levels`` levels (so that MC spikes coincide), each 0 (a silent MC,
    whose stale ``pre`` stamp brings the penalty) with probability ``silent``; ``learn`` is
    a bool or a per-sample sequence. With ``prop`` the mask is the paper's connectivity
    (:func:`~hetq.golden.network.connectivity.random_connectivity`, each MC to
    ``round(prop * gcs)`` GCs; ``density`` and ``empty`` do not apply)."""
    from ...golden.network.connectivity import random_connectivity

    rng = np.random.default_rng(seed)
    c = config
    if prop is not None:
        mask = random_connectivity(c.gcs, c.mcs, prop, rng)
    else:
        mask = rng.random((c.gcs, c.mcs)) < density
    if empty and prop is None:
        mask[rng.integers(c.gcs)] = False
        mask[:, rng.integers(c.mcs)] = False
    while mask.sum() > c.synapses:
        g, mc = np.argwhere(mask)[rng.integers(mask.sum())]
        mask[g, mc] = False
    fmt = c.fmt
    grid = np.linspace(fmt.drive_max // 5, fmt.drive_max, levels).astype(np.int64)
    drives = grid[rng.integers(0, levels, (samples, c.mcs))]
    drives[rng.random(drives.shape) < silent] = 0
    learn = np.broadcast_to(np.asarray(learn, dtype=bool), (samples,)).copy()
    return GCStimulus(config=c, mask=mask, drives=drives, learn=learn)


def host_lists(stim):
    """The fan-out lists as the host writes them: ``ptr`` (mcs + 1) and the GC of every
    synapse."""
    return fanout_lists(stim.mask)


@dataclass
class HostTables:
    """What a host writes and reads, as port payloads (ints or dicts for the benches'
    ``send``): ``writes``, ``[(port, payload), ...]`` for ``ptr_w`` and ``gc_w`` (every
    lane's lists); ``read[k]``, the ``weight_rq`` payload of synapse ``k`` (fan-out order of
    the whole mask); ``weight(k, code)``, the ``weight_w`` payload."""
    writes: list
    read: list
    lanes: int

    def weight(self, k, code):
        r = self.read[k]
        return {"addr": r, "data": int(code)} if self.lanes == 1 else {**r, "data": int(code)}


def host_tables(stim, capacity=None):
    """The :class:`HostTables` of ``stim`` for the layer of ``stim.config.lanes`` lanes:
    one lane, :func:`host_lists` with global addresses; more, each lane's lists
    (:func:`~hetq.golden.fixed.gc_layer.lane_fanout_lists`, ValueError when a lane gets more
    synapses than ``capacity``) and every payload with its lane."""
    lanes = stim.config.lanes
    if lanes == 1:
        ptr, fan = host_lists(stim)
        writes = [("ptr_w", {"addr": m, "data": int(v)}) for m, v in enumerate(ptr)]
        writes += [("gc_w", {"addr": k, "data": int(g)}) for k, g in enumerate(fan)]
        return HostTables(writes, list(range(len(fan))), 1)
    lists, lane, local = lane_fanout_lists(stim.mask, lanes, capacity)
    writes = []
    for j, (ptr, fan) in enumerate(lists):
        writes += [("ptr_w", {"lane": j, "addr": m, "data": int(v)}) for m, v in enumerate(ptr)]
        writes += [("gc_w", {"lane": j, "addr": k, "data": int(g)}) for k, g in enumerate(fan)]
    read = [{"lane": int(j), "addr": int(k)} for j, k in zip(lane, local)]
    return HostTables(writes, read, lanes)


def expected_gc(stim):
    c = stim.config
    model = GCLayerModel(c, stim.mask, iic_weight=stim.iic_weight)
    if stim.weights is not None:
        model.weights = np.asarray(stim.weights, dtype=np.int64)
    model.t = 50 * stim.cycle0
    n = len(stim.drives)
    sbits = c.stamp_bits
    mask = (1 << sbits) - 1
    rasters, events, weights = [], [], []
    gc_v, gc_r, pre, post = [], [], [], []
    iic = [np.zeros((1, c.mcs), dtype=np.int64)]
    for i in range(n):
        t0 = model.t
        out = model.run(stim.drives[i:i + 1], learn=bool(stim.learn[i]), raster=True,
                        weight_log=True, iic_log=c.iic)
        if c.iic:
            iic.append(out["iic"][0])
        rasters.append(out["mc_raster"][0])
        s, g = np.nonzero(out["gc_raster"][0])
        events.append(np.stack([(t0 + s) & mask, g], axis=1))
        if i == stim.clamp_after:
            model.clamp()
        if i == stim.reset_after:
            model.reset_neurons()
            iic.append(np.zeros((1, c.mcs), dtype=np.int64))
        weights.append(model.weights)
        st = model.state
        gc_v.append(st.gc_v.copy())
        gc_r.append(st.gc_r.copy())
        pre.append(np.where(st.pre_ok, st.pre | (1 << sbits), st.pre))
        post.append(np.where(st.post_ok, st.post | (1 << sbits), st.post))
    return GCExpected(mc_raster=np.array(rasters), events=np.concatenate(events).astype(np.int64)
                      .reshape(-1, 2), weights=np.array(weights), gc_v=np.array(gc_v),
                      gc_r=np.array(gc_r), pre=np.array(pre), post=np.array(post),
                      iic=np.concatenate(iic) if c.iic else None)


def save_gc_stimulus(path, stim, *, seed=0, stall=0.0):
    c = stim.config
    np.savez(path, mcs=c.mcs, gcs=c.gcs, synapses=c.synapses, hold=c.hold, rinse=c.rinse,
             stamp_bits=c.stamp_bits, lanes=c.lanes, mask=stim.mask, drives=stim.drives, learn=stim.learn,
             weights=np.zeros(0, np.int64) if stim.weights is None else stim.weights,
             has_weights=stim.weights is not None, clamp_after=stim.clamp_after,
             reset_after=stim.reset_after, cycle0=stim.cycle0, seed=seed,
             stall=stall, iic=c.iic, iic_weight=stim.iic_weight)


def load_gc_stimulus(path):
    with np.load(path) as z:
        c = GCLayerConfig(mcs=int(z["mcs"]), gcs=int(z["gcs"]), synapses=int(z["synapses"]),
                          hold=int(z["hold"]), rinse=int(z["rinse"]),
                          stamp_bits=int(z["stamp_bits"]), iic=bool(z["iic"]),
                          lanes=int(z["lanes"]) if "lanes" in z.files else 1)
        stim = GCStimulus(config=c, mask=z["mask"], drives=z["drives"], learn=z["learn"],
                          weights=z["weights"] if bool(z["has_weights"]) else None,
                          clamp_after=int(z["clamp_after"]),
                          reset_after=int(z["reset_after"]), cycle0=int(z["cycle0"]),
                          iic_weight=int(z["iic_weight"]))
        return stim, int(z["seed"]), float(z["stall"])
