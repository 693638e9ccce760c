"""The host client (boards/client.py) against the device model: every command, pipelining,
retries, fault injection with every damaged frame accounted for, refused input."""

import numpy as np
import pytest

from hetq.boards.client import Board, LinkError, sensor_codes
from hetq.golden.fixed.link import Cmd
from hetq.golden.fixed.mc_array import MCArrayConfig, MCArrayModel
from hetq.golden.fixed.quantizer import QuantizerConfig, QuantizerModel, weight_table
from hetq.golden.fixed.system import DeviceModel, SystemConfig
from hetq.golden.network.weights import WeightSpec, data_blind_weights
from hetq.sim.board.faults import FaultyPort, damaged_frames
from hetq.sim.board.model_port import ModelPort

CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=8, duplication=4),
                      array=MCArrayConfig(mcs=32, hold=50, rinse=50))


def uniform(d=4):
    return data_blind_weights(WeightSpec("uniform", d), 8)


def board(config=CONFIG, weights=None, **kwargs):
    model = DeviceModel(config, weights=weights)
    return Board(ModelPort(model), **kwargs), model


def test_info_gives_the_configuration():
    b, _ = board()
    info = b.info()
    assert info.config == CONFIG and info.fields["slots"] == 4


def test_process_equals_the_fixed_point_model():
    b, _ = board(weights=weight_table(uniform()))
    rng = np.random.default_rng(3)
    x = rng.random((50, 8)) * rng.choice([1e-3, 1.0, 1e4], (50, 1))
    codes, et, phase = b.process(x)
    ref = QuantizerModel(CONFIG.quantizer, weights=weight_table(uniform())).process(codes)
    np.testing.assert_equal(phase, ref.phase)
    np.testing.assert_equal(codes, sensor_codes(x, CONFIG.quantizer.fmt))
    assert b.stats.requests == 1 + 50 and b.stats.retries == 0


def test_load_and_read_back_tables():
    b, model = board()
    w = uniform()
    codes = b.load_weights(w)
    np.testing.assert_equal(codes, weight_table(w))
    np.testing.assert_equal(model.quantizer.weights, codes)
    np.testing.assert_equal(b.read_weights(), codes)
    t = model.quantizer.table.thresholds + 3
    b.write_table("thresholds", t)
    np.testing.assert_equal(b.read_table("thresholds"), t)
    assert b.table_hash() == b.info().table_hash


def test_raster_through_the_array():
    b, _ = board(weights=weight_table(uniform()))
    sample = np.array([5, 1, 0, 0, 2, 0, 9, 1])
    events = b.raster(sample)
    drives = QuantizerModel(CONFIG.quantizer, weights=weight_table(uniform())).process(
        sample[None]).drive
    np.testing.assert_equal(events, MCArrayModel(CONFIG.array).run(drives).events)


def test_a_board_without_rasters_refuses_them_before_a_byte_is_sent():
    config = CONFIG.replace(rasters=False)
    b, model = board(config)
    assert b.info().config == config and not b.config.rasters
    before = dict(model.counters)
    with pytest.raises(LinkError, match="built without RASTER"):
        b.raster(np.ones(8))
    assert model.counters == before                   # nothing reached the device
    assert b.process(np.ones((2, 8)))[2].shape == (2, 32)


@pytest.mark.parametrize("bad, text", [
    (np.array([[1.0, np.nan] + [0.0] * 6]), "NaN or infinite"),
    (np.array([[1.0, -1.0] + [0.0] * 6]), "must be >= 0"),
    (np.array([[70000] + [0] * 7]), "sensor codes must lie in"),
    (np.ones((2, 7)), "samples have 7 sensors, the board 8"),
])
def test_bad_samples_are_refused_before_a_byte_is_sent(bad, text):
    b, _ = board()
    b.info()
    sent = b.stats.requests
    with pytest.raises(ValueError, match=text):
        b.process(bad)
    assert b.stats.requests == sent


def test_weights_that_do_not_fit_are_refused():
    b, _ = board()
    with pytest.raises(ValueError, match="does not fit the weight table format"):
        b.load_weights(np.full(32, 9000.0))
    with pytest.raises(ValueError, match="weights must have 32 entries"):
        b.load_weights(np.ones(31))


def test_an_error_status_is_a_link_error():
    b, _ = board()
    b.info()
    with pytest.raises(LinkError, match="status BAD_ADDRESS"):
        b.transact([(Cmd.READ_WEIGHTS, b"\x20\x00\x01")])


def test_a_dead_link_names_the_cause():
    class Silent:
        def write(self, data):
            return len(data)

        def read(self, n=1):
            return b""

    b = Board(Silent(), timeout=0.01, retries=3)
    with pytest.raises(LinkError, match=r"no good reply to request 0 \(INFO, seq 0\) after 3 "
                                        r"attempts"):
        b.info()


def test_faults_never_give_a_wrong_result_and_are_all_accounted_for():
    """1 % of the bytes in both directions corrupted, dropped or duplicated-with-insert: every
    sample comes back equal to the model (retried until it did), the device's counters count
    every damaged request frame and the client every damaged reply frame."""
    model = DeviceModel(CONFIG, weights=weight_table(uniform()))
    port = FaultyPort(ModelPort(model), 0.01, seed=7)
    b = Board(port, timeout=0.002, retries=50)
    x = np.random.default_rng(1).random((300, 8))
    codes, _, phase = b.process(x)
    ref = QuantizerModel(CONFIG.quantizer, weights=weight_table(uniform())).process(codes)
    np.testing.assert_equal(phase, ref.phase)
    injected = sum(port.faults.values())
    assert injected > 100 and b.stats.retries > 0
    bad_in = damaged_frames(port.sent_in, port.sent_out)
    c = model.counters
    assert c["crc_errors"] + c["dropped_frames"] == bad_in > 0
    assert b.stats.bad_frames == damaged_frames(port.got_in, port.got_out) > 0
