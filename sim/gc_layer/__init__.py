"""Benches of the GC layer (``hdl/gc_layer.py``): stimulus and the golden expectation, the
Amaranth-simulator bench and the cocotb bench (Icarus)."""
