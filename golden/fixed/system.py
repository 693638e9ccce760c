"""Bit-exact twin of ``hdl/system.py``: the board system's configuration and a model of the
device at the level of bytes on the link.

:class:`SystemConfig` is the one configuration ``hetq build system`` synthesises and
``hetq board sim`` simulates: the quantizer, the MC array, the UART's clock and baud rate, and
the request slots of the link. :class:`DeviceModel` takes the bytes a host sends and gives the
bytes the device answers, with the protocol of :mod:`.link` and the arithmetic of
:class:`~.quantizer.QuantizerModel` and :class:`~.mc_array.MCArrayModel`: the RTL must give the
same replies, byte for byte.
"""

import struct
from dataclasses import dataclass

import numpy as np

from ..checks import check_instance, check_int
from .config import BlockConfig
from .formats import CYCLE
from .gc_layer import WEIGHT_INT as GC_WEIGHT_INT, GCLayerConfig, GCLayerModel
from .link import (COUNTERS, EVENTS_PER_FRAME, GC_PHASE_BITS, GC_PHASES_PER_FRAME, GC_VERSION,
                   MAGIC, MAX_FRAME, MIN_REQUEST, VERSION, Cmd, FrameError, GcTable, Status,
                   code_bytes, crc_good, encode_frame, max_codes, pack_bits, pack_codes, reply,
                   table_hash)
from .mc_array import MCArrayConfig, MCArrayModel
from .normaliser import normalise
from .quantizer import DATAPATHS, QuantizerConfig, QuantizerModel

__all__ = ["SystemConfig", "SYSTEM_STEP_BITS", "MAX_SYNAPSES", "MAX_GCS", "DeviceModel",
           "INFO_FORMAT", "INFO_GC_FORMAT", "info_payload", "info_fields", "gc_tables",
           "gc_table_bits", "gc_table_size", "iic_field", "iic_of_field"]

#: The info reply's payload after the magic (little endian; see docs/protocol.md).
INFO_FORMAT = "<BBHHBBHHBBBBBBBBBBBBIIBHBBBI"
INFO_FIELDS = ("version", "sensors", "duplication", "mcs", "norm_lanes", "lanes", "hold",
               "rinse", "step_bits", "inhibition", "sensor_bits", "x_frac", "weight_int",
               "weight_frac", "drive_int", "drive_frac", "current_int", "levels", "top_phase",
               "phase_bits", "clock_hz", "baud", "slots", "max_frame", "events_per_frame",
               "datapath", "rasters", "table_hash")
#: Version 2 (a system with a GC layer) appends these fields after :data:`INFO_FORMAT`'s.
INFO_GC_FORMAT = "<HHBBBBBH"
INFO_GC_FIELDS = ("gcs", "synapses", "gc_lanes", "stamp_bits", "iic", "gc_weight_int",
                  "gc_phase_bits", "gc_phases_per_frame")

#: The link addresses synapses and fan-out pointers with u16 codes: a pointer may equal the
#: number of synapses, so there are at most 65535 of them; GC indices are u16 too.
MAX_SYNAPSES = (1 << 16) - 1
MAX_GCS = (1 << 16) - 1


def gc_tables(config):
    """The GC tables (:class:`~.link.GcTable`) of ``config`` (a :class:`SystemConfig` with a
    GC layer): the weights, the pointers, the GC indices and, with the GC->MC path
    (``gc.iic``), its weight."""
    base = (GcTable.WEIGHTS, GcTable.POINTERS, GcTable.TARGETS)
    return base + (GcTable.IIC,) if config.gc.iic else base


def gc_table_bits(config, table):
    """Bits of one code of a GC table on ``config``: weights UQ5.Fc, pointers and GC indices
    16, the GC->MC weight SQ(Ie.Fc) (sent as a two's complement field, :func:`iic_field`)."""
    if table == GcTable.WEIGHTS:
        return GC_WEIGHT_INT + config.gc.fmt.drive_frac
    if table == GcTable.IIC:
        return config.gc.fmt.current_bits
    return 16


def gc_table_size(config, table):
    """Entries of a GC table: synapses for weights and GC indices, ``mcs + 1`` pointers, one
    GC->MC weight."""
    if table == GcTable.IIC:
        return 1
    return config.gc.mcs + 1 if table == GcTable.POINTERS else config.gc.synapses


def iic_field(code, fmt):
    """The GC->MC weight code (SQ(Ie.Fc), ``fmt.current_min`` .. 0) as the link carries it:
    two's complement in the ``code_bytes(fmt.current_bits)`` bytes of the field."""
    bits = 8 * code_bytes(fmt.current_bits)
    return int(code) & ((1 << bits) - 1)


def iic_of_field(value, fmt):
    """The signed number a GC->MC weight field holds (:func:`iic_field`'s inverse; the
    range, ``fmt.current_min`` .. 0, is the caller's to check)."""
    bits = 8 * code_bytes(fmt.current_bits)
    value = int(value)
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


#: The step counter of the system's MC array: the raster events' 16-bit step within a window
#: is all the link carries (a wider counter would cost flip-flops for nothing).
SYSTEM_STEP_BITS = 16


@dataclass(frozen=True)
class SystemConfig(BlockConfig):
    """The board system: the normaliser and quantizer (phases), the MC array (rasters) and the
    host link on one clock.

    Parameters
    ----------
    quantizer : QuantizerConfig
    array : MCArrayConfig, optional
        Of ``quantizer.mcs`` MCs and the quantizer's format, with the extra-current input
        (``inhibition``) exactly when the GC layer has the GC->MC path (``gc.iic``: the GC
        layer drives it); default the array's defaults at that size with a
        :data:`SYSTEM_STEP_BITS`-bit step counter (raster events carry the step within their
        window, so the counter needs no more) and that ``inhibition``. Its window (``hold + rinse``) must fit the
        raster events' 16-bit step.
    clock_hz : int
        The system clock (the board's PLL output), 48 MHz by default.
    baud : int
        The UART's rate, 3 Mbaud by default (what the boards' FTDI bridges carry reliably);
        it must be met within 2 % from the clock (:class:`~.uart.UARTConfig`).
    slots : int
        Request frames the device holds (received and not yet answered): the client's window.
    rasters : bool
        With the RASTER command (default). A system built without it answers RASTER as an
        unknown command and says so in its INFO reply. Without a GC layer it has no MC
        array either (the iCEBreaker's phases-only system, where the UP5K holds the quantizer
        at 8 x 32 but not the array beside it; ``array`` still describes the array it would
        have); with one the array is built in front of the layer all the same, only the
        raster event path is left out.
    gc : GCLayerConfig, optional
        The GC layer behind the MC array (default None: no GC layer, protocol version 1).
        It must have the array's MCs, hold, rinse and format, at most :data:`MAX_GCS` GCs and
        :data:`MAX_SYNAPSES` synapses (the link's u16 pointers and GC indices); the MC array
        is built in front of it whatever ``rasters`` says. With ``iic`` the GC->MC path is built: the layer's currents go
        into the array's extra-current input and the link sets their weight (GC table
        :attr:`~.link.GcTable.IIC`, 0 at power-up). A system with a GC layer speaks protocol
        version 2 (docs/protocol.md section 11).

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong kind or out of range, or a sample reply that does not fit a
        frame.
    """

    quantizer: QuantizerConfig = QuantizerConfig()
    array: MCArrayConfig | None = None
    clock_hz: int = 48_000_000
    baud: int = 3_000_000
    slots: int = 4
    rasters: bool = True
    gc: GCLayerConfig | None = None

    def __post_init__(self):
        q = check_instance("quantizer", self.quantizer, QuantizerConfig)
        iic = isinstance(self.gc, GCLayerConfig) and self.gc.iic
        array = (MCArrayConfig(mcs=q.mcs, fmt=q.fmt, step_bits=SYSTEM_STEP_BITS, inhibition=iic)
                 if self.array is None else self.array)
        check_instance("array", array, MCArrayConfig)
        if array.mcs != q.mcs:
            raise ValueError(f"the array has {array.mcs} MCs, the quantizer {q.mcs}")
        if array.fmt != q.fmt:
            raise ValueError("the array and the quantizer must use the same format")
        if array.inhibition and self.gc is None:
            raise ValueError("the system has no GC layer to drive the array's inhibition")
        if array.window > 1 << 16:
            raise ValueError(f"raster windows of {array.window} steps do not fit the 16-bit "
                             "event step (at most 65536)")
        if array.window > 1 << array.step_bits:
            raise ValueError(f"raster windows of {array.window} steps do not fit the array's "
                             f"{array.step_bits}-bit step counter (at most "
                             f"{1 << array.step_bits})")
        self._resolve("array", array)
        self._resolve("clock_hz", check_int("clock_hz", self.clock_hz, 1))
        self._resolve("baud", check_int("baud", self.baud, 1))
        self.uart                                  # checks the divisor and the 2 % rule
        self._resolve("slots", check_int("slots", self.slots, 1, 16))
        if not isinstance(self.rasters, bool):
            raise TypeError(f"rasters must be True or False, not {self.rasters!r}")
        if self.gc is not None:
            self._check_gc(q, array)
        if self.sample_reply_bytes > MAX_FRAME:
            raise ValueError(f"a sample reply of {self.sample_reply_bytes} bytes does not fit "
                             f"a frame ({MAX_FRAME}); use fewer MCs")

    def _check_gc(self, q, array):
        g = check_instance("gc", self.gc, GCLayerConfig)
        for name, mine, theirs in (("MCs", g.mcs, array.mcs), ("hold", g.hold, array.hold),
                                   ("rinse", g.rinse, array.rinse)):
            if mine != theirs:
                raise ValueError(f"the GC layer's {name} ({mine}) must be the MC array's "
                                 f"({theirs})")
        if g.fmt != q.fmt:
            raise ValueError("the GC layer and the quantizer must use the same format")
        if g.gcs > MAX_GCS:
            raise ValueError(f"{g.gcs} GCs do not fit the link's u16 GC index (at most "
                             f"{MAX_GCS})")
        if g.synapses > MAX_SYNAPSES:
            raise ValueError(f"{g.synapses} synapses do not fit the link's u16 fan-out "
                             f"pointers (at most {MAX_SYNAPSES})")
        if g.iic != array.inhibition:
            raise ValueError(f"the MC array has the extra-current input (inhibition) exactly "
                             f"when the GC layer has the GC->MC path (iic), which drives it: "
                             f"inhibition={array.inhibition}, iic={g.iic}")

    @classmethod
    def _field_types(cls):
        return {"quantizer": QuantizerConfig, "array": MCArrayConfig, "gc": GCLayerConfig}

    def to_dict(self):
        """As every configuration's, without ``gc`` when there is no GC layer (so a system
        of version 1 serialises, and its builds are cached, as before the GC layer)."""
        d = super().to_dict()
        if d["gc"] is None:
            del d["gc"]
        return d

    def __str__(self):
        text = super().__str__()
        return text.replace(", gc=None)", ")") if self.gc is None else text

    @property
    def version(self):
        """The protocol version the device speaks: 1 without a GC layer, 2 with one."""
        return VERSION if self.gc is None else GC_VERSION

    @property
    def uart(self):
        """The :class:`~.uart.UARTConfig` of ``clock_hz`` and ``baud``."""
        from .uart import UARTConfig

        return UARTConfig(clock_hz=self.clock_hz, baud=self.baud)

    @property
    def sensor_bytes(self):
        return code_bytes(self.quantizer.fmt.sensor_bits)

    @property
    def sample_request_bytes(self):
        """Decoded length of a sample (or raster) request."""
        return 3 + self.quantizer.sensors * self.sensor_bytes + 2

    @property
    def sample_reply_bytes(self):
        """Decoded length of a sample reply (its first frame with a GC layer): header (and
        with a GC layer the part header), normalised inputs, packed phases, CRC."""
        q = self.quantizer
        x = q.sensors * code_bytes(q.fmt.x_bits)
        part = 0 if self.gc is None else 3
        return 4 + part + x + (q.mcs * q.phase_bits + 7) // 8 + 2

    @property
    def sample_reply_frames(self):
        """Decoded lengths of every frame of a sample reply: one without a GC layer; with
        one, the first and then one per :data:`~.link.GC_PHASES_PER_FRAME` GC phases."""
        frames = [self.sample_reply_bytes]
        if self.gc is not None:
            for lo in range(0, self.gc.gcs, GC_PHASES_PER_FRAME):
                n = min(GC_PHASES_PER_FRAME, self.gc.gcs - lo)
                frames.append(4 + 3 + (n * GC_PHASE_BITS + 7) // 8 + 2)
        return frames

    def link_samples_per_s(self):
        """The samples per second the link allows: one reply (COBS adds a byte per 254, and
        the delimiter) per sample at 10 bits per byte, requests travelling the other way."""
        def wire(n):
            return n + 1 + max(n - 1, 0) // 254 + 1

        replies = sum(wire(n) for n in self.sample_reply_frames)
        return self.uart.actual_baud / (10 * max(replies, wire(self.sample_request_bytes)))


def info_payload(config, table_hash):
    """The info reply's payload for ``config`` with the given table hash (its last four
    bytes): the magic, then :data:`INFO_FORMAT` (``datapath`` as its index in
    :data:`~.quantizer.DATAPATHS`: 0 pipelined, 1 serial; ``rasters`` 1 with the MC array,
    0 without)."""
    q, a, f = config.quantizer, config.array, config.quantizer.fmt
    gc = b""
    if config.gc is not None:
        g = config.gc
        gc = struct.pack(INFO_GC_FORMAT, g.gcs, g.synapses, g.lanes, g.stamp_bits, int(g.iic),
                         GC_WEIGHT_INT, GC_PHASE_BITS, GC_PHASES_PER_FRAME)
    return MAGIC + struct.pack(
        INFO_FORMAT, config.version, q.sensors, q.duplication, q.mcs, q.norm_lanes, a.lanes, a.hold,
        a.rinse, a.step_bits, int(a.inhibition), f.sensor_bits, f.x_frac, f.weight_int,
        f.weight_frac, f.drive_int, f.drive_frac, f.current_int, q.levels, q.table.top_phase,
        q.phase_bits, config.clock_hz, config.baud, config.slots, MAX_FRAME, EVENTS_PER_FRAME,
        DATAPATHS.index(q.datapath), int(config.rasters), table_hash) + gc


def info_fields(payload):
    """The info reply's payload as a dict (FrameError, a ValueError, for a wrong magic, an
    unknown version or a length that is not its version's)."""
    payload = bytes(payload)
    if payload[:4] != MAGIC:
        raise FrameError(f"info reply starts with {payload[:4]!r}, not {MAGIC!r}")
    base = 4 + struct.calcsize(INFO_FORMAT)
    version = payload[4] if len(payload) > 4 else None
    sizes = {VERSION: base, GC_VERSION: base + struct.calcsize(INFO_GC_FORMAT)}
    if version not in sizes:
        raise FrameError(f"info reply of protocol version {version}; this client knows "
                         f"{VERSION} and {GC_VERSION}")
    if len(payload) != sizes[version]:
        raise FrameError(f"info reply of {len(payload)} bytes, expected {sizes[version]} "
                         f"for version {version}")
    fields = dict(zip(INFO_FIELDS, struct.unpack(INFO_FORMAT, payload[4:base])))
    if version == GC_VERSION:
        fields.update(zip(INFO_GC_FIELDS, struct.unpack(INFO_GC_FORMAT, payload[base:])))
    return fields


class DeviceModel:
    """The device as the host sees it: bytes in, bytes out.

    Parameters
    ----------
    config : SystemConfig
    weights, table
        The initial tables (what the bitstream's memory init holds), as for
        :class:`~.quantizer.QuantizerModel`.

    :meth:`receive` takes received bytes (any chunks, garbage included) and returns the bytes
    the device sends back; :meth:`line_error` models a UART framing error or break in the
    middle of the stream. ``counters`` holds :data:`~.link.COUNTERS`. The model has no notion
    of time, so it never overruns (``rx_overruns`` and ``slot_overruns`` stay 0).

    With a GC layer (``config.gc``, protocol version 2) ``layer`` is its
    :class:`~.gc_layer.GCLayerModel` (the MC array in front of it included) and
    ``gc_memory`` the three GC tables as the link addresses them (:class:`~.link.GcTable`:
    weight codes, fan-out pointers, GC indices), ``connected`` whether the fan-out tables
    are those the layer was last connected with. At power-on the pointers are all 0 (no
    synapse), the GC indices 0, every weight 25 mV, and the layer connected. With the GC->MC
    path (``config.gc.iic``) the layer's MCs take its currents (the model's own coupling,
    :meth:`~.gc_layer.GCLayerModel.run`) with the weight ``layer.iic_weight`` (GC table
    :attr:`~.link.GcTable.IIC`; 0 at power-on, kept by CONNECT); RASTER runs the array
    alone, without them.
    """

    def __init__(self, config, *, weights=None, table=None):
        self.config = check_instance("config", config, SystemConfig)
        self.quantizer = QuantizerModel(config.quantizer, weights=weights, table=table)
        self.array = MCArrayModel(config.array)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._frame = bytearray()
        self._aborted = False
        self._last = None                  # (seq, cmd, reply frames) of the last request
        self.layer = None
        if config.gc is not None:
            g = config.gc
            self.gc_memory = {GcTable.WEIGHTS: np.full(g.synapses, g.params["w_init"],
                                                       dtype=np.int64),
                              GcTable.POINTERS: np.zeros(g.mcs + 1, dtype=np.int64),
                              GcTable.TARGETS: np.zeros(g.synapses, dtype=np.int64)}
            self.layer = GCLayerModel(g, np.zeros((g.gcs, g.mcs), dtype=bool))
            self.connected = True

    # -- bytes in, bytes out --------------------------------------------------------------

    def receive(self, data):
        """Bytes received on the line; returns the bytes sent in reply."""
        out = bytearray()
        for b in bytes(data):
            if b != 0:
                self._frame.append(b)
                continue
            frame, aborted = bytes(self._frame), self._aborted
            self._frame.clear()
            self._aborted = False
            if frame or aborted:               # empty frames are idle, unless cut by an error
                out += self._frame_done(frame, aborted)
        return bytes(out)

    def line_error(self, kind):
        """A UART ``"framing"`` error or ``"break"``: counted, and the frame being received (or,
        between frames, the next one) is dropped at its delimiter."""
        if kind not in ("framing", "break"):
            raise ValueError(f"kind must be 'framing' or 'break', not {kind!r}")
        self.counters["framing_errors" if kind == "framing" else "breaks"] += 1
        self._aborted = True

    def _frame_done(self, encoded, aborted):
        from cobs import cobs

        if aborted:
            self.counters["dropped_frames"] += 1
            return b""
        try:
            data = cobs.decode(encoded)
        except cobs.DecodeError:
            self.counters["dropped_frames"] += 1
            return b""
        if len(data) > MAX_FRAME or len(data) < MIN_REQUEST:
            self.counters["dropped_frames"] += 1
            return b""
        if not crc_good(data):
            self.counters["crc_errors"] += 1
            return b""
        self.counters["good_frames"] += 1
        seq, cmd, payload = int.from_bytes(data[:2], "little"), data[2], bytes(data[3:-2])
        frames = self.execute(seq, cmd, payload)
        return b"".join(encode_frame(f) for f in frames)

    # -- commands -------------------------------------------------------------------------

    def execute(self, seq, cmd, payload):
        """The decoded reply frames of one good request.

        With a GC layer, a TRAIN or SAMPLE that has the ``seq`` and ``cmd`` of the request
        executed just before it, which succeeded, is a repeat (a retry whose first attempt
        arrived): it is answered with that request's reply and runs nothing."""
        last, self._last = self._last, None
        if (self.layer is not None and cmd in (Cmd.TRAIN, Cmd.SAMPLE) and last is not None
                and last[:2] == (seq, cmd)):
            self._last = last
            return list(last[2])
        handlers = {Cmd.INFO: self._info, Cmd.WRITE_WEIGHTS: self._write_weights,
                    Cmd.READ_WEIGHTS: self._read_weights,
                    Cmd.WRITE_THRESHOLDS: self._write_thresholds,
                    Cmd.READ_THRESHOLDS: self._read_thresholds, Cmd.SAMPLE: self._sample,
                    Cmd.RASTER: self._raster, Cmd.STATUS: self._status, Cmd.CLEAR: self._clear}
        if not self.config.rasters:
            del handlers[Cmd.RASTER]                      # not built: an unknown command
        if self.layer is not None:
            handlers.update({Cmd.WRITE_GC: self._write_gc, Cmd.READ_GC: self._read_gc,
                             Cmd.CONNECT: self._connect, Cmd.SAMPLE: self._sample_gc,
                             Cmd.TRAIN: self._train, Cmd.CLAMP: self._clamp})
        if cmd not in handlers:
            self.counters["unknown_commands"] += 1
            return [reply(seq, cmd, Status.UNKNOWN_COMMAND)]
        result = handlers[Cmd(cmd)](payload)
        if isinstance(result, Status):
            self.counters["bad_requests"] += 1
            return [reply(seq, cmd, result)]
        if isinstance(result, list):                      # several reply frames
            frames = [reply(seq, cmd, Status.OK, p) for p in result]
        else:
            frames = [reply(seq, cmd, Status.OK, result)]
        self._last = (seq, cmd, tuple(frames))
        return frames

    def _table_hash(self):
        fmt = self.config.quantizer.fmt
        return table_hash(self.quantizer.weights, fmt.weight_bits,
                          self.quantizer.table.thresholds, fmt.drive_bits)

    def _info(self, payload):
        if payload:
            return Status.BAD_LENGTH
        return info_payload(self.config, self._table_hash())

    def _range(self, payload, wide, size, code_bits, writing, before=0):
        """(start, count, codes payload) of a table request (of codes of ``code_bits`` bits),
        or an error Status; ``before``: bytes of the request ahead of ``payload``."""
        head = 3 if wide else 2
        if len(payload) < head:
            return Status.BAD_LENGTH
        start = int.from_bytes(payload[:head - 1], "little")
        count = payload[head - 1]
        if count == 0 or count > max_codes(code_bits, head + before):
            return Status.BAD_LENGTH
        if writing and len(payload) != head + count * code_bytes(code_bits):
            return Status.BAD_LENGTH
        if not writing and len(payload) != head:
            return Status.BAD_LENGTH
        if start + count > size:
            return Status.BAD_ADDRESS
        return start, count, payload[head:]

    def _codes(self, data, bits, count):
        n = code_bytes(bits)
        codes = [int.from_bytes(data[k * n:(k + 1) * n], "little") for k in range(count)]
        return None if any(c >> bits for c in codes) else codes

    def _table(self, weights):
        """``(wide start field, size, code bits, codes now, write one code)`` of a table."""
        q, c = self.quantizer, self.config.quantizer
        if weights:
            return True, c.mcs, c.fmt.weight_bits, q.weights, q.write_weight
        return False, c.levels, c.fmt.drive_bits, q.table.thresholds, q.write_threshold

    def _write_table(self, payload, weights):
        wide, size, bits, _, write = self._table(weights)
        r = self._range(payload, wide, size, bits, True)
        if isinstance(r, Status):
            return r
        start, count, data = r
        codes = self._codes(data, bits, count)
        if codes is None:
            return Status.BAD_VALUE
        for k, code in enumerate(codes):
            write(start + k, code)
        return b""

    def _read_table(self, payload, weights):
        wide, size, bits, codes, _ = self._table(weights)
        r = self._range(payload, wide, size, bits, False)
        if isinstance(r, Status):
            return r
        start, count, _ = r
        return payload + pack_codes(codes[start:start + count], bits)

    def _write_weights(self, payload):
        return self._write_table(payload, True)

    def _read_weights(self, payload):
        return self._read_table(payload, True)

    def _write_thresholds(self, payload):
        return self._write_table(payload, False)

    def _read_thresholds(self, payload):
        return self._read_table(payload, False)

    def _sensor_codes(self, payload):
        q = self.config.quantizer
        if len(payload) != q.sensors * self.config.sensor_bytes:
            return Status.BAD_LENGTH
        codes = self._codes(payload, q.fmt.sensor_bits, q.sensors)
        if codes is None:
            return Status.BAD_VALUE
        return np.array([codes], dtype=np.int64)

    def _sample(self, payload):
        s = self._sensor_codes(payload)
        if isinstance(s, Status):
            return s
        q = self.config.quantizer
        out = self.quantizer.process(s)
        x = normalise(s, q.fmt)[0]
        return pack_codes(x, q.fmt.x_bits) + pack_bits(out.phase[0], q.phase_bits)

    def _raster(self, payload):
        s = self._sensor_codes(payload)
        if isinstance(s, Status):
            return s
        drives = self.quantizer.process(s).drive
        res = self.array.run(drives)
        steps = (res.events[:, 0] - res.first_step) & ((1 << self.config.array.step_bits) - 1)
        events = np.stack([steps, res.events[:, 1]], axis=1)
        def part(k, last, chunk):
            return struct.pack("<HB", k, last) + b"".join(struct.pack("<HH", int(t), int(m))
                                                          for t, m in chunk)

        # full parts as they fill, then a last part with the rest (perhaps none)
        full = len(events) // EVENTS_PER_FRAME
        parts = [part(k, 0, events[k * EVENTS_PER_FRAME:(k + 1) * EVENTS_PER_FRAME])
                 for k in range(full)]
        parts.append(part(full, 1, events[full * EVENTS_PER_FRAME:]))
        return parts

    def _status(self, payload):
        if payload:
            return Status.BAD_LENGTH
        return b"".join((self.counters[k] & 0xFFFFFFFF).to_bytes(4, "little")
                        for k in COUNTERS)

    def _clear(self, payload):
        if payload:
            return Status.BAD_LENGTH
        self.counters = dict.fromkeys(COUNTERS, 0)
        return b""

    # -- the GC layer (protocol version 2) ------------------------------------------------

    def _gc_request(self, payload, writing):
        """(table, start, count, codes) of a WRITE_GC / READ_GC request, or an error Status:
        the head's length, the table, the count and the length, the range, the values."""
        if len(payload) < 4:
            return Status.BAD_LENGTH
        if payload[0] not in gc_tables(self.config):
            return Status.BAD_ADDRESS
        table = GcTable(payload[0])
        bits = gc_table_bits(self.config, table)
        r = self._range(payload[1:], True, gc_table_size(self.config, table), bits, writing,
                        before=1)
        if isinstance(r, Status):
            return r
        start, count, data = r
        if not writing:
            return table, start, count, None
        codes = np.array(self._codes(data, 8 * code_bytes(bits), count), dtype=np.int64)
        g = self.config.gc
        if table == GcTable.IIC:                   # signed: current_min .. 0
            codes = np.array([iic_of_field(c, g.fmt) for c in codes], dtype=np.int64)
            if codes.min() < g.fmt.current_min or codes.max() > 0:
                return Status.BAD_VALUE
            return table, start, count, codes
        limit = {GcTable.WEIGHTS: g.params["w_max"], GcTable.POINTERS: g.synapses,
                 GcTable.TARGETS: g.gcs - 1}[table]
        if codes.max() > limit:
            return Status.BAD_VALUE
        return table, start, count, codes

    def _write_gc(self, payload):
        r = self._gc_request(payload, True)
        if isinstance(r, Status):
            return r
        table, start, count, codes = r
        if table == GcTable.IIC:
            self.layer.set_iic_weight(int(codes[0]))
            return b""
        self.gc_memory[table][start:start + count] = codes
        if table != GcTable.WEIGHTS:
            self.connected = False
        return b""

    def _read_gc(self, payload):
        r = self._gc_request(payload, False)
        if isinstance(r, Status):
            return r
        table, start, count, _ = r
        bits = 8 * code_bytes(gc_table_bits(self.config, table))
        if table == GcTable.IIC:
            codes = [iic_field(self.layer.iic_weight, self.config.gc.fmt)]
        else:
            codes = self.gc_memory[table][start:start + count]
        return payload + pack_codes(codes, bits)

    def _fanout_mask(self):
        """The (gcs, mcs) mask of the fan-out tables, or None unless ``ptr[0] = 0``, the
        pointers never decrease, ``ptr[mcs] <= synapses`` and every MC's GC indices rise."""
        g = self.config.gc
        ptr, gc = self.gc_memory[GcTable.POINTERS], self.gc_memory[GcTable.TARGETS]
        if ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] > g.synapses:
            return None
        mask = np.zeros((g.gcs, g.mcs), dtype=bool)
        for m in range(g.mcs):
            targets = gc[ptr[m]:ptr[m + 1]]
            if np.any(np.diff(targets) <= 0):
                return None
            mask[targets, m] = True
        return mask

    def _connect(self, payload):
        if payload:
            return Status.BAD_LENGTH
        mask = self._fanout_mask()
        if mask is None:
            return Status.BAD_VALUE
        self.layer.set_connectivity(mask)
        self.gc_memory[GcTable.WEIGHTS][...] = self.config.gc.params["w_init"]
        self.connected = True
        return b""

    def _clamp(self, payload):
        if payload:
            return Status.BAD_LENGTH
        w = self.gc_memory[GcTable.WEIGHTS]
        w[w <= self.config.gc.params["clamp"]] = 0
        return b""

    def _window(self, payload, learn):
        """One window of the network on a sample (the request's sensor codes): the layer's
        run output and the normalised inputs, or an error Status."""
        s = self._sensor_codes(payload)
        if isinstance(s, Status):
            return s
        if not self.connected:
            return Status.NOT_CONNECTED
        w = self.gc_memory[GcTable.WEIGHTS]
        n = self.layer.state.w.size
        self.layer.state.w[...] = w[:n]
        out = self.layer.run(self.quantizer.process(s).drive, learn=learn)
        w[:n] = self.layer.state.w
        return out, normalise(s, self.config.quantizer.fmt)[0]

    def _train(self, payload):
        r = self._window(payload, True)
        return r if isinstance(r, Status) else b""

    def _sample_gc(self, payload):
        r = self._window(payload, False)
        if isinstance(r, Status):
            return r
        out, x = r
        q = self.config.quantizer
        phase = {k: np.where(out[f"{k}_inwin"][0], out[f"{k}_last"][0] % CYCLE + 1, 0)
                 for k in ("mc", "gc")}
        parts = [struct.pack("<HB", 0, 0) + pack_codes(x, q.fmt.x_bits)
                 + pack_bits(phase["mc"], q.phase_bits)]
        gcs = self.config.gc.gcs
        for k, lo in enumerate(range(0, gcs, GC_PHASES_PER_FRAME), start=1):
            last = lo + GC_PHASES_PER_FRAME >= gcs
            parts.append(struct.pack("<HB", k, int(last))
                         + pack_bits(phase["gc"][lo:lo + GC_PHASES_PER_FRAME], GC_PHASE_BITS))
        return parts
