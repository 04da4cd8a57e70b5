"""optlessons.widgets.training (notebook 10's experiment) driven headlessly, and the helpers it
stands on: label noise, per-epoch snapshots, the early-stopping rule."""

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from optlessons import data, models, optim, schedules, train  # noqa: E402
from optlessons.widgets import training as wt  # noqa: E402


LABELS = [schedules.REGISTRY[name].label for name in schedules.RUN_SCHEDULES]


@pytest.fixture(scope="module")
def lab():
    return wt.schedule_experiment(epochs=3, warmup_steps=20)


def test_every_schedule_control_changes_the_result(lab):
    seen = {}
    for name in LABELS:
        lab.controls["schedule"].value = name
        assert lab.error is None, lab.message.value
        seen[name] = lab.result.lrs
        assert lab.result.name == name and len(lab.result.lrs) == lab.result.history.n_steps == 3 * 20
        np.testing.assert_allclose(lab.result.history.lr, lab.result.lrs)      # fit ran the schedule drawn
    for a in LABELS:
        for b in LABELS:
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
    assert "shorten the warm-up" in lab.message.value
    lab.controls["warmup_steps"].value = 20
    assert lab.error is None


@pytest.mark.parametrize("schedule, advice", [("warm-up + cosine", "pick 'cosine'"),
                                              ("one-cycle", "needs at least one update to rise")])
def test_a_warmup_of_zero_says_to_lengthen_it(lab, schedule, advice):
    lab.controls["schedule"].value = schedule
    lab.controls["warmup_steps"].value = 0
    assert lab.error is not None
    text = lab.summary_text()
    assert "got 0: lengthen it to at least 1 update" in text and advice in text
    assert "shorten" not in text


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


def test_the_widget_builds_its_schedules_with_the_registry(lab):
    assert lab.controls["schedule"].options == tuple(LABELS)
    assert wt.schedule_experiment(schedule="warmup_cosine", epochs=2).controls["schedule"].value == "warm-up + cosine"
    with lab.hold():
        lab.controls["schedule"].value, lab.controls["warmup_steps"].value = "warm-up, stable, decay", 20
    assert lab.error is None, lab.message.value
    np.testing.assert_allclose(lab.result.lrs, schedules.for_run("wsd", lab.controls["lr"].value, 60, 20)(np.arange(60)))


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


# --------------------------------------------------------------------------- notebook 08's experiment

@pytest.fixture(scope="module")
def digits():
    return data.load_digits(0)


@pytest.fixture(scope="module")
def net():
    return models.MLP(64, (32,), 10)


def test_training_experiment_trains_what_the_controls_say(digits, net):
    """The run drawn is train.fit's run from the seed's weights and batch order, bit for bit."""
    optimizers = {"SGD": optim.SGD, "Adam": optim.Adam}
    lab = wt.training_experiment(digits, net, optimizers, start_lr={"SGD": 1.0, "Adam": 0.01}, epochs=2)
    assert lab.controls["lr"].value == 0.01 and lab.result.optimizer == "Adam"
    with lab.hold():
        lab.controls["batch_size"].value, lab.controls["epochs"].value = 128, 3
    rng = np.random.default_rng(0)
    expected = train.fit(net, net.init(rng), optim.Adam(lr=0.01), digits.X_train, digits.y_train,
                         X_val=digits.X_val, y_val=digits.y_val, epochs=3, batch_size=128, rng=rng)
    h = lab.result.history
    np.testing.assert_array_equal(h.val_loss, expected.val_loss)
    assert h.n_steps == 3 * 10 and h.batch_size == 128                    # 1259 images: 10 batches of 128
    line = lab.lines["val", "loss"].get_data()
    np.testing.assert_array_equal(line[1], np.minimum(expected.val_loss, wt.LOSS_CLIP))
    assert lab.ax_loss.get_xlim() == (0, 3)
    assert (f"Adam, lr 0.01, batch 128: 30 updates; after epoch 3: training loss {h.train_loss[-1]:.4f}, "
            f"validation loss {h.val_loss[-1]:.4f}, validation accuracy {100 * h.val_accuracy[-1]:.1f} %"
            in lab.message.value)
    assert lab.alt_text().startswith(lab.shows) and lab.image.tooltip == lab.alt_text()
    lab.controls["batch_size"].value = len(digits.y_train)                # the whole set: one update per epoch
    assert lab.result.history.n_steps == 3 and "batch 1259: 3 updates" in lab.message.value


def test_picking_an_optimizer_moves_the_lr_to_its_start_and_redraws_once(digits, net):
    lab = wt.training_experiment(digits, net, {"SGD": optim.SGD, "Adam": optim.Adam},
                                 start_lr={"SGD": 1.0, "Adam": 0.01}, epochs=1)
    refreshes = lab.refreshes
    lab.controls["optimizer"].value = "SGD"
    assert lab.refreshes == refreshes + 1                                 # one training run, not two
    assert lab.controls["lr"].value == 1.0 and lab.result.optimizer == "SGD" and lab.result.lr == 1.0
    assert lab.message.value.split(">")[1].startswith("SGD, lr 1, batch 64")


def test_the_reference_runs_are_drawn_grey_and_described(digits, net):
    optimizers = {"SGD": optim.SGD, "Adam": optim.Adam}
    rng = np.random.default_rng(5)
    ref = train.fit(net, net.init(rng), optim.SGD(lr=0.3), digits, epochs=2, batch_size=64, rng=rng)
    lab = wt.training_experiment(digits, net, optimizers, start_lr={"SGD": 0.3, "Adam": 0.01},
                                 reference={"SGD": ref}, reference_label="SGD at 0.3", epochs=2)
    assert lab.result.reference is None and len(lab.lines["ref val", "loss"].get_data()[0]) == 0  # none for Adam
    lab.controls["optimizer"].value = "SGD"
    assert lab.result.reference is ref
    np.testing.assert_array_equal(lab.lines["ref val", "accuracy"].get_data()[1], 100 * ref.val_accuracy)
    assert lab.shows.endswith("with SGD at 0.3 as grey dotted lines.") and "SGD at 0.3" in lab.help
    legend = [t.get_text() for t in lab.figure.legends[0].get_texts()]
    assert legend == ["training", "validation", "SGD at 0.3 (grey)"]
    plain = wt.training_experiment(digits, net, optimizers, start_lr={"SGD": 0.3, "Adam": 0.01}, epochs=1)
    assert [t.get_text() for t in plain.figure.legends[0].get_texts()] == ["training", "validation"]
    assert "grey" not in plain.shows


def test_a_learning_rate_that_blows_up_is_a_warning_sentence(digits, net):
    lab = wt.training_experiment(digits, net, {"SGD": optim.SGD}, start_lr={"SGD": 1.0}, optimizer="SGD",
                                 epochs=2)
    assert "#B34D00" not in lab.message.value
    lab.controls["lr"].value = 10 ** 1.5
    assert lab.error is None                                              # a result, drawn, not a traceback
    assert "#B34D00" in lab.message.value                                 # TEXT_COLOURS["warn"]
    assert "diverged" in lab.message.value or "try a smaller learning rate" in lab.message.value
    assert np.all(lab.lines["train", "loss"].get_data()[1][np.isfinite(lab.lines["train", "loss"].get_data()[1])]
                  <= wt.LOSS_CLIP)


def test_the_default_experiment_offers_optims_classes_at_their_default_rates():
    lab = wt.training_experiment(epochs=1)
    assert list(lab.controls["optimizer"].options) == list(wt.TRAINING_OPTIMIZERS)
    assert lab.controls["lr"].value == pytest.approx(optim.Adam().defaults["lr"])
    lab.controls["optimizer"].value = "Adadelta"
    assert lab.controls["lr"].value == pytest.approx(1.0)


def test_training_experiment_rejects_bad_arguments_with_sentences(digits, net):
    sgd = {"SGD": optim.SGD}
    with pytest.raises(ValueError, match="optimizer must be one of SGD; got 'Adam'"):
        wt.training_experiment(digits, net, sgd)
    with pytest.raises(ValueError, match=r"batch_size must be one of 16, 32, 64, 128, 256, 1259; got 100"):
        wt.training_experiment(digits, net, sgd, optimizer="SGD", batch_size=100)
    with pytest.raises(ValueError, match=r"epochs must be an integer in \[1, 16\], got 0"):
        wt.training_experiment(digits, net, sgd, optimizer="SGD", epochs=0)
    with pytest.raises(ValueError, match=r"start_lr for 'SGD' must be a number in \[0.0001, 31.6\], got 100"):
        wt.training_experiment(digits, net, sgd, start_lr={"SGD": 100.0}, optimizer="SGD")
    with pytest.raises(ValueError, match="start_lr must give a learning rate for 'momentum'"):
        wt.training_experiment(digits, net, {"momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9)},
                               optimizer="momentum")
    with pytest.raises(ValueError, match="reference must name offered optimizers"):
        wt.training_experiment(digits, net, sgd, optimizer="SGD", reference={"Adam": None})
