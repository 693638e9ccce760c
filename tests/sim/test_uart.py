"""The UART's cocotb bench on its generated Verilog under Icarus, with cocotbext-uart's
UartSource and UartSink: several baud rates and clock ratios, far ends 2 % fast and slow,
random idle gaps, bit-banged framing errors, glitches and breaks; the bench checks every cycle
against the cycle-exact models itself, and a bench told the wrong design fails."""

import numpy as np
import pytest

from hetq.golden.fixed.uart import ByteSource, UARTConfig
from hetq.hdl.uart import UART
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module
from hetq.sim.uart.cocotb_bench import bench_cycles, run_cocotb_uart, save_bench
from hetq.sim.uart.stimulus import (UNITS, Frame, Level, random_bytes, random_delays,
                                    random_script, ready_pattern)

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def stimulus(config, seed, frames, sent):
    rng = np.random.default_rng(seed)
    script = random_script(rng, config, frames, framing=0.1, brk=0.06)
    source = ByteSource(random_bytes(rng, sent), random_delays(rng, sent, longest=40))
    ready = ready_pattern(rng, bench_cycles(config, script, source), stall=0.3)
    return script, source, ready


@pytest.mark.parametrize("clock_hz, baud, divisor, frames, offset, seed", [
    (100_000_000, 25_000_000, 4, 60, 1, 4),
    (100_000_000, 10_000_000, 10, 36, 37, 1),
    (48_000_000, 3_000_000, 16, 24, 99, 10),
    (100_000_000, 3_000_000, 33, 14, 63, 11),
])
def test_uart_under_icarus(tmp_path, clock_hz, baud, divisor, frames, offset, seed):
    """The seeds are ones whose scripts hold every case: far ends at three bit lengths, a
    glitch, a framing error and a break."""
    config = UARTConfig(clock_hz=clock_hz, baud=baud)
    assert config.divisor == divisor
    script, source, ready = stimulus(config, seed, frames, 12)
    seen = run_cocotb_uart(config, script, source, ready, offset_ns=offset,
                           build_dir=tmp_path)
    assert seen["data"].tolist() == script.good_bytes
    assert seen["received"].tolist() == source.data
    assert seen["errors"].sum(axis=0).tolist() == [script.framing, script.breaks, 0]
    assert script.framing and script.breaks
    assert len({it.bit for it in script.items if isinstance(it, Frame)}) == 3
    assert any(isinstance(it, Level) and not it.level and it.length < divisor * UNITS
               for it in script.items)


def test_a_bench_told_the_wrong_design_fails(tmp_path):
    """The Verilog has divisor 10, the bench's stimulus and models claim 9: the line no longer
    decodes as expected and the bench fails."""
    built = UARTConfig(clock_hz=10_000_000, baud=1_000_000)
    claimed = UARTConfig(clock_hz=9_000_000, baud=1_000_000)
    script, source, ready = stimulus(claimed, 1, 12, 4)
    save_bench(tmp_path / "bench.npz", claimed, script, source, ready, 1)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(UART(built), "uart", "hetq.sim.uart.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})


def test_the_bench_start_must_be_off_the_clock_edges(tmp_path):
    config = UARTConfig()
    script, source, ready = stimulus(config, 1, 2, 1)
    with pytest.raises(ValueError, match=r"offset_ns must be an odd integer in \(0, 100\)"):
        save_bench(tmp_path / "b.npz", config, script, source, ready, 50)
