"""The bench kit: the hex files of the file benches, the acceptance order of transfers."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT as F
from hetq.sim.kit.events import cycle_budget, merge_order
from hetq.sim.kit.filebench import hex_rows, hex_words
from hetq.sim.kit.verilog import pack_array


def test_hex_rows_packs_lanes_in_twos_complement():
    rng = np.random.default_rng(3)
    bits = F.current_bits
    values = rng.integers(F.current_min, F.current_max + 1, (300, 3))
    values[0] = [F.current_min, -1, F.current_max]
    text = hex_rows(values, bits, signed=True)
    mask = (1 << bits) - 1
    assert text.decode() == "".join(f"{pack_array([v & mask for v in row], bits):018x}\n"
                                    for row in values)
    words = rng.integers(0, 1 << 26, 50)
    lines = hex_rows(words, 26).split(b"\n")[:-1]
    np.testing.assert_equal(hex_words(lines, 26, "words"), words.astype(np.uint64))
    with pytest.raises(ValueError, match="values must lie in"):
        hex_rows([[F.current_max + 1]], bits, signed=True)


def test_merge_order_rules():
    assert merge_order([3, 5], [5], "sample-first") == [("sample", 0), ("sample", 1),
                                                        ("write", 0)]
    with pytest.raises(RuntimeError, match="both accepted in cycle 5"):
        merge_order([3, 5], [5])
    with pytest.raises(ValueError, match="same_cycle must be"):
        merge_order([], [], "write-first")


def test_cycle_budget_grows_with_stalls_and_delays():
    base = cycle_budget(256, 10)
    assert base >= 2 * 10 * 256
    assert cycle_budget(256, 10, stall=0.5) > base and cycle_budget(256, 10, extra=500) == base + 500
