"""Benches of the hardware blocks: :mod:`.kit` (what every bench shares) and one package per
block of :mod:`hetq.hdl` (``normaliser``, ``quantizer``, ``mc_array``), each holding the block's
stimulus and its benches (Amaranth simulator, cocotb on Icarus, file-driven Verilog)."""
