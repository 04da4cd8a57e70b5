"""optlessons.data: synthetic data with a known answer, and the shipped digits."""

import numpy as np
import pytest

from optlessons import data


def test_linear_regression_recovers_the_true_weights_by_least_squares():
    d = data.linear_regression(np.random.default_rng(0), n_samples=2000, n_features=3, noise=0.1, bias=0.5)
    A = np.column_stack([d.X, np.ones(len(d.X))])
    solution = np.linalg.lstsq(A, d.y, rcond=None)[0]
    np.testing.assert_allclose(solution[:3], d.weights, atol=0.01)
    assert abs(solution[3] - 0.5) < 0.01
    residual = d.y - A @ solution
    assert abs(residual.std() - 0.1) < 0.01


def test_same_seed_same_data_different_seed_different_data():
    a = data.blobs(np.random.default_rng(3), n_samples=50, n_classes=3)
    b = data.blobs(np.random.default_rng(3), n_samples=50, n_classes=3)
    c = data.blobs(np.random.default_rng(4), n_samples=50, n_classes=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_blobs_have_balanced_labels_around_their_centres(n_classes):
    d = data.blobs(np.random.default_rng(1), n_samples=100 * n_classes, n_classes=n_classes,
                   n_features=4, spread=0.5)
    assert d.X.shape == (100 * n_classes, 4) and d.y.dtype == np.int64
    assert np.bincount(d.y).tolist() == [100] * n_classes
    for k in range(n_classes):
        np.testing.assert_allclose(d.X[d.y == k].mean(axis=0), d.centers[k], atol=0.2)


def test_synthetic_data_needs_an_explicit_generator():
    with pytest.raises(TypeError, match="Generator"):
        data.blobs(None)
    with pytest.raises(ValueError, match="n_classes"):
        data.blobs(np.random.default_rng(0), n_classes=1)
    with pytest.raises(ValueError, match="weights"):
        data.linear_regression(np.random.default_rng(0), n_features=2, weights=[1.0])


def test_digits_ship_inside_the_package():
    images, labels = data.load_digits_raw()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    assert labels.dtype == np.int64 and np.bincount(labels).min() >= 170
    assert "CC BY 4.0" in data.DIGITS_CREDIT and "10.24432/C50P49" in data.DIGITS_CREDIT
    assert "Alpaydin" in data.DIGITS_CREDIT and "Kaynak" in data.DIGITS_CREDIT


def test_load_digits_splits_are_disjoint_stratified_and_standardised_with_train_statistics():
    s = data.load_digits(0)
    n = len(s.y_train) + len(s.y_val) + len(s.y_test)
    assert n == 1797 and s.n_features == 64 and s.n_classes == 10
    assert len(s.class_names) == 10
    assert abs(len(s.y_val) - 0.15 * n) < 10 and abs(len(s.y_test) - 0.15 * n) < 10
    for y in (s.y_val, s.y_test):   # every class in the same proportion
        counts = np.bincount(y, minlength=10)
        assert counts.max() - counts.min() <= 2
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    assert np.all(s.std >= 1.0)     # floored at one pixel count
    std = s.X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std < 1))
    assert np.all(np.isfinite(s.X_val)) and np.all(np.isfinite(s.X_test))
    # the splits are a partition of the raw images: undo the scaling and compare as multisets
    images, _ = data.load_digits_raw()
    restored = np.round(np.vstack([s.X_train, s.X_val, s.X_test]) * s.std + s.mean) + 0.0
    assert sorted(map(tuple, restored)) == sorted(map(tuple, images.reshape(-1, 64).astype(float)))


def test_load_digits_is_seeded():
    a, b, c = data.load_digits(0), data.load_digits(0), data.load_digits(1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_split_rejects_bad_input():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="different lengths"):
        data.split(X, y[:9], 0)
    with pytest.raises(ValueError, match="val_fraction"):
        data.split(X, y, 0, val_fraction=1.5)
    with pytest.raises(ValueError, match="< 1"):
        data.split(X, y, 0, val_fraction=0.5, test_fraction=0.5)


def test_split_of_regression_targets_is_not_stratified():
    d = data.linear_regression(0, n_samples=100, n_features=2)
    s = data.split(d.X, d.y, 0, val_fraction=0.2, test_fraction=0.1)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (70, 20, 10)
    assert s.n_classes == 0


def test_shipped_torch_reference_is_the_recorded_run_and_replays():
    """The notebooks' copy of torch's Adam run equals the tests' recording, and optlessons replays it."""
    import json
    import pathlib

    from optlessons.functions import rosenbrock
    from optlessons.optim import Adam

    ref = data.load_torch_reference()
    recorded = np.load(pathlib.Path(__file__).parent / "data" / "torch_references.npz")
    run = next(r for r in json.loads(str(recorded["meta"]))["runs"] if r["key"] == "run23")
    assert (ref.optimizer, ref.kwargs, run["class"], run["problem"]) == ("Adam", {"lr": 0.01}, "Adam", "rosenbrock")
    assert ref.lr_schedule == [tuple(s) for s in run["lr_schedule"]]
    np.testing.assert_array_equal(ref.points, recorded["run23_xy"])
    opt, theta, f = Adam(**ref.kwargs), ref.points[0], rosenbrock()
    schedule = dict(ref.lr_schedule)
    for t in range(len(ref.points) - 1):
        opt.lr = schedule.get(t, opt.lr)
        theta = opt.step(theta, f.gradient(theta))
        np.testing.assert_allclose(theta, ref.points[t + 1], rtol=0, atol=1e-12)
