"""optlessons.search: grid and random search rows, summaries, and picking the best lr."""

import math
import warnings

import numpy as np
import pytest

from optlessons import data, models, optim, search


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
