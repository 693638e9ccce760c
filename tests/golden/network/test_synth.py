import numpy as np
import pytest

from hetq.golden.network.synth import (
    SynthConfig, affinity_matrix, hoyer, synthesize, tune_contrast,
)

A_REFERENCE = [0.304791, 0.271082, 0.183190, 0.158179, 0.038698, 0.028963, 0.009357, 0.005739]


def test_seed_vector_reproduced():
    a = tune_contrast()
    np.testing.assert_allclose(a, A_REFERENCE, atol=5e-7)
    assert abs(hoyer(a) - 0.40006) < 1e-5


def test_affinity_is_xor_table():
    a = np.arange(8)
    aff = affinity_matrix(a)
    assert aff[3, 5] == 3 ^ 5 and aff[7, 0] == 7
    np.testing.assert_equal(np.diag(aff), 0)
    np.testing.assert_equal(aff, aff.T)


@pytest.mark.parametrize("session", ["concentration", "saturation"])
def test_session_shape_and_permutation(session):
    x, y, info = synthesize(SynthConfig(session=session))
    assert x.shape == (128, 8) and x.min() >= 0
    np.testing.assert_equal(y, np.repeat(np.arange(1, 9), 16))
    np.testing.assert_equal(info["permutation"], [3, 6, 5, 0, 2, 4, 1, 7])  # docs/model.md 11.5
    again, _, _ = synthesize(SynthConfig(session=session))
    np.testing.assert_equal(x, again)


def test_sessions_differ_in_response():
    conc, y, _ = synthesize(SynthConfig(session="concentration"))
    sat, _, _ = synthesize(SynthConfig(session="saturation"))
    # Concentration grows with the class' concentration; saturation is bounded by 8 sigmoids.
    assert conc[y == 8].sum(1).mean() > 30 * conc[y == 1].sum(1).mean()
    assert sat.max() < 8.5
    # each sensor responds most to its own source
    np.testing.assert_equal(np.argmax(conc.reshape(8, 16, 8).mean(1), axis=1), np.arange(8))


def test_noise_variants():
    cfg, flat = SynthConfig(noise="config"), SynthConfig(noise="flat")
    assert list(cfg.sigma) == [0.01] * 5 + [0.02, 0.05, 0.1] and list(flat.sigma) == [0.01] * 8
    with pytest.raises(ValueError, match="noise must be one of"):
        SynthConfig(noise="pink")
