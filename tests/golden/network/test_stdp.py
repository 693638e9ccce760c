import math

import numpy as np

from hetq.golden.network.stdp import DecaySTDP, DelayLine

YES, NO = np.array([True]), np.array([False])


def pair():
    return DecaySTDP(np.ones((1, 1), dtype=bool))


def test_one_pair_potentiation_every_step_without_new_spikes():
    syn = pair()
    syn.update(10, YES, NO)          # MC spike delivered at step 9, stamped 10
    assert syn.w[0] == 25            # no GC spike yet: nothing to learn
    syn.update(11, NO, YES)          # GC spike at step 10, stamped 11: delta = -1
    step = 0.3125 * math.exp(-0.25)
    np.testing.assert_allclose(syn.w[0], 25 + step, rtol=1e-6)
    syn.update(12, NO, NO)           # stale stamps: the same update again
    np.testing.assert_allclose(syn.w[0], 25 + 2 * step, rtol=1e-6)


def test_one_pair_depression_and_pruning():
    syn = pair()
    syn.update(10, NO, YES)          # post first
    syn.update(12, YES, NO)          # pre 2 steps later: delta = +2
    np.testing.assert_allclose(syn.w[0], 25 - 1.25 * math.exp(-0.5), rtol=1e-6)
    for s in range(13, 60):
        syn.update(s, NO, NO)
    assert syn.w[0] == 0
    syn.update(60, YES, YES)         # a pruned weight never comes back (delta = 0 anyway)
    syn.update(61, NO, YES)
    assert syn.w[0] == 0


def test_non_causation_penalty_and_freeze_at_max():
    syn = DecaySTDP(np.ones((2, 1), dtype=bool))
    syn.w[1] = 30
    syn.update(10, YES, np.array([False, False]))
    syn.update(70, NO, np.array([True, True]))   # delta = 10 - 70 = -60 < -50
    assert syn.w[0] == 0                          # 25 + tiny - 50, clamped
    assert syn.w[1] == 30                         # w_max is frozen


def test_unconnected_pairs_keep_zero_and_matrix_roundtrip():
    mask = np.array([[True, False], [False, True]])
    syn = DecaySTDP(mask)
    np.testing.assert_equal(syn.matrix, [[25, 0], [0, 25]])
    syn.matrix = np.array([[30, 7], [7, 12]])
    np.testing.assert_equal(syn.matrix, [[30, 0], [0, 12]])
    syn.clamp_after_training()
    np.testing.assert_equal(syn.matrix, [[30, 0], [0, 0]])


def test_delay_line():
    line = DelayLine(3, 2)
    seq = [np.array([[i % 2 == 0, i % 3 == 0]]) for i in range(8)]
    out = [line.push(s) for s in seq]
    for i in range(8):
        np.testing.assert_equal(out[i], seq[i - 3] if i >= 3 else [[False, False]])
