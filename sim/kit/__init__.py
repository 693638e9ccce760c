"""What every bench shares: Verilog conversion and port packing (``verilog``), the Amaranth-
simulator drivers (``amaranth_sim``), the cocotb drivers and runner (``cocotb_sim``), the
Verilog file-bench machinery for Icarus and Verilator (``filebench``), and the acceptance
order of transfers taken on several streams with the cycle budget of a run (``events``)."""
