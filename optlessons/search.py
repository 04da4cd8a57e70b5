"""Hyperparameter search: grid and random search over several seeds, and fair optimizer comparisons.

A *run* is any function ``run(seed=..., **setting) -> dict of numbers`` (or a
``train.History``); ``trainer(model, data, make_optimizer, ...)`` builds the
usual one (init with the seed, ``fit``, report the final losses). Searches
return a ``Table``: a list of dict rows, one per (setting, seed), that a
notebook can plot without pandas::

    run = trainer(model, data, optim.Adam, epochs=10, batch_size=32)
    table = grid_search(run, {"lr": [1e-4, 1e-3, 1e-2]}, seeds=(0, 1, 2))
    table.summary()            # one row per setting: mean and std over seeds
    table.best()               # the setting with the lowest mean validation loss
    table.column("val_loss")   # an ndarray, for plotting

    random_search(run, {"lr": log_uniform(1e-4, 1e-1), "batch_size": choice([16, 64])}, n_trials=20, rng=0)

    tune_lr(optim.Adam, lrs, model, data, ...)                 # -> the best lr on validation loss
    compare_optimizers({"SGD": optim.SGD, "Adam": optim.Adam}, model, data, lrs=..., ...)
        # tunes each optimizer's own lr on validation loss, then reports the best of each:
        # the fair comparison is the easy one.

    lr_find(model, data, optim.SGD)        # the learning-rate range test: one short run, lr ramped up

Settings are chosen on the validation set only; the test numbers in a row are
for reporting, never for choosing.
"""

import copy
import itertools
import math
from typing import NamedTuple

import numpy as np

from optlessons import schedules, train, argcheck

__all__ = ["Table", "grid_search", "random_search", "log_uniform", "uniform", "choice",
           "trainer", "tune_lr", "compare_optimizers", "Comparison", "log_grid", "lr_find", "RangeTest"]

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")


# --------------------------------------------------------------------------- table

class Table(list):
    """A list of dict rows (one per setting and seed) with a few helpers.

    ``settings`` names the columns that describe a setting (e.g. ``["lr"]``).
    """

    def __init__(self, rows=(), settings=()):
        super().__init__(rows)
        self.settings = list(settings)

    def column(self, name):
        """The values of one column as an ndarray (floats where possible)."""
        values = [row.get(name) for row in self]
        try:
            return np.array(values, dtype=float)
        except (TypeError, ValueError):
            return np.array(values, dtype=object)

    def summary(self, metrics=("val_loss", "val_accuracy", "train_loss")):
        """One row per setting: ``n_seeds``, ``n_diverged``, and ``<metric>_mean`` / ``<metric>_std``
        over its seeds (a diverged run counts as an infinite loss)."""
        groups = {}
        for row in self:
            key = tuple(_hashable(row[s]) for s in self.settings)
            groups.setdefault(key, []).append(row)
        out = []
        for rows in groups.values():
            summary = {s: rows[0][s] for s in self.settings}
            summary["n_seeds"] = len(rows)
            summary["n_diverged"] = sum(bool(r.get("diverged", False)) for r in rows)
            for m in metrics:
                if all(m in r for r in rows):
                    values = np.array([_metric(r, m) for r in rows], dtype=float)
                    # A finite but huge loss (a run on its way to diverging) overflows when squared: its spread is inf.
                    with np.errstate(invalid="ignore", over="ignore"):
                        summary[f"{m}_mean"] = float(np.mean(values))
                        summary[f"{m}_std"] = float(np.std(values)) if np.all(np.isfinite(values)) else math.nan
            out.append(summary)
        return Table(out, self.settings)

    def best(self, metric="val_loss", mode="min"):
        """The summary row whose mean ``metric`` is best (lowest for ``mode="min"``).

        Ties and all-diverged settings are broken by order; a setting in which
        any seed diverged has an infinite mean loss, so it loses to any finished one.
        """
        rows = self.summary(metrics=(metric,)) if f"{metric}_mean" not in (self[0] if self else {}) else self
        if not rows:
            raise ValueError("the table is empty")
        sign = 1 if mode == "min" else -1
        key = lambda r: (sign * _nan_last(r[f"{metric}_mean"], mode))
        return min(rows, key=key)

    def __repr__(self):
        return f"Table({len(self)} rows, settings={self.settings})"


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _metric(row, name):
    """A row's metric, with a diverged run's loss counted as +inf."""
    value = row.get(name, math.nan)
    if row.get("diverged") and name.endswith("loss"):
        return math.inf
    return math.nan if value is None else value


def _nan_last(value, mode):
    if math.isnan(value):
        return math.inf if mode == "min" else -math.inf
    return value


def _row_from(result):
    """A run's result as a dict of numbers (a History is summarised by ``History.final()``)."""
    if hasattr(result, "final") and callable(result.final):
        return result.final()
    if isinstance(result, dict):
        return dict(result)
    if isinstance(result, (int, float, np.floating)):
        return {"val_loss": float(result)}
    raise TypeError(f"a run must return a dict of metrics, a History or a number, got {type(result).__name__}")


def _seeds(seeds):
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed, e.g. seeds=(0, 1, 2)")
    return seeds


# --------------------------------------------------------------------------- searches

def grid_search(run, grid, seeds=(0, 1, 2)):
    """Every combination of the values in ``grid`` (dict name -> list), each run with every seed.

    Returns a ``Table`` with one row per (setting, seed):
    ``{**setting, "seed": seed, **run(seed=seed, **setting)}``.
    """
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict name -> list of values, e.g. {'lr': [0.01, 0.1]}")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or len(list(values)) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    names = list(grid)
    settings = [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]
    return _run_all(run, settings, _seeds(seeds), names)


class _Distribution:
    def __init__(self, description, sample):
        self.description = description
        self.sample = sample

    def __repr__(self):
        return self.description


def log_uniform(low, high):
    """Sample uniformly in log space between low and high (for learning rates): exp(U(log low, log high))."""
    if not 0 < low < high:
        raise ValueError(f"log_uniform needs 0 < low < high, got low={low!r}, high={high!r}")
    return _Distribution(f"log_uniform({low}, {high})",
                         lambda rng: float(np.exp(rng.uniform(np.log(low), np.log(high)))))


def uniform(low, high):
    """Sample uniformly between low and high."""
    if not low < high:
        raise ValueError(f"uniform needs low < high, got low={low!r}, high={high!r}")
    return _Distribution(f"uniform({low}, {high})", lambda rng: float(rng.uniform(low, high)))


def choice(values):
    """Pick one of ``values`` with equal probability."""
    values = list(values)
    if not values:
        raise ValueError("choice needs at least one value")
    return _Distribution(f"choice({values})", lambda rng: values[int(rng.integers(len(values)))])


def random_search(run, space, n_trials, rng, seeds=(0, 1, 2)):
    """``n_trials`` settings drawn from ``space`` (dict name -> ``log_uniform`` / ``uniform`` /
    ``choice`` / a fixed value), each run with every seed -> ``Table``.

    ``rng`` (a Generator or an int seed) draws the settings; the seeds drive the runs.
    """
    rng = argcheck.generator(rng)
    n_trials = argcheck.integer(n_trials, "n_trials", 1)
    if not isinstance(space, dict) or not space:
        raise ValueError("space must be a non-empty dict name -> distribution, e.g. {'lr': log_uniform(1e-4, 1)}")
    names = list(space)
    settings = [{n: space[n].sample(rng) if isinstance(space[n], _Distribution) else space[n] for n in names}
                for _ in range(n_trials)]
    return _run_all(run, settings, _seeds(seeds), names)


def _run_all(run, settings, seeds, names):
    rows = []
    for setting in settings:
        for seed in seeds:
            rows.append({**setting, "seed": seed, **_row_from(run(seed=seed, **setting))})
    return Table(rows, names)


def log_grid(low, high, num=7):
    """``num`` values evenly spaced in log space from low to high (a learning-rate grid)."""
    return [float(v) for v in np.geomspace(low, high, num)]


# --------------------------------------------------------------------------- training runs

_FIT_SETTINGS = ("epochs", "batch_size", "schedule", "clip_grad_norm", "ema_decay")


def trainer(model, data, make_optimizer, *, epochs=10, batch_size=None, schedule=None):
    """A run function for the searches: ``run(seed, lr=..., **settings) -> dict``.

    For each call: ``rng = default_rng(seed)``; ``params = model.init(rng)``;
    ``optimizer = make_optimizer(lr=lr, **other settings)``; ``train.fit(...)``
    on ``data`` (a ``data.Splits``: train on the training split, evaluate on
    validation). ``epochs``, ``batch_size`` and ``schedule`` may also be
    settings of the search, and so may fit's ``clip_grad_norm`` and
    ``ema_decay``. A ``schedules.ReduceLROnPlateau`` given as the schedule is
    copied for each run (it keeps state). The row holds the final train/val (and, when the
    data has a test split, test) loss and accuracy, ``diverged`` and ``wall_time``.
    """
    def run(seed, **setting):
        fit_kw = {"epochs": epochs, "batch_size": batch_size, "schedule": schedule}
        for name in _FIT_SETTINGS:
            if name in setting:
                fit_kw[name] = setting.pop(name)
        if isinstance(fit_kw["schedule"], schedules.ReduceLROnPlateau):
            fit_kw["schedule"] = copy.deepcopy(fit_kw["schedule"])        # each run starts with a fresh plateau
        rng = np.random.default_rng(seed)
        params = model.init(rng)
        history = train.fit(model, params, make_optimizer(**setting), data.X_train, data.y_train,
                            X_val=data.X_val, y_val=data.y_val, rng=rng, **fit_kw)
        row = history.final()
        if len(getattr(data, "y_test", ())):
            if history.diverged:
                row["test_loss"], row["test_accuracy"] = math.inf, math.nan
            else:
                with np.errstate(all="ignore"):
                    row["test_loss"] = float(model.loss(history.params, data.X_test, data.y_test))
                    row["test_accuracy"] = (float(model.accuracy(history.params, data.X_test, data.y_test))
                                            if hasattr(model, "accuracy") else math.nan)
        return row

    return run


class Comparison(NamedTuple):
    """What ``compare_optimizers`` found.

    ``best``: one row per optimizer (its name, its best lr, the mean/std over
    seeds of its metrics at that lr); ``tables``: dict name -> the full
    ``Table`` of its lr search, for plotting validation loss against lr.
    """
    best: Table
    tables: dict


def tune_lr(make_optimizer, lrs, model, data, *, epochs=10, batch_size=None, seeds=(0, 1, 2),
            metric="val_loss", schedule=None, **optimizer_kwargs):
    """Try every learning rate in ``lrs`` (with every seed) -> (best summary row, Table).

    The best lr minimises the mean validation loss over seeds (``metric``). A
    best lr at either end of ``lrs`` suggests widening the range; the row says
    so in ``"at_edge"``.
    """
    lrs = sorted(float(lr) for lr in lrs)
    base = lambda **kw: make_optimizer(**optimizer_kwargs, **kw)
    run = trainer(model, data, base, epochs=epochs, batch_size=batch_size, schedule=schedule)
    table = grid_search(run, {"lr": lrs}, seeds=seeds)
    mode = "max" if metric.endswith("accuracy") else "min"
    best = dict(table.summary(metrics=("val_loss", "val_accuracy", "train_loss", "test_loss", "test_accuracy"))
                .best(metric, mode))
    best["at_edge"] = len(lrs) > 1 and best["lr"] in (lrs[0], lrs[-1])
    return best, table


def compare_optimizers(optimizers, model, data, *, lrs, epochs=10, batch_size=None, seeds=(0, 1, 2),
                       metric="val_loss", schedule=None):
    """Tune each optimizer's own learning rate, then report the best of each -> ``Comparison``.

    ``optimizers``: dict name -> a class or a function taking ``lr=`` (e.g.
    ``{"SGD": optim.SGD, "momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9), "Adam": optim.Adam}``).
    ``lrs``: one grid for all, or a dict name -> grid. Every optimizer gets the
    same model, data, epochs, batch size and seeds.
    """
    if not isinstance(optimizers, dict) or not optimizers:
        raise ValueError("optimizers must be a non-empty dict name -> optimizer class or factory")
    best_rows, tables = [], {}
    for name, make in optimizers.items():
        grid = lrs[name] if isinstance(lrs, dict) else lrs
        best, table = tune_lr(make, grid, model, data, epochs=epochs, batch_size=batch_size,
                              seeds=seeds, metric=metric, schedule=schedule)
        best_rows.append({"optimizer": name, **best})
        tables[name] = table
    return Comparison(Table(best_rows, ["optimizer", "lr"]), tables)


# --------------------------------------------------------------------------- the range test

class RangeTest(NamedTuple):
    """What ``lr_find`` measured, one entry per update step made.

    ``lrs``: the learning rate of each step (rising exponentially);
    ``losses``: the mini-batch loss of each step, computed before its update;
    ``smoothed``: their bias-corrected exponential moving average, the curve to plot;
    ``suggestion``: the learning rate the test suggests, ``lr_min / 10`` (see ``lr_find``);
    ``lr_min``: the lr at the lowest smoothed loss; ``lr_steep``: the lr where the
    smoothed loss falls fastest per unit of log lr (the other classic reading);
    ``stopped_at``: the step at which the smoothed loss passed ``diverge_factor``
    times its minimum so far (or the loss stopped being finite), None if the
    ramp reached ``end_lr``.
    """
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    lr_min: float
    lr_steep: float
    stopped_at: object


def lr_find(model, data, make_optimizer, start_lr=1e-7, end_lr=10.0, num_steps=100, smooth=0.98,
            diverge_factor=4.0, batch_size=64, rng=0, params=None):
    """The learning-rate range test (Smith 2017; fastai's ``lr_find``) -> ``RangeTest``.

    One short run of ``train.fit`` on ``data.X_train, data.y_train`` in
    mini-batches, from ``params`` (default ``model.init(rng)``), with an
    optimizer ``make_optimizer(lr=start_lr)`` whose learning rate grows
    exponentially at every step, from ``start_lr`` at step 0 to ``end_lr`` at
    step ``num_steps − 1``:

        lr_t = start_lr · (end_lr / start_lr)^(t / (num_steps − 1))
        avg_t = smooth · avg_{t−1} + (1 − smooth) · loss_t,    smoothed_t = avg_t / (1 − smooth^(t+1))
        stop after step t if smoothed_t > diverge_factor · min(smoothed_0..t)   (or the loss is not finite)

    As in fastai, loss_t is the mini-batch loss computed just before the update
    made with lr_t, and the run stops once the smoothed loss has blown up to
    four times its best. The parameters given are never changed: use the
    suggestion to start a real run.

    The suggestion is ``lr_min / 10``: a tenth of the learning rate at which the
    smoothed loss was lowest. Why this rule rather than the steepest descent
    (``lr_steep``, also returned): at the minimum the lr is already on the
    edge of divergence, and a tenth of it sits safely below while still large;
    and the location of a minimum of the smoothed curve moves little with the
    noise of the mini-batches, while the steepest point is a derivative of a
    noisy curve and can land anywhere on its long slope. Both are read, as
    fastai does, on the curve without its first ``num_steps // 10`` and last 5
    points (the smoothing's start-up and the blow-up). Compare the suggestion
    with a grid search before trusting it: it is a guess from one run.
    """
    start_lr = argcheck.positive(start_lr, "start_lr")
    end_lr = argcheck.positive(end_lr, "end_lr")
    if not start_lr < end_lr:
        raise ValueError(f"start_lr must be < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    num_steps = argcheck.integer(num_steps, "num_steps", 2)
    smooth = argcheck.number(smooth, "smooth", 0, 1, high_open=True)
    diverge_factor = argcheck.number(diverge_factor, "diverge_factor", 1, low_open=True, finite=False)
    rng = argcheck.generator(rng)
    if params is None:
        params = model.init(rng)
    n = len(data.y_train)
    batch_size = n if batch_size is None else min(batch_size, n)
    epochs = -(-num_steps // -(-n // batch_size))

    def ramp(t):
        return start_lr * (end_lr / start_lr) ** (t / (num_steps - 1))

    smoothed, state = [], {"avg": 0.0, "best": math.inf, "blew_up": False}

    def watch(t, loss, _params):
        state["avg"] = smooth * state["avg"] + (1 - smooth) * loss
        smoothed.append(state["avg"] / (1 - smooth ** (t + 1)))
        state["best"] = min(state["best"], smoothed[-1])
        state["blew_up"] = not smoothed[-1] <= diverge_factor * state["best"]
        return state["blew_up"] or t == num_steps - 1

    history = train.fit(model, params, make_optimizer(lr=start_lr), data.X_train, data.y_train,
                        epochs=epochs, batch_size=batch_size, rng=rng, schedule=ramp, callback=watch)
    steps = len(smoothed)                      # a step whose loss was not finite was neither made nor watched
    lrs, losses, smoothed = history.lr[:steps], history.loss[:steps], np.array(smoothed)
    stopped_at = steps - 1 if state["blew_up"] else (steps if history.diverged else None)

    keep = slice(num_steps // 10, steps - 5) if steps - 5 - num_steps // 10 >= 2 else slice(0, steps)
    lr_kept, loss_kept = lrs[keep], smoothed[keep]
    lr_min = float(lr_kept[np.argmin(loss_kept)])
    slopes = np.diff(loss_kept) / np.diff(np.log(lr_kept))
    lr_steep = float(lr_kept[np.argmin(slopes)]) if len(slopes) else lr_min
    return RangeTest(lrs=lrs, losses=losses, smoothed=smoothed, suggestion=lr_min / 10, lr_min=lr_min,
                     lr_steep=lr_steep, stopped_at=stopped_at)
