"""The COBS twins (golden/fixed/cobs.py): the encoder's byte stream, and the decoder model held
to the ``cobs`` package on good frames and to its statuses on bad ones (structure, oversize,
abort), empty frames and resynchronisation."""

import numpy as np
import pytest
from cobs import cobs

from hetq.golden.fixed.cobs import (ABORT, STATUS_ABORT, STATUS_OK, STATUS_OVERSIZE,
                                    STATUS_STRUCTURE, COBSDecoderModel, check_frame,
                                    decode_stream, decoded_frames, encode_frames,
                                    encoder_input, split_frames)
from hetq.sim.cobs.stimulus import edge_frames, random_frames


def test_encoder_stream_hand_cases():
    nz = bytes(range(1, 255))
    assert encode_frames([b"\x00"]) == b"\x01\x01\x00"
    assert encode_frames([b"\x11\x00", b"\x22"]) == b"\x02\x11\x01\x00\x02\x22\x00"
    assert encode_frames([nz]) == b"\xff" + nz + b"\x00"                 # no trailing 0x01
    assert encode_frames([nz + b"\x00"]) == b"\xff" + nz + b"\x01\x01\x00"
    assert encode_frames([nz + b"\x07"]) == b"\xff" + nz + b"\x02\x07\x00"


def test_encoder_input_marks_the_last_byte():
    assert encoder_input([b"\x05\x00", [7]]) == [(5, 0), (0, 1), (7, 1)]


@pytest.mark.parametrize("frame, exc, text", [
    (b"", ValueError, "at least one byte"), ([1, 256], ValueError, "must lie in 0..255"),
    ("abc", TypeError, "not a str"), (3.5, TypeError, "a frame must be bytes"),
])
def test_frames_are_checked(frame, exc, text):
    with pytest.raises(exc, match=text):
        check_frame(frame)


def test_good_frames_decode_as_the_package_does():
    rng = np.random.default_rng(1)
    frames = edge_frames() + random_frames(rng, 200)
    out = decode_stream(encode_frames(frames), max_length=1024)
    got = decoded_frames(out)
    assert got == [(cobs.decode(cobs.encode(f)), STATUS_OK) for f in frames]
    assert [f for f, _ in got] == frames


def test_garbage_frames_have_a_structure_error_exactly_when_the_package_refuses_them():
    """Random byte strings between delimiters: status structure iff ``cobs.decode`` raises,
    else the package's bytes with status ok."""
    rng = np.random.default_rng(2)
    stream = bytes(int(v) for v in rng.choice(np.r_[0, rng.integers(1, 256, 9), 255, 1],
                                              20000))
    frames = [f for f in split_frames(stream) if f]
    got = decoded_frames(decode_stream(stream, max_length=1 << 16))
    assert len(got) == len(frames) > 1000
    bad = 0
    for f, (data, status) in zip(frames, got):
        try:
            expected = cobs.decode(f)
        except cobs.DecodeError:
            assert status == STATUS_STRUCTURE
            bad += 1
        else:
            assert (data, status) == (expected, STATUS_OK)
    assert 100 < bad < len(frames)


def test_a_structure_error_gives_the_bytes_decoded_so_far():
    assert decode_stream(b"\x05\x01\x02\x00", 10) == [(1, 0, 0), (2, 0, 0),
                                                      (0, 1, STATUS_STRUCTURE)]


def test_empty_frames_give_nothing_and_a_lone_code_byte_an_empty_frame():
    assert decode_stream(b"\x00\x00\x00", 10) == []
    assert decode_stream(b"\x01\x00", 10) == [(0, 1, STATUS_OK)]
    assert decode_stream(b"\x00\x02\x09\x00\x00", 10) == [(9, 0, 0), (0, 1, STATUS_OK)]


def test_oversize_frames_stop_at_max_length():
    frame = bytes(range(1, 13))
    enc = encode_frames([frame])
    assert decoded_frames(decode_stream(enc, 12)) == [(frame, STATUS_OK)]
    assert decoded_frames(decode_stream(enc, 11)) == [(frame[:11], STATUS_OVERSIZE)]
    # the zero implied between blocks counts as a decoded byte
    assert decoded_frames(decode_stream(encode_frames([b"\x01\x00\x02"]), 2)) == [
        (b"\x01\x00", STATUS_OVERSIZE)]
    assert decoded_frames(decode_stream(encode_frames([b"\x01\x00"]), 2)) == [
        (b"\x01\x00", STATUS_OK)]


def test_aborts():
    good = encode_frames([b"\x10\x20\x30"])
    # mid-frame: what came before the pulse, then the abort marker at the delimiter
    events = [*good[:2], ABORT, *good[2:]]
    assert decode_stream(events, 16) == [(0x10, 0, 0), (0, 1, STATUS_ABORT)]
    # between frames: the next frame is aborted whole; the one after it is served
    events = [*good, ABORT, *good, *good]
    assert decoded_frames(decode_stream(events, 16)) == [
        (b"\x10\x20\x30", 0), (b"", STATUS_ABORT), (b"\x10\x20\x30", 0)]
    # several pulses, one marker; a pulse then a delimiter: a marker of its own
    assert decode_stream([ABORT, 0x02, ABORT, 0x05, ABORT, 0], 16) == [(0, 1, STATUS_ABORT)]
    assert decode_stream([ABORT, 0, 0], 16) == [(0, 1, STATUS_ABORT)]
    # an abort beats oversize and structure errors
    assert decode_stream([0x05, 0x01, 0x02, ABORT, 0], 1) == [(1, 0, 0),
                                                              (0, 1, STATUS_ABORT)]


def test_resynchronises_at_the_next_delimiter():
    ok = encode_frames([b"\x42\x00\x43"])
    for bad in (b"\x05\x01\x00", encode_frames([bytes(range(1, 40))])):
        got = decoded_frames(decode_stream(bad + ok, 8))
        assert got[-1] == (b"\x42\x00\x43", STATUS_OK)
    # garbage with no delimiter of its own spoils the frame it runs into, not the next one
    got = decoded_frames(decode_stream(b"\x09" + ok + ok, 8))
    assert got == [(b"\x02\x42\x02\x43", STATUS_STRUCTURE), (b"\x42\x00\x43", STATUS_OK)]


def test_split_frames():
    assert split_frames(b"\x00\x01\x02\x00\x03") == [b"", b"\x01\x02"]


@pytest.mark.parametrize("value, exc", [(0, ValueError), (1 << 17, ValueError),
                                        (2.0, TypeError)])
def test_max_length_is_checked(value, exc):
    with pytest.raises(exc, match="max_length must be"):
        COBSDecoderModel(value)
