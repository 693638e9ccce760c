"""NumPy golden models of hetq (no Amaranth imports), in two parts.

* :mod:`hetq.golden.network`: the float network of the paper (docs/model.md sections 1-11 and 16):
  the executable form of the model specification, its compiled engine and the synthetic data.
* :mod:`hetq.golden.fixed`: the bit-exact twins of the hardware blocks in :mod:`hetq.hdl`, each
  named as the HDL module it mirrors (``fixed/quantizer.py`` for ``hdl/quantizer.py``), with the
  fixed-point formats they share (``fixed/formats.py``) and the integer MC neuron
  (``fixed/neuron.py``).

:mod:`hetq.golden.checks` holds the argument checks every layer uses.
"""
