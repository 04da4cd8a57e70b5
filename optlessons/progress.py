"""A progress bar for ``fit``, shown only inside a Jupyter kernel (ipywidgets): a ``fit`` callback.

    epochs, batch_size = 20, 32
    bar = ProgressBar(epochs, steps_per_epoch=-(-len(X) // batch_size))
    history = train.fit(model, params, opt, X, y, epochs=epochs, batch_size=batch_size, rng=rng, callback=bar)

It moves once per epoch and shows the last mini-batch's loss; it never stops the run. Outside a
kernel (a script, the tests, terminal IPython) it shows nothing.
"""

from __future__ import annotations

from . import argcheck

__all__ = ["ProgressBar"]


def _in_a_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class ProgressBar:
    """``callback(t, loss, params)`` for ``fit``: an ipywidgets ``IntProgress`` over the epochs."""

    def __init__(self, epochs, steps_per_epoch):
        self.epochs = argcheck.integer(epochs, "epochs", 1)
        self.steps_per_epoch = argcheck.integer(steps_per_epoch, "steps_per_epoch", 1)
        self.bar = None
        if _in_a_kernel():
            import ipywidgets
            from IPython.display import display
            self.bar = ipywidgets.IntProgress(value=0, min=0, max=self.epochs, description=f"epoch 0/{self.epochs}")
            display(self.bar)

    def __call__(self, t, loss, params):
        if self.bar is not None and (t + 1) % self.steps_per_epoch == 0:
            epoch = (t + 1) // self.steps_per_epoch
            self.bar.value = epoch
            self.bar.description = f"epoch {epoch}/{self.epochs} loss {loss:.3g}"
            if epoch == self.epochs:
                self.bar.bar_style = "success"
        return False
