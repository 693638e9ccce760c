"""The model of the hardware quantizer (golden/fixed/quantizer.py): hand cases, table writes, and
fidelity to the float model."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT
from hetq.golden.fixed.neuron import phase_thresholds
from hetq.golden.fixed.quantizer import (QuantizerConfig, QuantizerModel, fixed_mc_phases,
                                         quantize, stream_records, weight_table)
from hetq.golden.network.model import Network
from hetq.golden.network.synth import SynthConfig, synthesize
from hetq.golden.network.weights import WeightSpec, data_blind_weights
from hetq.fidelity import phase_level

F = DEFAULT_FORMAT
TABLE = phase_thresholds()


def codes(*weights):
    return weight_table(np.asarray(weights, dtype=float))


def test_one_hot_sample_hand_phases():
    """x = 1 on sensor 0: c = w, read off docs/model.md section 6."""
    s = np.array([[65535, 0]])
    w = codes(25.0, 7.0, 6.0, 100.0, 3.0, 3.0, 3.0, 3.0)      # D = 4, two sensors
    out = quantize(s, w, TABLE, 4)
    np.testing.assert_equal(out.phase, [[5, 17, 0, 2, 0, 0, 0, 0]])
    np.testing.assert_equal(out.drive[0, :4], [25 << 16, 7 << 16, 6 << 16, F.drive_max])


def test_zero_vector_is_silent_with_zero_drive():
    out = quantize(np.zeros((1, 8), dtype=int), codes(*[2500.0] * 32), TABLE, 4)
    assert not out.phase.any() and not out.drive.any()


def test_stream_records_layout():
    out = quantize(np.array([[1, 1], [0, 3]]), codes(10.0, 20.0), TABLE, 1)
    rec = stream_records(out)
    np.testing.assert_equal(rec[:, 0], [0, 1, 0, 1])
    np.testing.assert_equal(rec[:, 3], [0, 1, 0, 1])
    np.testing.assert_equal(rec[:, 1:3], np.stack([out.drive.ravel(), out.phase.ravel()], 1))


def test_writes_apply_between_samples_in_order():
    model = QuantizerModel(QuantizerConfig(sensors=2, duplication=1), weights=codes(25.0, 25.0))
    s = [65535, 0]
    rec = model.run([("sample", s), ("weight", 0, 0), ("sample", s),
                     ("threshold", 0, 0), ("sample", s)])
    np.testing.assert_equal(rec[:, 2], [5, 0, 0, 0, 17, 17])   # phases of MC 0, MC 1


@pytest.mark.parametrize("call, text", [
    (lambda m: m.write_weight(8, 0), r"weight address 8 out of range \[0, 8\)"),
    (lambda m: m.write_weight(0, 1 << 24), "weight code 16777216 out of range"),
    (lambda m: m.write_threshold(16, 0), r"threshold index 16 out of range \[0, 16\)"),
    (lambda m: m.write_threshold(0, -1), "threshold code -1 out of range"),
    (lambda m: m.run([("reset",)]), "unknown event kind 'reset'"),
    (lambda m: m.process(np.zeros((1, 3), dtype=int)), "have 3 sensors, expected 2"),
])
def test_model_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call(QuantizerModel(QuantizerConfig(sensors=2, duplication=4)))


def test_writes_beyond_the_table_are_dropped():
    """6 MCs: the weight port carries addresses 0..7, and 6 and 7 are dropped (as the RTL
    drops them; tests/hdl/test_quantizer.py makes such writes on the RTL)."""
    model = QuantizerModel(QuantizerConfig(sensors=2, duplication=3), weights=codes(*[25.0] * 6))
    before = model.weights.copy()
    assert model.write_weight(6, 123) is False and model.write_weight(7, 0) is False
    np.testing.assert_equal(model.weights, before)
    assert model.write_weight(5, 123) is True and model.weights[5] == 123
    with pytest.raises(ValueError, match=r"weight address 8 out of range \[0, 8\)"):
        model.write_weight(8, 0)


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"sensors": 0, "duplication": 4}, ValueError, "sensors must be in [1, 64], not 0"),
    ({"sensors": 2, "duplication": 2.0}, TypeError, "duplication must be an integer"),
    ({"sensors": 2, "duplication": 2, "fmt": "UQ"}, TypeError, "fmt must be a FixedFormat"),
])
def test_config_parameter_errors(kwargs, exc, text):
    with pytest.raises(exc) as e:
        QuantizerConfig(**kwargs)
    assert text in str(e.value)


def test_model_parameter_errors():
    with pytest.raises(ValueError, match=r"weights must be 4 integer codes .* got shape \(3,\)"):
        QuantizerModel(QuantizerConfig(sensors=2, duplication=2), weights=[1, 2, 3])
    with pytest.raises(TypeError, match="config must be a QuantizerConfig, not dict"):
        QuantizerModel({"sensors": 2})


def test_weights_that_do_not_fit_are_reported():
    w = data_blind_weights(WeightSpec("homogeneous", 4, gain=9000.0), 8)
    with pytest.raises(ValueError, match=r"weight of MC 0 \(9000\) does not fit"):
        fixed_mc_phases(np.ones((2, 8)), w)


def test_fixed_mc_phases_shape_errors():
    w = data_blind_weights(WeightSpec("uniform", 4), 8)
    with pytest.raises(ValueError, match="do not match weights for 8 sensors"):
        fixed_mc_phases(np.ones((2, 7)), w)
    with pytest.raises(ValueError, match=r"\(sensors\*D, sensors\) matrix"):
        fixed_mc_phases(np.ones((2, 8)), w[:, 0])


@pytest.mark.parametrize("session", ["concentration", "saturation"])
def test_fixed_model_follows_the_float_model(session):
    x, _, _ = synthesize(SynthConfig(session=session))
    w = data_blind_weights(WeightSpec("uniform", 8), 8)
    ref = Network(w).process(x).mc_phase
    got = fixed_mc_phases(x, w)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert np.mean(got == ref) >= 0.999
    assert np.abs(phase_level(got) - phase_level(ref)).max() <= 1


def test_eight_bit_sensors_lose_fidelity_sixteen_do_not():
    """The input format is the main error source: 8-bit codes cost visibly more phases."""
    x, _, _ = synthesize(SynthConfig(session="concentration"))
    w = data_blind_weights(WeightSpec("uniform", 32), 8)
    ref = Network(w).process(x).mc_phase
    eq16 = np.mean(fixed_mc_phases(x, w, sensor_bits=16) == ref)
    eq8 = np.mean(fixed_mc_phases(x, w, sensor_bits=8) == ref)
    assert eq16 > 0.9995 > eq8
