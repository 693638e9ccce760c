"""Benches of the UART (``hdl/uart.py``): line scripts and their waveforms (``stimulus``), the
Amaranth-simulator bench against the cycle-exact model (``amaranth_bench``), and the cocotb
bench on the generated Verilog with cocotbext-uart (``cocotb_tb``, run by ``cocotb_bench``)."""
