"""The system core in Amaranth's simulator against the device model: every reply frame of
random request streams, byte for byte (CRC included), bad frames counted, slots flooded."""

import struct

import numpy as np
import pytest
from cobs import cobs

from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.golden.fixed.link import COUNTERS, Cmd, GcTable, Status, crc_good, decode_frame, request
from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.quantizer import QuantizerConfig
from hetq.golden.fixed.system import DeviceModel, SystemConfig, iic_field
from hetq.sim.quantizer.stimulus import initial_weights
from hetq.sim.system.amaranth_bench import decoded_frames, run_core_amaranth
from hetq.sim.system.stimulus import (gc_session, model_replies, model_replies_seq,
                                     random_requests)

SMALL = SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=4),
                     array=MCArrayConfig(mcs=16, hold=50, rinse=50))


def status_of(frame):
    _, cmd, status, payload = decode_frame(cobs.encode(frame), is_reply=True)
    return dict(zip(COUNTERS, struct.unpack(f"<{len(COUNTERS)}I", payload)))


@pytest.mark.parametrize("config, n, seed, stall", [
    (SMALL, 60, 1, 0.0),
    (SMALL, 60, 2, 0.3),
    (SystemConfig(quantizer=QuantizerConfig(sensors=3, duplication=5),
                  array=MCArrayConfig(mcs=15, hold=50, rinse=0)), 40, 3, 0.1),
    # the serial quantizer, an 8-bit step counter (wrapping every 2.56 raster windows)
    (SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=4, datapath="serial"),
                  array=MCArrayConfig(mcs=16, hold=50, rinse=50, step_bits=8)), 50, 5, 0.2),
    # built without the MC array (the iCEBreaker's): RASTER is an unknown command
    (SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=4, datapath="serial"),
                  array=MCArrayConfig(mcs=16, hold=50, rinse=50), rasters=False), 40, 6, 0.1),
])
def test_replies_equal_the_model(config, n, seed, stall):
    rng = np.random.default_rng(seed)
    weights = initial_weights(config.quantizer, rng)
    reqs = random_requests(rng, n, config)
    expected = model_replies(DeviceModel(config, weights=weights), reqs)
    flat = [f for frames in expected for f in frames]
    got = run_core_amaranth(config, decoded_frames(reqs), weights=weights, seed=seed,
                            stall=stall, replies=len(flat))
    assert all(crc_good(f) for f in got)
    assert len(got) == len(flat)
    for k, (g, w) in enumerate(zip(got, flat)):
        assert g == w, f"reply frame {k}: got {g.hex()}, expected {w.hex()}"
    kinds = {cmd for cmd, _ in reqs}
    assert {Cmd.SAMPLE, Cmd.WRITE_WEIGHTS, Cmd.READ_WEIGHTS, Cmd.WRITE_THRESHOLDS,
            Cmd.READ_THRESHOLDS, Cmd.INFO, Cmd.STATUS, Cmd.RASTER} <= kinds


@pytest.mark.slow
def test_the_paper_size_sample_and_raster():
    """8 sensors x D = 32 with 250 + 50-step windows (the built design): a sample and a
    raster of many parts."""
    config = SystemConfig()
    rng = np.random.default_rng(4)
    weights = initial_weights(config.quantizer, rng)
    from hetq.golden.fixed.link import pack_codes
    row = np.array([900, 50, 3000, 0, 65535, 20, 7, 400])
    reqs = [(Cmd.SAMPLE, pack_codes(row, 16)), (Cmd.RASTER, pack_codes(row, 16))]
    flat = [f for frames in model_replies(DeviceModel(config, weights=weights), reqs)
            for f in frames]
    got = run_core_amaranth(config, decoded_frames(reqs), weights=weights, replies=len(flat))
    assert got == flat and len(flat) >= 1 + 4                 # a sample, a raster of parts


def test_bad_frames_are_counted_and_the_next_good_frame_is_served():
    good = request(1, Cmd.INFO)
    frames = [(good[:-1] + bytes([good[-1] ^ 1]), 0),      # bad CRC
              (b"\x01\x02", 0),                            # too short
              (good, 1), (good, 2), (good, 3),             # malformed, too long, aborted
              (request(2, Cmd.STATUS), 0)]
    got = run_core_amaranth(SMALL, frames, gap=300, replies=1)
    assert len(got) == 1
    c = status_of(got[0])
    assert (c["good_frames"], c["crc_errors"], c["dropped_frames"]) == (1, 1, 4)


def test_a_flood_beyond_the_slots_is_counted_not_lost_silently():
    """Twelve info requests back to back (an info reply takes longer than a request): the four
    slots take what they can, the rest are dropped and counted; every request answered is
    answered right, in order; a status request after the flood tells the counts."""
    reqs = [(Cmd.INFO, b"")] * 12 + [(Cmd.STATUS, b"")]
    frames = decoded_frames(reqs)
    got = run_core_amaranth(SMALL, frames, gap=[0] * 12 + [20000], replies=5)
    *infos, status = got
    c = status_of(status)
    expected = model_replies(DeviceModel(SMALL), reqs)
    seqs = [int.from_bytes(f[:2], "little") for f in infos]
    assert seqs == sorted(seqs) and 4 <= len(infos) < 12
    assert all(f == expected[s][0] for f, s in zip(infos, seqs))
    assert c["slot_overruns"] == 12 - len(infos) and c["good_frames"] == len(infos) + 1


def test_leds_heartbeat_and_error_hold():
    """At a 20 kHz clock (4 cycles a bit): the heartbeat toggles every 4096 cycles; a break
    on the line lights the error LED for 0.2 s (4000 cycles, to a tick of 32)."""
    from amaranth.sim import Simulator

    from hetq.hdl.system import System

    config = SMALL.replace(clock_hz=20_000, baud=5_000)
    dut = System(config)
    trace = {"error": [], "heartbeat": []}

    async def bench(ctx):
        ctx.set(dut.rx, 1)
        for cycle in range(12_000):
            if cycle == 1000:
                ctx.set(dut.rx, 0)                  # a break: the line low for 12 bits
            if cycle == 1048:
                ctx.set(dut.rx, 1)
            await ctx.tick()
            trace["error"].append(ctx.get(dut.leds.error))
            trace["heartbeat"].append(ctx.get(dut.leds.heartbeat))

    sim = Simulator(dut)
    sim.add_clock(1 / config.clock_hz)
    sim.add_testbench(bench)
    sim.run()
    err = np.array(trace["error"])
    lit = np.flatnonzero(err)
    assert lit.size and lit[0] > 1000 and lit[0] < 1100                 # after the break
    assert np.all(err[lit[0]:lit[-1] + 1]) and abs(lit.size - 4000) <= 32
    beat = np.array(trace["heartbeat"])
    assert np.all(np.diff(np.flatnonzero(np.diff(beat))) == 4096)


def assert_session_replies(config, reqs, expected, weights, seed, timeout):
    """The system core under Amaranth's simulator, sent ``reqs`` (``(seq, cmd, payload)``)
    with stalls: every reply frame byte-equal to ``expected`` (the device model's frames per
    request). Returns the frames, flat."""
    flat = [f for frames in expected for f in frames]
    frames = [(request(seq, cmd, payload), 0) for seq, cmd, payload in reqs]
    got = run_core_amaranth(config, frames, weights=weights, seed=seed, stall=0.1,
                            replies=len(flat), timeout=timeout,
                            per_request=[len(frames) for frames in expected])
    assert len(got) == len(flat)
    for k, (g, w) in enumerate(zip(got, flat)):
        assert g == w, f"reply frame {k}: got {g.hex()}, expected {w.hex()}"
    return flat


GC_SMALL = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                        array=MCArrayConfig(mcs=8, hold=50, rinse=50),
                        gc=GCLayerConfig(mcs=8, gcs=32, synapses=32, hold=50, rinse=50))


@pytest.mark.parametrize("train, samples, longer", [
    (1, 1, False), pytest.param(4, 3, True, marks=pytest.mark.slow)])
def test_gc_session_replies_equal_the_model(train, samples, longer):
    """Protocol version 2 on a small GC build: INFO, bad GC requests, a random connectivity
    written, read back and connected (NOT_CONNECTED and a refused CONNECT before), TRAIN
    windows (one retried), CLAMP, the weights read back, SAMPLEs in parts (one retried, one
    sent again), a RASTER between: every reply frame byte-equal to the device model's (the
    simulated board runs longer sessions: tests/sim/test_board.py)."""
    config = GC_SMALL
    rng = np.random.default_rng(19)                          # a seed whose GCs fire
    weights = initial_weights(config.quantizer, rng)
    reqs = gc_session(rng, config, train=train, samples=samples, power_on=longer,
                      raster=longer)
    model = DeviceModel(config, weights=weights)
    expected = model_replies_seq(model, reqs)
    flat = assert_session_replies(config, reqs, expected, weights, seed=3,
                                  timeout=1_200_000 if longer else 400_000)
    statuses = {f[3] for f in flat}
    assert {0, 2, 3, 4, 5} <= statuses                  # OK and every GC error status
    # without the GC->MC path its table (selector 3) is not there
    assert [f[3] for (_, cmd, payload), frames in zip(reqs, expected) for f in frames
            if cmd == Cmd.WRITE_GC and payload[0] == GcTable.IIC] == [Status.BAD_ADDRESS]
    # the session did something: GCs fired in the samples, weights learned to 30 mV
    assert any(f[2] == Cmd.SAMPLE and len(f) > 8 and f[4] == 1 and any(f[7:-2])
               for f in flat)
    assert (model.gc_memory[0] == config.gc.params["w_max"]).any()


def test_a_gc_layer_in_lanes_is_refused():
    """The host link has no lane in its GC addresses: a system of a GC layer in lanes is
    refused by name, not built wrong."""
    from hetq.hdl.system import SystemCore

    config = GC_SMALL.replace(gc=GC_SMALL.gc.replace(lanes=2))
    with pytest.raises(ValueError, match="the board system's GC layer has one lane, not 2"):
        SystemCore(config)


#: A small build with the GC->MC path, 50-step holds and no rinse: the currents a window owes
#: the next (from the GCs of its last cycle; after a rinse of 50 steps they are all 0) act on
#: the MCs before they fire in the next window's readout cycle.
GC_IIC = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                      array=MCArrayConfig(mcs=8, hold=50, rinse=0, inhibition=True),
                      gc=GCLayerConfig(mcs=8, gcs=32, synapses=32, hold=50, rinse=0, iic=True))


def test_gc_mc_path_session_replies_equal_the_model():
    """The GC->MC path built: a session whose weight is set after the TRAIN and the CLAMP
    (and changed again between two SAMPLEs, while the currents of the window before are still
    owed), its bad weights refused: every reply frame byte-equal to the device model's, and
    the SAMPLE replies (MC and GC parts) differ from those of weight 0."""
    config = GC_IIC
    codes = (-40 << 16, -10 << 16)

    def session(iic, late=False):
        rng = np.random.default_rng(75)                      # a seed whose GCs inhibit
        weights = initial_weights(config.quantizer, rng)
        reqs = gc_session(rng, config, train=1, samples=1, power_on=False, raster=False,
                          iic=iic)
        model = DeviceModel(config, weights=weights)
        replies = []
        for seq, cmd, payload in reqs:
            old = model.layer.iic_weight
            model.counters["good_frames"] += 1
            replies.append(model.execute(seq, cmd, payload))
            if late and old and model.layer.iic_weight != old:
                # the wrong design: the currents still owed past the layer's 4-deep emission
                # FIFO made with the new weight
                o = model.layer.state.o_gm
                o[4:] = o[4:] // old * model.layer.iic_weight
        return weights, reqs, replies, model

    weights, reqs, expected, model = session(codes)
    _, _, zero, _ = session((0, 0))
    samples = [k for k, (_, cmd, payload) in enumerate(reqs)
               if cmd == Cmd.SAMPLE and len(payload) == 2 * config.quantizer.sensors]
    assert len(samples) == 4 and model.layer.iic_weight == codes[1]
    # the weight changed before the last SAMPLE: the currents owed to its first step were
    # made with the old weight; made with the new one, the reply would differ
    assert session(codes, late=True)[2][samples[-1]] != expected[samples[-1]]
    for k in samples:                   # the weight acts on the MC phases and the GC phases
        assert [a != b for a, b in zip(expected[k], zero[k])] == [True, True], k
    assert_session_replies(config, reqs, expected, weights, seed=3, timeout=600_000)
    # the weight read back, the bad ones refused: above 0, below the format, past the one
    # entry; selector 4 is no table
    fmt = config.quantizer.fmt
    status = {(cmd, payload): [f[3] for f in frames]
              for (_, cmd, payload), frames in zip(reqs, expected)}

    def field(code):
        return iic_field(code, fmt).to_bytes(3, "little")

    head = bytes([GcTable.IIC, 0, 0, 1])
    for payload, want in ((head + field(1), Status.BAD_VALUE),
                          (head + field(fmt.current_min - 1), Status.BAD_VALUE),
                          (bytes([3, 1, 0, 1]) + field(0), Status.BAD_ADDRESS),
                          (bytes([3, 0, 0, 2]) + field(0) * 2, Status.BAD_ADDRESS),
                          (bytes([4, 0, 0, 1]) + field(0), Status.BAD_ADDRESS),
                          (head + field(codes[0]), Status.OK)):
        assert status[Cmd.WRITE_GC, payload] == [want], payload.hex()
    assert status[Cmd.READ_GC, bytes([3, 0, 0, 2])] == [Status.BAD_ADDRESS]
    reads = [frames[0] for (_, cmd, payload), frames in zip(reqs, expected)
             if (cmd, payload) == (Cmd.READ_GC, head)]
    assert [r[4:-2] for r in reads] == [head + field(c) for c in codes]


#: The iCEBreaker's GC build (``board_config("icebreaker", gcs=..., spram=True)``) in small:
#: the serial quantizer and one divider, the GC layer's synapse tables in the SPRAM (its
#: simulation twin), 31-bit stamps and its compact pipelines, the MC array (its compact
#: pipeline) there for the layer without the raster event path (RASTER is unknown).
GC_UP5K = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4, datapath="serial",
                                                 norm_lanes=1),
                       array=MCArrayConfig(mcs=8, hold=50, rinse=50, compact=True),
                       rasters=False,
                       gc=GCLayerConfig(mcs=8, gcs=32, synapses=32, hold=50, rinse=50,
                                        spram=True, stamp_bits=31, compact=True))


def test_the_icebreaker_gc_build_session_replies_equal_the_model():
    """A protocol-version-2 session (TRAIN, CLAMP, weights read back, SAMPLEs, a RASTER) on
    the iCEBreaker's kind of GC build: every reply frame byte-equal to the device model's,
    the RASTER answered as an unknown command and INFO saying rasters 0; the build's choices
    are the board's."""
    from hetq.boards.operations import board_config
    from hetq.golden.fixed.system import INFO_FIELDS, INFO_FORMAT

    board = board_config("icebreaker", duplication=1, gcs="auto", spram=True)
    knobs = ("datapath", "norm_lanes", "array compact", "rasters", "spram", "stamp_bits",
             "gc compact")

    def choices(c):
        return (c.quantizer.datapath, c.quantizer.norm_lanes, c.array.compact, c.rasters,
                c.gc.spram, c.gc.stamp_bits, c.gc.compact)

    assert choices(GC_UP5K) == choices(board), knobs
    config = GC_UP5K
    rng = np.random.default_rng(19)
    weights = initial_weights(config.quantizer, rng)
    reqs = gc_session(rng, config, train=1, samples=1, power_on=False, raster=True)
    model = DeviceModel(config, weights=weights)
    expected = model_replies_seq(model, reqs)
    flat = assert_session_replies(config, reqs, expected, weights, seed=5,
                                  timeout=600_000)
    by_cmd = {}
    for (_, cmd, _), frames in zip(reqs, expected):
        by_cmd.setdefault(cmd, []).append(frames)
    assert [f[3] for frames in by_cmd[Cmd.RASTER] for f in frames] == [Status.UNKNOWN_COMMAND]
    info = by_cmd[Cmd.INFO][0][0]
    fields = dict(zip(INFO_FIELDS, struct.unpack_from(INFO_FORMAT, info, 4)))
    assert fields["rasters"] == 0
    # the network ran: GCs fired in a SAMPLE, weights learned to 30 mV
    assert any(f[2] == Cmd.SAMPLE and len(f) > 8 and f[4] == 1 and any(f[7:-2]) for f in flat)
    assert (model.gc_memory[0] == config.gc.params["w_max"]).any()
