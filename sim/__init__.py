"""cocotb benches, one per component of :mod:`hetq.hdl`, run from pytest through the cocotb runner."""
