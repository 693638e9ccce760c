import numpy as np
import pytest

from hetq.golden.network.iic import IICSynapse, iic_mask


def test_mask_tiles_identity():
    np.testing.assert_equal(iic_mask(2, 4), [[1, 0, 1, 0], [0, 1, 0, 1]])


def test_blocking_duration_learned_once():
    syn = IICSynapse(n_mc=2, n_gc=2, weight=-5.0)
    syn.learn(48, src=np.array([40, 45]), dst=np.array([13, 0]))      # not at p = 49
    assert not syn.blocking.any()
    syn.learn(49, src=np.array([40, 45]), dst=np.array([13, 0]))
    # GC0 -> MC0: MC fired at p = 13 -> 13. GC1 -> MC1: GC fired, MC silent -> 50.
    np.testing.assert_equal(syn.blocking, [13, 50])
    syn.learn(99, src=np.array([90, 95]), dst=np.array([77, 0]))
    np.testing.assert_equal(syn.blocking, [13, 50])  # frozen after its first change


def test_no_update_without_recent_mc_spike():
    syn = IICSynapse(n_mc=1, n_gc=1, weight=-1.0)
    syn.learn(149, src=np.array([140]), dst=np.array([20]))  # MC spike 129 steps ago
    assert syn.blocking[0] == 0


def test_block_status_inhibits_then_rebounds():
    syn = IICSynapse(n_mc=2, n_gc=2, weight=-5.0)
    syn.blocking[:] = [13, 50]
    src = np.array([[40, 0]])
    # status = B + (50 - src % 50) - (t - src) = 13 + 10 - (t - 40)
    assert syn.output(60, src)[0, 0] == -5     # status 3 > 0: inhibition
    assert syn.output(63, src)[0, 0] == 5      # status 0: rebound
    assert syn.output(64, src)[0, 0] == 0      # status < 0
    assert syn.output(60, src)[0, 1] == 0      # GC1 never fired (elapsed >= 50)
    assert syn.output(95, src)[0, 0] == 0      # more than a cycle ago


def test_zero_weight_is_inert_and_positive_rejected():
    syn = IICSynapse(2, 2, weight=-0.0)
    syn.blocking[:] = 5
    assert not syn.active and syn.output(10, np.array([[9, 9]])) == 0
    with pytest.raises(ValueError, match="GC->MC weight must be a finite value <= 0"):
        IICSynapse(2, 2, weight=1.0)
