"""The configuration objects of the blocks (golden/fixed/config.py and the twins): defaults
written once, validation, serialisation."""

import json

import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.golden.fixed.mc_array import MCArrayConfig, SensorMCArrayConfig
from hetq.golden.fixed.normaliser import NormaliserConfig
from hetq.golden.fixed.quantizer import QuantizerConfig, lanes_for


def test_defaults_are_the_built_design():
    q = QuantizerConfig()
    assert (q.sensors, q.duplication, q.norm_lanes, q.mcs) == (8, 32, 2, 256)
    assert q.norm_lanes == lanes_for(8, 32)
    a = MCArrayConfig()
    assert (a.mcs, a.lanes, a.hold, a.rinse, a.inhibition) == (256, 1, 250, 50, False)
    s = SensorMCArrayConfig()
    assert s.quantizer == q and s.array == a


def test_normaliser_lanes_default_and_timing():
    n = NormaliserConfig()
    assert n.lanes == 8 and n.latency == 8 + 2 + 1 * 2 * 21 and n.period == n.latency + 1
    n2 = QuantizerConfig().normaliser
    assert n2.lanes == 2 and n2.latency == 8 + 2 + 4 * 2 * 21
    # the quantizer keeps up: one cycle per MC, the normaliser's period when it is longer
    assert QuantizerConfig().period == 256
    assert QuantizerConfig(duplication=4, norm_lanes=8).period == 53


def test_quantizer_timing_contract():
    q = QuantizerConfig()
    assert q.stages == 8 + 4 + 1 and q.latency == q.stages + 4
    assert q.sensor_latency == q.normaliser.latency + q.latency
    assert (q.weight_addr_bits, q.threshold_addr_bits, q.levels) == (8, 4, 16)


def test_mc_array_cycle_figures():
    a = MCArrayConfig()
    assert (a.groups, a.window, a.cycles_per_step) == (256, 300, 256)
    assert a.cycles_per_sample == 300 * 256 + 1
    few = MCArrayConfig(mcs=16, lanes=2)
    assert few.groups == 8 and few.cycles_per_step == 8 + MCArrayConfig.WRITE_STAGE
    assert few.cycles_per_sample == 300 * 18


def test_compact_mc_array_cycle_figures_and_serialisation():
    """The compact pipeline writes back after 3 cycles: the same figures with write stage 3;
    ``compact`` appears in the dict and the text only when it is on."""
    assert MCArrayConfig().write_stage == MCArrayConfig.WRITE_STAGE == 10
    c = MCArrayConfig(mcs=8, compact=True)
    assert c.write_stage == MCArrayConfig.COMPACT_WRITE_STAGE == 3
    assert (c.cycles_per_step, c.cycles_per_sample) == (8, 300 * 8 + 1)
    two = MCArrayConfig(mcs=4, lanes=2, compact=True)      # 2 groups: wait for the write-back
    assert (two.cycles_per_step, two.cycles_per_sample) == (5, 300 * 5)
    four = MCArrayConfig(mcs=4, compact=True)              # 4 groups: just no wait
    assert (four.cycles_per_step, four.cycles_per_sample) == (4, 300 * 4 + 1)
    assert "compact" not in MCArrayConfig().to_dict() and "compact" not in str(MCArrayConfig())
    assert c.to_dict()["compact"] is True and str(c).endswith("inhibition=False, compact=True)")
    assert SensorMCArrayConfig.make(sensors=2, duplication=2, compact=True).array.compact
    with pytest.raises(TypeError, match="compact must be a bool"):
        MCArrayConfig(compact=1)


@pytest.mark.parametrize("config", [
    NormaliserConfig(sensors=3, lanes=1), QuantizerConfig(duplication=4, norm_lanes=4),
    QuantizerConfig(fmt=FixedFormat(sensor_bits=8)), MCArrayConfig(mcs=64, lanes=4, hold=100,
                                                                   inhibition=True),
    SensorMCArrayConfig.make(sensors=4, duplication=8, lanes=2, rinse=0),
    MCArrayConfig(mcs=16, lanes=2, inhibition=True, compact=True),
    QuantizerConfig(datapath="serial"),
    SensorMCArrayConfig.make(sensors=2, duplication=4, datapath="serial"),
])
def test_round_trip_through_json(config):
    again = type(config).from_dict(json.loads(config.to_json()))
    assert again == config and hash(again) == hash(config)


def test_the_datapath_is_part_of_the_configuration():
    """Serialised always, printed when not the default; the serial datapath's cycle figures
    and normaliser lanes differ, the pipelined one's are as before."""
    serial, pipelined = QuantizerConfig(datapath="serial"), QuantizerConfig()
    assert serial != pipelined and hash(serial) != hash(pipelined)
    assert json.loads(serial.to_json())["datapath"] == "serial"
    assert json.loads(pipelined.to_json())["datapath"] == "pipelined"
    assert str(serial).endswith("norm_lanes=1, datapath=serial)")
    assert str(pipelined).endswith("norm_lanes=2)")
    assert (pipelined.mc_cycles, pipelined.stages, pipelined.latency) == (1, 13, 17)
    assert (serial.mc_cycles, serial.stages, serial.latency) == (22, 42, 43)
    assert serial.period == 256 * 22 and pipelined.period == 256
    with pytest.raises(ValueError, match="datapath must be one of pipelined, serial, not 'x'"):
        QuantizerConfig.from_dict({"datapath": "x"})


def test_from_dict_is_strict():
    with pytest.raises(ValueError, match="unknown QuantizerConfig field.*: lanes"):
        QuantizerConfig.from_dict({"sensors": 8, "lanes": 2})
    with pytest.raises(ValueError, match="unknown format field.*: bits"):
        QuantizerConfig.from_dict({"fmt": {**DEFAULT_FORMAT.to_dict(), "bits": 3}})
    with pytest.raises(ValueError, match="format field.*missing: current_int"):
        d = DEFAULT_FORMAT.to_dict()
        del d["current_int"]
        FixedFormat.from_dict(d)
    with pytest.raises(ValueError, match="duplication must be in \\[1, 1024\\], not 0"):
        QuantizerConfig.from_dict({"duplication": 0})


@pytest.mark.parametrize("make, exc, text", [
    (lambda: NormaliserConfig(sensors=8, lanes=3), ValueError,
     "lanes must divide sensors (8), not 3"),
    (lambda: QuantizerConfig(norm_lanes=3), ValueError, "lanes must divide sensors (8), not 3"),
    (lambda: QuantizerConfig(fmt=FixedFormat(weight_int=20, weight_frac=13)), ValueError,
     "weight codes of 33 bits do not fit the multiplier"),
    (lambda: MCArrayConfig(mcs=96, lanes=64), ValueError,
     "lanes must be a power of two that divides mcs (96), not 64"),
    (lambda: MCArrayConfig(inhibition=1), TypeError, "inhibition must be a bool"),
    (lambda: SensorMCArrayConfig(QuantizerConfig(duplication=4), MCArrayConfig()), ValueError,
     "the array has 256 MCs, the quantizer 32"),
    (lambda: SensorMCArrayConfig(QuantizerConfig(), MCArrayConfig(fmt=FixedFormat(
        current_int=3))), ValueError, "the same format"),
    (lambda: SensorMCArrayConfig.make(mcs=4), TypeError, "unknown argument(s) mcs"),
])
def test_validated_once_when_made(make, exc, text):
    with pytest.raises(exc) as e:
        make()
    assert text in str(e.value)


def test_printed_in_one_line():
    text = str(SensorMCArrayConfig.make(duplication=4))
    assert "\n" not in text
    assert text.startswith("SensorMCArrayConfig(quantizer=QuantizerConfig(sensors=8, "
                           "duplication=4, fmt=default, norm_lanes=8), array=MCArrayConfig(")
    assert "sensor UQ8.0" in str(QuantizerConfig(fmt=FixedFormat(sensor_bits=8)))
