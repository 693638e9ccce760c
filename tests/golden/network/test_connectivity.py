"""MC->GC connectivity: a mask with no connection is refused; GCs that can never fire are named."""

import numpy as np
import pytest

from hetq.golden.network.connectivity import (check_prop, random_connectivity, silent_gc_warning,
                                              validate_connectivity)
from hetq.golden.network.lif import GC_PARAMS
from hetq.golden.network.model import Network
from hetq.golden.network.stdp import STDPParams


def test_random_mask_connects_round_prop_n():
    mask = random_connectivity(10, 6, 0.35, 1)
    np.testing.assert_equal(mask.sum(axis=0), 4)      # round(3.5) = 4 (half to even)


@pytest.mark.parametrize("n_gc, prop", [(4, 0.01), (1, 0.25), (8, 0.0), (4, 0.125)])
def test_no_connection_is_refused(n_gc, prop):
    with pytest.raises(ValueError, match=r"= 0 GCs: there would be no MC->GC connection"):
        random_connectivity(n_gc, 8, prop, 0)
    with pytest.raises(ValueError, match="no MC->GC connection"):
        check_prop(n_gc, prop)


def test_empty_mask_is_refused():
    with pytest.raises(ValueError, match=r"no MC->GC connection \(all 24 entries are 0\)"):
        validate_connectivity(np.zeros((3, 8)), 8)
    with pytest.raises(ValueError, match="no MC->GC connection"):
        Network(np.ones((8, 8)) * np.eye(8), n_gc=3, connectivity=np.zeros((3, 8)))


def test_gcs_with_fewer_than_two_inputs_are_named():
    mask = np.zeros((5, 4), dtype=bool)
    mask[1, 0] = True
    mask[2:, :] = True
    assert silent_gc_warning(mask) == ("2 of 5 GCs have fewer than two MC inputs (1 none, 1 "
                                       "one) and can never fire: a GC needs two coincident MC "
                                       "spikes")
    assert silent_gc_warning(np.ones((3, 4))) is None


def test_one_input_cannot_fire_a_gc():
    """The warning's premise: one MC spike at the largest MC->GC weight moves a GC by
    a * w_max, less than threshold - rest."""
    a = 0.22119140625
    assert a * STDPParams().w_max < GC_PARAMS.thr - GC_PARAMS.rest
    w = np.full((1, 1), 100.0, dtype=np.float32)          # the one MC fires every cycle
    net = Network(w, n_gc=1, connectivity=np.ones((1, 1)))
    net.stdp.w[:] = STDPParams().w_max
    assert net.process(np.ones((1, 1))).mc_phase.all()
    assert not net.process(np.ones((1, 1))).gc_phase.any()
