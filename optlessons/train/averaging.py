"""An exponential moving average of the weights, as ``torch.optim.swa_utils`` with ``get_ema_multi_avg_fn``."""

from __future__ import annotations

import numpy as np

from .. import argcheck

__all__ = ["ema_update", "WeightEMA"]


def ema_update(ema_params, params, decay):
    """One step of the exponential moving average of the weights, a pure function:

        θ̄ = θ̄ + (1 − decay) (θ − θ̄)        (= decay · θ̄ + (1 − decay) · θ)

    for a dict name -> array (or one array). This is
    ``torch.optim.swa_utils.get_ema_multi_avg_fn(decay)``, which uses torch.lerp
    in that form. Returns new arrays; neither argument is written into."""
    if isinstance(params, dict):
        return {k: ema_params[k] + (1 - decay) * (params[k] - ema_params[k]) for k in params}
    return ema_params + (1 - decay) * (params - ema_params)


class WeightEMA:
    """An exponential moving average of the weights, updated after each step:
    ``torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``.

        ema = WeightEMA(decay=0.999)
        for each step:
            params = optimizer.step(params, grads)
            ema.update(params)
        ema.params          # the averaged weights, to evaluate the model with

    The first ``update`` copies the weights (torch's ``n_averaged == 0`` case);
    each later one is ``ema_update``: θ̄ = θ̄ + (1 − decay)(θ − θ̄). With decay
    d the average remembers about the last 1 / (1 − d) steps.

    Attributes: ``decay``, ``params`` (None before the first update) and
    ``n_averaged`` (torch's name: the number of updates so far).
    """

    def __init__(self, decay=0.999):
        self.decay = argcheck.number(decay, "decay", 0, 1)
        self.params = None
        self.n_averaged = 0

    def update(self, params):
        """Fold `params` (a dict name -> array, or an array) into the average; returns the average."""
        if self.n_averaged == 0:
            self.params = ({k: np.array(v, dtype=float) for k, v in params.items()} if isinstance(params, dict)
                           else np.array(params, dtype=float))
        else:
            self.params = ema_update(self.params, params, self.decay)
        self.n_averaged += 1
        return self.params

    def __repr__(self):
        return f"WeightEMA(decay={self.decay}, n_averaged={self.n_averaged})"
