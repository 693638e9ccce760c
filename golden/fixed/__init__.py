"""Bit-exact fixed-point twins of the hardware blocks of :mod:`hetq.hdl`, one module per HDL
module and named as it (``normaliser``, ``quantizer``, ``mc_array``), plus what they share: the
fixed-point formats (``formats``) and the integer MC neuron with its phase thresholds
(``neuron``)."""
