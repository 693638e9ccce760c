"""PLL settings of the boards' FPGAs, solved for a wanted frequency, and the PLL instances.

* iCE40 ``SB_PLL40_PAD`` (simple feedback): ``f_out = f_in * (DIVF + 1) / ((DIVR + 1) *
  2**DIVQ)`` with the phase detector ``f_in / (DIVR + 1)`` in [10, 133] MHz, the VCO
  ``f_pfd * (DIVF + 1)`` in [533, 1066] MHz, DIVQ in 1..6 and the output in [16, 275] MHz; the
  loop filter range follows from the phase detector frequency (the iCE40 sysCLOCK note).
* ECP5 ``EHXPLLL`` (feedback from CLKOP): ``f_out = f_in / CLKI_DIV * CLKFB_DIV``, the VCO
  ``f_out * CLKOP_DIV`` in [400, 800] MHz, the phase detector ``f_in / CLKI_DIV`` at least
  3.125 MHz, the output in [3.125, 400] MHz.

The solvers pick the setting nearest the wanted frequency (the first found among equals) and
return the frequency it gives; the build then runs the system at that frequency.
"""

from dataclasses import dataclass

from amaranth import Instance

__all__ = ["ICE40PLL", "ECP5PLL", "ice40_pll", "ecp5_pll", "MAX_PLL_ERROR"]

#: The largest relative difference between the wanted frequency and the PLL's.
MAX_PLL_ERROR = 0.01


def _check(f_in, f_want):
    if f_in <= 0 or f_want <= 0:
        raise ValueError("frequencies must be positive")


@dataclass(frozen=True)
class ICE40PLL:
    f_in: float
    divr: int
    divf: int
    divq: int

    @property
    def f_pfd(self):
        return self.f_in / (self.divr + 1)

    @property
    def f_vco(self):
        return self.f_pfd * (self.divf + 1)

    @property
    def f_out(self):
        return self.f_vco / (1 << self.divq)

    @property
    def filter_range(self):
        mhz = self.f_pfd / 1e6
        for limit, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
            if mhz < limit:
                return value
        return 6

    def instance(self, pin, clock, lock):
        """The ``SB_PLL40_PAD`` fed by the raw clock pin ``pin``, driving ``clock``."""
        return Instance("SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=self.divr,
                        p_DIVF=self.divf, p_DIVQ=self.divq, p_FILTER_RANGE=self.filter_range,
                        i_PACKAGEPIN=pin, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clock,
                        o_LOCK=lock)


def ice40_pll(f_in, f_want):
    """The :class:`ICE40PLL` nearest ``f_want`` from ``f_in`` (Hz). ValueError when nothing
    comes within :data:`MAX_PLL_ERROR`."""
    _check(f_in, f_want)
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divq in range(1, 7):
            for divf in range(128):
                p = ICE40PLL(f_in, divr, divf, divq)
                if not 533e6 <= p.f_vco <= 1066e6 or not 16e6 <= p.f_out <= 275e6:
                    continue
                if best is None or abs(p.f_out - f_want) < abs(best.f_out - f_want):
                    best = p
    if best is None or abs(best.f_out / f_want - 1) > MAX_PLL_ERROR:
        near = f"; the nearest is {best.f_out / 1e6:.3f} MHz" if best else ""
        raise ValueError(f"the iCE40 PLL cannot make {f_want / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz within {MAX_PLL_ERROR:.0%}{near}")
    return best


@dataclass(frozen=True)
class ECP5PLL:
    f_in: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def f_out(self):
        return self.f_in / self.clki_div * self.clkfb_div

    @property
    def f_vco(self):
        return self.f_out * self.clkop_div

    def instance(self, clkin, clock, lock):
        """The ``EHXPLLL`` fed by ``clkin``, driving ``clock`` (feedback from CLKOP)."""
        return Instance(
            "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{self.f_in / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{self.f_out / 1e6:g}", a_ICP_CURRENT="12",
            a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKI_DIV=self.clki_div, p_CLKFB_DIV=self.clkfb_div, p_CLKOP_DIV=self.clkop_div,
            p_CLKOP_CPHASE=self.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            i_CLKI=clkin, i_CLKFB=clock, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
            i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=clock, o_LOCK=lock)


def ecp5_pll(f_in, f_want):
    """The :class:`ECP5PLL` nearest ``f_want`` from ``f_in`` (Hz); ValueError as
    :func:`ice40_pll`."""
    _check(f_in, f_want)
    best = None
    for clki in range(1, 129):
        if f_in / clki < 3.125e6:
            break
        for clkfb in range(1, 81):
            f_out = f_in / clki * clkfb
            if not 3.125e6 <= f_out <= 400e6:
                continue
            for clkop in range(1, 129):
                if 400e6 <= f_out * clkop <= 800e6:
                    p = ECP5PLL(f_in, clki, clkfb, clkop)
                    if best is None or abs(p.f_out - f_want) < abs(best.f_out - f_want):
                        best = p
                    break
    if best is None or abs(best.f_out / f_want - 1) > MAX_PLL_ERROR:
        near = f"; the nearest is {best.f_out / 1e6:.3f} MHz" if best else ""
        raise ValueError(f"the ECP5 PLL cannot make {f_want / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz within {MAX_PLL_ERROR:.0%}{near}")
    return best
