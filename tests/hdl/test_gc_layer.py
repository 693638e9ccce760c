"""The GC layer RTL in Amaranth's simulator against the golden model
(hetq.golden.fixed.gc_layer): every GC spike (step and index), the weights after every sample
read back through the host port, the GC state and the stamp memories after every sample;
random masks with empty rows and columns, learning on, off and toggled, back-pressure, edge
weights loaded through the port, saturating currents, the CLAMP command, cycles per step,
bad transfers and refused configurations."""

import numpy as np
import pytest

from hetq.golden.fixed.gc_layer import GCLayerConfig, fanout_lists
from hetq.hdl.gc_layer import GCLayer
from hetq.sim.gc_layer.amaranth_bench import check_gc, run_gc_amaranth
from hetq.sim.gc_layer.stimulus import expected_gc, make_gc_stimulus


def small(**kwargs):
    args = dict(mcs=8, gcs=16, synapses=64, hold=50, rinse=50)
    args.update(kwargs)
    return GCLayerConfig(**args)


def run(stim, **kwargs):
    exp = expected_gc(stim)
    res = run_gc_amaranth(stim, exp=exp, **kwargs)
    check_gc(stim, res, exp)
    return exp, res


@pytest.mark.parametrize("seed, learn, stall, out_stall", [
    (1, [True, False, True], 0.0, 0.0),
    (2, [False, True, True, False], 0.2, 0.3),
])
def test_random_masks_against_the_model(seed, learn, stall, out_stall):
    stim = make_gc_stimulus(seed, small(), len(learn), learn=learn)
    exp, res = run(stim, seed=seed, stall=stall, out_stall=out_stall)
    assert len(exp.events) > 10
    assert (np.diff(exp.weights, axis=0) != 0).any()         # learning changed weights
    ptr, _ = fanout_lists(stim.mask)
    assert (np.diff(ptr) == 0).any() and (~stim.mask.any(axis=1)).any()   # empty lists
