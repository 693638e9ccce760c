"""Benches of the board system (``hdl/system.py``): request streams and the device model's
replies (``stimulus``), the core in Amaranth's simulator on decoded frames
(``amaranth_bench``)."""
