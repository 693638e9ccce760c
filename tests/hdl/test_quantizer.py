"""The phase quantizer in Amaranth's simulator against the golden model: random and edge
samples, table writes mid-stream, random valid/ready, several sizes; latency, II and
parameter checks."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.golden.fixed.neuron import PhaseTable, phase_thresholds
from hetq.golden.fixed.normaliser import NormaliserConfig
from hetq.golden.fixed.quantizer import QuantizerConfig, lanes_for
from hetq.hdl.quantizer import PhaseQuantizer, SensorQuantizer
from hetq.sim.kit.events import merge_order
from hetq.sim.quantizer.amaranth_bench import run_amaranth
from hetq.sim.quantizer.stimulus import Stimulus, Write, expected_records, make_stimulus


def config(sensors=8, duplication=4, **kwargs):
    return QuantizerConfig(sensors=sensors, duplication=duplication, **kwargs)


@pytest.mark.parametrize("duplication, n", [(4, 48), (8, 32), (16, 24), (32, 16)])
def test_sensor_quantizer_matches_golden(duplication, n):
    stim = make_stimulus(duplication, n, config(8, duplication))
    res = run_amaranth(stim, seed=duplication + 1, stall=0.25)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert any(kind == "write" for kind, _ in res.order)


@pytest.mark.parametrize("sensors, duplication", [(8, 4), (3, 5), (1, 1)])
def test_phase_quantizer_matches_golden(sensors, duplication):
    stim = make_stimulus(sensors, 40, config(sensors, duplication), normalised=True)
    res = run_amaranth(stim, seed=7, stall=0.3)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


def test_eight_bit_sensors():
    fmt = FixedFormat(sensor_bits=8)
    stim = make_stimulus(4, 40, config(fmt=fmt))
    res = run_amaranth(stim, seed=2, stall=0.2)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


def test_a_table_rewritten_mid_stream_changes_the_outputs():
    """Writes between samples take effect exactly there: replaying the same transfers with
    the writes left out gives different outputs, so the comparison above can fail."""
    stim = make_stimulus(99, 40, config(), writes=False)
    mid = 15 * stim.period                     # offered while sample 15 or so is in flight
    stim.writes = [Write("weight", 0, 0, mid), Write("threshold", 0, 0, 0)]
    res = run_amaranth(stim, seed=3, stall=0.1)
    assert ("write", 0) in res.order[5:-5]
    expected = expected_records(stim, res.order)
    np.testing.assert_equal(res.records, expected)
    no_writes = [(k, i) for k, i in res.order if k == "sample"]
    assert np.any(expected_records(stim, no_writes) != expected)


def test_writes_of_every_kind_and_address_edge():
    """Weight writes to the first and last rows (0 and the saturating code), two writes beyond
    the table (24 MCs, so the 5-bit port carries addresses 24..31: taken and dropped, by the
    RTL and by the model), threshold writes to both ends of the table, back to back."""
    table = phase_thresholds()
    stim = make_stimulus(5, 12, config(8, 3), writes=False)
    top_w, top_c = DEFAULT_FORMAT.weight_max, DEFAULT_FORMAT.drive_max
    stim.writes = [Write("weight", 0, 0, 40), Write("weight", 23, top_w, 0),
                   Write("weight", 24, top_w, 30), Write("weight", 31, 0, 0),
                   Write("threshold", 0, int(table.thresholds[0]) + 4096, 0),
                   Write("threshold", 15, 0, 90), Write("threshold", 15, top_c, 0)]
    res = run_amaranth(stim, seed=4, stall=0.0)
    assert sum(kind == "write" for kind, _ in res.order) == len(stim.writes)   # all taken
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    # the samples after the dropped writes see the table as the in-range writes left it
    beyond = [i for i, w in enumerate(stim.writes) if w.addr >= 24 and w.kind == "weight"]
    kept = [(k, i) for k, i in res.order if not (k == "write" and i in beyond)]
    np.testing.assert_equal(expected_records(stim, kept), res.records)


def test_latency_and_one_mc_per_clock():
    stim = make_stimulus(1, 6, config(8, 32), writes=False)
    dut = SensorQuantizer(stim.config, weights=stim.weights)
    res = run_amaranth(stim, seed=0, stall=0.0, dut=dut)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert res.last_out - res.first_in + 1 == dut.latency + 6 * 256   # II = 1, no bubbles
    one = Stimulus(config=config(), weights=stim.weights[:32], samples=stim.samples[:1],
                   normalised=True)
    pq = PhaseQuantizer(one.config, weights=one.weights)
    r = run_amaranth(one, seed=0, stall=0.0, dut=pq)
    assert r.last_out - r.first_in - 31 == pq.latency


def test_lanes_for_picks_the_fewest_dividers_that_keep_up():
    assert lanes_for(8, 32) == 2 and lanes_for(8, 64) == 1 and lanes_for(8, 4) == 8
    assert NormaliserConfig(8, DEFAULT_FORMAT, 2).period <= 256 < NormaliserConfig(
        8, DEFAULT_FORMAT, 1).period
    stim = make_stimulus(8, 10, config(8, 32), writes=False)
    assert stim.config.norm_lanes == 2
    res = run_amaranth(stim, seed=1, stall=0.0)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert res.cycles_per_sample < 256 + 25                    # keeps up: about one per MC


def test_merge_order_rules():
    assert merge_order([3, 5], [5], "sample-first") == [("sample", 0), ("sample", 1),
                                                        ("write", 0)]
    with pytest.raises(RuntimeError, match="both accepted in cycle 5"):
        merge_order([3, 5], [5])


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"weights": np.zeros(31, dtype=int)}, ValueError, "weights must be 32 integer codes"),
    ({"weights": np.zeros(32)}, ValueError, "dtype float64"),
    ({"weights": np.full(32, 1 << 24)}, ValueError,
     "weight codes must lie in [0, 16777215] (24 bits), got range [16777216, 16777216]"),
    ({"table": [1, 2]}, TypeError, "table must be a PhaseTable, not list"),
    ({"table": PhaseTable(np.array([1, 1 << 22]), 17)}, ValueError,
     "thresholds must be 1 or more codes in [0, 4194303]"),
    ({"table": PhaseTable(np.arange(1, 17), 15)}, ValueError, "top_phase 15 must be in"),
])
@pytest.mark.parametrize("cls", [PhaseQuantizer, SensorQuantizer])
def test_parameter_errors(cls, kwargs, exc, text):
    with pytest.raises(exc) as e:
        cls(config(), **kwargs)
    assert text in str(e.value)


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"duplication": 0}, ValueError, "duplication must be in [1, 1024], not 0"),
    ({"duplication": "4"}, TypeError, "duplication must be an integer, not '4'"),
    ({"sensors": 65}, ValueError, "sensors must be in [1, 64], not 65"),
    ({"fmt": FixedFormat(weight_int=20, weight_frac=13)}, ValueError,
     "weight codes of 33 bits do not fit the multiplier (at most 32 bits)"),
    ({"norm_lanes": 3}, ValueError, "lanes must divide sensors"),
])
def test_configuration_errors(kwargs, exc, text):
    with pytest.raises(exc) as e:
        QuantizerConfig(**{"sensors": 8, "duplication": 4, **kwargs})
    assert text in str(e.value)


def test_a_component_takes_only_its_configuration():
    with pytest.raises(TypeError, match="config must be a QuantizerConfig, not NormaliserConfig"):
        PhaseQuantizer(NormaliserConfig())
