"""Figures of the board system, measured on the simulated board (``hetq board bench``): the
link's (the simulation's speed, and, with the UART at the board's own divisor, the cycles per
sample against the bound the baud rate and the packet sizes allow, and the reply latency);
and, for a system with the GC layer, the network's: the cycles of a TRAIN and a SAMPLE
window."""

import time
from dataclasses import dataclass

import numpy as np

from .verilator import SIM_DIVISOR, SimulatedBoard, build_sim_board, sim_config

__all__ = ["LinkFigures", "NetworkFigures", "bench_link", "bench_network", "measure_link",
           "measure_network", "wire_bytes"]


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


#: The requests :func:`measure_network` times, in this order. Both answer after their window
#: (TRAIN with its acknowledgement, SAMPLE with the phases), so the latency is the window's
#: cost. RASTER is not among them: its reply frames go out as its events come (60 a frame).
NETWORK_REQUESTS = ("TRAIN", "SAMPLE")


@dataclass
class NetworkFigures:
    """One run of :func:`bench_network`: each of :data:`NETWORK_REQUESTS` sent alone
    ``repeats`` times on a board with a GC layer."""

    latency: dict                # request name -> cycles, last request byte -> first reply
    steps: int                   # bit (list of repeats); steps per window (hold + rinse)
    synapses_used: int           # connections of the loaded connectivity
    gcs: int
    clock_hz: int

    def per_step(self, name):
        """The fewest cycles of request ``name`` over the window's steps."""
        return min(self.latency[name]) / self.steps

    def windows_per_s(self, name):
        """Windows per second of request ``name`` on a board at ``clock_hz`` (from the
        fewest cycles; the reply's time on the line not included)."""
        return self.clock_hz / min(self.latency[name])


def bench_network(config, build_dir, *, repeats=3, prop=None, seed=0, progress=None):
    """Build the simulated board of ``config`` (a system with a GC layer), load random MC
    weights and a random connectivity of probability ``prop`` (default 1/D, as ``hetq run``)
    and :func:`measure_network` on it; returns :class:`NetworkFigures`. ValueError for a
    system without a GC layer, before anything is built."""
    from ...boards.client import Board
    from ...boards.operations import board_connectivity

    if config.gc is None:
        raise ValueError("the network's figures need a system with a GC layer (--gc)")
    sim = sim_config(config)
    mask, _ = board_connectivity(sim, prop=prop, seed=seed)
    exe = build_sim_board(sim, build_dir)
    rng = np.random.default_rng(seed)
    with SimulatedBoard(exe) as board:
        host = Board(board.url, timeout=600.0)
        try:
            host.load_weights(rng.integers(0, 1 << sim.quantizer.fmt.weight_bits,
                                           sim.quantizer.mcs))
            host.connect(mask)
        finally:
            host.close()
        return measure_network(board, sim, repeats=repeats, seed=seed, progress=progress)


def measure_network(board, config, *, repeats=3, seed=0, progress=None):
    """Send each of :data:`NETWORK_REQUESTS` alone ``repeats`` times (random sensor codes)
    to the running simulated ``board`` of ``config``, with its tables and connectivity as
    they are, and take the cycles from the last request byte to the first reply bit; returns
    :class:`NetworkFigures`. RuntimeError when a request is not answered by exactly one
    measured reply."""
    from ...boards.client import Board
    from ...golden.fixed.link import Cmd, pack_codes

    q, gc = config.quantizer, config.gc
    rng = np.random.default_rng(seed)
    latency = {}
    host = Board(board.url, timeout=600.0)
    try:
        used = int(host.connectivity().sum())
        for name in NETWORK_REQUESTS:
            times = latency[name] = []
            for _ in range(repeats):
                x = rng.integers(0, 1 << q.fmt.sensor_bits, q.sensors)
                f0 = board.figures()
                host.transact([(Cmd[name], pack_codes(x, q.fmt.sensor_bits))], window=1)
                f1 = board.figures()
                if f1["replies"] != f0["replies"] + 1:
                    raise RuntimeError(f"{name} alone gave {f1['replies'] - f0['replies']} "
                                       "measured replies, not 1")
                times.append(f1["latency_total"] - f0["latency_total"])
                if progress is not None:
                    progress(1)
    finally:
        host.close()
    return NetworkFigures(latency=latency, steps=config.array.window, synapses_used=used,
                          gcs=gc.gcs, clock_hz=config.clock_hz)

