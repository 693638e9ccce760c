"""What the board commands do, as library functions: the system configuration of a board,
the tables of a weights file, a run of samples on a board, and the comparison of a board's
results with the fixed-point model."""

import json
from dataclasses import dataclass, field

import numpy as np

from ..golden.fixed.link import table_hash
from ..golden.fixed.neuron import PhaseTable
from ..golden.fixed.quantizer import QuantizerConfig, QuantizerModel, weight_table
from ..golden.fixed.system import SystemConfig
from .client import config_from_info, sensor_codes

__all__ = ["BOARD_DEFAULTS", "board_config", "read_tables", "tables_hash", "run_samples",
           "BoardComparison", "compare_results"]

#: Per board: the PLL clock (MHz; the iCEBreaker's system closes timing at 34-35 MHz, and 30 MHz
#: keeps the UART at 3 Mbaud with divisor 10: the link, not the clock, bounds the samples/s),
#: the quantizer's datapath (docs/quantizer.md), whether the
#: MC array (rasters) is built, and why not (docs/board.md: with the serial quantizer and the
#: array the system needs 5,330 of the UP5K's 5,280 logic cells at 8 x 32, and the array's
#: area hardly depends on D; `hetq build system --board icebreaker --rasters` shows it).
BOARD_DEFAULTS = {
    "icebreaker": {"clock_mhz": 30.0, "datapath": "serial", "rasters": False,
                   "note": "at 8 x 32 the UP5K does not hold the MC array beside the "
                           "quantizer; --rasters tries"},
    "ulx3s": {"clock_mhz": 100.0, "datapath": "pipelined", "rasters": True},
}


def board_config(board, *, duplication=None, sensors=None, clock_mhz=None, baud=None,
                 datapath=None, rasters=None):
    """The :class:`SystemConfig` ``hetq build system`` builds for ``board`` (and ``hetq board
    sim`` simulates): 8 sensors x D = 32 by default, the board's PLL clock (the frequency the
    PLL makes nearest ``clock_mhz``), 3 Mbaud, the board's quantizer datapath
    (:data:`BOARD_DEFAULTS`; the normaliser lanes are the fewest that keep up with it), with
    the MC array where the board holds it (``rasters``; the iCEBreaker's UP5K does not).
    ValueError for an unknown board or datapath, a clock the PLL cannot make or a baud rate
    the clock cannot meet."""
    from .top import board_pll

    if board not in BOARD_DEFAULTS:
        raise ValueError(f"board must be one of {', '.join(BOARD_DEFAULTS)}, not {board!r}")
    defaults = BOARD_DEFAULTS[board]
    mhz = defaults["clock_mhz"] if clock_mhz is None else clock_mhz
    clock = round(board_pll(board, mhz * 1e6).f_out)
    q = {k: v for k, v in (("duplication", duplication), ("sensors", sensors)) if v is not None}
    q["datapath"] = defaults["datapath"] if datapath is None else datapath
    kwargs = {} if baud is None else {"baud": baud}
    kwargs["rasters"] = defaults["rasters"] if rasters is None else rasters
    return SystemConfig(quantizer=QuantizerConfig(**q), clock_hz=clock, **kwargs)


def read_tables(path, config=None):
    """The tables of a weights file (``hetq calibrate``'s .npz: ``weights``, and optionally
    ``thresholds`` codes): ``(weights matrix, weight codes, PhaseTable or None, sensors, D)``.
    With ``config`` the sizes must match it; the codes are checked against its formats with
    the usual errors (ValueError naming the MC and the limit)."""
    from ..io import InputError, load_weights

    weights, params = load_weights(path)
    sensors = weights.shape[1]
    duplication = weights.shape[0] // sensors
    fmt = config.quantizer.fmt if config is not None else QuantizerConfig().fmt
    if config is not None and (sensors, duplication) != (config.quantizer.sensors,
                                                         config.quantizer.duplication):
        raise InputError(f"{path}: weights for {sensors} sensors x D = {duplication}, the "
                         f"design has {config.quantizer.sensors} x "
                         f"{config.quantizer.duplication}")
    try:
        codes = weight_table(weights, fmt)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    table = None
    from ..io import _load

    data = _load(path)
    if "thresholds" in data:
        t = np.asarray(data["thresholds"])
        base = QuantizerConfig(fmt=fmt).table
        if t.shape != (base.levels,) or not np.issubdtype(t.dtype, np.integer):
            raise InputError(f"{path}: 'thresholds' must be {base.levels} integer codes")
        if t.min() < 0 or t.max() > fmt.drive_max:
            raise InputError(f"{path}: threshold codes must lie in [0, {fmt.drive_max}]")
        table = PhaseTable(t.astype(np.int64), base.top_phase)
    return weights, codes, table, sensors, duplication


def tables_hash(config, codes, table=None):
    """The info reply's table hash of these tables on ``config``."""
    model = QuantizerModel(config.quantizer, weights=codes, table=table)
    fmt = config.quantizer.fmt
    return table_hash(model.weights, fmt.weight_bits, model.table.thresholds, fmt.drive_bits)


def run_samples(board, samples, progress=None):
    """Samples through a board: what ``hetq board run`` writes. Returns a dict of arrays: ``et``
    (the normalised inputs from the board's normaliser, float32, samples x sensors),
    ``mc_phase`` (int16, samples x MCs, 0 silent, else 2..17), ``sensor_codes`` (what was
    sent), ``board_info`` (the info reply as JSON, the table hash included)."""
    info = board.info()
    fmt = info.config.quantizer.fmt
    codes, x, phase = board.process(samples, progress=progress)
    et = (x / float(1 << fmt.x_frac)).astype(np.float32)
    return {"et": et, "mc_phase": phase, "sensor_codes": codes,
            "board_info": np.str_(json.dumps(info.fields))}


@dataclass
class BoardComparison:
    """A board's results against the fixed-point model."""

    samples: int
    phases: int
    phase_mismatches: int
    et_mismatches: int
    code_mismatches: int
    hash_board: int
    hash_file: int
    examples: list = field(default_factory=list)

    @property
    def mismatches(self):
        return self.phase_mismatches + self.et_mismatches + self.code_mismatches

    @property
    def same_tables(self):
        return self.hash_board == self.hash_file


def compare_results(result, samples, codes, table=None):
    """Compare ``result`` (the arrays of :func:`run_samples`) with the fixed-point model of
    the board's configuration (from its info reply) with the weight ``codes`` (and
    ``table``) on ``samples`` (converted to sensor codes exactly as the client does)."""
    try:
        fields = json.loads(str(result["board_info"]))
    except (KeyError, ValueError):
        raise ValueError("the board result has no board_info (write it with `hetq board run`)")
    config = config_from_info(fields)
    q = config.quantizer
    sent = sensor_codes(samples, q.fmt)
    if sent.shape != np.asarray(result["sensor_codes"]).shape:
        raise ValueError(f"the data has {sent.shape[0]} samples of {sent.shape[1]} sensors, the "
                         f"board result {np.asarray(result['sensor_codes']).shape}")
    model = QuantizerModel(q, weights=codes, table=table)
    out = model.process(sent)
    from ..golden.fixed.normaliser import normalise

    et = (normalise(sent, q.fmt) / float(1 << q.fmt.x_frac)).astype(np.float32)
    phase = np.asarray(result["mc_phase"])
    bad = np.argwhere(phase != out.phase)
    examples = [(int(s), int(m), int(phase[s, m]), int(out.phase[s, m])) for s, m in bad[:10]]
    return BoardComparison(
        samples=len(sent), phases=int(out.phase.size), phase_mismatches=len(bad),
        et_mismatches=int(np.count_nonzero(np.asarray(result["et"]) != et)),
        code_mismatches=int(np.count_nonzero(np.asarray(result["sensor_codes"]) != sent)),
        hash_board=int(fields["table_hash"]), hash_file=tables_hash(config, codes, table),
        examples=examples)
