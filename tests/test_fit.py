"""optlessons.train.fit: batches, schedules, validation, divergence, seeding, bad input."""

import warnings

import numpy as np
import pytest

from optlessons import data, models, optim, schedules, train


@pytest.fixture(scope="module")
def blobs():
    d = data.blobs(np.random.default_rng(0), n_samples=90, n_classes=3, n_features=2, spread=0.7)
    return data.split(d.X, d.y, 0, val_fraction=0.2, test_fraction=0.0)


def run(blobs, **kw):
    model = models.SoftmaxRegression(2, 3)
    kw = {"epochs": 4, "rng": np.random.default_rng(1), **kw}
    return train.fit(model, model.init(np.random.default_rng(0)), kw.pop("opt", optim.SGD(lr=0.5)),
                     blobs.X_train, blobs.y_train, X_val=blobs.X_val, y_val=blobs.y_val, **kw)


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (1, 72), (10, 8), (72, 1), (32, 3)])
def test_steps_per_epoch_follow_the_batch_size(blobs, batch_size, steps_per_epoch):
    assert len(blobs.y_train) == 72
    h = run(blobs, batch_size=batch_size)
    assert h.steps_per_epoch == steps_per_epoch and h.n_steps == 4 * steps_per_epoch
    assert h.loss.shape == h.lr.shape == (h.n_steps,)
    for per_epoch in (h.epoch, h.train_loss, h.train_accuracy, h.val_loss, h.val_accuracy):
        assert per_epoch.shape == (5,)
    assert not h.diverged and "4 epochs" in h.message


def test_training_lowers_the_loss_and_reports_accuracy(blobs):
    h = run(blobs, batch_size=8, epochs=10)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.val_accuracy[-1] > 0.9 and h.train_accuracy[-1] > 0.9
    model = models.SoftmaxRegression(2, 3)
    assert h.val_loss[-1] == pytest.approx(model.loss(h.params, blobs.X_val, blobs.y_val))


def test_full_batch_gradient_descent_equals_the_hand_written_loop(blobs):
    model = models.SoftmaxRegression(2, 3)
    p0 = model.init(np.random.default_rng(0))
    h = train.fit(model, p0, optim.SGD(lr=0.3), blobs.X_train, blobs.y_train, epochs=5)
    p = p0
    for _ in range(5):
        _, g = model.backward(p, blobs.X_train, blobs.y_train)
        p = {k: p[k] - 0.3 * g[k] for k in p}
    for k in p:
        np.testing.assert_allclose(h.params[k], p[k], rtol=1e-12)


def test_seeded_runs_give_identical_histories(blobs):
    a = run(blobs, batch_size=5, opt=optim.Adam(lr=0.05))
    b = run(blobs, batch_size=5, opt=optim.Adam(lr=0.05))
    c = train.fit(models.SoftmaxRegression(2, 3), models.SoftmaxRegression(2, 3).init(np.random.default_rng(0)),
                  optim.Adam(lr=0.05), blobs.X_train, blobs.y_train, epochs=4, batch_size=5,
                  rng=np.random.default_rng(2))
    for field in ("loss", "lr", "train_loss", "val_loss", "val_accuracy"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.loss, c.loss)    # another shuffle seed, other mini-batches


def test_each_epoch_visits_every_sample_once(blobs):
    class Recorder(models.SoftmaxRegression):
        seen = []

        def backward(self, params, X, y, need_grads=True):
            if need_grads:                      # training steps only, not the evaluations
                self.seen.append(X.copy())
            return super().backward(params, X, y, need_grads)

    model = Recorder(2, 3)
    train.fit(model, model.init(0), optim.SGD(lr=0.1), blobs.X_train, blobs.y_train, epochs=2,
              batch_size=10, rng=np.random.default_rng(0))
    epoch1, epoch2 = np.vstack(model.seen[:8]), np.vstack(model.seen[8:16])
    key = lambda X: sorted(map(tuple, X))
    assert key(epoch1) == key(epoch2) == key(blobs.X_train)
    assert not np.array_equal(epoch1, epoch2)    # reshuffled


def test_schedule_sets_the_learning_rate_of_each_step(blobs):
    h = run(blobs, batch_size=24, schedule=schedules.step_decay(0.4, step_size=3, gamma=0.5))
    np.testing.assert_allclose(h.lr, [0.4] * 3 + [0.2] * 3 + [0.1] * 3 + [0.05] * 3)
    h = run(blobs, batch_size=24, schedule="cosine", opt=optim.SGD(lr=0.2))   # built from opt.lr and 12 steps
    np.testing.assert_allclose(h.lr, schedules.cosine(0.2, total_steps=12)(np.arange(12)))


def test_diverging_run_stops_with_a_reason_and_no_warning(blobs):
    model = models.MLP(2, (8,), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = train.fit(model, model.init(0), optim.SGD(lr=1e6), blobs.X_train, blobs.y_train,
                      epochs=50, batch_size=8, rng=np.random.default_rng(0))
    assert h.diverged
    assert "diverged" in h.message and "smaller learning rate" in h.message
    assert h.n_epochs < 50
    assert np.all(np.isfinite(h.loss)) and np.all(np.isfinite(h.train_loss))
    assert all(np.all(np.isfinite(v)) for v in h.params.values())



def test_finite_check_of_loss_and_gradients():
    # fit's quick check is ‖g‖² = g·g per gradient; one that overflows gets a closer look.
    ok = {"W": np.array([[1e200, -1e300]]), "b": np.zeros(2)}
    assert train._all_finite(1.0, ok) and train._all_finite(1.0, np.ones(3))
    for bad in (np.nan, np.inf, -np.inf):
        assert not train._all_finite(1.0, {"W": np.array([[1.0, bad]]), "b": np.zeros(2)})
        assert not train._all_finite(bad, ok)

def test_a_splits_record_can_be_passed_as_the_data(blobs):
    model = models.SoftmaxRegression(2, 3)
    h = train.fit(model, model.init(0), optim.SGD(lr=0.5), blobs, epochs=2)
    assert np.all(np.isfinite(h.val_loss))


def test_regression_history_has_nan_accuracy():
    d = data.linear_regression(np.random.default_rng(0), n_samples=40, n_features=2)
    model = models.LinearRegression(2)
    h = train.fit(model, model.init(0), optim.SGD(lr=0.1), d.X, d.y, epochs=3)
    assert np.all(np.isnan(h.train_accuracy)) and np.all(np.isnan(h.val_loss))
    assert set(h.final()) >= {"train_loss", "val_loss", "diverged", "wall_time"}


def test_progress_is_quiet_outside_a_kernel(blobs, capsys):
    run(blobs, batch_size=8, progress=True)
    run(blobs, batch_size=8)
    assert capsys.readouterr() == ("", "")


def test_params_given_are_never_written_into(blobs):
    model = models.SoftmaxRegression(2, 3)
    p0 = model.init(0)
    before = {k: v.copy() for k, v in p0.items()}
    train.fit(model, p0, optim.Adam(lr=0.1), blobs.X_train, blobs.y_train, epochs=2, batch_size=4, rng=0)
    for k in p0:
        np.testing.assert_array_equal(p0[k], before[k])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 73}, ValueError, r"batch_size.*72"),
    ({"batch_size": 2.5}, ValueError, "batch_size"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"schedule": "cosin"}, ValueError, "known schedules: constant"),
    ({"schedule": "step_decay"}, ValueError, "step_size"),
    ({"schedule": 0.1}, TypeError, "schedule"),
    ({"batch_size": 8, "rng": None}, ValueError, "rng"),
    ({"X_val": np.zeros((3, 2))}, ValueError, "both X_val and y_val"),
])
def test_bad_arguments_raise_clear_errors(blobs, kwargs, error, match):
    model = models.SoftmaxRegression(2, 3)
    kw = {"epochs": 2, **kwargs}
    with pytest.raises(error, match=match):
        train.fit(model, model.init(0), optim.SGD(lr=0.1), blobs.X_train, blobs.y_train, **kw)


def test_mismatched_data_raises_clear_errors(blobs):
    model = models.SoftmaxRegression(2, 3)
    p = model.init(0)
    with pytest.raises(ValueError, match="different lengths: 72 and 71"):
        train.fit(model, p, optim.SGD(lr=0.1), blobs.X_train, blobs.y_train[:-1], epochs=1)
    with pytest.raises(ValueError, match="validation data: X and y have different lengths"):
        train.fit(model, p, optim.SGD(lr=0.1), blobs.X_train, blobs.y_train, epochs=1,
                  X_val=blobs.X_val, y_val=blobs.y_val[:-1])
    with pytest.raises(ValueError, match="n_features=2"):
        train.fit(model, p, optim.SGD(lr=0.1), np.zeros((72, 3)), blobs.y_train, epochs=1)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        train.fit(model, p, optim.SGD(lr=0.1), blobs.X_train, blobs.y_train + 1, epochs=1)
