"""Benches of the MC array (``hdl/mc_array.py``, fed by the quantizer): stimulus with extra
currents and the golden expectation, the Amaranth-simulator bench, the cocotb bench, and the
file-driven Icarus/Verilator bench for long runs."""
