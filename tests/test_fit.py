"""optlessons.train.fit: batches, schedules, validation, divergence, seeding, bad input."""

import warnings

import numpy as np
import pytest

from optlessons import data, models, optim, schedules, train
from optlessons.progress import ProgressBar


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
    assert train.fitting._all_finite(1.0, ok) and train.fitting._all_finite(1.0, np.ones(3))
    for bad in (np.nan, np.inf, -np.inf):
        assert not train.fitting._all_finite(1.0, {"W": np.array([[1.0, bad]]), "b": np.zeros(2)})
        assert not train.fitting._all_finite(bad, ok)

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


def test_the_progress_bar_is_quiet_outside_a_kernel_and_never_stops_the_run(blobs, capsys):
    bar = ProgressBar(epochs=3, steps_per_epoch=9)
    with_bar, without = run(blobs, batch_size=8, epochs=3, callback=bar), run(blobs, batch_size=8, epochs=3)
    assert bar.bar is None and capsys.readouterr() == ("", "")
    assert not with_bar.stopped and np.array_equal(with_bar.loss, without.loss)


def test_the_progress_bar_moves_once_per_epoch_in_a_kernel(blobs, monkeypatch):
    from optlessons import progress
    shown, seen = [], []
    monkeypatch.setattr(progress, "_in_a_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    bar = ProgressBar(epochs=3, steps_per_epoch=9)

    def watch(t, loss, params):
        stop = bar(t, loss, params)
        seen.append(bar.bar.value)
        return stop

    h = run(blobs, batch_size=8, epochs=3, callback=watch)
    assert shown == [bar.bar] and seen == [0] * 8 + [1] * 9 + [2] * 9 + [3]      # 9 steps per epoch
    assert bar.bar.bar_style == "success" and bar.bar.description == f"epoch 3/3 loss {h.loss[-1]:.3g}"


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
    ({"schedule": "multistep"}, ValueError, r"needs more than a peak lr.*schedules.multistep\(lr, milestones"),
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


# ---------------------------------------------------------------------------
# Gradient clipping, weight averaging, callbacks, ReduceLROnPlateau in fit
# ---------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st          # noqa: E402
from hypothesis.extra import numpy as hnp                          # noqa: E402

quick = settings(deadline=None, max_examples=60)
entries = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
norm_types = st.sampled_from([1.0, 2.0, 3.0, 0.5, float("inf"), "inf"])


@st.composite
def gradient_sets(draw):
    """An array, or a dict of 1 to 3 arrays of assorted shapes."""
    shape = hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)
    if draw(st.booleans()):
        return draw(hnp.arrays(np.float64, shape, elements=entries))
    n = draw(st.integers(1, 3))
    return {f"g{i}": draw(hnp.arrays(np.float64, shape, elements=entries)) for i in range(n)}


def _as_dict(grads):
    return grads if isinstance(grads, dict) else {"": grads}


@quick
@given(grads=gradient_sets(), max_norm=st.floats(0, 100), norm_type=norm_types)
def test_clip_grad_norm_bounds_the_global_norm_keeps_the_direction_and_never_mutates(grads, max_norm, norm_type):
    before = {k: v.copy() for k, v in _as_dict(grads).items()}
    clipped, total = train.clip_grad_norm(grads, max_norm, norm_type)
    assert type(clipped) is type(grads)
    for k, v in _as_dict(grads).items():
        np.testing.assert_array_equal(v, before[k])                      # the input is untouched
        assert not np.shares_memory(_as_dict(clipped)[k], v)
    p = float(norm_type)
    flat = np.concatenate([np.ravel(v) for v in before.values()])
    assert total == pytest.approx(np.linalg.norm(flat, ord=p) if flat.size else 0.0, rel=1e-9)
    new_flat = np.concatenate([np.ravel(v) for v in _as_dict(clipped).values()])
    new_norm = np.linalg.norm(new_flat, ord=p) if flat.size else 0.0
    assert new_norm <= max_norm * (1 + 1e-6) + 1e-300
    if total + 1e-6 <= max_norm:
        np.testing.assert_array_equal(new_flat, flat)                    # below the threshold: unchanged
    elif total > 0:
        i = np.argmax(np.abs(flat))
        scale = new_flat[i] / flat[i]                                    # one factor for every entry:
        assert 0 <= scale < 1                                            # the direction is kept
        np.testing.assert_allclose(new_flat, scale * flat, rtol=1e-12, atol=1e-300)


def test_clip_grad_norm_is_global_not_per_array():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([0.0, 4.0])}      # ‖a‖ = 3, ‖b‖ = 4, global 5
    clipped, total = train.clip_grad_norm(grads, 1.0)
    assert total == 5.0
    np.testing.assert_allclose(clipped["a"], [0.6 / (1 + 2e-7), 0.0], rtol=1e-9)
    np.testing.assert_allclose(clipped["b"], [0.0, 0.8 / (1 + 2e-7)], rtol=1e-9)
    _, inf_norm = train.clip_grad_norm(grads, 1.0, norm_type=float("inf"))
    assert inf_norm == 4.0


def test_clip_grad_norm_non_finite_and_bad_arguments():
    clipped, total = train.clip_grad_norm(np.array([1.0, np.nan]), 1.0)
    assert np.isnan(total) and np.all(np.isnan(clipped))                # as torch, with error_if_nonfinite=False
    with pytest.raises(FloatingPointError, match="error_if_nonfinite"):
        train.clip_grad_norm({"w": np.array([np.inf])}, 1.0, error_if_nonfinite=True)
    for bad in (0, -1.0, "two", float("nan")):
        with pytest.raises(ValueError, match="norm_type"):
            train.clip_grad_norm(np.ones(2), 1.0, norm_type=bad)
    for bad in (-1.0, float("nan"), None):
        with pytest.raises(ValueError, match="max_norm"):
            train.clip_grad_norm(np.ones(2), bad)


def test_fit_clips_every_step_like_the_hand_written_loop(blobs):
    model = models.MLP(2, (8,), 3)
    p0 = model.init(0)
    h = train.fit(model, p0, optim.SGD(lr=0.5), blobs.X_train, blobs.y_train, epochs=3, clip_grad_norm=0.3)
    p, opt, norms = p0, optim.SGD(lr=0.5), []
    for _ in range(3):
        _, g = model.backward(p, blobs.X_train, blobs.y_train)
        g, n = train.clip_grad_norm(g, 0.3)
        norms.append(n)
        p = opt.step(p, g)
    np.testing.assert_allclose(h.grad_norm, norms, rtol=1e-12)
    assert np.any(h.grad_norm > 0.3)                                     # some steps were clipped
    for k in p:
        np.testing.assert_allclose(h.params[k], p[k], rtol=1e-12)
    assert run(blobs, batch_size=8).grad_norm is None


def test_clipping_tames_exploding_gradients():
    d = data.linear_regression(np.random.default_rng(0), n_samples=64, n_features=3, noise=0.1)
    X = 30.0 * d.X                                                       # a badly scaled input: huge gradients
    model = models.LinearRegression(3)
    plain = train.fit(model, model.init(0), optim.SGD(lr=0.01), X, d.y, epochs=200)
    clipped = train.fit(model, model.init(0), optim.SGD(lr=0.01), X, d.y, epochs=200, clip_grad_norm=1.0)
    assert plain.diverged and not clipped.diverged
    assert clipped.train_loss[-1] < clipped.train_loss[0]
    assert np.max(clipped.grad_norm) > 1e2                               # the gradients did explode


def test_fit_keeps_an_ema_of_the_weights_equal_to_weight_ema(blobs):
    model = models.SoftmaxRegression(2, 3)
    seen = []
    h = run(blobs, batch_size=8, ema_decay=0.9, callback=lambda t, loss, params: seen.append(params))
    ema = train.WeightEMA(0.9)
    for params in seen:
        ema.update(params)
    assert len(seen) == h.n_steps and not h.stopped
    for k in ema.params:
        np.testing.assert_allclose(h.ema_params[k], ema.params[k], rtol=1e-12)
    assert h.ema_val_loss.shape == h.val_loss.shape
    assert h.ema_val_loss[0] == h.val_loss[0]                            # before training: the initial model
    assert h.ema_val_loss[-1] == pytest.approx(model.loss(h.ema_params, blobs.X_val, blobs.y_val))
    assert run(blobs, batch_size=8).ema_params is None


@pytest.mark.slow  # make test-fast leaves it to make test: many noisy runs
def test_the_average_of_noisy_sgd_weights_generalizes_better_than_the_last_weights():
    """Measured: single-example SGD with a large lr jitters around the minimum; the EMA sits nearer it."""
    d = data.blobs(np.random.default_rng(3), n_samples=300, n_classes=3, n_features=2, spread=1.5)
    splits = data.split(d.X, d.y, 0, val_fraction=0.3, test_fraction=0.0)
    model = models.SoftmaxRegression(2, 3)
    gaps = []
    for seed in range(3):
        h = train.fit(model, model.init(seed), optim.SGD(lr=1.0), splits, epochs=5, batch_size=1,
                      rng=seed, ema_decay=0.99)
        gaps.append(h.val_loss[-1] - h.ema_val_loss[-1])
    assert min(gaps) > 0, gaps


def test_a_callback_can_stop_the_run(blobs):
    h = run(blobs, batch_size=8, callback=lambda t, loss, params: t == 12)
    assert h.stopped and h.n_steps == 13 and "stopped by the callback after step 12" in h.message
    assert not h.diverged and len(h.train_loss) == 3                     # epoch 0, epoch 1, and where it stopped


def test_reduce_lr_on_plateau_steps_once_per_epoch_with_the_validation_loss(blobs):
    plateau = schedules.ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.2)
    h = run(blobs, batch_size=24, epochs=6, schedule=plateau)
    replay = schedules.ReduceLROnPlateau(0.5, patience=0, factor=0.5, threshold=0.2)
    expected = [replay.lr] + [replay.step(v) for v in h.val_loss[1:-1]]
    np.testing.assert_allclose(h.lr, np.repeat(expected, 3))            # 3 steps per epoch
    assert h.lr[-1] < h.lr[0]                                            # it did reduce


@pytest.mark.parametrize("kwargs, error, match", [
    ({"clip_grad_norm": 0.0}, ValueError, "clip_grad_norm"),
    ({"clip_grad_norm": -1.0}, ValueError, "clip_grad_norm"),
    ({"ema_decay": 1.5}, ValueError, "decay"),
    ({"callback": 3}, TypeError, "callback"),
])
def test_bad_new_arguments_raise_clear_errors(blobs, kwargs, error, match):
    with pytest.raises(error, match=match):
        run(blobs, **kwargs)


def test_weight_ema_edges_and_purity():
    ema = train.WeightEMA(0.5)
    first = {"w": np.array([1.0, 2.0])}
    ema.update(first)
    first["w"][0] = 100.0                                                # the average holds a copy
    assert ema.update({"w": np.array([3.0, 4.0])})["w"].tolist() == [2.0, 3.0]
    assert train.WeightEMA(0.0).update(np.ones(2)).tolist() == [1.0, 1.0]
    still = train.WeightEMA(1.0)
    still.update(np.zeros(2))
    assert still.update(np.ones(2)).tolist() == [0.0, 0.0] and still.n_averaged == 2
    a, b = np.zeros(2), np.ones(2)
    assert train.ema_update(a, b, 0.75).tolist() == [0.25, 0.25] and a.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"decay must be a number in \[0, 1\]"):
        train.WeightEMA(-0.1)


def test_one_cycle_by_name_takes_the_optimizers_lr_as_its_peak(blobs):
    h = run(blobs, batch_size=24, schedule="one_cycle", opt=optim.SGD(lr=0.2))     # 4 epochs of 3 steps
    np.testing.assert_allclose(h.lr, schedules.one_cycle(0.2, total_steps=12)(np.arange(12)), rtol=1e-12)
    assert 0.19 < h.lr.max() <= 0.2 and h.lr[0] == pytest.approx(0.2 / 25)   # the peak falls between steps


@pytest.mark.parametrize("opt", [optim.Rprop(lr=0.01), optim.ASGD(lr=0.5, t0=5), optim.Adafactor(lr=0.1),
                                 optim.Lion(lr=0.03), optim.ScheduleFreeSGD(lr=0.5),
                                 optim.ScheduleFreeAdamW(lr=0.2), optim.LBFGS(max_iter=3, line_search_fn="strong_wolfe")],
                         ids=lambda o: type(o).__name__)
def test_fit_trains_with_the_lesson_11_optimizers(blobs, opt):
    h = run(blobs, batch_size=24, opt=opt)
    assert not h.diverged and h.val_loss[-1] < 0.5 * h.val_loss[0]


def test_fit_gives_lbfgs_a_closure_on_each_batch_and_refuses_to_clip_it(blobs):
    seen = []
    opt = optim.LBFGS(max_iter=2)
    step = opt.step
    opt.step = lambda params, closure: seen.append(closure(params)[0]) or step(params, closure)
    h = run(blobs, batch_size=24, opt=opt)
    np.testing.assert_allclose(seen, h.loss)                  # the closure is the batch's loss
    with pytest.raises(ValueError, match="clip_grad_norm cannot clip LBFGS's gradients"):
        run(blobs, opt=optim.LBFGS(), clip_grad_norm=1.0)
