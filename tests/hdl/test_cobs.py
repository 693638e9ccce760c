"""The COBS encoder and decoder in Amaranth's simulator, with seeded random valid and ready:
the encoder's bytes equal ``cobs.cobs.encode(frame) + b"\\x00"`` for edge and random frames;
the decoder's records equal the twin's for streams of good, garbage, empty, truncated,
oversize and aborted frames, and its good frames are ``cobs.cobs.decode`` of what came in."""

import numpy as np
import pytest
from cobs import cobs

from hetq.golden.fixed.cobs import (ABORT, STATUS_ABORT, STATUS_OK, STATUS_OVERSIZE,
                                    STATUS_STRUCTURE, decode_stream, decoded_frames,
                                    split_frames)
from hetq.hdl.cobs import COBSDecoder
from hetq.sim.cobs.amaranth_bench import run_decoder, run_encoder
from hetq.sim.cobs.stimulus import DecoderStream, decoder_stream, edge_frames, random_frames


def package_encoding(frames):
    return b"".join(cobs.encode(f) + b"\x00" for f in frames)


def test_encoder_edge_frames():
    frames = edge_frames()
    out, _ = run_encoder(frames, seed=1, stall=0.3)
    assert out == package_encoding(frames)


def test_encoder_random_frames():
    frames = random_frames(np.random.default_rng(3), 16, longest=300)
    out, _ = run_encoder(frames, seed=4, stall=0.3)
    assert out == package_encoding(frames)


def test_encoder_cycles_with_no_stalls():
    """A block of n bytes takes n cycles in, one through the input buffer, one to prime the
    read, n + 1 out; the delimiter
    one more."""
    frame = bytes(range(1, 101))
    _, cycles = run_encoder([frame], stall=0.0)
    assert cycles == 100 + 1 + 1 + 101 + 1


def check_decoder(stream, max_length, drv):
    np.testing.assert_equal(np.array(drv.out).reshape(-1, 3),
                            np.array(decode_stream(drv.events, max_length)).reshape(-1, 3))
    got = decoded_frames(drv.out)
    raw = [f for f in split_frames(bytes(e for e in drv.events if e >= 0)) if f]
    ok = [(f, data) for f, (data, status) in zip(raw, got) if status == STATUS_OK]
    assert all(cobs.decode(f) == data for f, data in ok)
    return [status for _, status in got], [data for _, data in ok]


@pytest.mark.parametrize("max_length, longest, stall, seed", [(600, 400, 0.3, 5),
                                                              (40, 60, 0.2, 6)])
def test_decoder_random_streams(max_length, longest, stall, seed):
    rng = np.random.default_rng(seed)
    frames = random_frames(rng, 20, longest=longest)
    stream = decoder_stream(rng, frames, max_length=max_length, abort=0.2)
    drv = run_decoder(stream, max_length, seed=seed, stall=stall)
    statuses, good = check_decoder(stream, max_length, drv)
    assert {STATUS_OK, STATUS_STRUCTURE, STATUS_OVERSIZE, STATUS_ABORT} <= set(statuses)
    # garbage run into a frame, or a cut at a block boundary, can still decode as good: most
    # good frames are the ones encoded, and the encoded ones are mostly served
    assert sum(f in stream.frames for f in good) >= max(len(good) * 2 // 3,
                                                        len(stream.frames) // 2)


def test_decoder_edge_frames_and_garbage_between():
    frames = edge_frames()[:12]
    data = b"\x00\x00\x13\x00".join(cobs.encode(f) for f in frames) + b"\x00"
    drv = run_decoder(DecoderStream(data, [], frames), 1024, seed=8, stall=0.2)
    statuses, good = check_decoder(None, 1024, drv)
    # each frame, and each garbage "13" (a code byte promising 18 bytes): a structure error
    assert statuses == [STATUS_OK, STATUS_STRUCTURE] * (len(frames) - 1) + [STATUS_OK]
    assert good == frames


def test_an_abort_with_a_delimiter_belongs_to_the_next_frame():
    """No stalls: the pulse for position k comes in the cycle byte k is taken, here the first
    frame's delimiter; the second frame is aborted whole, the third served."""
    frames = [b"\x0a\x00\x0b", b"\x0c", b"\x0d\x0e"]
    first = len(cobs.encode(frames[0]))
    data = b"".join(cobs.encode(f) + b"\x00" for f in frames)
    drv = run_decoder(DecoderStream(data, [first], frames), 16, stall=0.0)
    assert drv.events[first:first + 2] == [0, ABORT]
    assert decoded_frames(drv.out) == [(frames[0], STATUS_OK), (b"", STATUS_ABORT),
                                       (frames[2], STATUS_OK)]


def test_decoder_keeps_up_with_one_byte_per_cycle():
    frames = random_frames(np.random.default_rng(9), 10, longest=100)
    data = b"".join(cobs.encode(f) + b"\x00" for f in frames)
    drv = run_decoder(DecoderStream(data, [], frames), 1024, stall=0.0)
    assert [f for f, _ in decoded_frames(drv.out)] == frames


def test_encoder_into_decoder():
    frames = random_frames(np.random.default_rng(10), 12, longest=300)
    out, _ = run_encoder(frames, seed=11, stall=0.2)
    drv = run_decoder(DecoderStream(out, [], frames), 300, seed=12, stall=0.2)
    assert decoded_frames(drv.out) == [(f, STATUS_OK) for f in frames]


@pytest.mark.parametrize("value, exc, text", [
    (0, ValueError, r"max_length must be in \[1, 65536\], not 0"),
    (1.5, TypeError, "max_length must be an integer, not 1.5"),
])
def test_decoder_max_length_is_checked(value, exc, text):
    with pytest.raises(exc, match=text):
        COBSDecoder(value)
