"""UART configuration (provisional: replaced by the uart-cobs branch's module)."""

from dataclasses import dataclass

from ..checks import check_int
from .config import BlockConfig

__all__ = ["UARTConfig"]


@dataclass(frozen=True)
class UARTConfig(BlockConfig):
    clock_hz: int = 48_000_000
    baud: int = 3_000_000

    def __post_init__(self):
        check_int("clock_hz", self.clock_hz, 1)
        check_int("baud", self.baud, 1)
        if self.divisor < 4:
            raise ValueError("the UART needs at least 4 clock cycles per bit")
        if abs(self.error) > 0.02:
            raise ValueError(f"baud rate {self.baud} cannot be met within 2 % from a "
                             f"{self.clock_hz} Hz clock")

    @property
    def divisor(self):
        return max(1, round(self.clock_hz / self.baud))

    @property
    def actual_baud(self):
        return self.clock_hz / self.divisor

    @property
    def error(self):
        return self.actual_baud / self.baud - 1
