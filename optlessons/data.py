"""Data to learn from: synthetic sets with a known answer, and one real data set.

Synthetic data (each takes an explicit ``numpy.random.Generator`` or an int seed):

    linear_regression(rng, n_samples=100, n_features=1, noise=0.1, ...)  -> RegressionData
    blobs(rng, n_samples=200, n_classes=2, n_features=2, spread=1.0, ...) -> ClassificationData

The real data set ships inside the package, nothing downloads:

    load_digits(rng_or_seed=0, val_fraction=0.15, test_fraction=0.15) -> Splits
    load_digits_raw() -> (images uint8 (1797, 8, 8), labels int64 (1797,))

UCI "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak
(1998), CC BY 4.0, https://doi.org/10.24432/C50P49 (see ``DIGITS_CREDIT``).

Helpers that work on any arrays: ``split(X, y, rng, ...)`` (stratified
train/validation/test split, standardised with training statistics only) and
``standardize``. ``with_label_noise(splits, fraction, rng)`` makes a harder task
from a classification split: a fraction of the training and validation labels
replaced by wrong ones, the test labels left clean.
"""

import importlib.resources
import json
from typing import NamedTuple

import numpy as np

from . import argcheck

__all__ = ["RegressionData", "ClassificationData", "Splits", "linear_regression", "blobs",
           "split", "standardize", "load_digits", "load_digits_raw", "DIGITS_CREDIT",
           "TorchReference", "load_torch_reference", "flip_labels", "with_label_noise"]


# --------------------------------------------------------------------------- records

class RegressionData(NamedTuple):
    """Data from y = X @ weights + bias + noise * N(0, 1), with the true answer kept."""
    X: np.ndarray          # (n_samples, n_features)
    y: np.ndarray          # (n_samples,)
    weights: np.ndarray    # (n_features,), the true weights
    bias: float            # the true bias
    noise: float           # standard deviation of the added Gaussian noise


class ClassificationData(NamedTuple):
    """Gaussian blobs: class k is drawn from N(centers[k], spread**2 I)."""
    X: np.ndarray          # (n_samples, n_features)
    y: np.ndarray          # (n_samples,) int64 labels 0 .. n_classes-1
    centers: np.ndarray    # (n_classes, n_features)
    spread: float          # standard deviation of each blob


class Splits(NamedTuple):
    """Train / validation / test splits, features standardised with training statistics.

    ``X_* = (raw - mean) / std``; ``mean`` and ``std`` come from the training
    split only (a feature constant in training gets std 1), so no information
    from validation or test leaks into training.
    """
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray           # (n_features,) training mean of the raw features
    std: np.ndarray            # (n_features,) training standard deviation (1 where it was 0)
    n_features: int
    n_classes: int             # 0 for regression targets
    class_names: tuple         # ("0", "1", ...) for classification, () for regression
    description: str

    def __repr__(self):
        sizes = ", ".join(f"{name}={len(getattr(self, 'y_' + name))}" for name in ("train", "val", "test"))
        return (f"Splits({sizes}, n_features={self.n_features}, n_classes={self.n_classes}) "
                f"- {self.description.splitlines()[0] if self.description else 'data'}")


# --------------------------------------------------------------------------- synthetic

def linear_regression(rng, n_samples=100, n_features=1, noise=0.1, weights=None, bias=0.0,
                      x_scale=1.0):
    """Regression data with a known answer: ``y = X @ weights + bias + noise * eps``.

    X ~ N(0, x_scale**2) entrywise, eps ~ N(0, 1). ``weights`` default to
    draws from N(0, 1) (made with ``rng``). The least-squares solution tends to
    the true weights and bias as ``n_samples`` grows; the best achievable mean
    squared error is ``noise**2``.
    """
    rng = argcheck.generator(rng)
    n_samples = argcheck.integer(n_samples, "n_samples", 1)
    n_features = argcheck.integer(n_features, "n_features", 1)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if weights is None:
        weights = rng.standard_normal(n_features)
    weights = np.asarray(weights, dtype=float).reshape(-1)
    if weights.shape != (n_features,):
        raise ValueError(f"weights must have n_features={n_features} entries, got shape {weights.shape}")
    X = x_scale * rng.standard_normal((n_samples, n_features))
    y = X @ weights + bias + noise * rng.standard_normal(n_samples)
    return RegressionData(X, y, weights.copy(), float(bias), float(noise))


def blobs(rng, n_samples=200, n_classes=2, n_features=2, spread=1.0, centers=None,
          center_box=(-4.0, 4.0)):
    """Gaussian blobs, one per class, with (nearly) equal class sizes.

    Class k's points are ``centers[k] + spread * N(0, I)``. ``centers`` default
    to uniform draws in ``center_box`` (made with ``rng``). Labels are int64
    0 .. n_classes-1, in shuffled order. Two classes gives a binary problem.
    """
    rng = argcheck.generator(rng)
    n_classes = argcheck.integer(n_classes, "n_classes", 2)
    n_samples = argcheck.integer(n_samples, "n_samples", n_classes)
    n_features = argcheck.integer(n_features, "n_features", 1)
    if not spread > 0:
        raise ValueError(f"spread must be > 0, got {spread!r}")
    if centers is None:
        centers = rng.uniform(center_box[0], center_box[1], size=(n_classes, n_features))
    centers = np.asarray(centers, dtype=float)
    if centers.shape != (n_classes, n_features):
        raise ValueError(f"centers must have shape (n_classes, n_features)={(n_classes, n_features)}, "
                         f"got {centers.shape}")
    y = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    X = centers[y] + spread * rng.standard_normal((n_samples, n_features))
    return ClassificationData(X, y, centers.copy(), float(spread))


# --------------------------------------------------------------------------- splitting

def standardize(X_train, *others, min_std=0.0):
    """``(X - mean) / std`` with mean and std of ``X_train``; returns (X_train, *others, mean, std).

    A feature that is constant in training gets std 1 (it becomes 0, not NaN).
    ``min_std`` > 0 floors every std at that value, so a feature that is almost
    constant in training (a corner pixel that is nearly always blank) is not
    blown up into huge values on new data.
    """
    X_train = np.asarray(X_train, dtype=float)
    mean = X_train.mean(axis=0)
    std = np.maximum(X_train.std(axis=0), min_std)
    std = np.where(std > 0, std, 1.0)
    scaled = [(np.asarray(X, dtype=float) - mean) / std for X in (X_train, *others)]
    return (*scaled, mean, std)


def split(X, y, rng, val_fraction=0.15, test_fraction=0.15, stratify=None, scale=True,
          min_std=0.0, description=""):
    """Seeded (and, for class labels, stratified) train/validation/test split -> ``Splits``.

    Each class is split in the same proportions when ``stratify`` is true
    (default: true when ``y`` holds integers). Features are standardised with
    the training split's mean and std when ``scale`` is true (``min_std``: see
    ``standardize``). The order within each split is shuffled.
    """
    rng = argcheck.generator(rng)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}")
    val_fraction = argcheck.number(val_fraction, "val_fraction", 0, 1, high_open=True)
    test_fraction = argcheck.number(test_fraction, "test_fraction", 0, 1, high_open=True)
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}")
    is_classes = np.issubdtype(y.dtype, np.integer)
    if stratify is None:
        stratify = is_classes
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    parts = {"train": [], "val": [], "test": []}
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = int(round(test_fraction * len(idx)))
        n_val = int(round(val_fraction * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    index = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    if len(index["train"]) == 0:
        raise ValueError("the training split is empty; use smaller fractions or more samples")
    Xs = [X[index[k]] for k in ("train", "val", "test")]
    if scale:
        *Xs, mean, std = standardize(*Xs, min_std=min_std)
    else:
        mean, std = np.zeros(X.shape[1]), np.ones(X.shape[1])
    ys = [y[index[k]] for k in ("train", "val", "test")]
    n_classes = int(y.max()) + 1 if is_classes and len(y) else 0
    class_names = tuple(str(c) for c in range(n_classes))
    return Splits(Xs[0], ys[0], Xs[1], ys[1], Xs[2], ys[2], mean, std,
                  X.shape[1], n_classes, class_names, description)


# --------------------------------------------------------------------------- digits

def _data_file(name):
    return importlib.resources.files("optlessons").joinpath("_data", name)


def _read_credit():
    try:
        return _data_file("digits.txt").read_text()
    except (FileNotFoundError, OSError):   # pragma: no cover - only if the package is broken
        return "UCI Optical Recognition of Handwritten Digits, Alpaydin & Kaynak (1998), CC BY 4.0."


DIGITS_CREDIT = _read_credit()


def load_digits_raw():
    """The shipped digits: (images uint8 (1797, 8, 8) with values 0..16, labels int64 (1797,))."""
    with _data_file("digits.npz").open("rb") as f, np.load(f) as npz:
        return npz["images"].copy(), npz["labels"].astype(np.int64)


def load_digits(rng_or_seed=0, val_fraction=0.15, test_fraction=0.15):
    """The 8x8 handwritten digits, split and standardised -> ``Splits``.

    ``X_*`` are float arrays (n, 64) (pixels in reading order), ``y_*`` int64
    labels 0..9. The split is stratified by class and seeded with
    ``rng_or_seed`` (a Generator or an int); the default seed 0 gives the same
    split every time (1,259 / 269 / 269 images). Standardisation uses the
    training split's statistics only (``.mean``, ``.std``; to show a
    standardised row as an image: ``(x * s.std + s.mean).reshape(8, 8)``),
    with each pixel's std floored at 1 (one count of 16): a few border pixels
    are blank in nearly every training image, and dividing by their tiny std
    would turn a stray stroke in a test image into a value of 30 or more.

    Data: UCI "Optical Recognition of Handwritten Digits", E. Alpaydin and
    C. Kaynak (1998), https://doi.org/10.24432/C50P49, CC BY 4.0.
    """
    images, labels = load_digits_raw()
    return split(images.reshape(len(images), -1), labels, argcheck.generator(rng_or_seed, "rng_or_seed"),
                 val_fraction=val_fraction, test_fraction=test_fraction, stratify=True,
                 min_std=1.0, description=DIGITS_CREDIT)


# --------------------------------------------------------------------------- a recorded torch run

class TorchReference(NamedTuple):
    """One trajectory recorded from ``torch.optim`` (float64), to replay with ``optlessons.optim``."""
    optimizer: str         # the torch.optim class, e.g. "Adam"
    kwargs: dict           # its keyword arguments, e.g. {"lr": 0.01}
    lr_schedule: list      # [(steps done, lr from then on)]: the lr set through param_groups
    points: np.ndarray     # (steps + 1, 2): θ_0 (the start) … θ_T on Rosenbrock (1 − x)² + 100 (y − x²)²
    torch_version: str


def load_torch_reference():
    """torch 2.13's ``Adam(lr=0.01)`` on Rosenbrock from (−1.2, 1), 300 steps, lr halved after 150.

    A copy of one run of ``tests/data/torch_references.npz`` (written by
    ``scripts/record_torch_references.py``; a test keeps the two equal), shipped so
    that a notebook can show PyTorch's own numbers without torch installed.
    """
    with _data_file("torch_adam_rosenbrock.npz").open("rb") as f, np.load(f) as npz:
        meta = json.loads(str(npz["meta"]))
        points = npz["xy"].copy()
    return TorchReference(meta["optimizer"], meta["kwargs"], [tuple(s) for s in meta["lr_schedule"]],
                          points, meta["torch_version"])


# --------------------------------------------------------------------------- label noise

def flip_labels(y, fraction, n_classes, rng):
    """Labels with about ``fraction`` of them replaced by a *different* class, chosen uniformly.

    Each label is flipped with probability ``fraction`` (independently); a flipped label k
    becomes (k + j) mod n_classes with j uniform in 1 .. n_classes − 1. Returns a new array.
    """
    rng = argcheck.generator(rng)
    fraction = argcheck.number(fraction, "fraction", 0, 1, high_open=True)
    n_classes = argcheck.integer(n_classes, "n_classes", 2)
    y = np.asarray(y)
    flip = rng.random(len(y)) < fraction
    other = (y + rng.integers(1, n_classes, len(y))) % n_classes
    return np.where(flip, other, y).astype(y.dtype)


def with_label_noise(splits, fraction, rng):
    """``splits`` with noisy training and validation labels (``flip_labels``) and clean test labels.

    Training and validation are what you would collect, so both carry the noise; the
    test labels stay clean, so the test accuracy measures how well the model learned the
    true classes. The description says how many labels were flipped.
    """
    rng = argcheck.generator(rng)
    if not splits.n_classes:
        raise ValueError("with_label_noise needs a classification split (n_classes >= 2)")
    y_train = flip_labels(splits.y_train, fraction, splits.n_classes, rng)
    y_val = flip_labels(splits.y_val, fraction, splits.n_classes, rng)
    flipped = int(np.sum(y_train != splits.y_train) + np.sum(y_val != splits.y_val))
    note = (f"label noise: {flipped} of {len(y_train) + len(y_val)} training and validation labels "
            f"flipped (fraction {fraction:g}); test labels clean")
    return splits._replace(y_train=y_train, y_val=y_val, description=f"{splits.description}\n{note}")
