"""Problem set 4: an optimizer class around a pure update, a training loop, a trained network.

Case specs (see :mod:`optlessons.checks.engine`):

* ``check_optimizer_class``: ``{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
  "weight_decay": 0.0, "amsgrad": False}`` (the class's keywords), 5 steps each on random
  parameters ``W1`` (3, 2) and ``b1`` (2,).
* ``check_training_loop``: ``{"epochs": 2, "batch_size": 100, "lr": 0.01}``, an MLP
  (64 → 16 → 10) on the digits' training set with Adam(lr); the order is checked with
  ``rng=np.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np

from optlessons.checks.base import CallStopped, CheckFailed
from optlessons.checks.compare import compare, is_number_like, kw_text, short
from optlessons.checks.engine import case_specs, copy_value, ends_hidden_cases, guarded, spec_value
from optlessons.data import load_digits
from optlessons.models import MLP
from optlessons.optim import Adam

__all__ = ["check_optimizer_class", "check_training_loop", "check_accuracy", "CountingOptimizer",
           "OPTIMIZER_CLASS_VISIBLE", "TRAINING_VISIBLE"]


def _params_problem(params, like, what):
    """None if `params` is a dict with the keys and shapes of `like`, else a sentence."""
    if params is None:
        return f"{what} is None: did you forget to return the parameters?"
    if not isinstance(params, dict):
        return f"{what} is {short(params)}, expected a dict name -> array like {sorted(like)}"
    if set(params) != set(like):
        return f"{what} has the keys {sorted(params)}, expected {sorted(like)}"
    for k in like:
        if not is_number_like(params[k]) or np.shape(params[k]) != np.shape(like[k]):
            return (f"{what}[{k!r}] is {short(params[k])}, expected an array of shape "
                    f"{np.shape(like[k])}")
    return None


# --------------------------------------------------------------------------- an optimizer class

OPTIMIZER_CLASS_VISIBLE = [dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False),
                           dict(lr=0.1, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.0, amsgrad=True)]
OPTIMIZER_CLASS_SEED = 10
OPTIMIZER_CLASS_KEYS = {"lr", "betas", "eps", "weight_decay", "amsgrad"}
STEPS = 5


def _construct(cls, name, kw):
    return guarded("check_optimizer_class", name, f"{name}({kw_text(kw)})", lambda: cls(**kw))


def _step(opt, name, given, grads, label):
    def step():
        with np.errstate(all="ignore"):
            return opt.step(given, grads)
    return guarded("check_optimizer_class", f"{name}.step", label, step)


@ends_hidden_cases
def check_optimizer_class(cls, cases="visible", seed=None):
    """Check an Adam-like class: `opt = cls(lr=..., betas=..., eps=..., weight_decay=...,
    amsgrad=...)`, `params = opt.step(params, grads)` on a dict of arrays, several steps,
    against optlessons.optim.Adam (state kept per parameter between steps)."""
    settings, rng = case_specs(cases, seed, OPTIMIZER_CLASS_VISIBLE, OPTIMIZER_CLASS_SEED,
                               OPTIMIZER_CLASS_KEYS)
    name = getattr(cls, "__name__", "your class")
    for kw in settings:
        params = {"W1": rng.normal(size=(3, 2)), "b1": np.zeros(2)}
        grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(STEPS)]
        opt = _construct(cls, name, kw)
        ref = Adam(**kw)
        mine, theirs = copy_value(params), copy_value(params)
        for t in range(STEPS):
            given = copy_value(mine)
            new = _step(opt, name, given, copy_value(grads[t]), f"step {t + 1}, {kw_text(kw)}")
            for k in mine:
                if not np.array_equal(given[k], mine[k]):
                    raise CheckFailed(f"`{name}.step` changed params[{k!r}] in place (step {t + 1}): "
                                      f"build a new dict of new arrays.")
            problem = _params_problem(new, params, f"what `{name}.step` returned")
            if problem:
                raise CheckFailed(problem + f" (step {t + 1})")
            theirs = ref.step(theirs, grads[t])
            for k in params:
                msg = compare(f"params[{k!r}] after step {t + 1}", theirs[k], new[k])
                if msg:
                    mistake = None
                    if t > 0 and compare("x", Adam(**kw).step(mine, grads[t])[k], new[k]) is None:
                        mistake = ("the state starts afresh at every step; keep one state per "
                                   "parameter name in the object (e.g. self.state[name]) and pass "
                                   "it to the next step.")
                    hint = f"\n  This looks like a known mistake: {mistake}" if mistake else ""
                    raise CheckFailed(f"`{name}` does not match optlessons.optim.Adam ({kw_text(kw)}):\n"
                                      f"  {msg}{hint}", mistake=mistake)
            mine = new
    print(f"✓ {name} matches optlessons.optim.Adam on {len(settings)} settings × {STEPS} steps")


# --------------------------------------------------------------------------- a training loop


class CountingOptimizer:
    """Wraps an optimizer and counts the calls to step. While grading it stays with the
    judge (the course's Adam is not in the learner's process): the learner's code gets a
    stand-in whose `step` and `lr` ask the judge, with data."""

    stays_with_the_judge = True

    def __init__(self, opt):
        self.opt, self.calls = opt, 0

    @property
    def lr(self):
        return self.opt.lr

    @lr.setter
    def lr(self, value):
        self.opt.lr = value

    def step(self, params, grads):
        self.calls += 1
        return self.opt.step(params, grads)


def _train_reference(model, params, X, y, bs, lr, orders):
    """Adam(lr) over the mini-batches of each epoch, the examples in that epoch's order."""
    opt = Adam(lr=lr)
    for order in orders:
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            params = opt.step(params, model.backward(params, X[idx], y[idx])[1])
    return params


def _epoch_orders(kind, seed, n, epochs):
    """Each epoch's order of the n examples: "new" (rng.permutation(n) drawn every epoch from
    np.random.default_rng(seed)), "once" (the first permutation in every epoch) or "stored"."""
    if kind == "stored":
        return [np.arange(n)] * epochs
    rng = np.random.default_rng(seed)
    first = rng.permutation(n)
    return [first] + [first if kind == "once" else rng.permutation(n) for _ in range(epochs - 1)]


def _same_params(a, b) -> bool:
    return set(a) == set(b) and all(np.allclose(a[k], b[k], rtol=1e-9, atol=1e-12) for k in a)


def _train_call(fn, model, params, opt, X, y, epochs, bs, seed, label):
    """The learner's train_epochs with rng=np.random.default_rng(seed); exceptions as sentences."""
    def train():
        with np.errstate(all="ignore"):
            return fn(model, params, opt, X, y, epochs=epochs, batch_size=bs,
                      rng=np.random.default_rng(seed))
    return guarded("check_training_loop", "train_epochs", label, train)


def _shuffle_problem(fn, model, params, out, X, y, epochs, bs, lr, seed, label):
    """What is wrong with how `train_epochs` orders the examples, or None.

    The task asks for `rng.permutation(n)` each epoch; another shuffle drawn from
    the rng passed in is accepted, a fixed order or another source of randomness is not."""
    def trained(kind):
        return _train_reference(model, params, X, y, bs, lr, _epoch_orders(kind, seed, len(X), epochs))

    if _same_params(out, trained("new")):
        return None
    if _same_params(out, trained("stored")):
        return ("takes the examples in their stored order: shuffle every epoch with "
                "`order = rng.permutation(n)` (the rng passed in) and index X and y with it.")
    try:
        same_seed = _train_call(fn, model, copy_value(params), CountingOptimizer(Adam(lr=lr)), X, y,
                                epochs, bs, seed, label)
        other_seed = _train_call(fn, model, copy_value(params), CountingOptimizer(Adam(lr=lr)), X, y,
                                 epochs, bs, seed + 1, label)
    except CallStopped:
        raise
    except CheckFailed:
        return None
    if not _same_params(out, same_seed):
        return ("gave different results on two runs with the same `rng`: draw each epoch's order "
                "from the rng passed in, `order = rng.permutation(n)`, not from np.random.*.")
    if _same_params(out, other_seed):
        return ("gave the same result for two different `rng`s: the rng passed in is not used; "
                "draw each epoch's order with `order = rng.permutation(n)`, don't create a "
                "generator of your own.")
    if epochs > 1 and _same_params(out, trained("once")):
        return ("shuffles once and reuses that order in every epoch: draw a new "
                "`order = rng.permutation(n)` at the start of each epoch.")
    return None


TRAINING_VISIBLE = [dict(epochs=2, batch_size=100, lr=0.01), dict(epochs=1, batch_size=64, lr=0.005)]
TRAINING_SEED = 2
TRAINING_KEYS = {"epochs", "batch_size", "lr"}


@ends_hidden_cases
def check_training_loop(fn, cases="visible", seed=None):
    """Check `train_epochs(model, params, optimizer, X, y, *, epochs, batch_size, rng) -> params`:
    one optimizer step per mini-batch, every epoch reshuffled, the loss going down.
    (`seed` seeds the rng passed to `fn`; the data and the network are fixed.)"""
    specs, _ = case_specs(cases, seed, TRAINING_VISIBLE, TRAINING_SEED, TRAINING_KEYS)
    seed = TRAINING_SEED if seed is None else seed
    digits = load_digits(0)
    X, y = digits.X_train, digits.y_train
    for spec in specs:
        epochs, bs, lr = spec_value(spec, "epochs"), spec_value(spec, "batch_size"), spec_value(spec, "lr")
        model = MLP(X.shape[1], hidden=(16,), n_classes=10)
        params = model.init(np.random.default_rng(1))
        before = copy_value(params)
        opt = CountingOptimizer(Adam(lr=lr))
        label = f"epochs={epochs}, batch_size={bs}, Adam(lr={lr}), {len(X)} training examples"
        out = _train_call(fn, model, params, opt, X, y, epochs, bs, seed, label)
        for k in params:
            if not np.array_equal(params[k], before[k]):
                raise CheckFailed(f"`train_epochs` changed params[{k!r}] in place ({label}): "
                                  f"use `params = optimizer.step(params, grads)`.")
        problem = _params_problem(out, params, "what `train_epochs` returned")
        if problem:
            raise CheckFailed(problem + f" ({label})")
        expected = epochs * -(-len(X) // bs)
        if opt.calls != expected:
            hint = ""
            if opt.calls == epochs:
                hint = " — one step per epoch: step once per mini-batch instead"
            elif opt.calls == epochs * (len(X) // bs):
                hint = " — the last, smaller batch of each epoch is missing"
            elif opt.calls == -(-len(X) // bs):
                hint = " — only one epoch: loop `for epoch in range(epochs)`"
            raise CheckFailed(f"`train_epochs` called optimizer.step {opt.calls} times, expected "
                              f"{expected} (epochs × ⌈n / batch_size⌉){hint} ({label})")
        start, end = model.loss(params, X, y), model.loss(out, X, y)
        if not end < 0.7 * start:
            raise CheckFailed(f"the training loss went from {start:.4f} to {end:.4f} ({label}); it "
                              f"should fall by far more: are the new params returned by "
                              f"optimizer.step kept for the next batch?")
        problem = _shuffle_problem(fn, model, params, out, X, y, epochs, bs, lr, seed, label)
        if problem:
            raise CheckFailed(f"`train_epochs` {problem} ({label})")
    print(f"✓ train_epochs makes one step per mini-batch and lowers the loss on {len(specs)} runs")


# --------------------------------------------------------------------------- a trained network


def check_accuracy(model, params, X, y, target):
    """Check that `params` reach at least `target` accuracy on (X, y)."""
    if params is None:
        raise CheckFailed("the trained parameters are None: the training cell is not written yet, "
                          "or it stopped before its end (at the time limit? keep the run under "
                          "~10 seconds), or it did not assign `trained_params`")
    try:
        acc = float(model.accuracy(params, X, y))
    except Exception as exc:
        raise CheckFailed(f"computing the accuracy raised {type(exc).__name__}: {exc}") from None
    if not acc >= target:
        raise CheckFailed(f"accuracy {acc:.3f} is below the target {target:.3f}: train for more "
                          f"epochs or try another learning rate (Adam's lr around 3e-3 to 1e-2). "
                          f"If your validation accuracy was above the target, remember that a "
                          f"few hundred examples give a noisy estimate: aim a few points higher.")
    print(f"✓ accuracy {acc:.3f} ≥ {target:.3f} on {len(y)} examples")
