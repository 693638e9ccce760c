"""The numerical range of the input (docs/model.md section 3): the per-sample sums the float32
model and the fixed-point host path normalise correctly, tested at both ends.

The model depends on a sample only through x / sum(x), and scaling by a power of two commutes
with float32 rounding while everything stays normal: inside the range the ET output and the
MC phases are bit for bit those of the same samples at sum 1. Outside, the error says so."""

import numpy as np
import pytest

from hetq.golden.fixed.normaliser import to_sensor_ints
from hetq.golden.network.model import SUM_MAX, SUM_MIN, Network, validate_samples
from hetq.golden.network.shunt import ShuntNormaliser
from hetq.golden.network.synth import SynthConfig, synthesize
from hetq.golden.network.weights import WeightSpec, data_blind_weights

def unit_samples(side=0):
    """Synthetic samples of both sessions with sums just above 1 (``side`` > 0), just below 1
    (< 0) or near 1 (0), plus a one-hot sample and one with a tiny and a large value."""
    x = np.concatenate([synthesize(SynthConfig(session=s))[0][::4]
                        for s in ("concentration", "saturation")])
    u = x / x.sum(axis=1, keepdims=True) * (1 + side * 2.0 ** -20)
    u[0] = [1, 0, 0, 0, 0, 0, 0, 0]
    u[1] = [2.0**-20, 0, 0, 0, 0, 0, 0, 1 - 2.0**-20]
    sums = u.sum(axis=1)
    assert (sums >= 1).all() if side > 0 else (sums <= 1).all() if side < 0 else True
    return u


def test_range_is_the_normal_float32_range():
    assert SUM_MIN == np.finfo(np.float32).tiny and SUM_MAX == 1 / SUM_MIN


@pytest.mark.parametrize("exponent", [-126, -125, -120, 120, 125, 126])
def test_float_model_is_scale_free_inside_the_range(exponent):
    """At sums 2**-126 .. 2**126 (the ends included) the MC phases equal those at sum ~1 bit
    for bit, and ET is x / sum(x) within float32 rounding (bit for bit too at the high end)."""
    u = unit_samples(side=-np.sign(exponent))
    w = data_blind_weights(WeightSpec("uniform", 8), 8)
    ref = Network(w).process(u, duration=50, rinse=50)
    scaled = np.ldexp(u, exponent)
    assert SUM_MIN <= scaled.sum(axis=1).min() and scaled.sum(axis=1).max() <= SUM_MAX
    out = Network(w).process(validate_samples(scaled), duration=50, rinse=50)
    np.testing.assert_equal(out.mc_phase, ref.mc_phase)
    if exponent > 0:      # at the low end values below 2**-126 are subnormal: ET may move 1 ulp
        np.testing.assert_equal(out.et, ref.et)
    err = np.abs(out.et.astype(np.float64) - u / u.sum(axis=1, keepdims=True)).max()
    assert err <= 2.0 ** -23, err


def test_just_outside_the_range_the_float_model_goes_wrong():
    """Why the limits are enforced (the ET layer without the input check): at sum 2**-127 the
    normalised values are off by more than float32 rounding, and from 2**-128 down the shunt's
    reciprocal overflows (for most samples at 2**-128, all at 2**-129), so the ET output is
    the raw input, not normalised at all."""
    u = unit_samples()
    with np.errstate(over="ignore"):
        et = ShuntNormaliser(8, len(u)).step(np.ldexp(u, -127).astype(np.float32))
        assert np.abs(et.astype(np.float64) - u).max() > 2.0 ** -23
        unnormalised = [np.abs(ShuntNormaliser(8, len(u)).step(np.ldexp(u, k).astype(
            np.float32)).sum(axis=1) - 1) > 0.99 for k in (-128, -129)]
    assert unnormalised[0].mean() > 0.5 and unnormalised[1].all()


@pytest.mark.parametrize("scale", [2.0 ** -127, 1e-40, 1e-45, 1e-300, 2.0 ** 127, 1e38])
def test_sums_outside_the_range_are_refused(scale):
    x = unit_samples()[:4] * scale
    with pytest.raises(ValueError, match=r"row 0 sums to .* \[2\^-126, 2\^126\]"):
        validate_samples(x)


def test_zero_rows_and_tiny_values_inside_a_normal_sum_are_valid():
    x = np.array([[0.0] * 4, [1.0, 1e-45, 0.0, 1e-300]])
    np.testing.assert_equal(validate_samples(x)[0], 0)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_fixed_host_path_range(bits):
    """to_sensor_ints is exact for any float64 sample whose largest value is at least
    2**(B - 1022) and refuses smaller ones (whose scale factor would overflow); it has no
    upper limit short of infinity."""
    u = unit_samples()
    ref = to_sensor_ints(u, bits)
    for exponent in (bits - 1022 + 3, 1020):      # +3: the largest value of a row is >= 1/8
        np.testing.assert_equal(to_sensor_ints(np.ldexp(u, exponent), bits), ref)
    top = np.zeros((1, 4))
    top[0, :2] = 2.0 ** (bits - 1022), 2.0 ** (bits - 1022) / 3
    np.testing.assert_equal(to_sensor_ints(top, bits)[0, :2],
                            [(1 << bits) - 1, round(((1 << bits) - 1) / 3)])
    with pytest.raises(ValueError, match=rf"largest value of .* below 2\^{bits - 1022}"):
        to_sensor_ints(top / 2, bits)
    np.testing.assert_equal(to_sensor_ints(np.zeros((1, 3)), bits), 0)
