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

__all__ = ["BOARD_DEFAULTS", "GCS_PER_MC", "board_config", "gc_config", "read_tables",
           "tables_hash", "run_samples", "board_connectivity", "run_network_on_board",
           "BoardComparison", "compare_results"]

#: GCs per MC of a GC layer when the number is not given (the paper's largest network).
GCS_PER_MC = 4

#: Per board: the PLL clock (MHz; the iCEBreaker's system closes timing at 34-35 MHz, and 30 MHz
#: keeps the UART at 3 Mbaud with divisor 10: the link, not the clock, bounds the samples/s),
#: the quantizer's datapath (docs/quantizer.md), the normaliser's dividers where not the fewest
#: that keep up with the quantizer (the iCEBreaker's one: its link carries 1,562 samples/s, a
#: divider makes 86,000 at 30 MHz; three more would cost about 240 logic cells), the GC layer's
#: spike-stamp width where not 32 (the iCEBreaker's 31: a stamp and its valid bit in the two
#: block RAMs of a 32-bit word, not three; differences are exact up to 2**30 steps, about three
#: hours of training at D = 1 on the board), whether the MC array and the GC layer run their
#: compact pipelines (docs/mc_array.md, docs/gc-layer-rtl.md: 45 % and 11 % fewer logic cells
#: on the UP5K; the GC layer's not with the GC->MC path), whether the
#: MC array (rasters) is built, and why not (docs/board.md: with the serial quantizer and the
#: array the system needs 5,330 of the UP5K's 5,280 logic cells at 8 x 32, and the array's
#: area hardly depends on D; `hetq build system --board icebreaker --rasters` shows it).
BOARD_DEFAULTS = {
    "icebreaker": {"clock_mhz": 30.0, "datapath": "serial", "rasters": False, "norm_lanes": 1,
                   "stamp_bits": 31, "compact": True,
                   "note": "the phases system; --rasters adds the MC array (4,249 of "
                           "5,280 LCs at 8 x 32)",
                   "gc_note": "LCs saved for the GC layer; --rasters builds it"},
    "ulx3s": {"clock_mhz": 100.0, "datapath": "pipelined", "rasters": True},
}


def gc_config(quantizer, array, gcs=None, prop=None, spram=False, iic=False, stamp_bits=32):
    """The :class:`~hetq.golden.fixed.gc_layer.GCLayerConfig` of a system's GC layer behind
    the MC ``array`` of ``quantizer``: ``gcs`` GCs (default :data:`GCS_PER_MC` per MC) with
    room for the synapses of a random connectivity of probability ``prop`` (default 1/D, as
    ``hetq run``): ``mcs * round(prop * gcs)``; ``spram``: its synapse tables in the
    iCE40UP's SPRAM (GCLayerConfig); ``iic``: with the GC->MC path; ``stamp_bits``: the
    spike stamps' width. ValueError for a
    probability that connects nothing or more synapses than the link addresses."""
    from ..golden.fixed.gc_layer import GCLayerConfig
    from ..golden.fixed.system import MAX_SYNAPSES
    from ..golden.network.connectivity import check_prop, default_prop

    gcs = GCS_PER_MC * quantizer.mcs if gcs is None else gcs
    prop = default_prop(quantizer.duplication) if prop is None else prop
    synapses = quantizer.mcs * check_prop(gcs, prop)
    if synapses > MAX_SYNAPSES:
        raise ValueError(f"{gcs} GCs at connection probability {prop:g} need {synapses} "
                         f"synapses; the link addresses at most {MAX_SYNAPSES}")
    return GCLayerConfig(mcs=quantizer.mcs, gcs=gcs, synapses=synapses, hold=array.hold,
                         rinse=array.rinse, fmt=quantizer.fmt, spram=bool(spram),
                         iic=bool(iic), stamp_bits=stamp_bits)


def board_config(board, *, duplication=None, sensors=None, clock_mhz=None, baud=None,
                 datapath=None, rasters=None, gcs=None, prop=None, spram=None, iic=None):
    """The :class:`SystemConfig` ``hetq build system`` builds for ``board`` (and ``hetq board
    sim`` simulates): 8 sensors x D = 32 by default, the board's PLL clock (the frequency the
    PLL makes nearest ``clock_mhz``), 3 Mbaud, the board's quantizer datapath
    (:data:`BOARD_DEFAULTS`; the normaliser lanes the board's, else the fewest that keep up with
    it), with
    the MC array and RASTER where the board holds them (``rasters``; the iCEBreaker's UP5K
    does not), and with ``gcs`` (an int, or ``"auto"`` for :data:`GCS_PER_MC` per MC) a GC
    layer behind the array (built for it then: ``rasters`` only says whether RASTER is served)
    (:func:`gc_config`, ``prop`` its connection probability, ``spram`` its synapse tables in
    the SPRAM, iCEBreaker only, ``iic`` the GC->MC path into the MC array; protocol version 2).
    ValueError for an unknown board or datapath, a clock the PLL cannot make or a baud rate
    the clock cannot meet, and for ``prop``, ``spram`` or ``iic`` without ``gcs``."""
    from .top import board_pll

    if board not in BOARD_DEFAULTS:
        raise ValueError(f"board must be one of {', '.join(BOARD_DEFAULTS)}, not {board!r}")
    defaults = BOARD_DEFAULTS[board]
    mhz = defaults["clock_mhz"] if clock_mhz is None else clock_mhz
    clock = round(board_pll(board, mhz * 1e6).f_out)
    q = {k: v for k, v in (("duplication", duplication), ("sensors", sensors)) if v is not None}
    q["datapath"] = defaults["datapath"] if datapath is None else datapath
    if "norm_lanes" in defaults:
        q["norm_lanes"] = defaults["norm_lanes"]
    kwargs = {} if baud is None else {"baud": baud}
    kwargs["rasters"] = defaults["rasters"] if rasters is None else rasters
    if prop is not None and gcs is None:
        raise ValueError("the connection probability (--prop) sizes a GC layer: give --gc")
    if spram and gcs is None:
        raise ValueError("--spram places the GC layer's synapse tables: give --gc")
    if iic and gcs is None:
        raise ValueError("--iic builds the GC->MC path from the GC layer: give --gc")
    if iic and spram:
        raise ValueError("--iic and --spram: the GC layer's SPRAM tables and its GC->MC path "
                         "are not verified together; build one of them")
    if spram and board != "icebreaker":
        raise ValueError(f"--spram applies to the iCEBreaker (the iCE40UP's SPRAM), not the "
                         f"{board}")
    if gcs is not None:                                # (the array is built for it)
        quantizer = QuantizerConfig(**q)
        array = SystemConfig(quantizer=quantizer).array
        kwargs["gc"] = gc_config(quantizer, array, None if gcs == "auto" else gcs, prop,
                                 spram=bool(spram), iic=bool(iic),
                                 stamp_bits=defaults.get("stamp_bits", 32))
    config = SystemConfig(quantizer=QuantizerConfig(**q), clock_hz=clock, **kwargs)
    if defaults.get("compact"):                        # the area-first pipelines
        config = config.replace(array=config.array.replace(compact=True))
        if config.gc is not None and not config.gc.iic:     # (the GC layer's: not with iic)
            config = config.replace(gc=config.gc.replace(compact=True))
    return config


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


def board_connectivity(config, *, connectivity=None, n_gc=None, prop=None, seed=0):
    """The MC->GC mask ``hetq board run`` loads into a board of ``config`` (with a GC
    layer): ``connectivity`` (checked as ``hetq run`` checks it), else drawn as ``hetq run``
    draws it (``numpy.random.default_rng(seed)``, probability ``prop``, default 1/D).
    ``n_gc`` must be the board's number of GCs. Returns ``(mask, prop)`` (``prop`` None for a
    given mask). ValueError naming the problem."""
    from ..golden.network.connectivity import (check_prop, default_prop, random_connectivity,
                                               validate_connectivity)

    gc, q = config.gc, config.quantizer
    if n_gc is not None and n_gc != gc.gcs:
        raise ValueError(f"--gc {n_gc}: the board has {gc.gcs} GCs")
    if connectivity is not None:
        if prop is not None:
            raise ValueError("--prop applies to a random connectivity, not to --connectivity")
        mask = validate_connectivity(connectivity, q.mcs)
        if mask.shape[0] != gc.gcs:
            raise ValueError(f"the connectivity has {mask.shape[0]} GC rows, the board has "
                             f"{gc.gcs} GCs")
    else:
        prop = default_prop(q.duplication) if prop is None else prop
        check_prop(gc.gcs, prop)
        mask = random_connectivity(gc.gcs, q.mcs, prop, np.random.default_rng(seed))
    n = int(mask.sum())
    if n > gc.synapses:
        raise ValueError(f"the connectivity has {n} connections, the board holds "
                         f"{gc.synapses} synapses")
    return mask, prop


def run_network_on_board(board, samples, *, train=None, connectivity=None, n_gc=None,
                         prop=None, seed=None, iic=None, progress=None):
    """What ``hetq board run`` writes: the arrays of :func:`run_samples`, and on a board with
    a GC layer the fold of ``hetq run``: the mask (:func:`board_connectivity`) loaded
    (CONNECT: weights 25 mV, the layer reset), with ``train`` a window per training sample with
    learning on and the clamp, then the GC->MC weight ``iic`` (mV, <= 0, as ``hetq run
    --iic``; it needs ``train`` and a board built with the path; on such a board it is set to
    0 when not given), then ``samples``; adds ``gc_phase`` (int16, samples x GCs),
    ``mc_gc_weights`` (mV, float32, GCs x MCs, read back from the board) and ``connectivity``
    (bool, GCs x MCs, read back), with ``train`` ``train_sensor_codes`` (what was sent),
    and returns ``(arrays, details)`` with ``details`` the connection probability, the seed,
    the training samples' sensor codes and, on a board with the GC->MC path, ``iic_code``
    (the weight code read back). On a board without a GC layer the GC options are refused
    (ValueError) before anything is sent, as ``iic`` without training or on a board without
    the path."""
    from ..golden.fixed.network import iic_code

    config = board.config
    if iic is not None and train is None:
        raise ValueError("--iic acts only after training: without --train no GC->MC "
                         "inhibition is learned and the weight has no effect")
    if config.gc is None:
        for name, value in (("--train", train), ("--connectivity", connectivity),
                            ("--gc", n_gc), ("--prop", prop), ("--seed", seed),
                            ("--iic", iic)):
            if value is not None:
                raise ValueError(f"{name} needs a board with a GC layer; this one has none "
                                 f"(protocol version {config.version})")
        return run_samples(board, samples, progress=progress), {"prop": None}
    if seed is not None and connectivity is not None:
        raise ValueError("--seed seeds the random connectivity, not --connectivity")
    if iic is not None and not config.gc.iic:
        raise ValueError(f"--iic {iic:g}: the board has no GC->MC path (its INFO says iic = "
                         f"0); build it with `hetq build system --gc N --iic` (or simulate "
                         f"`hetq board sim --gc N --iic`)")
    code = None if iic is None else iic_code(iic, config.gc.fmt)
    mask, prop = board_connectivity(config, connectivity=connectivity, n_gc=n_gc, prop=prop,
                                    seed=0 if seed is None else seed)
    board.connect(mask)
    details = {"prop": prop, "seed": None if prop is None else (0 if seed is None else seed)}
    if train is not None:
        details["train_codes"] = board.train(train, progress=progress)
        board.clamp()
    if config.gc.iic:                                   # never a weight left from before
        details["iic_code"] = board.set_iic_weight(0 if code is None else code)
    fmt = config.quantizer.fmt
    codes, x, mc, gc = board.sample_network(samples, progress=progress)
    got = board.connectivity()
    if not np.array_equal(got, mask):
        from .client import LinkError
        raise LinkError("the board's connectivity reads back differently from the one loaded")
    info = board.info()                                 # the table hash now
    arrays = {"et": (x / float(1 << fmt.x_frac)).astype(np.float32), "mc_phase": mc,
              "gc_phase": gc, "mc_gc_weights": board.mc_gc_weights(), "connectivity": got,
              "sensor_codes": codes, "board_info": np.str_(json.dumps(info.fields))}
    if train is not None:
        arrays["train_sensor_codes"] = details["train_codes"]
    return arrays, details


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
    gc_phases: int = 0
    gc_phase_mismatches: int = 0
    weight_mismatches: int = 0
    connectivity_mismatches: int = 0
    iic: float = 0.0
    iic_mismatches: int = 0

    @property
    def mismatches(self):
        return (self.phase_mismatches + self.et_mismatches + self.code_mismatches
                + self.gc_phase_mismatches + self.weight_mismatches
                + self.connectivity_mismatches + self.iic_mismatches)

    @property
    def same_tables(self):
        return self.hash_board == self.hash_file


def compare_results(result, samples, codes, table=None, *, weights=None, train=None,
                    connectivity=None, iic=0.0):
    """Compare ``result`` (the arrays of :func:`run_samples` or :func:`run_network_on_board`)
    with the fixed-point model of the board's configuration (from its info reply) with the
    weight ``codes`` (and ``table``) on ``samples`` (converted to sensor codes exactly as the
    client does).

    A result with GC phases is compared with :class:`~hetq.golden.fixed.network.FixedNetwork`
    of the float ``weights`` (whose codes are ``codes``) on the same fold: ``connectivity``
    (the mask the board was given; checked against the result's), fit on ``train`` (None: no
    training) and the clamp, with the GC->MC weight ``iic`` (mV, as the board run's), then
    ``samples``: the MC and GC phases, the normalised inputs, the MC->GC weights, the
    connectivity and, on a board with the GC->MC path, the weight code the board read back
    (the result's ``params`` ``iic_code``) against :func:`~hetq.golden.fixed.network.iic_code`
    of ``iic``."""
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
    from ..golden.fixed.normaliser import normalise

    et = (normalise(sent, q.fmt) / float(1 << q.fmt.x_frac)).astype(np.float32)
    gc = {}
    if "gc_phase" in result:
        if config.gc is None:
            raise ValueError("the board result has GC phases but its board_info no GC layer")
        gc = _network_reference(result, config, samples, codes, weights, train, connectivity,
                                iic)
        want = gc.pop("mc_phase")
    else:
        if train is not None or connectivity is not None or iic:
            raise ValueError("the board result has no GC layer: --train, --connectivity and "
                             "a GC->MC weight do not apply")
        want = QuantizerModel(q, weights=codes, table=table).process(sent).phase
    phase = np.asarray(result["mc_phase"])
    bad = np.argwhere(phase != want)
    examples = [(int(s), int(m), int(phase[s, m]), int(want[s, m])) for s, m in bad[:10]]
    code_mismatches = int(np.count_nonzero(np.asarray(result["sensor_codes"]) != sent))
    if train is not None:
        want_train = sensor_codes(train, q.fmt)
        got_train = np.asarray(result.get("train_sensor_codes", np.zeros((0, 0))))
        if got_train.shape != want_train.shape:
            raise ValueError(f"the training data has {want_train.shape} sensor codes, the "
                             f"board result {got_train.shape}")
        code_mismatches += int(np.count_nonzero(got_train != want_train))
    return BoardComparison(
        samples=len(sent), phases=int(want.size), phase_mismatches=len(bad),
        et_mismatches=int(np.count_nonzero(np.asarray(result["et"]) != et)),
        code_mismatches=code_mismatches,
        hash_board=int(fields["table_hash"]), hash_file=tables_hash(config, codes, table),
        examples=examples, **gc)


def _mismatches(result, key, want):
    got = np.asarray(result[key])
    if got.shape != want.shape or got.dtype != want.dtype:
        raise ValueError(f"the board result's {key} is {got.dtype} {got.shape}, the model's "
                         f"{want.dtype} {want.shape}")
    return int(np.count_nonzero(got != want))


def _network_reference(result, config, samples, codes, weights, train, connectivity, iic):
    from ..golden.fixed.network import FixedNetwork, iic_code

    if weights is None or connectivity is None:
        raise ValueError("comparing GC phases needs the float weights and the connectivity "
                         "the board was given")
    want_code = iic_code(iic, config.quantizer.fmt)
    if config.gc.iic:
        try:
            got_code = json.loads(str(result["params"]))["iic_code"]
        except (KeyError, ValueError, TypeError):
            raise ValueError("the board result of a board with the GC->MC path records no "
                             "iic_code (write it with `hetq board run`)") from None
        iic_mismatches = int(got_code != want_code)
    elif want_code:
        raise ValueError(f"a GC->MC weight of {iic:g} mV on a board without the GC->MC path")
    else:
        iic_mismatches = 0
    mask = np.asarray(connectivity, dtype=bool)
    net = FixedNetwork(weights, n_gc=config.gc.gcs, connectivity=mask, iic_weight=iic,
                       fmt=config.quantizer.fmt)
    if not np.array_equal(net.weight_codes, codes):
        raise ValueError("the float weights are not those of the weight codes")
    a = config.array
    if train is not None:
        net.fit(train, duration=a.hold, rinse=a.rinse)
    out = net.process(samples, duration=a.hold, rinse=a.rinse)
    return {"mc_phase": out.mc_phase, "gc_phases": int(out.gc_phase.size),
            "gc_phase_mismatches": _mismatches(result, "gc_phase", out.gc_phase),
            "weight_mismatches": _mismatches(result, "mc_gc_weights", net.mc_gc_weights),
            "connectivity_mismatches": _mismatches(result, "connectivity", mask),
            "iic": float(iic), "iic_mismatches": iic_mismatches}
