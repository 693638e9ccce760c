"""Running the COBS cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog: a bench top holding
an encoder and a decoder (one build for both), the bench file and the runner."""

import numpy as np
from amaranth import Module
from amaranth.lib import wiring

from ...hdl.cobs import COBSDecoder, COBSEncoder
from ..kit.cocotb_sim import run_result_bench
from .stimulus import DecoderStream, array_frames, frames_array

__all__ = ["COBSBenchTop", "save_bench", "load_bench", "run_cocotb_cobs"]


class COBSBenchTop(wiring.Component):
    """A :class:`~hetq.hdl.cobs.COBSEncoder` and a :class:`~hetq.hdl.cobs.COBSDecoder` side by
    side, unconnected (bench only): members ``enc_i``, ``enc_o`` (the encoder's ``i``, ``o``)
    and ``dec_i``, ``dec_abort``, ``dec_o`` (the decoder's)."""

    def __init__(self, max_length):
        self._encoder, self._decoder = COBSEncoder(), COBSDecoder(max_length)
        enc, dec = self._encoder.signature.members, self._decoder.signature.members
        super().__init__({"enc_i": enc["i"], "enc_o": enc["o"], "dec_i": dec["i"],
                          "dec_abort": dec["abort"], "dec_o": dec["o"]})

    def elaborate(self, platform):
        m = Module()
        m.submodules.encoder = enc = self._encoder
        m.submodules.decoder = dec = self._decoder
        wiring.connect(m, wiring.flipped(self.enc_i), enc.i)
        wiring.connect(m, wiring.flipped(self.enc_o), enc.o)
        wiring.connect(m, wiring.flipped(self.dec_i), dec.i)
        wiring.connect(m, wiring.flipped(self.dec_o), dec.o)
        m.d.comb += dec.abort.eq(self.dec_abort)
        return m


def save_bench(path, frames, stream, max_length, *, seed, stall):
    """Write what :mod:`.cocotb_tb` reads: the encoder's frames, the decoder's
    :class:`~.stimulus.DecoderStream`, the decoder's ``max_length``, the seed and stall
    probability of the valid/ready patterns."""
    data, lengths = frames_array(frames)
    np.savez(path, frames=data, lengths=lengths,
             stream=np.frombuffer(stream.data, dtype=np.uint8),
             aborts=np.array(stream.aborts, dtype=np.int64), max_length=max_length,
             seed=seed, stall=stall)


def load_bench(path):
    """What :func:`save_bench` wrote: ``(frames, stream, max_length, seed, stall)``."""
    with np.load(path) as z:
        return (array_frames(z["frames"], z["lengths"]),
                DecoderStream(bytes(z["stream"]), z["aborts"].tolist()),
                int(z["max_length"]), int(z["seed"]), float(z["stall"]))


def run_cocotb_cobs(frames, stream, max_length, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run :mod:`hetq.sim.cobs.cocotb_tb` (raises :class:`~hetq.sim.kit.cocotb_sim.
    BenchFailure` when a check fails); returns what the bench saw: ``encoded`` (bytes),
    ``events`` (the decoder's input in the order taken, aborts as -1) and ``records`` (its
    output, int64 rows ``(data, end, status)``)."""
    result, failure = run_result_bench(
        COBSBenchTop(max_length), "cobs_bench", "hetq.sim.cobs.cocotb_tb", build_dir,
        lambda path: save_bench(path, frames, stream, max_length, seed=seed, stall=stall),
        waves=waves)
    with np.load(result) as z:
        seen = {"encoded": bytes(z["encoded"]), "events": z["events"].tolist(),
                "records": z["records"]}
    if failure is not None:
        raise failure
    return seen
