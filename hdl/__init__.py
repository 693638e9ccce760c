"""Amaranth 0.5 components of the hetq pipeline.

Each stage of the data flow (normaliser, phase quantizer, MC array, GC layer, host link) is one
``wiring.Component`` here, with its bit-exact twin of the same name in :mod:`hetq.golden`.
"""
