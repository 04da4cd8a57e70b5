"""Early stopping: the parameters at every epoch (a ``fit`` callback) and where the patience rule stops."""

from __future__ import annotations

import numpy as np

from .. import argcheck

__all__ = ["EpochSnapshots", "early_stopping"]


class EpochSnapshots:
    """A ``fit`` callback that keeps the parameters at the end of every epoch.

        snap = EpochSnapshots(steps_per_epoch=-(-n_train // batch_size), initial=params)
        history = fit(..., callback=snap)
        snap.params[e]       # the parameters after epoch e (snap.params[0] = initial), as History's epochs

    It never stops the run (it returns False). Each snapshot is the dict ``fit``
    passed, which ``fit`` never writes into, so nothing is copied."""

    def __init__(self, steps_per_epoch, initial=None):
        self.steps_per_epoch = argcheck.integer(steps_per_epoch, "steps_per_epoch", 1)
        self.params = [] if initial is None else [initial]

    def __call__(self, t, loss, params):
        if (t + 1) % self.steps_per_epoch == 0:
            self.params.append(params)
        return False


def early_stopping(val_loss, patience=5, min_delta=0.0):
    """Where the patience rule stops on a validation curve -> ``(stopped_at, best)`` epochs.

    Walking through the epochs e = 1, 2, …: an epoch whose loss is below the best so far
    by more than ``min_delta`` becomes the best; once ``patience`` epochs have passed
    since the best, training stops at that epoch (``stopped_at``; None if it never
    happens) and the best epoch's weights are the ones to keep (Keras's EarlyStopping
    with ``restore_best_weights=True``). ``best`` is the best epoch up to the stop.
    """
    patience = argcheck.integer(patience, "patience", 1)
    min_delta = argcheck.number(min_delta, "min_delta", 0)
    val_loss = np.asarray(val_loss, dtype=float)
    best = 0
    for e in range(1, len(val_loss)):
        if val_loss[e] < val_loss[best] - min_delta:
            best = e
        elif e - best >= patience:
            return e, best
    return None, best
