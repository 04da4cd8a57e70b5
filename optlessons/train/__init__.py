"""Running optimizers: on a 2-D function from a start point, and on a model with data.

    minimize(landscape, optimizer, start, steps)       -> Trajectory   (train.minimizing)
    optimizer_path(optimizer, gradient, start, steps)  -> the points, the plain loop
    fit(model, params, optimizer, X, y, ...)           -> History      (train.fitting)

and what ``fit`` uses: gradient clipping by the global norm (``train.clipping``), a moving
average of the weights (``train.averaging``) and early stopping (``train.stopping``). numpy
only; a progress bar for ``fit`` in a kernel is ``optlessons.progress.ProgressBar``, a callback.
"""

from .averaging import WeightEMA, ema_update
from .clipping import clip_grad_norm, vector_norm
from .fitting import History, fit
from .minimizing import Trajectory, minimize, optimizer_path
from .stopping import EpochSnapshots, early_stopping

__all__ = ["Trajectory", "minimize", "optimizer_path", "History", "fit", "clip_grad_norm", "vector_norm",
           "ema_update", "WeightEMA", "EpochSnapshots", "early_stopping"]
