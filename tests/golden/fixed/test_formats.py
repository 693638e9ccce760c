"""The fixed-point arithmetic (golden/fixed.py): formats, hand cases, and the float model as
the independent reference of the LIF recursion."""

from fractions import Fraction

import numpy as np
import pytest

from hetq.golden.fixed.formats import CYCLE, DEFAULT_FORMAT, FixedFormat, gamma_rom
from hetq.golden.fixed.neuron import PhaseTable, lif_phase, phase_from_thresholds, phase_thresholds
from hetq.golden.fixed.quantizer import drive, weight_table
from hetq.golden.fixed.normaliser import normalise, to_sensor_ints
from hetq.golden.network.lif import MC_PARAMS, LIFLayer, gamma_drive_table
from hetq.golden.network.weights import WeightSpec, data_blind_weights

F = DEFAULT_FORMAT
ONE = 1 << F.x_frac
C = 1 << F.drive_frac          # drive code of 1.0 mV


# -- formats ----------------------------------------------------------------------------------

def test_default_widths():
    assert (F.x_bits, F.weight_bits, F.drive_bits, F.voltage_bits) == (21, 24, 22, 24)
    assert F.product_shift == 11 + 20 - 16
    assert F.sum_bits(8) == 19 and F.sum_bits(1) == 16
    assert F.drive_max == (1 << 22) - 1 and F.weight_max == (1 << 24) - 1
    assert F.rest == -60 * C and F.threshold == -55 * C
    assert F.describe()["weight"] == "UQ13.11"


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"sensor_bits": 0}, ValueError, "sensor_bits must be in [1, 32], not 0"),
    ({"sensor_bits": 16.0}, TypeError, "sensor_bits must be an integer"),
    ({"x_frac": True}, TypeError, "x_frac must be an integer"),
    ({"drive_int": 0}, ValueError, "drive_int must be in [1, 16], not 0"),
    ({"weight_int": 0, "weight_frac": 0}, ValueError, "at least one bit"),
    ({"weight_frac": 0, "x_frac": 8, "drive_frac": 9}, ValueError,
     "drive_frac (9) must not exceed weight_frac + x_frac (8)"),
    ({"weight_int": 30, "weight_frac": 20, "x_frac": 30}, ValueError, "exceeds 62 bits"),
])
def test_bad_formats(kwargs, exc, text):
    with pytest.raises(exc) as e:
        FixedFormat(**kwargs)
    assert text in str(e.value)


# -- input ------------------------------------------------------------------------------------

def test_to_sensor_ints_per_sample_scale():
    x = np.array([[0.5, 1.0, 0.0], [0.0, 0.0, 0.0], [3.0, 1.5, 0.75]])
    np.testing.assert_equal(to_sensor_ints(x, 8), [[128, 255, 0], [0, 0, 0], [255, 128, 64]])
    np.testing.assert_equal(to_sensor_ints(x, 16)[0], [32768, 65535, 0])


@pytest.mark.parametrize("bad, text", [
    ([[1.0, np.nan]], "NaN or infinite"),
    ([[1.0, -0.5]], "must be >= 0"),
    ([1.0, 2.0], "must be 2-D"),
])
def test_to_sensor_ints_errors(bad, text):
    with pytest.raises(ValueError, match=text):
        to_sensor_ints(bad, 16)


def test_normalise_hand_cases():
    s = np.array([
        [0, 0, 0, 0],                     # zero sum: all zero
        [0, 0, 0, 1],                     # the smallest non-zero sum: one-hot, x = 1.0
        [65535, 0, 0, 0],                 # one-hot at full scale
        [65535] * 4,                      # all maximal: 1/4 each
        [1, 2, 0, 0],                     # thirds, floored
        [7, 7, 7, 7],                     # all equal
    ])
    np.testing.assert_equal(normalise(s), [
        [0, 0, 0, 0],
        [0, 0, 0, ONE],
        [ONE, 0, 0, 0],
        [ONE // 4] * 4,
        [349525, 699050, 0, 0],
        [ONE // 4] * 4,
    ])


def test_normalise_is_the_floor_of_the_exact_quotient():
    rng = np.random.default_rng(11)
    s = rng.integers(0, 1 << 16, (400, 8)) >> rng.integers(0, 17, (400, 1))
    x = normalise(s)
    total = s.sum(1, keepdims=True)
    nz = total[:, 0] > 0
    lhs = x[nz] * total[nz]
    rhs = s[nz] << F.x_frac
    assert np.all(lhs <= rhs) and np.all(rhs < lhs + total[nz])
    assert np.all(x[~nz] == 0)


@pytest.mark.parametrize("bad, text", [
    ([[1, 65536]], r"must lie in \[0, 65535\] \(16 bits\), got range \[1, 65536\]"),
    ([[1, -1]], r"must lie in \[0, 65535\]"),
    ([[1.5, 2]], "must be integers"),
    ([1, 2], "must be 2-D"),
])
def test_normalise_rejects_bad_codes(bad, text):
    with pytest.raises(ValueError, match=text):
        normalise(bad)


# -- weights and drive ------------------------------------------------------------------------

def test_weight_table_rounding_and_block_matrix():
    codes = weight_table([25.0, 0.0, 2500.0, 0.75 / 2048, 1.25 / 2048])
    np.testing.assert_equal(codes, [25 * 2048, 0, 2500 * 2048, 1, 1])   # half to even
    w = data_blind_weights(WeightSpec("homogeneous", 4, gain=37.0), 8)
    np.testing.assert_equal(weight_table(w), np.full(32, 37 * 2048))


@pytest.mark.parametrize("bad, text", [
    ([1.0, 8192.0], r"weight of MC 1 \(8192\) does not fit the weight table format UQ13.11 "
                    r"\(largest weight 8191.999512\)"),
    ([1.0, np.inf], "weight of MC 1 is inf"),
    ([-1.0], "weight of MC 0 is -1; weights must be finite and >= 0"),
    ([], "per-MC vector"),
])
def test_weight_table_errors(bad, text):
    with pytest.raises(ValueError, match=text):
        weight_table(bad)


def test_weight_table_keeps_the_block_check():
    w = np.zeros((8, 2))
    w[0, 1] = 3.0
    with pytest.raises(ValueError, match="block structure"):
        weight_table(w)


def test_drive_hand_cases():
    assert drive(25 * 2048, ONE) == 25 * C                 # w = 25, x = 1
    assert drive(1, ONE) == 1 << (F.x_frac - F.product_shift)
    assert drive(F.weight_max, ONE) == F.drive_max        # saturates
    assert drive(64 * 2048, ONE) == F.drive_max           # exactly 64.0 saturates too
    assert drive(64 * 2048 - 1, ONE) == 64 * C - 32       # just below
    assert drive(2500 * 2048, 0) == 0


def test_drive_is_the_floor_of_the_exact_product():
    rng = np.random.default_rng(5)
    w = rng.integers(0, F.weight_max + 1, 2000) >> rng.integers(0, 24, 2000)
    x = rng.integers(0, ONE + 1, 2000) >> rng.integers(0, 21, 2000)
    c = drive(w, x)
    for wi, xi, ci in zip(w.tolist(), x.tolist(), c.tolist()):
        exact = Fraction(wi * xi, 1 << F.product_shift)
        assert ci == min(int(exact), F.drive_max)


# -- the neuron -------------------------------------------------------------------------------

def test_gamma_rom_against_the_float_table():
    g = gamma_rom()
    assert g[0] == -20 * C and g[25] == -20 * C
    assert g.max() <= 0 and g.min() >= -40 * C
    np.testing.assert_allclose(g / C, gamma_drive_table(), atol=1 / C)


def float_phase(c):
    """Spike phase of MCs with constant drives ``c`` through the float32 LIF of the float
    model (one cycle from rest, GC->MC off)."""
    c = np.asarray(c, dtype=np.float32)
    layer = LIFLayer(len(c), MC_PARAMS)
    gamma = gamma_drive_table()
    phase = np.zeros(len(c), dtype=np.int16)
    for p in range(CYCLE):
        fired = layer.step(c + gamma[p], p)[0]
        phase[fired & (phase == 0)] = p + 1
    return phase


def test_lif_phase_agrees_with_the_float_neuron():
    rng = np.random.default_rng(3)
    c = np.concatenate([rng.uniform(0, 64, 3000), rng.uniform(6, 45, 3000)])
    table = phase_thresholds()
    codes = np.floor(c * C).astype(np.int64)
    # keep away from boundaries, where float32 and fixed point may round differently
    far = np.abs(codes[:, None] - table.thresholds[None, :]).min(1) > 8
    np.testing.assert_equal(lif_phase(codes[far]), float_phase(codes[far] / C))
    assert far.sum() > 5000


def test_thresholds_match_the_model_table():
    """docs/model.md section 6: rheobase 6.7855, phase boundaries 7.020/7.021 ... 42.604/42.605."""
    table = phase_thresholds()
    assert (table.top_phase, table.levels) == (17, 16)
    bounds = [6.7855, 7.0205, 7.5085, 8.2375, 9.1935, 10.3585, 11.7135, 13.2395, 14.9235,
              16.7575, 18.7495, 20.9405, 23.4465, 26.5725, 31.2985, 42.6045]
    np.testing.assert_allclose(table.thresholds / C, bounds, atol=1.5e-3)


def test_every_drive_code_phase_from_thresholds_equals_the_recursion():
    """The contract with the time-stepped MC array: for every drive code, comparing with
    the thresholds gives the phase the integer recursion gives."""
    table = phase_thresholds()
    codes = np.arange(F.drive_max + 1, dtype=np.int64)
    step = 1 << 20
    for lo in range(0, len(codes), step):
        part = codes[lo:lo + step]
        np.testing.assert_equal(phase_from_thresholds(part, table), lif_phase(part))


def test_phase_is_monotone_and_only_2_to_17_occur():
    table = phase_thresholds()
    codes = np.arange(0, F.drive_max + 1, 97)
    ph = lif_phase(codes)
    assert set(np.unique(ph)) == {0, *range(2, 18)}
    level = np.where(ph == 0, 18, ph)
    assert np.all(np.diff(level) <= 0)
    assert lif_phase(table.thresholds[0] - 1) == 0 and lif_phase(table.thresholds[0]) == 17


def test_count_semantics_for_any_table():
    table = PhaseTable(np.array([30, 10, 20]), 17)     # not ascending: the count still rules
    np.testing.assert_equal(phase_from_thresholds([5, 10, 25, 30, 99], table),
                            [0, 17, 16, 15, 15])


@pytest.mark.parametrize("fmt", [FixedFormat(drive_frac=12), FixedFormat(drive_frac=18),
                                 FixedFormat(drive_int=7)])
def test_other_formats_keep_the_contract(fmt):
    table = phase_thresholds(fmt)
    assert (table.top_phase, table.levels) == (17, 16)
    edges = np.concatenate([table.thresholds - 1, table.thresholds, [0, fmt.drive_max]])
    np.testing.assert_equal(phase_from_thresholds(edges, table), lif_phase(edges, fmt))


def test_a_drive_format_that_cannot_fire_is_an_error():
    with pytest.raises(ValueError, match="cannot make an MC fire"):
        phase_thresholds(FixedFormat(drive_int=2))


def test_lif_phase_rejects_out_of_range_drives():
    with pytest.raises(ValueError, match="drive codes must lie in"):
        lif_phase([F.drive_max + 1])
