"""hetq: heterogeneous phase quantization, from golden model to FPGA."""

__version__ = "0.1.0"
