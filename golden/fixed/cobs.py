"""Twins of ``hdl/cobs.py``: Consistent Overhead Byte Stuffing with a 0x00 frame delimiter.

A frame of bytes goes on the wire as ``cobs.cobs.encode(frame) + b"\\x00"``: blocks of up to
254 non-zero bytes, each after a code byte (the block's length plus one; 0xFF for a block of
254 that is not followed by an implied zero), then the delimiter. The encoding itself is the
``cobs`` package's (:func:`encode_frames`); :class:`COBSDecoderModel` is the decoder's
streaming behaviour, byte by byte, with its error statuses and abort pulses, which the package
has no notion of (it equals ``cobs.cobs.decode`` on every good frame; the tests hold it to
that).

The decoder's output is a stream of records ``(data, end, status)``: the decoded bytes of a
frame (``end = 0``, ``status = 0``), then one end marker (``end = 1``, ``data = 0``) whose
status is one of :data:`STATUS_NAMES`.
"""

from cobs import cobs as _cobs

from ..checks import check_int

__all__ = ["MAX_BLOCK", "MAX_LENGTH", "ABORT", "STATUS_OK", "STATUS_STRUCTURE",
           "STATUS_OVERSIZE", "STATUS_ABORT", "STATUS_NAMES", "check_frame", "encode_frames",
           "encoder_input", "COBSDecoderModel", "decode_stream", "split_frames",
           "decoded_frames"]

#: The most non-zero bytes one code byte covers.
MAX_BLOCK = 254
#: The largest ``max_length`` of a decoder.
MAX_LENGTH = 1 << 16
#: The abort pulse in an event stream of :func:`decode_stream`.
ABORT = -1

STATUS_OK, STATUS_STRUCTURE, STATUS_OVERSIZE, STATUS_ABORT = range(4)
#: What each end-marker status means: a good frame; the delimiter arrived inside a block;
#: more than ``max_length`` decoded bytes (those beyond were not emitted); an abort pulse
#: during the frame.
STATUS_NAMES = ("ok", "structure", "oversize", "abort")


def check_frame(frame):
    """``frame`` as bytes: TypeError unless it is bytes-like or a sequence of ints, ValueError
    for a value outside 0..255 or an empty frame (the encoder's frames have at least one
    byte)."""
    if isinstance(frame, str):
        raise TypeError("a frame must be bytes or a sequence of ints in 0..255, not a str")
    try:
        frame = bytes(frame)
    except TypeError as e:
        raise TypeError(f"a frame must be bytes or a sequence of ints in 0..255 ({e})") from None
    except ValueError:
        raise ValueError("the bytes of a frame must lie in 0..255") from None
    if not frame:
        raise ValueError("a frame must have at least one byte")
    return frame


def encode_frames(frames):
    """The encoder's output for ``frames``: each frame COBS-encoded (``cobs.cobs.encode``) and
    followed by one 0x00 delimiter."""
    return b"".join(_cobs.encode(check_frame(f)) + b"\x00" for f in frames)


def encoder_input(frames):
    """The encoder's input records for ``frames``: ``(data, last)`` per byte, ``last`` on the
    final byte of each frame."""
    out = []
    for f in frames:
        f = check_frame(f)
        out.extend((b, int(k == len(f) - 1)) for k, b in enumerate(f))
    return out


class COBSDecoderModel:
    """The decoder's state, one input byte or abort pulse at a time.

    Per input byte: a delimiter (0x00) ends the frame: it gives the end marker when the frame
    had a byte or an abort, nothing for an empty frame, and clears every error. A code byte
    (expected after a delimiter and after each block) gives the zero implied by the block
    before it, if any; a data byte gives itself. A decoded byte beyond ``max_length`` in a
    frame is not given; the frame's end marker then has status oversize. An abort makes the
    frame in progress (or, if none, the next one) end with status abort, and nothing more of it
    is given. Status priority: abort, oversize, structure, ok.

    Parameters
    ----------
    max_length : int
        Decoded bytes per frame, 1..:data:`MAX_LENGTH`.
    """

    def __init__(self, max_length):
        self.max_length = check_int("max_length", max_length, 1, MAX_LENGTH)
        self._clear()
        self.aborted = False

    def _clear(self):
        self.left = 0               # data bytes left in this block; 0: a code byte is next
        self.zero = False           # the block before ends with an implied zero
        self.started = False        # a byte since the last delimiter
        self.count = 0              # decoded bytes given in this frame
        self.oversize = False

    def byte(self, value):
        """Take one input byte; returns the output record ``(data, end, status)`` it gives, or
        None."""
        value = check_int("byte", value, 0, 255)
        if value == 0:
            out = None
            if self.started or self.aborted:
                status = (STATUS_ABORT if self.aborted else STATUS_OVERSIZE if self.oversize
                          else STATUS_STRUCTURE if self.left else STATUS_OK)
                out = (0, 1, status)
            self._clear()
            self.aborted = False
            return out
        self.started = True
        if self.left == 0:
            give, data = self.zero, 0
            self.left, self.zero = value - 1, value != 0xFF
        else:
            give, data = True, value
            self.left -= 1
        if not give or self.aborted or self.oversize:
            return None
        if self.count == self.max_length:
            self.oversize = True
            return None
        self.count += 1
        return (data, 0, STATUS_OK)

    def abort(self):
        """An abort pulse (after the bytes taken so far)."""
        self.aborted = True


def decode_stream(events, max_length):
    """The decoder's output records for a stream of input bytes (ints 0..255) and abort pulses
    (:data:`ABORT`), in the order the decoder saw them."""
    model = COBSDecoderModel(max_length)
    out = []
    for ev in events:
        if ev == ABORT:
            model.abort()
        else:
            rec = model.byte(ev)
            if rec is not None:
                out.append(rec)
    return out


def split_frames(stream):
    """The byte strings between delimiters of a raw byte stream (empty ones included, the
    unterminated tail excluded)."""
    parts = bytes(stream).split(b"\x00")
    return parts[:-1]


def decoded_frames(records):
    """Group output records into ``(bytes, status)`` frames (a trailing unterminated frame is
    left out)."""
    frames, current = [], bytearray()
    for data, end, status in records:
        if end:
            frames.append((bytes(current), int(status)))
            current = bytearray()
        else:
            current.append(int(data))
    return frames
