"""Bitstream builds with amaranth-boards and the YoWASP tools, and nextpnr's reports.

``build(board, ...)`` elaborates :class:`~.harness.QuantizerHarness` for a board whose
default clock is constrained at the board's target frequency (the oscillator on the board is
slower; in a full system a PLL would make the target clock), runs Yosys, nextpnr and the
packer, and returns the routed Fmax and the utilisation that nextpnr writes to
``top.report.json``. ``read_report(dir)`` reads them back.
"""

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.build import Clock, Resource

from ..golden.fixed import DEFAULT_FORMAT
from .harness import QuantizerHarness

__all__ = ["BOARDS", "Board", "BuildReport", "build", "read_report", "tool_env"]


@dataclass(frozen=True)
class Board:
    """A target: the amaranth-boards platform, the frequency nextpnr is asked to meet, and
    the options the flow passes to Yosys and nextpnr."""

    name: str
    platform: str
    target_mhz: float
    synth_opts: tuple = ()
    tools: tuple = ()
    extra_env: dict = field(default_factory=dict)


BOARDS = {
    "icebreaker": Board("icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform", 60.0,
                        synth_opts=("-dsp",), tools=("yosys", "nextpnr-ice40", "icepack")),
    "ulx3s": Board("ulx3s", "amaranth_boards.ulx3s:ULX3S_85F_Platform", 130.0,
                   tools=("yosys", "nextpnr-ecp5", "ecppack"),
                   extra_env={"OPENFPGALOADER": "true"}),
}


@dataclass
class BuildReport:
    """Routed timing and utilisation of one build (from nextpnr's JSON report).

    Members
    -------
    fmax : dict
        Clock name -> (achieved MHz, constraint MHz).
    utilisation : dict
        Cell type -> (used, available).
    """

    board: str
    device: str
    fmax: dict
    utilisation: dict
    seconds: float | None = None
    params: dict = field(default_factory=dict)

    @property
    def fmax_mhz(self):
        """The lowest achieved Fmax over the clocks."""
        return min(a for a, _ in self.fmax.values()) if self.fmax else float("nan")

    @property
    def target_mhz(self):
        return max(c for _, c in self.fmax.values()) if self.fmax else float("nan")

    def lines(self):
        met = "met" if self.fmax_mhz >= self.target_mhz else "MISSED"
        out = [f"{self.board} ({self.device}): Fmax {self.fmax_mhz:.1f} MHz "
               f"(target {self.target_mhz:.0f} MHz, {met})"]
        for cell, (used, avail) in sorted(self.utilisation.items()):
            if used:
                out.append(f"  {cell:<14} {used:>6} / {avail:<6} ({100 * used / avail:5.1f}%)")
        return out


def _platform_class(board):
    module, name = board.platform.split(":")
    mod = __import__(module, fromlist=[name])
    return getattr(mod, name)


def _constrained_platform(board):
    """The board's platform with its default clock constrained at the target frequency."""
    base = _platform_class(board)
    clk = base.default_clk
    resources = []
    for r in base.resources:
        if r.name == clk and r.number == 0:
            r = Resource(r.name, r.number, *r.ios, Clock(board.target_mhz * 1e6), r.attrs)
        resources.append(r)
    return type(f"{base.__name__}AtTarget", (base,), {"resources": resources})()


def tool_env(board):
    """Environment that points Amaranth's build script at the YoWASP executables next to the
    running Python (the ``build`` extra installs them). Raises RuntimeError if one is missing."""
    bindir = Path(sys.executable).parent
    env = {}
    for tool in board.tools:
        exe = shutil.which(f"yowasp-{tool}", path=str(bindir)) or shutil.which(f"yowasp-{tool}")
        if exe is None:
            raise RuntimeError(f"yowasp-{tool} is not installed; `pip install -e '.[build]'` "
                               "installs the pinned YoWASP tools")
        env[tool.upper().replace("-", "_")] = exe
    env.update(board.extra_env)
    return env


def build(board_name, build_dir, *, sensors=8, duplication=32, fmt=DEFAULT_FORMAT, lanes=None,
          seed=1):
    """Build the harnessed quantizer for ``board_name`` in ``build_dir``; returns the
    :class:`BuildReport`. Raises ValueError for an unknown board, RuntimeError when a tool is
    missing or the build fails (the tool log is in ``build_dir``)."""
    if board_name not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board_name!r}")
    board = BOARDS[board_name]
    harness = QuantizerHarness(sensors=sensors, duplication=duplication, fmt=fmt, lanes=lanes)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    env = tool_env(board)
    saved = {k: os.environ.get(k) for k in [*env, "AMARANTH_USE_YOSYS"]}
    os.environ.update(env)
    os.environ.pop("AMARANTH_USE_YOSYS", None)
    start = time.perf_counter()
    try:
        platform = _constrained_platform(board)
        platform.build(harness, name="top", build_dir=str(build_dir), do_program=False,
                       synth_opts=" ".join(board.synth_opts),
                       nextpnr_opts=f"--report top.report.json --seed {seed} --timing-allow-fail")
    except Exception as e:  # the build script's failure names only the script
        raise RuntimeError(f"{board_name} build failed ({e}); see the logs in {build_dir}") from e
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - start
    params = {"sensors": sensors, "duplication": duplication, "seed": seed,
              "lanes": harness.dut.normaliser.lanes,
              "seconds": round(seconds, 1), "formats": fmt.describe()}
    (build_dir / "hetq_build.json").write_text(json.dumps({"board": board_name, **params},
                                                          indent=1))
    report = read_report(build_dir)
    report.seconds = seconds
    return report


def read_report(build_dir):
    """Read ``top.report.json`` (and ``hetq_build.json``) of a build folder into a
    :class:`BuildReport`. Raises FileNotFoundError / ValueError with the path."""
    build_dir = Path(build_dir)
    path = build_dir / "top.report.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no nextpnr report (build first)")
    try:
        rep = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a nextpnr JSON report ({e})") from None
    meta_path = build_dir / "hetq_build.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    fmax = {clk: (float(v["achieved"]), float(v["constraint"]))
            for clk, v in rep.get("fmax", {}).items()}
    util = {cell: (int(v["used"]), int(v["available"]))
            for cell, v in rep.get("utilization", {}).items()}
    board = meta.get("board", build_dir.name)
    device = ""
    if board in BOARDS:
        device = _platform_class(BOARDS[board]).device
    return BuildReport(board=board, device=device, fmax=fmax, utilisation=util,
                       seconds=meta.get("seconds"), params=meta)
