"""Benches of the normaliser (``hdl/normaliser.py``): its sensor-sample stimulus, the
Amaranth-simulator bench, and the cocotb bench on its Verilog."""
