"""The COBS encoder and decoder on their generated Verilog under cocotb and Icarus: random
frames and raw streams (garbage, empty, truncated, oversize and aborted frames) with random
valid/ready; the bench compares every output itself, and one told a wrong design fails."""

import numpy as np
import pytest

from hetq.golden.fixed.cobs import (STATUS_ABORT, STATUS_OVERSIZE, STATUS_STRUCTURE,
                                    decoded_frames)
from hetq.sim.cobs.cocotb_bench import COBSBenchTop, run_cocotb_cobs, save_bench
from hetq.sim.cobs.stimulus import decoder_stream, edge_frames, random_frames
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def test_cocotb_cobs(tmp_path):
    rng = np.random.default_rng(21)
    frames = edge_frames()[7:12] + random_frames(rng, 10, longest=300)
    stream = decoder_stream(rng, random_frames(rng, 24, longest=120), max_length=100,
                            abort=0.2)
    seen = run_cocotb_cobs(frames, stream, 100, seed=3, stall=0.25, build_dir=tmp_path)
    assert len(seen["encoded"]) > sum(len(f) for f in frames)
    statuses = {s for _, s in decoded_frames(seen["records"].tolist())}
    assert {STATUS_STRUCTURE, STATUS_OVERSIZE, STATUS_ABORT} <= statuses


def test_a_bench_told_the_wrong_design_fails(tmp_path):
    """The Verilog's decoder takes frames of 10 decoded bytes, the bench's twin 100: the
    oversize frames' records differ."""
    rng = np.random.default_rng(4)
    stream = decoder_stream(rng, [bytes(range(1, 41))] * 3, max_length=100, garbage=0.0,
                            truncated=0.0, oversize=0.0, abort=0.0)
    save_bench(tmp_path / "bench.npz", [b"\x01"], stream, 100, seed=0, stall=0.0)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(COBSBenchTop(10), "cobs_bench", "hetq.sim.cobs.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})
