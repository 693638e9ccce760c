"""Benches of the COBS encoder and decoder (``hdl/cobs.py``): frames, raw decoder streams and
the per-cycle drivers (``stimulus``), the Amaranth-simulator bench (``amaranth_bench``), and
the cocotb bench on the generated Verilog (``cocotb_tb``, run by ``cocotb_bench``)."""
