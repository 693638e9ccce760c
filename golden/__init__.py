"""NumPy golden models of hetq (no Amaranth imports)."""
