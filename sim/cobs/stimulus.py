"""Seeded stimulus for the COBS benches: frames with their edge cases, raw decoder streams
(good frames, garbage, empty and truncated frames, oversize frames, aborts), and the per-cycle
drivers that every bench (Amaranth simulator, cocotb) runs, so that both drive the RTL alike
and record what it took in the same form.
"""

from dataclasses import dataclass, field

import numpy as np

from ...golden.checks import check_fraction, check_int
from ...golden.fixed.cobs import ABORT, MAX_BLOCK, encode_frames, encoder_input

__all__ = ["edge_frames", "random_frames", "DecoderStream", "decoder_stream", "EncoderDriver",
           "DecoderDriver", "frames_array", "array_frames"]


def edge_frames():
    """Frames at the edges of the encoding: one byte (zero and not), all zeros, a trailing and
    a leading zero, runs of 253, 254 and 255 non-zero bytes (alone, then a zero, then more),
    two full blocks, and a zero after every 254 bytes."""
    nz = bytes(range(1, 256)) * 3
    return [
        b"\x00", b"\x01", b"\xff", b"\x00\x00", b"\x00" * 300, b"\x11\x00", b"\x00\x22",
        nz[:253], nz[:254], nz[:255], nz[:254] + b"\x00", nz[:254] + b"\x00\x05",
        nz[:253] + b"\x00", nz[:508], nz[:509], nz[:254] + nz[:254] + b"\x00",
        b"\x00" + nz[:254], (nz[:254] + b"\x00") * 2, b"\x05\x00\x00\x07",
    ]


def random_frames(rng, n, *, longest=600):
    """``n`` random frames of 1..``longest`` bytes: uniform bytes, sparse (mostly zero),
    dense (no zeros, so with long runs), zero runs among bytes, and runs of exactly 254
    non-zero bytes."""
    frames = []
    for _ in range(check_int("n", n, 0)):
        size = int(rng.integers(1, check_int("longest", longest, 1) + 1)) \
            if rng.random() < 0.7 else int(rng.integers(1, 9))
        kind = int(rng.integers(0, 5))
        b = rng.integers(0, 256, size)
        if kind == 1:
            b[rng.random(size) < 0.8] = 0
        elif kind == 2:
            b = rng.integers(1, 256, size)
        elif kind == 3:
            b[rng.random(size) < 0.1] = 0
            if size > 4:
                s = int(rng.integers(0, size - 3))
                b[s:s + int(rng.integers(2, 8))] = 0
        elif kind == 4:                         # a full block at a block boundary
            prefix = rng.integers(0, 256, int(rng.integers(0, 4)))
            if prefix.size:
                prefix[-1] = 0
            after = [[], [0], [0, *rng.integers(0, 256, 3)], list(rng.integers(1, 256, 3))]
            b = np.concatenate([prefix, rng.integers(1, 256, MAX_BLOCK),
                                np.array(after[int(rng.integers(0, 4))], dtype=np.int64)])
        frames.append(bytes(int(v) for v in b))
    return frames


@dataclass
class DecoderStream:
    """A raw byte stream for the decoder and where abort pulses are meant to go.

    Members
    -------
    data : bytes
        What goes on ``i``.
    aborts : list of int
        Byte counts: a pulse once that many bytes were taken (in the cycle after, or with the
        next byte's transfer, whichever the flow control makes it; the benches record which).
    frames : list of bytes
        The good frames encoded into the stream (for reference).
    """

    data: bytes
    aborts: list = field(default_factory=list)
    frames: list = field(default_factory=list)


def decoder_stream(rng, frames, *, max_length, garbage=0.15, empty=0.1, truncated=0.1,
                   oversize=0.1, abort=0.1):
    """A :class:`DecoderStream` of the encoded ``frames`` with, between or instead of them and
    with the given probabilities: garbage (random bytes, zeros among them), empty frames
    (extra delimiters), frames cut short before their delimiter (a structure error, unless the
    cut falls at a block boundary), frames of ``max_length + 1 .. + 40`` bytes, and aborts at a
    random point of a frame (or between frames)."""
    for name, p in (("garbage", garbage), ("empty", empty), ("truncated", truncated),
                    ("oversize", oversize), ("abort", abort)):
        check_fraction(name, p)
    out, aborts, good = bytearray(), [], []
    for frame in frames:
        if rng.random() < garbage:
            out += bytes(int(v) for v in rng.integers(0, 256, int(rng.integers(1, 20))))
        if rng.random() < empty:
            out += b"\x00" * int(rng.integers(1, 3))
        if rng.random() < oversize:
            frame = bytes(int(v) for v in rng.integers(0, 256, max_length
                                                       + int(rng.integers(1, 41))))
        enc = encode_frames([frame])
        if rng.random() < truncated:
            enc = enc[:int(rng.integers(1, len(enc)))] + b"\x00"
        elif len(frame) <= max_length:
            good.append(frame)
        if rng.random() < abort:
            aborts.append(len(out) + int(rng.integers(0, len(enc) + 1)))
        out += enc
    return DecoderStream(bytes(out), aborts, good)


class EncoderDriver:
    """Per-cycle driver of the encoder: offers the input records of ``frames`` with a seeded
    idle probability ``stall`` per record, drives ``o.ready`` low with probability ``stall``
    per cycle, and collects the output bytes."""

    def __init__(self, frames, rng, stall):
        self.records = encoder_input(frames)
        self.expected = len(encode_frames(frames))
        self.rng_in, self.rng_out = rng.spawn(2)
        self.stall = check_fraction("stall", stall)
        self.index = 0
        self.offered = False
        self.out = []

    @property
    def done(self):
        return self.index == len(self.records) and len(self.out) >= self.expected

    def drive(self):
        """``(valid, data, last, ready)`` for this cycle."""
        if not self.offered and self.index < len(self.records):
            self.offered = self.rng_in.random() >= self.stall
        valid = int(self.offered)
        data, last = self.records[self.index] if valid else (0, 0)
        return valid, data, last, int(self.rng_out.random() >= self.stall)

    def observe(self, valid, i_ready, ready, o_valid, o_payload):
        """What the cycle's clock edge sampled."""
        if valid and i_ready:
            self.index += 1
            self.offered = False
        if o_valid and ready:
            self.out.append(int(o_payload))


class DecoderDriver:
    """Per-cycle driver of the decoder: offers the bytes of a :class:`DecoderStream` with a
    seeded idle probability ``stall`` per byte, pulses ``abort`` where the stream asks, drives
    ``o.ready`` low with probability ``stall`` per cycle, and records the order in which the
    decoder took bytes and aborts (a byte before an abort of the same cycle) and the output
    records."""

    def __init__(self, stream, rng, stall):
        self.stream = stream
        self.rng_in, self.rng_out = rng.spawn(2)
        self.stall = check_fraction("stall", stall)
        self.aborts = sorted(stream.aborts)
        self.index = 0
        self.offered = False
        self.events = []
        self.out = []
        self.quiet = 0                          # cycles with nothing left to drive or see

    @property
    def done(self):
        return self.quiet > 4

    def drive(self):
        """``(valid, byte, abort, ready)`` for this cycle."""
        data = self.stream.data
        if not self.offered and self.index < len(data):
            self.offered = self.rng_in.random() >= self.stall
        valid = int(self.offered)
        byte = data[self.index] if valid else 0
        pulse = int(bool(self.aborts) and self.aborts[0] <= self.index)
        return valid, byte, pulse, int(self.rng_out.random() >= self.stall)

    def observe(self, valid, byte, pulse, i_ready, ready, o_valid, o_payload):
        """What the cycle's clock edge sampled (``o_payload`` as ``(data, end, status)``)."""
        if valid and i_ready:
            self.events.append(int(byte))
            self.index += 1
            self.offered = False
        if pulse:
            self.events.append(ABORT)
            self.aborts.pop(0)
        if o_valid and ready:
            self.out.append(tuple(int(v) for v in o_payload))
        idle = self.index == len(self.stream.data) and not self.aborts and not o_valid
        self.quiet = self.quiet + 1 if idle else 0


def frames_array(frames):
    """Frames as one uint8 array and their lengths (for an .npz)."""
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    data = np.frombuffer(b"".join(frames), dtype=np.uint8) if frames else np.zeros(0, np.uint8)
    return data, lengths


def array_frames(data, lengths):
    """The inverse of :func:`frames_array`."""
    ends = np.cumsum(lengths)
    raw = bytes(np.asarray(data, dtype=np.uint8))
    return [raw[e - n:e] for e, n in zip(ends, lengths)]
