"""The float network of the paper (docs/model.md sections 1-11 and 16), in float32 with the
reference's operation order: the LIF layers (``lif``), the ET shunting normalisation
(``shunt``), the ET->MC weights and their calibration (``weights``), DecaySTDP and the delay
line (``stdp``), the GC->MC IIC synapse (``iic``), MC->GC connectivity (``connectivity``), the
network with its procedures (``model``), its compiled engine (``engine``) and the synthetic
sessions (``synth``)."""
