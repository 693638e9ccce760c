"""The host link's protocol, written once: frames, commands, payloads, counters
(docs/protocol.md is its table for third-party clients). Twin of ``hdl/link.py``; the host
client (``boards/client.py``) and the device model (:mod:`.system`) use these functions.

A frame is COBS-encoded with a 0x00 delimiter after it. Decoded, a request is
``seq (u16 LE) | cmd (u8) | payload | crc (u16 BE)`` and a reply is
``seq (u16 LE) | cmd (u8) | status (u8) | payload | crc (u16 BE)``, where ``crc`` is the
CRC-16/GENIBUS (polynomial 0x1021, initial value 0xFFFF, no reflection, final XOR 0xFFFF;
``binascii.crc_hqx(data, 0xFFFF) ^ 0xFFFF``) of every byte before it. The initial value is not
0 (CRC-16/XMODEM) because with 0 two good frames whose delimiter is lost would merge into one
frame with a good CRC (the register is 0 after the first); the final XOR is not 0
(CRC-16/CCITT-FALSE) because without it a frame whose CRC ends in a 0x00 byte would still
check with that byte cut off, which a single dropped byte does to a COBS frame (its last code
byte carries the trailing zero). Every integer in a payload is little endian; table codes and
sensor codes take the fewest whole bytes their width needs.
"""

import binascii
import zlib
from enum import IntEnum

import numpy as np
from cobs import cobs

__all__ = ["MAGIC", "VERSION", "GC_VERSION", "GC_PHASE_BITS", "GC_PHASES_PER_FRAME", "GcTable", "CRC_INIT", "CRC_XOROUT", "crc_good", "MAX_FRAME", "EVENTS_PER_FRAME", "Cmd", "GC_COMMANDS", "Status",
           "COUNTERS", "DROP_REASONS", "crc16", "encode_frame", "split_frames", "decode_frame",
           "request", "reply", "FrameError", "code_bytes", "max_codes", "pack_codes",
           "unpack_codes", "pack_bits", "unpack_bits", "table_hash"]

#: First four bytes of the info reply.
MAGIC = b"HETQ"
#: Protocol version of a device without a GC layer.
VERSION = 1
#: Protocol version of a device with a GC layer (version 1 and the GC commands).
GC_VERSION = 2
#: Bits per GC phase in a SAMPLE reply of version 2 (phases 0 .. 50).
GC_PHASE_BITS = 6
#: GC phases in each GC part of a version-2 SAMPLE reply but the last (240 bytes).
GC_PHASES_PER_FRAME = 320
#: The longest decoded frame (request or reply), CRC included.
MAX_FRAME = 256
#: Spike events in each full raster reply frame.
EVENTS_PER_FRAME = 60
#: The shortest request: seq, cmd and the CRC.
MIN_REQUEST = 5


class Cmd(IntEnum):
    """Request commands (byte 2 of a request, echoed in byte 2 of its replies)."""

    INFO = 0x01
    WRITE_WEIGHTS = 0x02
    READ_WEIGHTS = 0x03
    WRITE_THRESHOLDS = 0x04
    READ_THRESHOLDS = 0x05
    WRITE_GC = 0x06
    READ_GC = 0x07
    CONNECT = 0x08
    SAMPLE = 0x10
    RASTER = 0x11
    TRAIN = 0x12
    CLAMP = 0x13
    STATUS = 0x20
    CLEAR = 0x21


#: The commands of version 2 only (a device without a GC layer answers UNKNOWN_COMMAND).
GC_COMMANDS = frozenset({Cmd.WRITE_GC, Cmd.READ_GC, Cmd.CONNECT, Cmd.TRAIN, Cmd.CLAMP})


class GcTable(IntEnum):
    """The table selector of WRITE_GC and READ_GC (the first payload byte)."""

    WEIGHTS = 0          # MC->GC weights, UQ5.Fc codes, one per synapse
    POINTERS = 1         # fan-out pointers ptr[0 .. mcs], u16
    TARGETS = 2          # the GC of each synapse, u16
    IIC = 3              # the GC->MC weight, one SQ(Ie.Fc) code (two's complement; only
                         # on a system built with the GC->MC path)


class Status(IntEnum):
    """Reply status (byte 3 of a reply): 0 is success; anything else is an error reply whose
    payload is empty."""

    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    BAD_ADDRESS = 3
    BAD_VALUE = 4
    NOT_CONNECTED = 5


#: The device's counters, in the order of the status reply (u32 each, wrapping).
COUNTERS = (
    "good_frames",        # frames with a good CRC, counted as executed (a status counts itself)
    "crc_errors",         # frames whose CRC is wrong (dropped, no reply)
    "dropped_frames",     # frames too short, too long, malformed COBS, or cut by a line error
    "framing_errors",     # UART bytes with a stop bit of 0 (not a break)
    "breaks",             # the line held low for a whole frame
    "rx_overruns",        # UART bytes that arrived before the previous one was taken
    "slot_overruns",      # frames that arrived with no free request slot (dropped)
    "unknown_commands",   # good frames with an unknown command (error reply)
    "bad_requests",       # good frames with a bad length, address, value or state (error reply)
)

#: Why a decoded frame is dropped without a reply (the counter it goes to).
DROP_REASONS = ("crc_errors", "dropped_frames", "slot_overruns")


class FrameError(ValueError):
    """A frame that cannot be decoded: the message names the cause."""


#: The CRC's initial value and final XOR.
CRC_INIT = 0xFFFF
CRC_XOROUT = 0xFFFF


def crc16(data):
    """CRC-16/GENIBUS of ``data`` (bytes)."""
    return binascii.crc_hqx(bytes(data), CRC_INIT) ^ CRC_XOROUT


def crc_good(frame):
    """Whether a decoded frame's last two bytes are the CRC (big endian) of the rest."""
    frame = bytes(frame)
    return len(frame) >= 2 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "big")


def encode_frame(decoded):
    """The bytes on the wire for a decoded frame: COBS, then the 0x00 delimiter."""
    return cobs.encode(bytes(decoded)) + b"\x00"


def split_frames(stream):
    """Split received bytes at the 0x00 delimiters: ``(frames, rest)`` where ``frames`` are the
    encoded frames (empty ones left out) and ``rest`` the bytes after the last delimiter."""
    parts = bytes(stream).split(b"\x00")
    return [p for p in parts[:-1] if p], parts[-1]


def decode_frame(encoded, *, is_reply):
    """Decode one COBS-encoded frame (without its delimiter) and check its CRC. Returns
    ``(seq, cmd, status, payload)`` for a reply (``status`` None for a request). Raises
    :class:`FrameError` naming the cause: malformed COBS, too short, too long, bad CRC."""
    try:
        data = cobs.decode(bytes(encoded))
    except cobs.DecodeError as e:
        raise FrameError(f"malformed COBS ({e})") from None
    header = 4 if is_reply else 3
    if len(data) < header + 2:
        raise FrameError(f"frame of {len(data)} bytes is too short")
    if len(data) > MAX_FRAME:
        raise FrameError(f"frame of {len(data)} bytes is longer than {MAX_FRAME}")
    if not crc_good(data):
        raise FrameError("bad CRC")
    seq = int.from_bytes(data[:2], "little")
    cmd = data[2]
    status = data[3] if is_reply else None
    return seq, cmd, status, bytes(data[header:-2])


def _with_crc(body):
    return body + crc16(body).to_bytes(2, "big")


def request(seq, cmd, payload=b""):
    """A decoded request frame (CRC appended)."""
    if not 0 <= seq < 1 << 16:
        raise ValueError(f"seq must be in [0, 65535], not {seq}")
    body = seq.to_bytes(2, "little") + bytes([int(cmd)]) + bytes(payload)
    if len(body) + 2 > MAX_FRAME:
        raise ValueError(f"request of {len(body) + 2} bytes is longer than {MAX_FRAME}")
    return _with_crc(body)


def reply(seq, cmd, status, payload=b""):
    """A decoded reply frame (CRC appended)."""
    body = seq.to_bytes(2, "little") + bytes([int(cmd) & 0xFF, int(status)]) + bytes(payload)
    if len(body) + 2 > MAX_FRAME:
        raise ValueError(f"reply of {len(body) + 2} bytes is longer than {MAX_FRAME}")
    return _with_crc(body)


def code_bytes(bits):
    """Bytes a code of ``bits`` bits takes in a payload."""
    return (int(bits) + 7) // 8


def max_codes(bits, head):
    """The most codes of ``bits`` bits one table request may name (``head``: the bytes of
    its start and count fields, 3 for weights, 2 for thresholds): as many as a read's reply
    frame holds (seq, cmd, status, the echoed head, the codes and the CRC in
    :data:`MAX_FRAME` bytes); a write of that many fits its request frame too. A larger
    count is refused with :attr:`Status.BAD_LENGTH`."""
    return (MAX_FRAME - 6 - int(head)) // code_bytes(bits)


def pack_codes(codes, bits):
    """Non-negative integer codes as ``code_bytes(bits)``-byte little-endian fields."""
    n = code_bytes(bits)
    out = bytearray()
    for c in np.asarray(codes, dtype=np.int64).reshape(-1):
        if not 0 <= c < 1 << bits:
            raise ValueError(f"code {int(c)} does not fit {bits} bits")
        out += int(c).to_bytes(n, "little")
    return bytes(out)


def unpack_codes(data, bits, count):
    """``count`` codes of ``code_bytes(bits)`` bytes each (little endian) as int64."""
    n = code_bytes(bits)
    data = bytes(data)
    if len(data) != n * count:
        raise FrameError(f"expected {n * count} bytes of codes, got {len(data)}")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(count, n).astype(np.int64)
    return (raw << (8 * np.arange(n, dtype=np.int64))).sum(axis=1)


def pack_bits(values, bits):
    """Values of ``bits`` bits each, packed LSB first into bytes (value 0 in the lowest bits
    of byte 0); the last byte is padded with zeros."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= 1 << bits):
        raise ValueError(f"values must fit {bits} bits")
    flat = ((v[:, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(flat, bitorder="little").tobytes()


def unpack_bits(data, bits, count):
    """The inverse of :func:`pack_bits`: ``count`` values as int64."""
    need = (count * bits + 7) // 8
    data = bytes(data)
    if len(data) != need:
        raise FrameError(f"expected {need} bytes of packed values, got {len(data)}")
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    flat = flat[:count * bits].reshape(count, bits).astype(np.int64)
    return (flat << np.arange(bits)).sum(axis=1)


def table_hash(weights, weight_bits, thresholds, drive_bits):
    """The info reply's hash of the loaded tables: CRC-32 (zlib) of the weight codes and then
    the threshold codes, each packed as in the read replies."""
    return zlib.crc32(pack_codes(weights, weight_bits) + pack_codes(thresholds, drive_bits))
