"""The link protocol's codec (golden/fixed/link.py): frames, CRC, packing."""

import binascii

import numpy as np
import pytest
from cobs import cobs

from hetq.golden.fixed.link import (MAX_FRAME, Cmd, FrameError, Status, crc16, crc_good,
                                    decode_frame, encode_frame, pack_bits, pack_codes, reply, request,
                                    split_frames, table_hash, unpack_bits, unpack_codes)


def test_a_frame_ends_with_its_crc():
    frame = request(0x1234, Cmd.SAMPLE, bytes(range(16)))
    assert crc_good(frame) and not crc_good(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert binascii.crc_hqx(frame[:-2], 0xFFFF) ^ 0xFFFF == int.from_bytes(frame[-2:], "big")
    assert frame[:3] == b"\x34\x12\x10"
    assert crc16(b"123456789") == 0xD64E                  # CRC-16/GENIBUS's check value


def test_a_frame_cut_after_a_zero_crc_byte_fails_the_crc():
    """A frame whose CRC ends in 0x00 loses that byte when one byte, its COBS encoding's last,
    is dropped; without a final XOR (CRC-16/CCITT-FALSE) the rest would still check."""
    def ccitt(body):
        return body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")

    bodies = [request(s, Cmd.SAMPLE, bytes(16))[:-2] for s in range(4096)]
    old = next(f for f in map(ccitt, bodies) if f[-1] == 0)
    assert cobs.decode(cobs.encode(old)[:-1]) == old[:-1]   # the dropped byte cuts the zero
    assert binascii.crc_hqx(old[:-1], 0xFFFF) == 0          # and CCITT-FALSE's check passes
    frame = next(f for f in (request(s, Cmd.SAMPLE, bytes(16)) for s in range(4096))
                 if f[-1] == 0)
    wire = cobs.encode(frame)
    assert cobs.decode(wire[:-1]) == frame[:-1]
    assert not crc_good(frame[:-1])
    with pytest.raises(FrameError, match="bad CRC"):
        decode_frame(wire[:-1], is_reply=False)


def test_two_frames_merged_by_a_corrupted_delimiter_fail_the_crc():
    """With an initial value of 0 (CRC-16/XMODEM) a good frame, a zero byte and another good
    frame would pass; with 0xFFFF they do not."""
    a, b = request(1, Cmd.INFO), request(2, Cmd.STATUS)
    xa = a[:-2] + binascii.crc_hqx(a[:-2], 0).to_bytes(2, "big")
    xb = b[:-2] + binascii.crc_hqx(b[:-2], 0).to_bytes(2, "big")
    assert binascii.crc_hqx(xa + b"\x00" + xb, 0) == 0       # the weakness of a zero init
    assert not crc_good(a + b"\x00" + b)


def test_encode_decode_round_trip():
    rng = np.random.default_rng(1)
    for n in (0, 1, 50, 250):
        payload = bytes(rng.integers(0, 3, n).astype(np.uint8))       # many zeros
        wire = encode_frame(reply(7, Cmd.SAMPLE, Status.OK, payload))
        assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1]
        frames, rest = split_frames(wire + b"\x12")
        assert rest == b"\x12" and len(frames) == 1
        assert decode_frame(frames[0], is_reply=True) == (7, Cmd.SAMPLE, 0, payload)


@pytest.mark.parametrize("mangle, text", [
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "bad CRC"),
    (lambda f: cobs.encode(b"\x01\x00\x10"), "too short"),
    (lambda f: cobs.encode(bytes(300)), "longer than 256"),
    (lambda f: b"\x05\x01", "malformed COBS"),
])
def test_bad_frames_name_the_cause(mangle, text):
    frame = cobs.encode(request(3, Cmd.INFO))
    with pytest.raises(FrameError, match=text):
        decode_frame(mangle(frame), is_reply=False)


def test_requests_too_long_are_refused():
    with pytest.raises(ValueError, match="longer than 256"):
        request(1, Cmd.WRITE_WEIGHTS, bytes(MAX_FRAME))
    with pytest.raises(ValueError, match="seq must be in"):
        request(1 << 16, Cmd.INFO)


def test_packing():
    v = np.array([0, 17, 2, 31, 5])
    data = pack_bits(v, 5)
    assert len(data) == 4 and data[0] == (0 | (17 << 5)) & 0xFF
    np.testing.assert_equal(unpack_bits(data, 5, 5), v)
    codes = np.array([0, 1, (1 << 24) - 1, 123456])
    raw = pack_codes(codes, 24)
    assert raw[:3] == b"\x00\x00\x00" and raw[3:6] == b"\x01\x00\x00"
    np.testing.assert_equal(unpack_codes(raw, 24, 4), codes)
    with pytest.raises(ValueError, match="does not fit 24 bits"):
        pack_codes([1 << 24], 24)
    with pytest.raises(FrameError, match="expected 6 bytes"):
        unpack_codes(raw[:5], 24, 2)


def test_table_hash_is_crc32_of_the_read_replies():
    import zlib

    w, t = np.arange(4), np.arange(2) * 7
    assert table_hash(w, 24, t, 22) == zlib.crc32(pack_codes(w, 24) + pack_codes(t, 22))
    assert table_hash(w, 24, t, 22) != table_hash(w[::-1], 24, t, 22)
