"""Figures of the board system's link, measured on the simulated board (``hetq board bench``):
the simulation's speed, and, with the UART at the board's own divisor, the cycles per sample
against the bound the baud rate and the packet sizes allow, and the reply latency."""

import time
from dataclasses import dataclass

import numpy as np

from .verilator import SIM_DIVISOR, SimulatedBoard, build_sim_board, sim_config

__all__ = ["LinkFigures", "bench_link", "measure_link", "wire_bytes"]


def wire_bytes(decoded):
    """The most bytes on the line for a frame of ``decoded`` bytes (the count when none of
    them is 0x00): COBS adds a code byte ahead of each run of up to 254, then the 0x00
    delimiter."""
    return decoded + 1 + max(decoded - 1, 0) // 254 + 1


@dataclass
class LinkFigures:
    """One run of :func:`bench_link`."""

    divisor: int                 # UART clock cycles per bit in this run
    samples: int
    seconds: float               # wall time of the samples
    cycles: int                  # clock cycles simulated for them
    bound_cycles: float          # per sample: the reply's bits on the line x divisor
    latency: dict                # command name -> cycles, last request byte -> first reply
    clock_hz: int                # bit, each request sent alone (list of repeats)

    @property
    def samples_per_s(self):
        """The simulation's speed: samples per wall-clock second."""
        return self.samples / self.seconds

    @property
    def cycles_per_sample(self):
        return self.cycles / self.samples

    @property
    def efficiency(self):
        """The link's use: the bound over the cycles a sample took."""
        return self.bound_cycles / self.cycles_per_sample

    @property
    def board_samples_per_s(self):
        """Samples per second on a board at ``clock_hz`` with this divisor (a host that keeps
        the window full)."""
        return self.clock_hz / self.cycles_per_sample


def bench_link(config, build_dir, *, samples=400, divisor=SIM_DIVISOR, seed=0, repeats=5,
               progress=None):
    """Build a simulated board of ``config`` with its UART at ``divisor`` cycles per bit, load
    random weights and :func:`measure_link` on it; returns :class:`LinkFigures`."""
    from ...boards.client import Board

    sim = sim_config(config, divisor)
    exe = build_sim_board(sim, build_dir)
    rng = np.random.default_rng(seed)
    with SimulatedBoard(exe) as board:
        host = Board(board.url, timeout=30.0)
        try:
            host.load_weights(rng.integers(0, 1 << sim.quantizer.fmt.weight_bits, sim.quantizer.mcs))
        finally:
            host.close()
        return measure_link(board, sim, samples=samples, seed=seed, repeats=repeats,
                            progress=progress)


def measure_link(board, config, *, samples=400, seed=0, repeats=5, progress=None):
    """Run ``samples`` random samples through the running simulated ``board`` of ``config``
    (pipelined, the client's window full) after a warm-up, then ``repeats`` STATUS, INFO and
    SAMPLE requests one at a time for their latency; returns :class:`LinkFigures`. The
    board's tables are left as they are."""
    from ...boards.client import Board
    from ...golden.fixed.link import Cmd, pack_codes

    q = config.quantizer
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << q.fmt.sensor_bits, (samples, q.sensors))
    latency = {}
    host = Board(board.url, timeout=30.0)
    try:
        host.process(x[:8])                                      # warm-up
        c0 = board.figures()["cycles"]
        t0 = time.perf_counter()
        host.process(x, progress=progress)
        seconds = time.perf_counter() - t0
        c1 = board.figures()["cycles"]
        for cmd, payload in ((Cmd.STATUS, b""), (Cmd.INFO, b""),
                             (Cmd.SAMPLE, pack_codes(x[0], q.fmt.sensor_bits))):
            times = latency[cmd.name] = []
            for _ in range(repeats):
                f0 = board.figures()
                host.transact([(cmd, payload)])
                f1 = board.figures()
                if f1["replies"] != f0["replies"] + 1:
                    raise RuntimeError(f"{cmd.name} alone gave {f1['replies'] - f0['replies']} "
                                       "measured replies, not 1")
                times.append(f1["latency_total"] - f0["latency_total"])
    finally:
        host.close()
    decoded = max(config.sample_reply_bytes, config.sample_request_bytes)
    return LinkFigures(divisor=config.uart.divisor, samples=samples, seconds=seconds,
                       cycles=c1 - c0, bound_cycles=10 * wire_bytes(decoded) * config.uart.divisor,
                       latency=latency, clock_hz=config.clock_hz)
