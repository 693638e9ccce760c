"""The host side of the link: :class:`Board` talks to a board (or the simulated board) over
pyserial (a device path, ``socket://host:port``, ``loop://``) with the protocol of
:mod:`hetq.golden.fixed.link` (docs/protocol.md).

Requests are pipelined: up to the device's request slots are in flight at once, replies are
matched by sequence number, a request whose reply does not come back within ``timeout``
(corrupted, lost) is sent again, and :class:`LinkError` names the cause once ``retries``
attempts have failed. Every reply is checked (COBS, length, CRC, command, status) before it is
used; nothing unchecked is ever accepted.
"""

import struct
import time
from dataclasses import dataclass, field

import numpy as np

from ..golden.fixed.formats import FixedFormat
from ..golden.fixed.gc_layer import (WEIGHT_INT as GC_WEIGHT_INT, GCLayerConfig,
                                     check_connectivity, fanout_lists)
from ..golden.fixed.link import (EVENTS_PER_FRAME, GC_PHASE_BITS, GC_PHASES_PER_FRAME,
                                 GC_VERSION, Cmd, COUNTERS, FrameError, GcTable, Status,
                                 code_bytes, decode_frame, encode_frame, pack_codes,
                                 request, split_frames, unpack_bits, unpack_codes)
from ..golden.fixed.mc_array import MCArrayConfig
from ..golden.fixed.normaliser import check_sensor_ints, to_sensor_ints
from ..golden.fixed.quantizer import DATAPATHS, QuantizerConfig, weight_table
from ..golden.fixed.system import (SystemConfig, gc_table_bits, gc_table_size, gc_tables,
                                   iic_field, iic_of_field, info_fields)

__all__ = ["Board", "LinkError", "LinkStats", "BoardInfo", "config_from_info",
           "sensor_codes"]

#: Table codes per write request.
WRITE_CHUNK = 64


class LinkError(RuntimeError):
    """The link failed: a request got no good reply after its retries, the device answered
    with an error status, or its replies make no sense. The message names the cause."""


@dataclass
class LinkStats:
    """What the client saw: frames sent (first attempts and retries), replies accepted, and
    every reply it threw away, by cause."""

    requests: int = 0
    retries: int = 0
    replies: int = 0
    timeouts: int = 0
    bad_frames: int = 0           # replies that failed COBS, length or CRC checks
    stale_replies: int = 0        # good replies for requests no longer in flight
    mismatched: int = 0           # good replies whose command is not the request's
    causes: dict = field(default_factory=dict)

    def count(self, cause):
        self.causes[cause] = self.causes.get(cause, 0) + 1


@dataclass(frozen=True)
class BoardInfo:
    """The info reply: every build parameter, the design as a :class:`SystemConfig`, and the
    hash of the tables loaded now."""

    fields: dict
    config: SystemConfig

    @property
    def table_hash(self):
        return self.fields["table_hash"]


def config_from_info(fields):
    """The :class:`SystemConfig` an info reply describes."""
    fmt = FixedFormat(sensor_bits=fields["sensor_bits"], x_frac=fields["x_frac"],
                      weight_int=fields["weight_int"], weight_frac=fields["weight_frac"],
                      drive_int=fields["drive_int"], drive_frac=fields["drive_frac"],
                      current_int=fields["current_int"])
    if not 0 <= fields["datapath"] < len(DATAPATHS):
        raise FrameError(f"info reply names datapath {fields['datapath']}; this client knows "
                         f"{', '.join(f'{k} ({d})' for k, d in enumerate(DATAPATHS))}")
    q = QuantizerConfig(sensors=fields["sensors"], duplication=fields["duplication"], fmt=fmt,
                        norm_lanes=fields["norm_lanes"], datapath=DATAPATHS[fields["datapath"]])
    a = MCArrayConfig(mcs=fields["mcs"], lanes=fields["lanes"], hold=fields["hold"],
                      rinse=fields["rinse"], fmt=fmt, step_bits=fields["step_bits"],
                      inhibition=bool(fields["inhibition"]))
    if fields["rasters"] not in (0, 1):
        raise FrameError(f"info reply names rasters {fields['rasters']}, not 0 or 1")
    gc = None
    if fields["version"] == GC_VERSION:
        known = {"gc_weight_int": GC_WEIGHT_INT, "gc_phase_bits": GC_PHASE_BITS,
                 "gc_phases_per_frame": GC_PHASES_PER_FRAME}
        for name, value in known.items():
            if fields[name] != value:
                raise FrameError(f"info reply names {name} {fields[name]}; this client "
                                 f"knows {value}")
        if fields["iic"] not in (0, 1):
            raise FrameError(f"info reply names iic {fields['iic']}, not 0 or 1")
        gc = GCLayerConfig(mcs=fields["mcs"], gcs=fields["gcs"], synapses=fields["synapses"],
                           lanes=fields["gc_lanes"], hold=fields["hold"], rinse=fields["rinse"],
                           fmt=fmt, stamp_bits=fields["stamp_bits"], iic=bool(fields["iic"]))
    return SystemConfig(quantizer=q, array=a, clock_hz=fields["clock_hz"], baud=fields["baud"],
                        slots=fields["slots"], rasters=bool(fields["rasters"]), gc=gc)


def sensor_codes(samples, fmt):
    """What the board is sent for ``samples``: float samples are scaled to sensor integers as
    the fixed-point model does (one scale per sample, :func:`~hetq.golden.fixed.normaliser.\
to_sensor_ints`); integer samples are sent as they are (checked against the sensor format).
    Raises ValueError for NaN, negative values or codes that do not fit."""
    x = np.asarray(samples)
    if x.ndim != 2:
        raise ValueError(f"samples must be 2-D (samples x sensors), got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        return check_sensor_ints(x, fmt)
    return to_sensor_ints(x, fmt.sensor_bits)


class Board:
    """A board (or the simulated board) on the link.

    Parameters
    ----------
    port : str or file-like
        A pyserial URL (``/dev/ttyUSB1``, ``socket://127.0.0.1:5555``, ``loop://``) or an open
        object with ``write(bytes)`` and ``read(n)`` (``read`` returns what is there, waiting
        at most a short time).
    baud : int
        Line rate for a serial device (ignored by sockets).
    timeout : float
        Seconds to wait for a reply before a request is sent again.
    retries : int
        Attempts per request before :class:`LinkError`.
    window : int, optional
        Requests in flight at most; default the device's request slots (from its info reply).
    """

    def __init__(self, port, *, baud=3_000_000, timeout=0.5, retries=8, window=None):
        if isinstance(port, str):
            import serial

            try:
                port = serial.serial_for_url(port, baudrate=baud, timeout=0.01)
            except (serial.SerialException, ValueError) as e:
                raise LinkError(f"cannot open {port}: {e}") from None
        self.port = port
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.stats = LinkStats()
        self._window = window
        self._seq = 0
        self._rx = b""
        self._info = None

    def close(self):
        close = getattr(self.port, "close", None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the request engine ---------------------------------------------------------------

    def _next_seq(self):
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        return seq

    def _read_replies(self):
        """Read what has arrived; return the good decoded replies (seq, cmd, status, payload)."""
        waiting = getattr(self.port, "in_waiting", None)
        # a serial port: what has arrived, or wait (its timeout) for one byte
        data = self.port.read(waiting or 1) if waiting is not None else self.port.read(4096)
        if not data:
            return []
        frames, self._rx = split_frames(self._rx + data)
        out = []
        for f in frames:
            try:
                out.append(decode_frame(f, is_reply=True))
            except FrameError as e:
                self.stats.bad_frames += 1
                self.stats.count(str(e))
        return out

    def transact(self, requests, window=None):
        """Send ``requests`` (a list of (cmd, payload)) pipelined and return their replies'
        payload lists in order (one payload per reply frame; a raster gives several). Raises
        :class:`LinkError` when a request fails its retries or gets an error status."""
        window = window or self._window or (self._info.fields["slots"] if self._info else 1)
        results = [None] * len(requests)
        pending = {}                  # seq -> [index, frame, sent, attempts, parts]
        order = iter(range(len(requests)))
        nxt = next(order, None)
        while nxt is not None or pending:
            while nxt is not None and len(pending) < window:
                cmd, payload = requests[nxt]
                seq = self._next_seq()
                # a delimiter first too: garbage on the line cannot spoil this frame
                frame = b"\x00" + encode_frame(request(seq, cmd, payload))
                self.port.write(frame)
                self.stats.requests += 1
                pending[seq] = [nxt, frame, time.monotonic(), 1, {}]
                nxt = next(order, None)
            for seq, cmd, status, payload in self._read_replies():
                if seq not in pending:
                    self.stats.stale_replies += 1
                    continue
                index, frame, _, attempts, parts = pending[seq]
                want = requests[index][0]
                if cmd != want:
                    self.stats.mismatched += 1
                    continue
                if status != Status.OK:
                    name = Status(status).name if status in Status._value2member_map_ else status
                    raise LinkError(f"the device answered request {index} ({Cmd(want).name}) "
                                    f"with status {name}")
                if want in self._multipart():
                    if len(payload) < 3:
                        self.stats.mismatched += 1
                        continue
                    part, last = struct.unpack("<HB", payload[:3])
                    parts[part] = (last, payload[3:])
                    done = [p for p, (lst, _) in parts.items() if lst]
                    if not done or sorted(parts) != list(range(done[0] + 1)):
                        continue
                    results[index] = [parts[p][1] for p in sorted(parts)]
                else:
                    results[index] = [payload]
                self.stats.replies += 1
                del pending[seq]
            now = time.monotonic()
            for seq, entry in list(pending.items()):
                index, frame, sent, attempts, parts = entry
                if now - sent <= self.timeout:
                    continue
                self.stats.timeouts += 1
                if attempts >= self.retries:
                    raise LinkError(
                        f"no good reply to request {index} ({Cmd(requests[index][0]).name}, "
                        f"seq {seq}) after {attempts} attempts; "
                        f"{self.stats.timeouts} timeouts and {self.stats.bad_frames} "
                        f"corrupted replies so far")
                self.port.write(frame)
                self.stats.retries += 1
                entry[2], entry[3] = now, attempts + 1
        return results

    def _one(self, cmd, payload=b""):
        return self.transact([(cmd, payload)])[0][0]

    def _multipart(self):
        """The commands answered in parts (``part`` u16, ``last`` u8, then the part)."""
        gc = self._info is not None and self._info.config.gc is not None
        return (Cmd.RASTER, Cmd.SAMPLE) if gc else (Cmd.RASTER,)

    # -- commands --------------------------------------------------------------------------

    def info(self):
        """The device's :class:`BoardInfo` (asked once, then kept; the table hash is asked
        again by :meth:`table_hash`)."""
        payload = self._one(Cmd.INFO)
        try:
            fields = info_fields(payload)
            config = config_from_info(fields)
        except (FrameError, ValueError, TypeError) as e:
            raise LinkError(f"the device's info reply makes no sense: {e}") from None
        self._info = BoardInfo(fields, config)
        return self._info

    @property
    def config(self):
        if self._info is None:
            self.info()
        return self._info.config

    def table_hash(self):
        return self.info().table_hash

    def status(self):
        """The device's counters (:data:`~hetq.golden.fixed.link.COUNTERS`) as a dict."""
        payload = self._one(Cmd.STATUS)
        if len(payload) != 4 * len(COUNTERS):
            raise LinkError(f"status reply of {len(payload)} bytes, expected {4 * len(COUNTERS)}")
        return dict(zip(COUNTERS, struct.unpack(f"<{len(COUNTERS)}I", payload)))

    def clear(self):
        """Zero the device's counters."""
        self._one(Cmd.CLEAR)

    def _table_codes(self, values, fmt, kind):
        if kind == "weights":
            a = np.asarray(values)
            if np.issubdtype(a.dtype, np.integer):
                codes = a.astype(np.int64).reshape(-1)
                if codes.size and (codes.min() < 0 or codes.max() > fmt.weight_max):
                    raise ValueError(f"weight codes must lie in [0, {fmt.weight_max}]")
                return codes
            return weight_table(a, fmt)
        codes = np.asarray(values, dtype=np.int64).reshape(-1)
        if codes.size and (codes.min() < 0 or codes.max() > fmt.drive_max):
            raise ValueError(f"threshold codes must lie in [0, {fmt.drive_max}]")
        return codes

    def write_table(self, kind, values):
        """Write the whole weight table (``kind="weights"``: float weights, the ET->MC matrix
        or the per-MC vector, or integer codes) or threshold table (``"thresholds"``: codes)
        in chunks. Values are checked against the formats before a byte is sent."""
        q = self.config.quantizer
        fmt = q.fmt
        codes = self._table_codes(values, fmt, kind)
        size = q.mcs if kind == "weights" else q.levels
        if codes.shape != (size,):
            raise ValueError(f"{kind} must have {size} entries, got {codes.size}")
        bits = fmt.weight_bits if kind == "weights" else fmt.drive_bits
        cmd = Cmd.WRITE_WEIGHTS if kind == "weights" else Cmd.WRITE_THRESHOLDS
        start_bytes = 2 if kind == "weights" else 1
        reqs = []
        for lo in range(0, size, WRITE_CHUNK):
            chunk = codes[lo:lo + WRITE_CHUNK]
            reqs.append((cmd, lo.to_bytes(start_bytes, "little") + bytes([len(chunk)])
                         + pack_codes(chunk, bits)))
        self.transact(reqs, window=1)              # in order, one at a time
        return codes

    def read_table(self, kind):
        """The whole weight (``"weights"``) or threshold (``"thresholds"``) table as codes."""
        q = self.config.quantizer
        fmt = q.fmt
        size = q.mcs if kind == "weights" else q.levels
        bits = fmt.weight_bits if kind == "weights" else fmt.drive_bits
        cmd = Cmd.READ_WEIGHTS if kind == "weights" else Cmd.READ_THRESHOLDS
        start_bytes = 2 if kind == "weights" else 1
        reqs = [(cmd, lo.to_bytes(start_bytes, "little") + bytes([min(WRITE_CHUNK, size - lo)]))
                for lo in range(0, size, WRITE_CHUNK)]
        out = []
        for (c, req), (payload,) in zip(reqs, self.transact(reqs)):
            count = req[-1]
            head = start_bytes + 1
            if payload[:head] != req:
                raise LinkError(f"read reply for {req.hex()} echoes {payload[:head].hex()}")
            out.append(unpack_codes(payload[head:], bits, count))
        return np.concatenate(out)

    def load_weights(self, weights, thresholds=None):
        """Write the weight table (and the thresholds, when given), read both back and check
        them; returns the codes written. LinkError if the read-back differs."""
        w = self.write_table("weights", weights)
        got = self.read_table("weights")
        if not np.array_equal(got, w):
            bad = int(np.argmax(got != w))
            raise LinkError(f"weight {bad} reads back as {got[bad]}, written {w[bad]}")
        if thresholds is not None:
            t = self.write_table("thresholds", thresholds)
            got = self.read_table("thresholds")
            if not np.array_equal(got, t):
                raise LinkError("the threshold table reads back differently")
        return w

    def read_weights(self):
        return self.read_table("weights")

    def _sample_requests(self, samples, cmd):
        q = self.config.quantizer
        codes = sensor_codes(samples, q.fmt)
        if codes.shape[1] != q.sensors:
            raise ValueError(f"samples have {codes.shape[1]} sensors, the board {q.sensors}")
        return codes, [(cmd, pack_codes(row, q.fmt.sensor_bits)) for row in codes]

    def process(self, samples, progress=None, chunk=256):
        """Phases of ``samples`` (float samples are scaled per sample, integers sent as they
        are): ``(codes, x, phase)``: the sensor codes sent, the normalised inputs (UQ1.Fx
        codes, samples x sensors) and the MC phases (samples x MCs, 0 = silent).
        ``progress(n)`` is called as samples finish. On a board with a GC layer the samples
        run through the network (:meth:`sample_network`, whose GC phases this leaves out)."""
        q = self.config.quantizer
        if self.config.gc is not None:
            return self.sample_network(samples, progress)[:3]
        codes, reqs = self._sample_requests(samples, Cmd.SAMPLE)
        xb = code_bytes(q.fmt.x_bits) * q.sensors
        x = np.zeros((len(reqs), q.sensors), dtype=np.int64)
        phase = np.zeros((len(reqs), q.mcs), dtype=np.int16)
        for lo in range(0, len(reqs), chunk):
            for k, (payload,) in enumerate(self.transact(reqs[lo:lo + chunk]), start=lo):
                want = self.config.sample_reply_bytes - 6
                if len(payload) != want:
                    raise LinkError(f"sample reply of {len(payload)} bytes, expected {want}")
                x[k] = unpack_codes(payload[:xb], q.fmt.x_bits, q.sensors)
                phase[k] = unpack_bits(payload[xb:], q.phase_bits, q.mcs)
            if progress is not None:
                progress(min(chunk, len(reqs) - lo))
        return codes, x, phase

    def raster(self, sample):
        """The spike events of one sample through the MC array: int64 (spikes, 2) of (step
        within the window, MC), ordered by step then MC. LinkError, before anything is sent,
        for a board built without RASTER (its INFO says rasters 0)."""
        if not self.config.rasters:
            raise LinkError("this board was built without RASTER (no rasters: the MC array "
                            "left out, or only its raster event path beside a GC layer): "
                            "rasters need a system built with them (the ULX3S's, or "
                            "`--rasters`), or the simulated board of one")
        _, reqs = self._sample_requests(np.atleast_2d(sample), Cmd.RASTER)
        parts = self.transact(reqs)[0]
        events = []
        for k, part in enumerate(parts):
            if len(part) % 4 or (k < len(parts) - 1 and len(part) != 4 * EVENTS_PER_FRAME):
                raise LinkError(f"raster part {k} of {len(part)} bytes")
            events += struct.iter_unpack("<HH", part)
        return np.array(events, dtype=np.int64).reshape(-1, 2)

    # -- the GC layer (protocol version 2) ------------------------------------------------

    def _gc(self, what):
        """The board's GC layer configuration; LinkError, before anything is sent, if it has
        none."""
        gc = self.config.gc
        if gc is None:
            raise LinkError(f"{what} needs a GC layer; this board has none (it speaks "
                            f"protocol version {self._info.fields['version']})")
        return gc

    def _gc_table(self, table, what):
        """``table`` as a GcTable of the board's; LinkError, before anything is sent, if the
        board has no GC layer or not that table (the GC->MC weight without the path)."""
        table = GcTable(table)
        self._gc(what)
        if table not in gc_tables(self.config):
            raise LinkError(f"{what}: the board has no GC table {table.name} (its INFO says "
                            f"iic = 0: built without the GC->MC path)")
        return table

    def write_gc_table(self, table, codes):
        """Write a whole GC table (:class:`~hetq.golden.fixed.link.GcTable`; ``codes`` as many
        integers as it has entries, as the link carries them) in chunks, in order."""
        table = self._gc_table(table, "writing the GC tables")
        size = gc_table_size(self.config, table)
        codes = np.asarray(codes, dtype=np.int64).reshape(-1)
        if codes.shape != (size,):
            raise ValueError(f"the {table.name.lower()} table has {size} entries, got "
                             f"{codes.size}")
        bits = 8 * code_bytes(gc_table_bits(self.config, table))
        reqs = []
        for lo in range(0, size, WRITE_CHUNK):
            chunk = codes[lo:lo + WRITE_CHUNK]
            reqs.append((Cmd.WRITE_GC, struct.pack("<BHB", table, lo, len(chunk))
                         + pack_codes(chunk, bits)))
        self.transact(reqs, window=1)
        return codes

    def read_gc_table(self, table):
        """A whole GC table as int64 codes (as the link carries them)."""
        table = self._gc_table(table, "reading the GC tables")
        size = gc_table_size(self.config, table)
        bits = 8 * code_bytes(gc_table_bits(self.config, table))
        reqs = [(Cmd.READ_GC, struct.pack("<BHB", table, lo, min(WRITE_CHUNK, size - lo)))
                for lo in range(0, size, WRITE_CHUNK)]
        out = []
        for (_, req), (payload,) in zip(reqs, self.transact(reqs)):
            if payload[:4] != req:
                raise LinkError(f"GC table reply for {req.hex()} echoes {payload[:4].hex()}")
            out.append(unpack_codes(payload[4:], bits, req[3]))
        return np.concatenate(out)

    def connect(self, mask):
        """Load an MC->GC mask ((gcs, mcs), 0/1): its fan-out lists into the pointer and GC
        index tables, read back, then CONNECT (every weight 25 mV, the layer's state reset).
        ValueError, before anything is sent, for a wrong shape or more connections than the
        board's synapses; LinkError if the tables read back differently."""
        gc = self._gc("a connectivity")
        mask = check_connectivity(mask, gc.mcs, gc.gcs)
        n = int(mask.sum())
        if n > gc.synapses:
            raise ValueError(f"the connectivity has {n} connections, the board holds "
                             f"{gc.synapses} synapses")
        ptr, targets = fanout_lists(mask)
        targets = np.concatenate([targets, np.zeros(gc.synapses - n, dtype=np.int64)])
        for table, codes in ((GcTable.POINTERS, ptr), (GcTable.TARGETS, targets)):
            self.write_gc_table(table, codes)
            if not np.array_equal(self.read_gc_table(table), codes):
                raise LinkError(f"the GC {table.name.lower()} table reads back differently")
        self._one(Cmd.CONNECT)
        return mask

    def _iic_path(self):
        gc = self._gc("the GC->MC weight")
        if not gc.iic:
            raise LinkError("the GC->MC weight needs a board built with the GC->MC path; this "
                            "one's INFO says it is not (iic = 0): build it with `hetq build "
                            "system --gc N --iic` (or simulate `hetq board sim --gc N --iic`)")
        return gc

    def set_iic_weight(self, code):
        """Set the GC->MC weight code (SQ(Ie.Fc), ``fmt.current_min`` .. 0;
        :func:`~hetq.golden.fixed.network.iic_code` converts mV) and read it back: the MCs take
        ``code * (on - rebound)`` from the next window on (docs/protocol.md section 11).
        LinkError, before anything is sent, on a board without the GC->MC path; ValueError
        for a code out of range; LinkError if it reads back differently."""
        gc = self._iic_path()
        fmt = gc.fmt
        if int(code) != code or not fmt.current_min <= code <= 0:
            raise ValueError(f"the GC->MC weight code must be an integer in "
                             f"[{fmt.current_min}, 0], not {code!r}")
        self.write_gc_table(GcTable.IIC, [iic_field(code, fmt)])
        got = self.iic_weight()
        if got != code:
            raise LinkError(f"the GC->MC weight reads back as {got}, not {int(code)}")
        return got

    def iic_weight(self):
        """The board's GC->MC weight code (0 at power-up)."""
        gc = self._iic_path()
        return iic_of_field(self.read_gc_table(GcTable.IIC)[0], gc.fmt)

    def connectivity(self):
        """The board's MC->GC mask (bool (gcs, mcs)) from its fan-out tables."""
        return self._gc_matrix()[0]

    def gc_weights(self):
        """The MC->GC weight codes as an int64 (gcs, mcs) matrix (0 where not connected)."""
        return self._gc_matrix()[1]

    def _gc_matrix(self):
        gc = self._gc("the GC weights")
        ptr = self.read_gc_table(GcTable.POINTERS)
        if ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] > gc.synapses:
            raise LinkError("the board's fan-out pointers are not a connectivity (not "
                            "connected since they were written?)")
        targets = self.read_gc_table(GcTable.TARGETS)[:ptr[-1]]
        w = self.read_gc_table(GcTable.WEIGHTS)[:ptr[-1]]
        mcs = np.repeat(np.arange(gc.mcs), np.diff(ptr))
        mask = np.zeros((gc.gcs, gc.mcs), dtype=bool)
        codes = np.zeros((gc.gcs, gc.mcs), dtype=np.int64)
        mask[targets, mcs] = True
        codes[targets, mcs] = w
        return mask, codes

    def mc_gc_weights(self):
        """The MC->GC weights in mV, float32 (gcs, mcs), as ``hetq run`` writes them."""
        fmt = self.config.quantizer.fmt
        return (self.gc_weights() / float(1 << fmt.drive_frac)).astype(np.float32)

    def train(self, samples, progress=None):
        """One window per sample with learning on (STDP and the GC->MC learning); returns
        the sensor codes sent. Sent one at a time (a retry is then recognised as a repeat)."""
        self._gc("training")
        codes, reqs = self._sample_requests(samples, Cmd.TRAIN)
        for req in reqs:
            self.transact([req], window=1)
            if progress is not None:
                progress(1)
        return codes

    def clamp(self):
        """The post-training clamp: every MC->GC weight <= 29 mV becomes 0."""
        self._gc("the clamp")
        self._one(Cmd.CLAMP)

    def sample_network(self, samples, progress=None):
        """``samples`` through the network with learning off, one window each: ``(codes, x,
        mc_phase, gc_phase)``, the last two int16 (samples x MCs, samples x GCs), the readout
        of docs/model.md section 10. Sent one at a time (a retry is a repeat)."""
        gc = self._gc("GC phases")
        q = self.config.quantizer
        codes, reqs = self._sample_requests(samples, Cmd.SAMPLE)
        xb = code_bytes(q.fmt.x_bits) * q.sensors
        x = np.zeros((len(reqs), q.sensors), dtype=np.int64)
        mc = np.zeros((len(reqs), q.mcs), dtype=np.int16)
        gcp = np.zeros((len(reqs), gc.gcs), dtype=np.int16)
        sizes = [n - 6 - 3 for n in self.config.sample_reply_frames]
        for k, req in enumerate(reqs):
            [parts] = self.transact([req], window=1)
            if [len(p) for p in parts] != sizes:
                raise LinkError(f"sample reply parts of {[len(p) for p in parts]} bytes, "
                                f"expected {sizes}")
            x[k] = unpack_codes(parts[0][:xb], q.fmt.x_bits, q.sensors)
            mc[k] = unpack_bits(parts[0][xb:], q.phase_bits, q.mcs)
            gcp[k] = unpack_bits(b"".join(parts[1:]), GC_PHASE_BITS, gc.gcs)
            if progress is not None:
                progress(1)
        return codes, x, mc, gcp
