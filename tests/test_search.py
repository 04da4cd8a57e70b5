"""optlessons.search: grid and random search rows, summaries, and picking the best lr."""

import math
import warnings

import numpy as np
import pytest

from optlessons import data, models, optim, schedules, search, train


@pytest.fixture(scope="module")
def toy():
    d = data.linear_regression(np.random.default_rng(0), n_samples=60, n_features=3, noise=0.1)
    return data.split(d.X, d.y, 0, val_fraction=0.25, test_fraction=0.0)


def fake_run(seed, lr, momentum=0.0):
    """Validation loss is lowest at lr = 0.1, plus a little seed noise."""
    return {"val_loss": (math.log10(lr) + 1) ** 2 + 0.01 * seed, "diverged": lr > 5}


def test_grid_search_has_one_row_per_setting_and_seed():
    table = search.grid_search(fake_run, {"lr": [0.01, 0.1, 1.0], "momentum": [0.0, 0.9]}, seeds=(0, 1))
    assert len(table) == 3 * 2 * 2 and table.settings == ["lr", "momentum"]
    assert table[0] == {"lr": 0.01, "momentum": 0.0, "seed": 0, "val_loss": 1.0, "diverged": False}
    assert {(r["lr"], r["momentum"], r["seed"]) for r in table} == {
        (lr, m, s) for lr in (0.01, 0.1, 1.0) for m in (0.0, 0.9) for s in (0, 1)}
    np.testing.assert_allclose(table.column("lr")[:4], [0.01, 0.01, 0.01, 0.01])
    summary = table.summary()
    assert len(summary) == 6 and summary[0]["n_seeds"] == 2
    assert summary[0]["val_loss_mean"] == pytest.approx(1.005)
    assert table.best()["lr"] == 0.1


def test_a_diverged_seed_makes_the_setting_lose():
    table = search.grid_search(fake_run, {"lr": [10.0, 100.0]}, seeds=(0,))
    summary = table.summary()
    assert all(r["n_diverged"] == 1 and r["val_loss_mean"] == math.inf for r in summary)


def test_random_search_draws_seeded_settings_in_range():
    space = {"lr": search.log_uniform(1e-4, 1.0), "momentum": search.choice([0.0, 0.9])}
    a = search.random_search(fake_run, space, n_trials=12, rng=0, seeds=(0, 1, 2))
    b = search.random_search(fake_run, space, n_trials=12, rng=0, seeds=(0, 1, 2))
    assert len(a) == 36 and a == b
    lrs = a.column("lr")
    assert np.all((lrs >= 1e-4) & (lrs <= 1.0))
    assert np.std(np.log10(lrs[::3])) > 0.5     # spread in log space
    assert set(a.column("momentum")) <= {0.0, 0.9}


def test_bad_search_arguments():
    with pytest.raises(ValueError, match="grid"):
        search.grid_search(fake_run, {})
    with pytest.raises(ValueError, match="non-empty list"):
        search.grid_search(fake_run, {"lr": []})
    with pytest.raises(ValueError, match="seeds"):
        search.grid_search(fake_run, {"lr": [0.1]}, seeds=())
    with pytest.raises(ValueError, match="low < high"):
        search.log_uniform(1.0, 0.1)
    with pytest.raises(ValueError, match="n_trials"):
        search.random_search(fake_run, {"lr": search.uniform(0, 1)}, n_trials=0, rng=0)


def test_tune_lr_picks_the_best_learning_rate_on_a_toy_problem(toy):
    model = models.LinearRegression(3)
    lrs = [1e-3, 1e-2, 1e-1, 0.5, 3.0]
    best, table = search.tune_lr(optim.SGD, lrs, model, toy, epochs=20, seeds=(0, 1))
    assert len(table) == 10
    # 20 full-batch steps: lr 1e-3 and 1e-2 barely move, 3.0 blows up
    assert best["lr"] in (0.1, 0.5) and not best["at_edge"]
    by_lr = {r["lr"]: r for r in table.summary()}
    assert by_lr[3.0]["val_loss_mean"] > 1e6
    assert by_lr[1e-3]["val_loss_mean"] > by_lr[best["lr"]]["val_loss_mean"]


def test_compare_optimizers_tunes_each_optimizer_separately(toy):
    model = models.LinearRegression(3)
    result = search.compare_optimizers(
        {"SGD": optim.SGD, "Adam": optim.Adam}, model, toy,
        lrs={"SGD": [0.01, 0.1, 0.5], "Adam": [0.01, 0.1, 0.5]}, epochs=10, batch_size=8, seeds=(0, 1))
    assert [r["optimizer"] for r in result.best] == ["SGD", "Adam"]
    assert set(result.tables) == {"SGD", "Adam"} and len(result.tables["Adam"]) == 6
    for row in result.best:
        tuned = result.tables[row["optimizer"]].summary()
        assert row["val_loss_mean"] == min(r["val_loss_mean"] for r in tuned)


def test_trainer_rows_are_reproducible(toy):
    run = search.trainer(models.LinearRegression(3), toy, optim.SGD, epochs=3, batch_size=4)
    a, b = run(seed=1, lr=0.1), run(seed=1, lr=0.1)
    a.pop("wall_time"), b.pop("wall_time")
    assert a == pytest.approx(b, rel=0, abs=0, nan_ok=True)
    assert a["epochs"] == 3 and a["steps"] == 3 * 12 and not a["diverged"]
    assert math.isnan(a["val_accuracy"])     # a regression model has no accuracy


def test_a_huge_finite_loss_summarises_without_numpy_warnings():
    rows = [{"lr": 10.0, "seed": s, "val_loss": 1e290 * (s + 1), "diverged": False} for s in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = search.Table(rows, ["lr"]).summary(metrics=("val_loss",))
    assert summary[0]["val_loss_mean"] == pytest.approx(2e290) and summary[0]["val_loss_std"] == math.inf


# --------------------------------------------------------------------------- the range test

@pytest.fixture(scope="module")
def digits():
    return data.load_digits(0)


def test_lr_find_on_the_digits_stops_at_divergence(digits):
    """(Its speed: benchmarks/bench_loops.py.)"""
    model = models.MLP(64, (32,), 10)
    result = search.lr_find(model, digits, optim.SGD, rng=0)
    n = len(result.lrs)
    assert result.stopped_at == n - 1 and n < 100                # SGD blows up before lr = 10
    assert len(result.losses) == len(result.smoothed) == n
    np.testing.assert_allclose(result.lrs, 1e-7 * (10 / 1e-7) ** (np.arange(n) / 99), rtol=1e-12)
    best = np.minimum.accumulate(result.smoothed)
    assert result.smoothed[-1] > 4 * best[-1]                    # it stopped because the loss blew up ...
    assert np.all(result.smoothed[:-1] <= 4 * best[:-1])         # ... and not before
    assert result.suggestion == result.lr_min / 10
    assert 1e-2 < result.suggestion < result.lr_min < result.lrs[-1]
    kept = slice(10, n - 5)
    assert result.lr_min == result.lrs[kept][np.argmin(result.smoothed[kept])]


def test_lr_find_smooths_the_losses_of_fits_steps(toy):
    model = models.LinearRegression(3)
    p0 = model.init(0)
    before = {k: v.copy() for k, v in p0.items()}
    result = search.lr_find(model, toy, optim.SGD, start_lr=1e-4, end_lr=1e-2, num_steps=30, batch_size=8,
                            rng=1, params=p0, smooth=0.9)
    assert result.stopped_at is None and len(result.lrs) == 30 and result.lrs[-1] == pytest.approx(1e-2)
    avg, expected = 0.0, []
    for t, loss in enumerate(result.losses):
        avg = 0.9 * avg + 0.1 * loss
        expected.append(avg / (1 - 0.9 ** (t + 1)))
    np.testing.assert_allclose(result.smoothed, expected, rtol=1e-12)
    assert result.smoothed[0] == result.losses[0]                # the bias correction: no start-up from 0
    # The same steps as fit with that ramp: the range test is fit with a schedule and a callback.
    h = train.fit(model, p0, optim.SGD(lr=1e-4), toy.X_train, toy.y_train, epochs=6, batch_size=8,
                  rng=np.random.default_rng(1), schedule=lambda t: 1e-4 * 100 ** (t / 29))
    np.testing.assert_allclose(result.losses, h.loss[:30], rtol=1e-12)
    for k in p0:
        np.testing.assert_array_equal(p0[k], before[k])


def test_lr_find_reports_a_loss_that_stops_being_finite(toy):
    model = models.LinearRegression(3)
    result = search.lr_find(model, toy, optim.SGD, start_lr=1e-3, end_lr=1e12, num_steps=200, batch_size=8,
                            diverge_factor=1e300, rng=0)
    assert result.stopped_at == len(result.lrs) < 200
    assert np.all(np.isfinite(result.losses))


@pytest.mark.parametrize("kwargs, match", [
    ({"start_lr": 0.0}, "start_lr"),
    ({"end_lr": float("inf")}, "end_lr"),
    ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr must be < end_lr"),
    ({"num_steps": 1}, "num_steps"),
    ({"smooth": 1.0}, r"smooth must be a number in \[0, 1\)"),
    ({"diverge_factor": 1.0}, "diverge_factor must be a number > 1"),
])
def test_lr_find_bad_arguments(toy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        search.lr_find(models.LinearRegression(3), toy, optim.SGD, **kwargs)


def test_trainer_takes_clipping_as_a_setting_and_a_fresh_plateau_for_each_run(toy):
    model = models.LinearRegression(3)
    run = search.trainer(model, toy, optim.SGD, epochs=4, batch_size=16,
                         schedule=schedules.ReduceLROnPlateau(0.05, patience=0, factor=0.5, threshold=0.5))
    table = search.grid_search(run, {"lr": [0.05], "clip_grad_norm": [1e-3, 10.0]}, seeds=(0, 0))
    assert table.column("clip_grad_norm").tolist() == [1e-3, 1e-3, 10.0, 10.0]
    assert table[0]["val_loss"] > table[2]["val_loss"]           # a tiny max norm barely moves the weights
    assert table[0]["val_loss"] == table[1]["val_loss"]          # same seed: the plateau restarted each run
