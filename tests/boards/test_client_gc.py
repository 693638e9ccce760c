"""The host client against the device model with a GC layer (protocol version 2): the whole
fold (connect, train, clamp, sample) equals FixedNetwork, also through a faulty link, and
what a board without a GC layer refuses before a byte is sent."""

import numpy as np
import pytest

from hetq.boards.client import Board, LinkError
from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.golden.fixed.link import GcTable
from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.network import FixedNetwork
from hetq.golden.fixed.quantizer import QuantizerConfig, weight_table
from hetq.golden.fixed.system import DeviceModel, SystemConfig
from hetq.golden.network.connectivity import random_connectivity
from hetq.golden.network.weights import WeightSpec, data_blind_weights
from hetq.sim.board.faults import FaultyPort
from hetq.sim.board.model_port import ModelPort

GC = GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=50, rinse=50)
CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                      array=MCArrayConfig(mcs=8, hold=50, rinse=50), gc=GC)


def weights():
    return data_blind_weights(WeightSpec("uniform", 4), 2)


def board(config=CONFIG, port=None, **kwargs):
    model = DeviceModel(config, weights=weight_table(weights()))
    return Board(port(ModelPort(model)) if port else ModelPort(model), **kwargs), model


def data(seed, n):
    rng = np.random.default_rng(seed)
    # every sensor pattern once in a while, so that MCs fire together and the GCs learn
    return rng.random((n, 2)) * rng.choice([1e-2, 1.0, 1e3], (n, 1))


def reference(mask, train, test):
    net = FixedNetwork(weights(), n_gc=GC.gcs, connectivity=mask)
    net.fit(train, duration=GC.hold, rinse=GC.rinse)
    return net, net.process(test, duration=GC.hold, rinse=GC.rinse)


def run_fold(b, mask, train, test):
    b.connect(mask)
    b.train(train)
    b.clamp()
    return b.sample_network(test)


def test_info_reads_back_the_gc_configuration():
    b, _ = board()
    assert b.info().config == CONFIG and b.info().fields["version"] == 2


def test_the_fold_equals_the_fixed_point_network():
    mask = random_connectivity(GC.gcs, GC.mcs, 0.25, np.random.default_rng(3))
    train, test = data(1, 10), data(2, 12)
    b, model = board()
    codes, x, mc, gc = run_fold(b, mask, train, test)
    net, out = reference(mask, train, test)
    np.testing.assert_equal(x / float(1 << 20), out.et)
    np.testing.assert_equal(mc, out.mc_phase)
    np.testing.assert_equal(gc, out.gc_phase)
    assert mc.dtype == gc.dtype == out.gc_phase.dtype == np.int16
    assert np.count_nonzero(gc) > 0 and len(np.unique(gc)) > 2
    np.testing.assert_equal(b.connectivity(), mask)
    np.testing.assert_equal(b.gc_weights(), net.layer.matrix())
    got = b.mc_gc_weights()
    assert got.dtype == np.float32 and got.shape == (GC.gcs, GC.mcs)
    np.testing.assert_equal(got, net.mc_gc_weights)
    assert set(np.unique(got)) <= {0.0, 30.0} and (got == 30).any()
    assert model.layer.t == net.t


def test_the_fold_through_a_faulty_link_is_still_exact():
    """1 % of the bytes damaged both ways: replies lost, requests retried; a retried TRAIN or
    SAMPLE whose first attempt arrived is recognised and not run again."""
    mask = random_connectivity(GC.gcs, GC.mcs, 0.25, np.random.default_rng(4))
    train, test = data(5, 12), data(6, 12)
    b, model = board(port=lambda p: FaultyPort(p, 0.01, seed=3), timeout=0.002, retries=60)
    _, _, mc, gc = run_fold(b, mask, train, test)
    net, out = reference(mask, train, test)
    np.testing.assert_equal(mc, out.mc_phase)
    np.testing.assert_equal(gc, out.gc_phase)
    np.testing.assert_equal(b.gc_weights(), net.layer.matrix())
    assert b.stats.retries > 0 and b.stats.timeouts > 0
    assert model.layer.t == net.t                # not one window too many


def test_gc_tables_round_trip_and_a_loaded_table_is_used():
    b, model = board()
    rng = np.random.default_rng(9)
    codes = rng.integers(0, (30 << 16) + 1, GC.synapses)
    b.write_gc_table(GcTable.WEIGHTS, codes)
    np.testing.assert_equal(b.read_gc_table(GcTable.WEIGHTS), codes)
    np.testing.assert_equal(model.gc_memory[GcTable.WEIGHTS], codes)
    with pytest.raises(ValueError, match="the pointers table has 9 entries, got 3"):
        b.write_gc_table(GcTable.POINTERS, [0, 1, 2])


def test_connect_refuses_masks_the_board_cannot_hold():
    b, model = board()
    b.info()
    sent = model.counters["good_frames"]
    with pytest.raises(ValueError, match=r"shape \(32, 8\)"):
        b.connect(np.ones((8, 32), dtype=bool))
    with pytest.raises(ValueError, match="65 connections, the board holds 64 synapses"):
        mask = np.zeros((32, 8), dtype=bool)
        mask.flat[:65] = True
        b.connect(mask)
    assert model.counters["good_frames"] == sent


def test_a_board_without_gc_layer_refuses_the_gc_methods_before_a_byte_is_sent():
    b, model = board(config=CONFIG.replace(gc=None))
    b.info()
    sent = model.counters["good_frames"]
    for call in (lambda: b.connect(np.ones((32, 8))), lambda: b.train(data(0, 1)), b.clamp,
                 lambda: b.sample_network(data(0, 1)), b.gc_weights,
                 lambda: b.read_gc_table(GcTable.WEIGHTS)):
        with pytest.raises(LinkError, match="needs a GC layer; this board has none "
                                            r"\(it speaks protocol version 1\)"):
            call()
    assert model.counters["good_frames"] == sent


def test_process_on_a_gc_board_runs_the_network():
    mask = random_connectivity(GC.gcs, GC.mcs, 0.25, np.random.default_rng(7))
    b, model = board()
    b.connect(mask)
    x = data(8, 4)
    codes, xq, mc = b.process(x)
    assert model.layer.t == 4 * 100
    net = FixedNetwork(weights(), n_gc=GC.gcs, connectivity=mask)
    np.testing.assert_equal(mc, net.process(x, duration=50, rinse=50).mc_phase)


def test_a_refused_connect_is_a_link_error():
    b, model = board()
    b.write_gc_table(GcTable.POINTERS, [0, 2, 1, 3, 3, 3, 3, 3, 3])
    with pytest.raises(LinkError, match="CONNECT.*BAD_VALUE"):
        b._one(0x08)
    with pytest.raises(LinkError, match="TRAIN.*NOT_CONNECTED"):
        b.train(data(0, 1))
    with pytest.raises(LinkError, match="not a connectivity"):
        b.gc_weights()


def test_board_config_and_the_cli_helper_build_a_gc_system():
    import argparse

    from hetq.boards.operations import board_config
    from hetq.cli.common import add_gc_options, system_design

    c = board_config("ulx3s", gcs="auto")
    assert (c.gc.gcs, c.gc.synapses, c.version) == (1024, 8192, 2)
    assert (c.gc.hold, c.gc.rinse, c.gc.mcs) == (c.array.hold, c.array.rinse, 256)
    c = board_config("icebreaker", duplication=4, gcs=64, prop=0.5)
    assert (c.gc.gcs, c.gc.synapses) == (64, 32 * 32)
    assert not c.rasters                  # the array for the layer, no raster event path
    assert board_config("icebreaker", gcs=64, rasters=True).rasters
    assert board_config("ulx3s").gc is None
    with pytest.raises(ValueError, match="sizes a GC layer: give --gc"):
        board_config("ulx3s", prop=0.5)
    assert not board_config("ulx3s", gcs=64, rasters=False).rasters
    with pytest.raises(ValueError, match="need 262144 synapses; the link addresses at most "
                                         "65535"):
        board_config("ulx3s", gcs=1024, prop=1.0)
    parser = argparse.ArgumentParser()
    add_gc_options(parser)
    for argv, gcs in (([], None), (["--gc"], 1024), (["--gc", "512"], 512)):
        args = parser.parse_args(argv)
        args.board, args.duplication, args.weights = "ulx3s", None, None
        args.clock = args.baud = args.datapath = None
        config, _, _ = system_design(args)
        assert (config.gc.gcs if config.gc else None) == gcs


# -- the GC->MC path ---------------------------------------------------------------------------

IIC_GC = GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=100, rinse=50, iic=True)
IIC_CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                          array=MCArrayConfig(mcs=8, hold=100, rinse=50, inhibition=True),
                          gc=IIC_GC)


def test_the_gc_mc_weight_is_set_read_back_and_acts_as_in_the_fixed_network():
    from hetq.golden.fixed.network import iic_code

    mask = random_connectivity(IIC_GC.gcs, IIC_GC.mcs, 0.25, np.random.default_rng(3))
    train, test = data(1, 10), data(2, 12)
    b, model = board(config=IIC_CONFIG)
    assert b.info().fields["iic"] == 1 and b.config == IIC_CONFIG
    assert b.iic_weight() == 0                                  # power-up
    b.connect(mask)
    b.train(train)
    b.clamp()
    code = iic_code(-5.0)
    assert b.set_iic_weight(code) == code == b.iic_weight() == model.layer.iic_weight
    _, _, mc, gc = b.sample_network(test)
    net = FixedNetwork(weights(), n_gc=IIC_GC.gcs, connectivity=mask, iic_weight=-5.0)
    net.fit(train, duration=100, rinse=50)
    out = net.process(test, duration=100, rinse=50)
    np.testing.assert_equal(mc, out.mc_phase)
    np.testing.assert_equal(gc, out.gc_phase)
    plain = FixedNetwork(weights(), n_gc=IIC_GC.gcs, connectivity=mask)
    plain.fit(train, duration=100, rinse=50)
    zero = plain.process(test, duration=100, rinse=50)
    assert (mc != zero.mc_phase).any() and (gc != zero.gc_phase).any()
    sent = model.counters["good_frames"]
    for bad in (1, IIC_GC.fmt.current_min - 1, -2.5):
        with pytest.raises(ValueError, match=r"an integer in \[-4194304, 0\]"):
            b.set_iic_weight(bad)
    assert model.counters["good_frames"] == sent and model.layer.iic_weight == code


def test_a_board_without_the_path_refuses_the_weight_before_a_byte_is_sent():
    b, model = board()
    b.info()
    sent = model.counters["good_frames"]
    for call in (lambda: b.set_iic_weight(-5), b.iic_weight):
        with pytest.raises(LinkError, match=r"built with the GC->MC path; this one's INFO "
                                            r"says it is not \(iic = 0\)"):
            call()
    for call in (lambda: b.write_gc_table(GcTable.IIC, [0]),
                 lambda: b.read_gc_table(GcTable.IIC)):
        with pytest.raises(LinkError, match="the board has no GC table IIC"):
            call()
    assert model.counters["good_frames"] == sent
    b, model = board(config=CONFIG.replace(gc=None))
    with pytest.raises(LinkError, match="needs a GC layer; this board has none"):
        b.set_iic_weight(-5)


def test_board_config_builds_the_path_on_request():
    from hetq.boards.operations import board_config

    c = board_config("ulx3s", gcs=1024, iic=True)
    assert c.gc.iic and c.array.inhibition and c.version == 2
    assert not board_config("ulx3s", gcs=1024).gc.iic
    with pytest.raises(ValueError, match="--iic builds the GC->MC path from the GC layer: "
                                         "give --gc"):
        board_config("ulx3s", iic=True)
    with pytest.raises(ValueError, match="not verified together"):
        board_config("icebreaker", gcs=64, spram=True, iic=True)
