"""The simulated board: the system top's Verilog under Verilator with its UART pins bridged to
a TCP socket (``verilator.py``, ``hetq board sim``), a port backed by the device model for
fast tests of clients (``model_port.py``), and fault injection on any port (``faults.py``)."""
