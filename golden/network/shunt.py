"""The ET layer: L1 normalisation by shunting inhibition (docs/model.md section 3, step 3).

The ET units multiply the raw input by the shunt factor of the previous step, sum, and divide by
the sum within the same step; the net effect is ``x / sum(x)`` up to float32 rounding, and zero
for a zero input (the shunt factor of a zero sum is 1, never infinity or NaN).
"""

import numpy as np

__all__ = ["ShuntNormaliser", "l1_normalise"]

F32 = np.float32


def l1_normalise(x):
    """Exact L1 normalisation of the rows of ``x`` (float64); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float64)
    s = x.sum(axis=-1, keepdims=True)
    return np.divide(x, s, out=np.zeros_like(x), where=s != 0)


class ShuntNormaliser:
    """Float32 ET layer with its one-step shunt state, for a batch of input streams.

    Members
    -------
    shunt : float32 array (batch, 1)
        The ET->ET output of the last step (``1/sum``, or 1 after a zero input); 1 initially.
    """

    def __init__(self, sensors, batch=1):
        self.sensors = sensors
        self.batch = batch
        self.reset()

    def reset(self):
        self.shunt = np.ones((self.batch, 1), dtype=F32)

    def step(self, x):
        """Normalise one step of input ``x`` (float32, (batch, sensors)); returns ET.v."""
        v_pre = x * self.shunt
        s = v_pre[:, :1].copy()
        for k in range(1, self.sensors):
            s += v_pre[:, k:k + 1]
        with np.errstate(divide="ignore"):
            shunt = F32(1) / s
        shunt[shunt == np.inf] = 1
        self.shunt = shunt
        return v_pre * shunt
