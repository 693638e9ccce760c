"""Benches of the phase quantizer (``hdl/quantizer.py``): stimulus with table writes and the
golden expectation, the Amaranth-simulator bench, the cocotb bench, and the file-driven
Icarus/Verilator bench for long runs."""
