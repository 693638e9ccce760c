"""The board top of the system: the board's oscillator into its PLL, the system clock domain
held in reset until the PLL locks and a little longer (iCE40 block RAM reads zero for a few
microseconds after configuration), the UART pins, two LEDs (heartbeat, error), and
:class:`~hetq.hdl.system.System` inside. The same System is what the simulated board runs.
"""

from amaranth import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io

from ..hdl.system import System
from .pll import ecp5_pll, ice40_pll

__all__ = ["SystemTop", "BOARD_CLOCKS", "board_pll"]

#: The boards' oscillators (Hz) and the PLL families that take them.
BOARD_CLOCKS = {"icebreaker": (12e6, "ice40"), "ulx3s": (25e6, "ecp5")}

#: Microseconds the system stays in reset after the PLL has locked.
POR_US = 20


def board_pll(board, f_want):
    """The PLL setting of ``board`` nearest ``f_want`` Hz (ValueError when not within 1 %)."""
    if board not in BOARD_CLOCKS:
        raise ValueError(f"board must be one of {', '.join(BOARD_CLOCKS)}, not {board!r}")
    f_in, family = BOARD_CLOCKS[board]
    return (ice40_pll if family == "ice40" else ecp5_pll)(f_in, f_want)


class SystemTop(Elaboratable):
    """The system on a board.

    Parameters
    ----------
    config : SystemConfig
        Its ``clock_hz`` must be what the PLL makes (see :func:`board_pll`).
    board : {"icebreaker", "ulx3s"}
    weights, table
        The initial tables (memory init).
    """

    def __new__(cls, config, board, **kwargs):
        System.check(config, **kwargs)
        pll = board_pll(board, config.clock_hz)
        if abs(pll.f_out - config.clock_hz) > 1:
            raise ValueError(f"the {board} PLL makes {pll.f_out:.0f} Hz, the configuration "
                             f"says {config.clock_hz} Hz")
        return super().__new__(cls)

    def __init__(self, config, board, *, weights=None, table=None):
        self.config, self.board = config, board
        self.pll = board_pll(board, config.clock_hz)
        self.system = System(config, weights=weights, table=table)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.domains.por = por = ClockDomain("por", local=True)
        locked = Signal()
        clk_pin = platform.request(platform.default_clk, dir="-")
        if BOARD_CLOCKS[self.board][1] == "ice40":
            m.submodules.pll = self.pll.instance(clk_pin.io, sync.clk, locked)
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_pin)
            m.submodules.pll = self.pll.instance(clk_buf.i, sync.clk, locked)
        # no constraint on sync.clk itself: nextpnr derives the PLL output's from the board's
        # input clock constraint (a constraint on the net would name a net that synthesis renames)

        # reset: held while the PLL is unlocked, then for POR_US more
        delay = int(POR_US * 1e-6 * self.config.clock_hz)
        timer = Signal(range(delay + 1))
        ready = Signal()
        m.d.comb += [por.clk.eq(sync.clk), por.rst.eq(~locked), sync.rst.eq(~ready)]
        with m.If(timer == delay):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)

        m.submodules.system = system = self.system
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [system.rx.eq(rx_buf.i), tx_buf.o.eq(system.tx)]   # the UART synchronises
        for k, field in enumerate(("heartbeat", "error")):
            led = io.Buffer("o", platform.request("led", k, dir="-"))
            m.submodules[f"led{k}"] = led
            m.d.comb += led.o.eq(getattr(system.leds, field))
        return m
