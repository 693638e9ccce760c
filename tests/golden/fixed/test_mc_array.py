"""The fixed-point time-stepped MC array model: equivalence with the phase quantizer, an
independent integer transcription of docs/model.md section 4 (refractory counter included), the
voltage bounds with extreme extra currents, drive banks, readouts and errors."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import CYCLE, DEFAULT_FORMAT, FixedFormat, gamma_rom
from hetq.golden.fixed.neuron import lif_phase, phase_thresholds
from hetq.golden.fixed.mc_array import (MCArrayConfig, MCArrayModel, cycle_phases,
                                        drive_transfers, window_phases)
from hetq.golden.fixed.quantizer import QuantizerConfig, QuantizerModel
from hetq.sim.normaliser.stimulus import edge_samples, random_samples
from hetq.sim.quantizer.stimulus import initial_weights

F = DEFAULT_FORMAT


def reference_run(drives, extra, hold, rinse):
    """docs/model.md section 4 transcribed literally for integer codes, one MC and one step at a
    time: the refractory *counter* (+50 at a fire, -1 per step, cleared at the release)."""
    n, mcs = drives.shape
    window = hold + rinse
    g = gamma_rom(F)
    events, volts = [], np.zeros((n * window, mcs), dtype=np.int64)
    for mc in range(mcs):
        v, r, t = F.rest, 0, 0
        for k in range(n):
            for s in range(window):
                c = int(drives[k, mc]) if s < hold else 0
                e = 0 if extra is None else int(extra[k, s, mc])
                if v >= F.threshold:
                    v, r = F.rest, r + 50
                    events.append((t, mc))
                v = v + ((453 * (F.rest + c + int(g[t % CYCLE]) + e - v)) >> 11)
                v = min(v, F.threshold)
                if r > 0 and v > F.rest:
                    v = F.rest
                r = max(r - 1, 0)
                if (t + 1) % CYCLE == 0:
                    v, r = F.rest, 0
                volts[t, mc] = v
                t += 1
    return np.array(sorted(events), dtype=np.int64).reshape(-1, 2), volts


def quantizer_drives(seed, duplication, n=120):
    rng = np.random.default_rng(seed)
    config = QuantizerConfig(sensors=8, duplication=duplication)
    q = QuantizerModel(config, weights=initial_weights(config, rng))
    s = np.concatenate([edge_samples(8, F), random_samples(rng, n, 8, F)])
    return q.process(s)


@pytest.mark.parametrize("duplication", [4, 8, 16, 32])
def test_spike_phase_equals_the_quantizer_phase(duplication):
    out = quantizer_drives(duplication, duplication)
    n, mcs = out.drive.shape
    model = MCArrayModel(MCArrayConfig(mcs=mcs, hold=250, rinse=50))
    res = model.run(out.drive)
    np.testing.assert_equal(window_phases(res.events, samples=n, mcs=mcs), out.phase)
    every = cycle_phases(res.events, samples=n, mcs=mcs)
    np.testing.assert_equal(every[:, :5], np.repeat(out.phase[:, None], 5, axis=1))
    np.testing.assert_equal(every[:, 5], 0)                  # the rinse cycle is silent
    assert len(np.unique(out.phase)) >= 15                   # the inputs reach most phases


def test_every_threshold_and_its_neighbours():
    t = phase_thresholds(F).thresholds
    drives = np.unique(np.clip(np.concatenate([t - 1, t, t + 1, [0, F.drive_max]]), 0,
                               F.drive_max))
    res = MCArrayModel(MCArrayConfig(mcs=drives.size, hold=50, rinse=0)).run(drives[None, :])
    np.testing.assert_equal(window_phases(res.events, samples=1, mcs=drives.size, hold=50,
                                          rinse=0)[0], lif_phase(drives))
    table = phase_thresholds(F)
    q = QuantizerModel(QuantizerConfig(sensors=1, duplication=1), table=table)
    for c, ph in zip(drives, lif_phase(drives)):
        assert ph == (0 if c < t[0] else table.top_phase + 1 - int((c >= t).sum()))
    assert q.table.levels == 16


@pytest.mark.parametrize("inhibition", [False, True])
def test_matches_the_literal_model_with_a_refractory_counter(inhibition):
    rng = np.random.default_rng(11)
    n, mcs, hold, rinse = 4, 12, 100, 50
    drives = rng.integers(0, F.drive_max + 1, (n, mcs))
    drives[:, ::2] = rng.integers(400_000, 2_800_000, (n, mcs // 2))
    extra = None
    if inhibition:
        extra = rng.integers(-8 << 16, 8 << 16, (n, hold + rinse, mcs))
        extra[1] = F.current_min
        extra[2] = F.current_max
    res = MCArrayModel(MCArrayConfig(mcs=mcs, hold=hold, rinse=rinse)).run(drives, extra)
    events, volts = reference_run(drives, extra, hold, rinse)
    np.testing.assert_equal(res.events, events)
    np.testing.assert_equal(res.voltage, volts)
    assert len(events) > 20


def test_extreme_currents_stay_inside_the_array_voltage_format():
    fmt = F
    assert fmt.state_bits == 25 and fmt.current_bits == 23
    v_min, v_max, d_min, d_max = fmt.state_bounds()
    half = 1 << (fmt.state_bits - 1)
    assert -half <= v_min and v_max < half and -half <= d_min and d_max < half
    drives = np.array([[0, fmt.drive_max, 0, fmt.drive_max]])
    extra = np.zeros((1, 100, 4), dtype=np.int64)
    extra[..., :2] = fmt.current_min
    extra[..., 2:] = fmt.current_max
    res = MCArrayModel(MCArrayConfig(mcs=4, hold=100, rinse=0)).run(drives, extra)
    # the deepest voltage comes within 2.5 mV of the bound's target (-164 mV)
    assert res.voltage.min() < -161.5 * 65536
    assert res.voltage.min() >= v_min and res.voltage.max() == fmt.threshold
    # a strongly excited MC fires once per cycle, in the second step
    assert np.array_equal(np.unique(res.events[res.events[:, 1] == 3][:, 0] % CYCLE), [1])


def test_every_window_ends_at_rest():
    out = quantizer_drives(3, 4, n=10)
    res = MCArrayModel(MCArrayConfig(mcs=32, hold=100, rinse=50)).run(
        out.drive, np.full((out.drive.shape[0], 150, 32), -3 << 16))
    ends = res.voltage[CYCLE - 1::CYCLE]
    assert (ends == F.rest).all() and not res.refractory[CYCLE - 1::CYCLE].any()
    assert res.refractory.any()


def test_drive_banks_and_transfers():
    model = MCArrayModel(MCArrayConfig(mcs=4, hold=50, rinse=0))
    closed = model.load([(0, 5, 0), (3, 7, 0), (9, 1, 0), (1, 2, 1),    # sample 0, bank 0
                         (2, 8, 1),                                       # sample 1, bank 1
                         (0, 6, 1)])                                      # sample 2, bank 0
    np.testing.assert_equal(closed, [[5, 2, 0, 7], [0, 0, 8, 0], [6, 2, 0, 7]])
    np.testing.assert_equal(drive_transfers([[1, 2], [3, 4]]),
                            [[0, 1, 0], [1, 2, 1], [0, 3, 0], [1, 4, 1]])
    res = model.run_transfers([(0, F.drive_max, 1)])                      # bank 1
    assert res.samples == 1 and (res.events[:, 1] == 0).all() and len(res.events) == 1


def test_step_numbers_continue_and_wrap():
    model = MCArrayModel(MCArrayConfig(mcs=1, hold=100, rinse=50, step_bits=8))
    drive = np.array([[F.drive_max]])
    first = model.run(drive).events[:, 0]
    second = model.run(np.repeat(drive, 2, axis=0)).events[:, 0]
    np.testing.assert_equal(first, [1, 51])
    np.testing.assert_equal(second, [151, 201, 301 % 256, 351 % 256])
    assert model.step == 450


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(mcs=0), ValueError, "mcs must be in"),
    (dict(mcs=4, hold=60), ValueError, "hold must be a multiple of 50"),
    (dict(mcs=4, hold=0), ValueError, "hold must be in"),
    (dict(mcs=4, rinse=25), ValueError, "rinse must be a multiple of 50"),
    (dict(mcs=4, step_bits=4), ValueError, "step_bits must be in"),
    (dict(mcs=4.0), TypeError, "mcs must be an integer"),
    (dict(mcs=4, fmt="q"), TypeError, "fmt must be a FixedFormat"),
])
def test_parameter_errors(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        MCArrayConfig(**kwargs)
    with pytest.raises(TypeError, match="config must be an MCArrayConfig"):
        MCArrayModel(kwargs)


def test_input_errors():
    model = MCArrayModel(MCArrayConfig(mcs=2, hold=50, rinse=0))
    with pytest.raises(ValueError, match=r"drives must have shape \(samples, 2\)"):
        model.run(np.zeros((1, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="drive codes must lie in"):
        model.run(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="extra currents must have shape"):
        model.run(np.zeros((1, 2), dtype=np.int64), np.zeros((1, 49, 2)))
    with pytest.raises(ValueError, match=r"extra current codes must lie in .* \(SQ7.16\)"):
        model.run(np.zeros((1, 2), dtype=np.int64), np.full((1, 50, 2), 1 << 22))
    with pytest.raises(ValueError, match="drive codes must lie in"):
        model.load([(0, F.drive_max + 1, 1)])
    with pytest.raises(ValueError, match="events outside the windows"):
        window_phases([(50, 0)], samples=1, mcs=1, hold=50, rinse=0)


def test_format_extension():
    fmt = FixedFormat(current_int=3)
    assert fmt.current_bits == 19 and fmt.state_int == 8
    assert fmt.describe()["current"] == "SQ3.16" and fmt.describe()["array voltage"] == "SQ8.16"
    with pytest.raises(ValueError, match="current_int must be in"):
        FixedFormat(current_int=0)
