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
from .link import (COUNTERS, EVENTS_PER_FRAME, MAGIC, MAX_FRAME, MIN_REQUEST, VERSION, Cmd,
                   FrameError, Status, code_bytes, crc_good, encode_frame, max_codes, pack_bits,
                   pack_codes, reply, table_hash)
from .mc_array import MCArrayConfig, MCArrayModel
from .normaliser import normalise
from .quantizer import DATAPATHS, QuantizerConfig, QuantizerModel

__all__ = ["SystemConfig", "SYSTEM_STEP_BITS", "DeviceModel", "INFO_FORMAT", "info_payload", "info_fields"]

#: The info reply's payload after the magic (little endian; see docs/protocol.md).
INFO_FORMAT = "<BBHHBBHHBBBBBBBBBBBBIIBHBBBI"
INFO_FIELDS = ("version", "sensors", "duplication", "mcs", "norm_lanes", "lanes", "hold",
               "rinse", "step_bits", "inhibition", "sensor_bits", "x_frac", "weight_int",
               "weight_frac", "drive_int", "drive_frac", "current_int", "levels", "top_phase",
               "phase_bits", "clock_hz", "baud", "slots", "max_frame", "events_per_frame",
               "datapath", "rasters", "table_hash")


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
        Of ``quantizer.mcs`` MCs and the quantizer's format, without inhibition (nothing drives
        the extra current yet); default the array's defaults at that size with a
        :data:`SYSTEM_STEP_BITS`-bit step counter (raster events carry the step within their
        window, so the counter needs no more). Its window (``hold + rinse``) must fit the
        raster events' 16-bit step.
    clock_hz : int
        The system clock (the board's PLL output), 48 MHz by default.
    baud : int
        The UART's rate, 3 Mbaud by default (what the boards' FTDI bridges carry reliably);
        it must be met within 2 % from the clock (:class:`~.uart.UARTConfig`).
    slots : int
        Request frames the device holds (received and not yet answered): the client's window.
    rasters : bool
        With the MC array and the RASTER command (default). A system built without them
        (``False``: the iCEBreaker's, where the UP5K holds the quantizer at 8 x 32 but not
        the array beside it) answers RASTER as an unknown command and says so in its INFO
        reply; ``array`` still describes the array it would have.

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

    def __post_init__(self):
        q = check_instance("quantizer", self.quantizer, QuantizerConfig)
        array = (MCArrayConfig(mcs=q.mcs, fmt=q.fmt, step_bits=SYSTEM_STEP_BITS)
                 if self.array is None else self.array)
        check_instance("array", array, MCArrayConfig)
        if array.mcs != q.mcs:
            raise ValueError(f"the array has {array.mcs} MCs, the quantizer {q.mcs}")
        if array.fmt != q.fmt:
            raise ValueError("the array and the quantizer must use the same format")
        if array.inhibition:
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
        if self.sample_reply_bytes > MAX_FRAME:
            raise ValueError(f"a sample reply of {self.sample_reply_bytes} bytes does not fit "
                             f"a frame ({MAX_FRAME}); use fewer MCs")

    @classmethod
    def _field_types(cls):
        return {"quantizer": QuantizerConfig, "array": MCArrayConfig}

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
        """Decoded length of a sample reply: header, normalised inputs, packed phases, CRC."""
        q = self.quantizer
        x = q.sensors * code_bytes(q.fmt.x_bits)
        return 4 + x + (q.mcs * q.phase_bits + 7) // 8 + 2

    def link_samples_per_s(self):
        """The samples per second the link allows: one reply (COBS adds a byte per 254, and
        the delimiter) per sample at 10 bits per byte, requests travelling the other way."""
        n = max(self.sample_reply_bytes, self.sample_request_bytes)
        wire = n + 1 + max(n - 1, 0) // 254 + 1
        return self.uart.actual_baud / (10 * wire)


def info_payload(config, table_hash):
    """The info reply's payload for ``config`` with the given table hash (its last four
    bytes): the magic, then :data:`INFO_FORMAT` (``datapath`` as its index in
    :data:`~.quantizer.DATAPATHS`: 0 pipelined, 1 serial; ``rasters`` 1 with the MC array,
    0 without)."""
    q, a, f = config.quantizer, config.array, config.quantizer.fmt
    return MAGIC + struct.pack(
        INFO_FORMAT, VERSION, q.sensors, q.duplication, q.mcs, q.norm_lanes, a.lanes, a.hold,
        a.rinse, a.step_bits, int(a.inhibition), f.sensor_bits, f.x_frac, f.weight_int,
        f.weight_frac, f.drive_int, f.drive_frac, f.current_int, q.levels, q.table.top_phase,
        q.phase_bits, config.clock_hz, config.baud, config.slots, MAX_FRAME, EVENTS_PER_FRAME,
        DATAPATHS.index(q.datapath), int(config.rasters), table_hash)


def info_fields(payload):
    """The info reply's payload as a dict (ValueError for a wrong magic or length)."""
    payload = bytes(payload)
    if payload[:4] != MAGIC:
        raise FrameError(f"info reply starts with {payload[:4]!r}, not {MAGIC!r}")
    if len(payload) != 4 + struct.calcsize(INFO_FORMAT):
        raise FrameError(f"info reply of {len(payload)} bytes, expected "
                         f"{4 + struct.calcsize(INFO_FORMAT)}")
    return dict(zip(INFO_FIELDS, struct.unpack(INFO_FORMAT, payload[4:])))


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
    """

    def __init__(self, config, *, weights=None, table=None):
        self.config = check_instance("config", config, SystemConfig)
        self.quantizer = QuantizerModel(config.quantizer, weights=weights, table=table)
        self.array = MCArrayModel(config.array)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._frame = bytearray()
        self._aborted = False

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
        """The decoded reply frames of one good request."""
        handlers = {Cmd.INFO: self._info, Cmd.WRITE_WEIGHTS: self._write_weights,
                    Cmd.READ_WEIGHTS: self._read_weights,
                    Cmd.WRITE_THRESHOLDS: self._write_thresholds,
                    Cmd.READ_THRESHOLDS: self._read_thresholds, Cmd.SAMPLE: self._sample,
                    Cmd.RASTER: self._raster, Cmd.STATUS: self._status, Cmd.CLEAR: self._clear}
        if not self.config.rasters:
            del handlers[Cmd.RASTER]                      # not built: an unknown command
        if cmd not in handlers:
            self.counters["unknown_commands"] += 1
            return [reply(seq, cmd, Status.UNKNOWN_COMMAND)]
        result = handlers[Cmd(cmd)](payload)
        if isinstance(result, Status):
            self.counters["bad_requests"] += 1
            return [reply(seq, cmd, result)]
        if isinstance(result, list):                      # several reply frames
            return [reply(seq, cmd, Status.OK, p) for p in result]
        return [reply(seq, cmd, Status.OK, result)]

    def _table_hash(self):
        fmt = self.config.quantizer.fmt
        return table_hash(self.quantizer.weights, fmt.weight_bits,
                          self.quantizer.table.thresholds, fmt.drive_bits)

    def _info(self, payload):
        if payload:
            return Status.BAD_LENGTH
        return info_payload(self.config, self._table_hash())

    def _range(self, payload, wide, size, code_bits, writing):
        """(start, count, codes payload) of a table request (of codes of ``code_bits`` bits),
        or an error Status."""
        head = 3 if wide else 2
        if len(payload) < head:
            return Status.BAD_LENGTH
        start = int.from_bytes(payload[:head - 1], "little")
        count = payload[head - 1]
        if count == 0 or count > max_codes(code_bits, head):
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
