"""optlessons.widgets_training (notebook 10's experiment) driven headlessly, and the helpers it
stands on: label noise, per-epoch snapshots, the early-stopping rule."""

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from optlessons import data, models, optim, schedules, train, widgets_training as wt  # noqa: E402


@pytest.fixture(scope="module")
def lab():
    return wt.schedule_experiment(epochs=3, warmup_steps=20)


def test_every_schedule_control_changes_the_result(lab):
    seen = {}
    for name in wt.SCHEDULE_NAMES:
        lab.controls["schedule"].value = name
        assert lab.error is None, lab.message.value
        seen[name] = lab.result.lrs
        assert lab.result.name == name and len(lab.result.lrs) == lab.result.history.n_steps == 3 * 20
        np.testing.assert_allclose(lab.result.history.lr, lab.result.lrs)      # fit ran the schedule drawn
    for a in wt.SCHEDULE_NAMES:
        for b in wt.SCHEDULE_NAMES:
            if a != b:
                assert not np.allclose(seen[a], seen[b]), (a, b)
    assert "clean test accuracy" in lab.message.value


def test_moving_lr_optimizer_and_seed_change_the_training(lab):
    lab.controls["schedule"].value = "cosine"
    before = lab.result.history.val_loss.copy()
    for name, value in (("lr", 0.01), ("optimizer", "Adam"), ("seed", 1)):
        lab.controls[name].value = value
        after = lab.result.history.val_loss
        assert not np.allclose(before, after), name
        before = after.copy()
    assert lab.result.optimizer == "Adam"
    with lab.hold():
        lab.controls["lr"].value, lab.controls["optimizer"].value = 0.03, "SGD, momentum 0.9"
        lab.controls["seed"].value = 0


def test_a_warmup_longer_than_the_run_is_a_sentence(lab):
    lab.controls["schedule"].value = "one-cycle"
    good = lab.result
    lab.controls["warmup_steps"].value = 400
    assert lab.error is not None and lab.result is good             # the last good figure stays
    assert "the warm-up must last from 1 to 59 updates" in lab.message.value
    lab.controls["warmup_steps"].value = 20
    assert lab.error is None


def test_a_learning_rate_that_blows_up_is_a_sentence(lab):
    lab.controls["schedule"].value = "constant"
    lab.controls["lr"].value = 3.0
    assert lab.error is None
    assert "too large" in lab.message.value or "diverged" in lab.message.value
    lab.controls["lr"].value = 0.03
    assert "too large" not in lab.message.value


def test_the_early_stopping_accuracy_is_that_of_the_best_epoch():
    lab = wt.schedule_experiment(schedule="constant", lr=0.1, epochs=8)
    r = lab.result
    assert r.best_epoch == int(np.argmin(r.history.val_loss))
    assert r.test_accuracy_best != r.test_accuracy_end                   # it overfits the noise by epoch 8


def test_build_schedule_matches_the_named_schedules():
    t = np.arange(100)
    np.testing.assert_allclose(wt.build_schedule("cosine", 0.1, 100, 10)(t), schedules.cosine(0.1, 100)(t))
    warm = wt.build_schedule("warm-up + cosine", 0.1, 100, 10)(t)
    assert warm[0] == pytest.approx(0.001) and warm[10] == pytest.approx(0.1) and warm[-1] < 1e-3
    assert np.argmax(wt.build_schedule("one-cycle", 0.1, 100, 30)(t)) == 29
    with pytest.raises(ValueError, match="unknown schedule 'linear'; choose from constant"):
        wt.build_schedule("linear", 0.1, 100, 10)


def test_label_noise_flips_to_other_classes_only_and_keeps_test_clean():
    clean = data.load_digits(0)
    noisy = data.with_label_noise(clean, 0.3, 0)
    changed = noisy.y_train != clean.y_train
    assert 0.25 < changed.mean() < 0.35
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)
    np.testing.assert_array_equal(noisy.X_train, clean.X_train)
    assert "flipped" in noisy.description
    assert np.all(data.flip_labels(clean.y_train, 0.999999, 10, 1) != clean.y_train)
    np.testing.assert_array_equal(data.flip_labels(clean.y_train, 0.0, 10, 1), clean.y_train)
    with pytest.raises(ValueError, match="fraction must be a number in"):
        data.flip_labels(clean.y_train, 1.5, 10, 0)


def test_epoch_snapshots_are_the_parameters_fit_evaluated():
    d = data.load_digits(0)
    model = models.SoftmaxRegression(64, 10)
    rng = np.random.default_rng(0)
    params = model.init(rng)
    snap = train.EpochSnapshots(-(-len(d.y_train) // 100), initial=params)
    h = train.fit(model, params, optim.SGD(lr=0.1), d, epochs=3, batch_size=100, rng=rng, callback=snap)
    assert not h.stopped and len(snap.params) == 4
    for e in range(4):
        assert model.loss(snap.params[e], d.X_val, d.y_val) == pytest.approx(h.val_loss[e])
    with pytest.raises(ValueError, match="steps_per_epoch must be an integer >= 1"):
        train.EpochSnapshots(0)


def test_early_stopping_rule_on_examples():
    assert train.early_stopping([3, 2, 1, 1.5, 1.6, 1.7], patience=3) == (5, 2)
    assert train.early_stopping([3, 2, 1, 1.5, 1.6], patience=3) == (None, 2)
    assert train.early_stopping([3, 2, 1.99, 1.98], patience=2, min_delta=0.05) == (3, 1)
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        train.early_stopping([1, 2], patience=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 10.0), min_size=2, max_size=30), st.integers(1, 6))
def test_early_stopping_properties(losses, patience):
    stopped, best = train.early_stopping(losses, patience)
    end = len(losses) - 1 if stopped is None else stopped
    assert losses[best] == min(losses[:end + 1])                     # best is the lowest up to the stop
    if stopped is not None:
        assert stopped - best == patience                           # it waited exactly `patience` epochs
    else:
        assert end - best < patience
