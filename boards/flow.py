"""Bitstream builds with amaranth-boards and the YoWASP tools, and nextpnr's reports.

``build(board, build_dir, config)`` elaborates the harness of a block configuration
(:class:`~.harness.QuantizerHarness` or :class:`~.harness.MCArrayHarness`) for a board whose
default clock is constrained at the board's target frequency (the oscillator on the board is slower; in a full system a PLL would
make the target clock), runs Yosys, nextpnr and the packer, and returns the routed Fmax and
the utilisation that nextpnr writes to ``top.report.json``; the block and its configuration
go to ``hetq_build.json``. The tools run in an environment passed to the build script (the
YoWASP executables named by :func:`tool_env`); this process's environment is not changed. ``read_report(dir)`` reads both back.
"""

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.build import Clock, Resource

from ..golden.checks import check_int
from ..golden.fixed.formats import CYCLE
from ..golden.fixed.gc_layer import GCLayerConfig
from ..golden.fixed.mc_array import MCArrayConfig
from ..golden.fixed.quantizer import QuantizerConfig
from ..golden.fixed.system import SystemConfig
from .harness import GCLayerHarness, MCArrayHarness, QuantizerHarness

__all__ = ["BOARDS", "HARNESSES", "Board", "BuildReport", "build", "block_params",
           "read_report", "tool_env", "STEP_HZ"]

#: Model steps per second in real time (dt = 1 ms, docs/model.md section 1).
STEP_HZ = 1000.0


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
    seconds : float or None
        Wall time of the build.
    params : dict
        What ``hetq_build.json`` holds: the board, the block and its parameters (for the MC
        array also ``cycles_per_step``, ``cycles_per_cycle`` and ``cycles_per_sample``).
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
        """The highest constraint over the clocks."""
        return max(c for _, c in self.fmax.values()) if self.fmax else float("nan")

    @property
    def block(self):
        """The harnessed block (builds made before the MC array was added are quantizers)."""
        return self.params.get("block", "quantizer")

    @property
    def summary(self):
        """The block and its size in a few words ("" when the build recorded nothing)."""
        p = self.params
        if self.block == "system":
            gc = (f", {p['gcs']} GCs ({p['synapses']} synapses)" if p.get("gcs") else "")
            return (f"system {p['sensors']} sensors x D = {p['duplication']} ({p['mcs']} MCs"
                    f"{gc}), clock {p['clock_hz'] / 1e6:g} MHz, UART {p['baud']} baud")
        if self.block == "mc-array" and "mcs" in p:
            lanes = p.get("lanes", 1)
            inhibition = ", inhibition" if p.get("inhibition") else ""
            return (f"MC array {p['mcs']} MCs, {lanes} lane{'s' if lanes != 1 else ''}, "
                    f"hold {p.get('hold')}, rinse {p.get('rinse')}{inhibition}")
        if self.block == "gc-layer":
            lanes = p.get("lanes", 1)
            iic = ", GC->MC path" if p.get("iic") else ""
            return (f"GC layer {p['gcs']} GCs, {p['mcs']} MCs, {p['synapses']} synapses, "
                    f"{lanes} lane{'s' if lanes != 1 else ''}, hold {p['hold']}, "
                    f"rinse {p['rinse']}{iic}"
                    f"{', tables in SPRAM' if p.get('spram') else ''}")
        if "sensors" in p:
            return f"quantizer {p['sensors']} sensors x D = {p.get('duplication')}"
        return ""

    def rates(self):
        """Throughput of an MC array build at its routed Fmax: a dict with ``steps_per_s``,
        ``cycles_per_s`` (50-step gamma cycles), ``samples_per_s`` and ``realtime`` (steps per
        second over the :data:`STEP_HZ` of real time); None for other blocks or when the
        build did not record its cycle counts."""
        p = self.params
        if self.block != "mc-array" or "cycles_per_step" not in p or not self.fmax:
            return None
        hz = self.fmax_mhz * 1e6
        steps = hz / p["cycles_per_step"]
        return {"steps_per_s": steps, "cycles_per_s": hz / p["cycles_per_cycle"],
                "samples_per_s": hz / p["cycles_per_sample"], "realtime": steps / STEP_HZ}

    def lines(self):
        """The report as text lines: Fmax against the target, the used cells and, for the MC
        array, the cycle counts and what they mean at the achieved Fmax."""
        met = "met" if self.fmax_mhz >= self.target_mhz else "MISSED"
        out = [f"{self.board} ({self.device}): Fmax {self.fmax_mhz:.1f} MHz "
               f"(target {self.target_mhz:.0f} MHz, {met})"]
        for cell, (used, avail) in sorted(self.utilisation.items()):
            if used:
                out.append(f"  {cell:<14} {used:>6} / {avail:<6} ({100 * used / avail:5.1f}%)")
        p = self.params
        if self.block == "system":
            out.append(f"  clock {p['clock_hz'] / 1e6:g} MHz (PLL), UART {p['baud']} baud "
                       f"(divisor {p['divisor']}), {p['slots']} request slots")
            out.append(f"  quantizer datapath {p.get('datapath', 'pipelined')}; link: up to "
                       f"{p['link_samples_per_s']:,.0f} samples/s (a "
                       f"{p['sample_reply_bytes']}-byte reply per sample)")
            if p.get("rasters", True):
                out.append(f"  rasters: {p['cycles_per_sample']:,} cycles per window")
            elif "gcs" in p:
                out.append("  rasters: none (the MC array is there for the GC layer, without "
                           "the raster event path; " + p.get(
                               "note", "RASTER requests are answered as unknown commands") + ")")
            else:
                out.append("  rasters: none (built without the MC array; " + p.get(
                    "note", "RASTER requests are answered as unknown commands") + ")")
        if self.block == "gc-layer" and "fit_cycles_per_step" in p:
            hz = self.fmax_mhz * 1e6
            fit = p["fit_cycles_per_step"] * (p["hold"] + p["rinse"])
            out.append(f"  fit: about {p['fit_cycles_per_step']:,} cycles per step (every "
                       f"synapse and every GC once), {fit:,} per training sample: "
                       f"{hz / fit:,.0f} training samples/s at {self.fmax_mhz:.1f} MHz")
            out.append(f"  process: {p['process_cycles_per_step']:,} cycles per step plus the "
                       f"fan-out lists of the MCs delivered in it")
        rates = self.rates()
        if rates is not None:
            p = self.params
            out.append(f"  cycles per step {p['cycles_per_step']}, per {CYCLE}-step gamma cycle "
                       f"{p['cycles_per_cycle']}, per sample {p['cycles_per_sample']}")
            out.append(f"  at {self.fmax_mhz:.1f} MHz: {rates['steps_per_s']:,.0f} steps/s, "
                       f"{rates['cycles_per_s']:,.0f} gamma cycles/s, "
                       f"{rates['samples_per_s']:,.0f} samples/s; "
                       f"{rates['realtime']:,.0f}x real time (1 kHz steps)")
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


#: The blocks ``build`` can put in a harness: configuration type -> (name, harness).
HARNESSES = {QuantizerConfig: ("quantizer", QuantizerHarness),
             MCArrayConfig: ("mc-array", MCArrayHarness),
             GCLayerConfig: ("gc-layer", GCLayerHarness)}


def block_params(config):
    """What a build records of its block besides the configuration: the block's name, its
    size in flat keys (for :attr:`BuildReport.summary`) and, for the MC array, its cycle
    counts."""
    if isinstance(config, QuantizerConfig):
        return {"block": "quantizer", "sensors": config.sensors,
                "duplication": config.duplication, "lanes": config.norm_lanes}
    if isinstance(config, SystemConfig):
        q, a = config.quantizer, config.array
        return {"block": "system", "sensors": q.sensors, "duplication": q.duplication,
                "mcs": q.mcs, "lanes": q.norm_lanes, "array_lanes": a.lanes, "hold": a.hold,
                "rinse": a.rinse, "clock_hz": config.clock_hz, "baud": config.baud,
                "divisor": config.uart.divisor, "slots": config.slots,
                "datapath": q.datapath, "rasters": config.rasters,
                "sample_reply_bytes": config.sample_reply_bytes,
                "link_samples_per_s": round(config.link_samples_per_s(), 1),
                "cycles_per_sample": a.cycles_per_sample,
                "array_compact": a.compact,
                **({} if config.gc is None else {"gcs": config.gc.gcs,
                                                  "synapses": config.gc.synapses,
                                                  "spram": config.gc.spram,
                                                  "gc_compact": config.gc.compact})}
    if isinstance(config, MCArrayConfig):
        return {"block": "mc-array", "mcs": config.mcs, "lanes": config.lanes,
                "hold": config.hold, "rinse": config.rinse, "inhibition": config.inhibition,
                "compact": config.compact, "cycles_per_step": config.cycles_per_step,
                "cycles_per_cycle": config.cycles_per_cycle,
                "cycles_per_sample": config.cycles_per_sample}
    if isinstance(config, GCLayerConfig):
        # a step with learning on walks every synapse and every GC once (plus a few cycles
        # per step and per spike; `hetq compare gc-layer` measures it), without learning
        # every GC and the fan-out lists of the MCs delivered; in lanes each lane its share
        # (nominal: a balanced mask)
        lanes = config.lanes
        return {"block": "gc-layer", "mcs": config.mcs, "gcs": config.gcs,
                "synapses": config.synapses, "lanes": lanes, "hold": config.hold,
                "rinse": config.rinse, "iic": config.iic, "spram": config.spram,
                "compact": config.compact, "fit_cycles_per_step": -(-config.synapses // lanes) + -(-config.gcs // lanes),
                "process_cycles_per_step": -(-config.gcs // lanes)}
    raise TypeError(f"no board harness for a {type(config).__name__}")


def _overfull(log):
    """``"5390 of 5280 ICESTORM_LCs (102 %)"`` for each kind of cell nextpnr found too many
    of in its log, or None."""
    import re

    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return None
    over = [f"{used} of {avail} {cell}s ({round(100 * int(used) / int(avail))} %)"
            for cell, used, avail in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text, re.M)
            if int(used) > int(avail)]
    return "; ".join(dict.fromkeys(over)) or None


def build(board_name, build_dir, config, *, seed=1, weights=None, table=None, note=None):
    """Build a block for a board and read nextpnr's report.

    Parameters
    ----------
    board_name : str
        A key of :data:`BOARDS`.
    build_dir : path
        Where the build files, the tool logs (``top.tim`` is nextpnr's) and
        ``hetq_build.json`` go.
    config : QuantizerConfig, MCArrayConfig or SystemConfig
        The block to build: a block in its synthesis harness (:data:`HARNESSES`), whose
        board clock is constrained at the board's target frequency; or the whole system in
        its board top (``boards/top.py``), on the PLL clock ``config.clock_hz``. Recorded in
        ``hetq_build.json``.
    seed : int
        nextpnr placement seed.
    weights, table
        The system's initial tables (memory init); only for a SystemConfig.
    note : str, optional
        Why a system is built without its MC array, for the report.

    Returns
    -------
    BuildReport

    Raises
    ------
    ValueError, TypeError
        For an unknown board, a configuration that cannot be built, or tables given for a
        block in a harness (before any tool runs).
    RuntimeError
        When a tool is missing, the build fails (the tool log is in ``build_dir``), or the
        system misses timing at its clock (the report is written first).
    """
    if board_name not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board_name!r}")
    board = BOARDS[board_name]
    check_int("seed", seed, 0)
    system = isinstance(config, SystemConfig)
    gc = config.gc if system else config if isinstance(config, GCLayerConfig) else None
    if gc is not None and gc.spram and board_name != "icebreaker":
        raise ValueError(f"spram (the GC layer's tables in SPRAM) exists on the iCEBreaker's "
                         f"iCE40UP5K only, not on the {board_name}")
    if system:
        from .top import SystemTop

        top = SystemTop(config, board_name, weights=weights, table=table)
        platform = _platform_class(board)()
    else:
        if type(config) not in HARNESSES:
            raise TypeError(f"no board harness for a {type(config).__name__}")
        if weights is not None or table is not None:
            raise ValueError("tables are built into the system only")
        top = HARNESSES[type(config)][1](config)
        platform = _constrained_platform(board)
    env = {**os.environ, **tool_env(board)}
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        plan = platform.prepare(top, name="top", synth_opts=" ".join(board.synth_opts),
                                nextpnr_opts=f"--report top.report.json --seed {seed} "
                                             "--timing-allow-fail")
        plan.execute_local(str(build_dir), env=env)
    except Exception as e:  # the build script's failure names only the script
        over = _overfull(build_dir / "top.tim")
        if over is not None:
            raise RuntimeError(f"{board_name}: the design does not fit: {over} (nextpnr's log: "
                               f"{build_dir / 'top.tim'})") from None
        raise RuntimeError(f"{board_name} build failed ({e}); see the logs in {build_dir}") from e
    seconds = time.perf_counter() - start
    fmt = config.quantizer.fmt if system else config.fmt
    params = {**block_params(config), "config": config.to_dict(), "seed": seed,
              "seconds": round(seconds, 1), "formats": fmt.describe()}
    if note is not None:
        params["note"] = str(note)
    if system:
        from ..golden.fixed.link import table_hash
        from ..golden.fixed.quantizer import QuantizerModel

        model = QuantizerModel(config.quantizer, weights=weights, table=table)
        params["table_hash"] = table_hash(model.weights, fmt.weight_bits,
                                          model.table.thresholds, fmt.drive_bits)
    (build_dir / "hetq_build.json").write_text(json.dumps({"board": board_name, **params},
                                                          indent=1))
    report = read_report(build_dir)
    report.seconds = seconds
    if system and report.fmax_mhz * 1e6 < config.clock_hz:
        raise RuntimeError(f"{board_name}: timing not met: Fmax {report.fmax_mhz:.1f} MHz is "
                           f"below the {config.clock_hz / 1e6:g} MHz clock (report in "
                           f"{build_dir}); build at a lower --clock or try another --seed")
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
