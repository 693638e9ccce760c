"""cocotb bench of the COBS encoder and decoder on their generated Verilog (the
:class:`~hetq.sim.cobs.cocotb_bench.COBSBenchTop`).

Settings come from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.cobs.cocotb_bench.save_bench`). Both blocks are driven every cycle by the
drivers the Amaranth bench uses (:class:`~hetq.sim.cobs.stimulus.EncoderDriver`,
:class:`~hetq.sim.cobs.stimulus.DecoderDriver`: seeded random valid, ready and abort pulses).
Checks: the encoder's bytes are ``cobs.cobs.encode(frame) + b"\\x00"`` per frame; the
decoder's records are the twin's for the bytes and aborts in the order it took them, and
each good frame's bytes are ``cobs.cobs.decode`` of what came in. What the bench saw goes to
``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cobs import cobs

from hetq.golden.fixed.cobs import (STATUS_OK, decode_stream, decoded_frames, split_frames)
from hetq.sim.cobs.cocotb_bench import load_bench
from hetq.sim.cobs.stimulus import DecoderDriver, EncoderDriver

__all__ = ["run_cobs"]


async def run_cobs(dut, path):
    frames, stream, max_length, seed, stall = load_bench(path)
    rng_enc, rng_dec = np.random.default_rng(seed).spawn(2)
    enc, dec = EncoderDriver(frames, rng_enc, stall), DecoderDriver(stream, rng_dec, stall)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("enc_i__valid", "enc_o__ready", "dec_i__valid", "dec_abort", "dec_o__ready"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    limit = int((4 * (enc.expected + len(stream.data)) + 200) / (1 - stall) ** 2)
    for cycle in range(limit):
        if enc.done and dec.done:
            break
        e_valid, e_data, e_last, e_ready = enc.drive()
        d_valid, d_byte, d_abort, d_ready = dec.drive()
        dut.enc_i__valid.value = e_valid
        dut.enc_i__payload.value = e_data | (e_last << 8)
        dut.enc_o__ready.value = e_ready
        dut.dec_i__valid.value = d_valid
        dut.dec_i__payload.value = d_byte
        dut.dec_abort.value = d_abort
        dut.dec_o__ready.value = d_ready
        await RisingEdge(dut.clk)
        enc.observe(e_valid, int(dut.enc_i__ready.value), e_ready, int(dut.enc_o__valid.value),
                    dut.enc_o__payload.value.to_unsigned())
        word = dut.dec_o__payload.value.to_unsigned()
        dec.observe(d_valid, d_byte, d_abort, int(dut.dec_i__ready.value), d_ready,
                    int(dut.dec_o__valid.value), (word & 0xFF, (word >> 8) & 1, word >> 9))
    records = np.array(dec.out, dtype=np.int64).reshape(-1, 3)
    np.savez(f"{path}.result.npz", encoded=np.array(enc.out, dtype=np.uint8),
             events=np.array(dec.events, dtype=np.int64), records=records)
    assert enc.done and dec.done, f"unfinished after {limit} cycles"
    assert bytes(enc.out) == b"".join(cobs.encode(f) + b"\x00" for f in frames), "encoder"
    np.testing.assert_equal(records, np.array(decode_stream(dec.events, max_length),
                                              dtype=np.int64).reshape(-1, 3))
    raw = [f for f in split_frames(bytes(e for e in dec.events if e >= 0)) if f]
    for f, (data, status) in zip(raw, decoded_frames(dec.out)):
        if status == STATUS_OK:
            assert data == cobs.decode(f), "a good frame is not cobs.decode of its bytes"


@cocotb.test()
async def cobs_matches_the_package_and_the_twin(dut):
    await run_cobs(dut, os.environ["HETQ_BENCH"])
