"""optlessons.schedules: values at known steps, ranges, argument checks, lookup by name
(the comparison with torch is in test_schedules_torch.py)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from optlessons import schedules as S

CASES = [  # (schedule, step, expected learning rate)
    (S.constant(0.1), 0, 0.1),
    (S.constant(0.1), 10**6, 0.1),
    (S.step_decay(0.1, step_size=10), 9, 0.1),
    (S.step_decay(0.1, step_size=10), 10, 0.01),
    (S.step_decay(1.0, step_size=5, gamma=0.5), 17, 0.125),
    (S.exponential(1.0, gamma=0.5), 3, 0.125),
    (S.inverse_time(1.0, decay_rate=1.0), 0, 1.0),
    (S.inverse_time(1.0, decay_rate=1.0), 3, 0.25),
    (S.inverse_time(0.3, decay_rate=0.5, decay_steps=10), 20, 0.15),
    (S.cosine(1.0, total_steps=100), 0, 1.0),
    (S.cosine(1.0, total_steps=100), 50, 0.5),
    (S.cosine(1.0, total_steps=100, lr_min=0.2), 100, 0.2),
    (S.cosine(1.0, total_steps=100, lr_min=0.2), 500, 0.2),
    (S.cosine(1.0, total_steps=4), 1, (1 + math.cos(math.pi / 4)) / 2),
    (S.warmup(S.constant(0.1), warmup_steps=10), 0, 0.01),
    (S.warmup(S.constant(0.1), warmup_steps=10), 4, 0.05),
    (S.warmup(0.1, warmup_steps=10), 9, 0.1),
    (S.warmup(S.cosine(1.0, total_steps=10), warmup_steps=5), 5, 1.0),
    (S.warmup(S.cosine(1.0, total_steps=10), warmup_steps=5), 10, 0.5),
    (S.linear(0.3), 0, 0.1),
    (S.linear(0.3), 5, 0.3),
    (S.linear(0.3), 50, 0.3),
    (S.linear(1.0, start_factor=0.5, end_factor=0.0, total_steps=4), 2, 0.25),
    (S.one_cycle(1.0, total_steps=100), 0, 0.04),
    (S.one_cycle(1.0, total_steps=100), 29, 1.0),
    (S.one_cycle(1.0, total_steps=100), 99, 0.04 / 1e4),
    (S.one_cycle(1.0, total_steps=102, anneal_strategy="linear", pct_start=0.5), 25, 0.52),
    (S.one_cycle(1.0, total_steps=20, three_phase=True, div_factor=10.0), 10, 0.1),
    (S.cosine_warm_restarts(1.0, T_0=4), 2, 0.5),
    (S.cosine_warm_restarts(1.0, T_0=4), 8, 1.0),
    (S.cosine_warm_restarts(1.0, T_0=2, T_mult=2), 6, 1.0),
    (S.cosine_warm_restarts(1.0, T_0=2, T_mult=2, lr_min=0.2), 4, 0.6),
    (S.sequential([S.linear(1.0, 0.5, 1.0, 2), S.cosine(1.0, 10)], milestones=[2]), 1, 0.75),
    (S.sequential([S.linear(1.0, 0.5, 1.0, 2), S.cosine(1.0, 10)], milestones=[2]), 7, 0.5),
]


@pytest.mark.parametrize("schedule, t, expected", CASES, ids=[f"{c[0]!r}@{c[1]}" for c in CASES])
def test_value_at_known_step(schedule, t, expected):
    assert schedule(t) == pytest.approx(expected, rel=1e-12)
    assert isinstance(schedule(t), float)


@pytest.mark.parametrize("schedule", [c[0] for c in CASES[::3]], ids=repr)
def test_arrays_of_steps_give_the_same_values(schedule):
    t = np.arange(0, 60, 7)
    if schedule.name == "one_cycle":                      # defined up to its total_steps only, as in torch
        t = t[t <= schedule.kwargs["total_steps"]]
    np.testing.assert_allclose(schedule(t), [schedule(int(s)) for s in t], rtol=1e-12)


def test_decaying_schedules_never_increase():
    t = np.arange(300)
    for s in (S.step_decay(1, 7), S.exponential(1, 0.99), S.inverse_time(1, 0.1), S.cosine(1, 200)):
        assert np.all(np.diff(s(t)) <= 1e-15), s


@pytest.mark.parametrize("build, match", [
    (lambda: S.constant(-0.1), "lr"),
    (lambda: S.constant(float("nan")), "lr"),
    (lambda: S.step_decay(0.1, step_size=0), "step_size"),
    (lambda: S.step_decay(0.1, step_size=3, gamma=1.5), "gamma"),
    (lambda: S.exponential(0.1, gamma=0.0), "gamma"),
    (lambda: S.inverse_time(0.1, decay_rate=-1), "decay_rate"),
    (lambda: S.cosine(0.1, total_steps=0), "total_steps"),
    (lambda: S.cosine(0.1, total_steps=10, lr_min=0.2), "lr_min"),
    (lambda: S.warmup(S.constant(0.1), warmup_steps=0), "warmup_steps"),
    (lambda: S.linear(-0.1), "lr"),
    (lambda: S.linear(0.1, start_factor=0.0), r"start_factor must be a number in \(0, 1\]"),
    (lambda: S.linear(0.1, start_factor=1.5), "start_factor"),
    (lambda: S.linear(0.1, end_factor=-0.1), r"end_factor must be a number in \[0, 1\]"),
    (lambda: S.linear(0.1, total_steps=0), "total_steps"),
    (lambda: S.one_cycle(-1.0, 10), "max_lr"),
    (lambda: S.one_cycle(1.0, 0), "total_steps"),
    (lambda: S.one_cycle(1.0, 10, pct_start=1.5), r"pct_start must be a number in \[0, 1\]"),
    (lambda: S.one_cycle(1.0, 10, pct_start=0.1), "pct_start.*zero length"),
    (lambda: S.one_cycle(1.0, 10, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: S.one_cycle(1.0, 10, div_factor=0.0), "div_factor"),
    (lambda: S.one_cycle(1.0, 10, final_div_factor=-1.0), "final_div_factor"),
    (lambda: S.cosine_warm_restarts(0.1, T_0=0), "T_0"),
    (lambda: S.cosine_warm_restarts(0.1, T_0=2.5), "T_0"),
    (lambda: S.cosine_warm_restarts(0.1, T_0=5, T_mult=0), "T_mult"),
    (lambda: S.cosine_warm_restarts(0.1, T_0=5, lr_min=-1.0), "lr_min"),
    (lambda: S.sequential([], []), "at least one"),
    (lambda: S.sequential([S.constant(0.1), S.constant(0.2)], []), "one entry fewer"),
    (lambda: S.sequential([S.constant(0.1), S.constant(0.2), S.constant(0.3)], [5, 5]), "strictly increasing"),
    (lambda: S.sequential([S.constant(0.1), S.constant(0.2)], [-1]), r"milestones\[0\] must be an integer >= 0"),
    (lambda: S.sequential([S.constant(0.1), S.constant(0.2)], [2.5]), r"milestones\[0\]"),
    (lambda: S.ReduceLROnPlateau(-0.1), "lr"),
    (lambda: S.ReduceLROnPlateau(0.1, mode="minimum"), "mode"),
    (lambda: S.ReduceLROnPlateau(0.1, factor=1.0), r"factor must be a number in \[0, 1\)"),
    (lambda: S.ReduceLROnPlateau(0.1, patience=-1), "patience"),
    (lambda: S.ReduceLROnPlateau(0.1, patience=1.5), "patience"),
    (lambda: S.ReduceLROnPlateau(0.1, threshold=-1e-4), "threshold"),
    (lambda: S.ReduceLROnPlateau(0.1, threshold_mode="relative"), "threshold_mode"),
    (lambda: S.ReduceLROnPlateau(0.1, cooldown=-2), "cooldown"),
    (lambda: S.ReduceLROnPlateau(0.1, min_lr=float("nan")), "min_lr"),
    (lambda: S.ReduceLROnPlateau(0.1, eps=-1.0), "eps"),
])
def test_bad_arguments_name_the_argument(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_steps_are_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        S.constant(0.1)(-1)
    with pytest.raises(TypeError, match="integer"):
        S.constant(0.1)(0.5)


def test_get_builds_by_name_and_lists_known_names():
    assert S.get("cosine", lr=1.0, total_steps=100)(50) == pytest.approx(0.5)
    assert S.get("step", lr=1.0, step_size=2)(2) == pytest.approx(0.1)
    assert set(S.SCHEDULES) == set(S.REGISTRY) == {
        "constant", "step_decay", "multistep", "exponential", "inverse_time", "polynomial", "cosine", "warmup",
        "linear", "warmup_cosine", "wsd", "one_cycle", "cosine_warm_restarts", "cyclic", "sequential"}
    with pytest.raises(ValueError) as err:
        S.get("cosin", lr=1.0)
    for name in S.SCHEDULES:
        assert name in str(err.value)
    with pytest.raises(TypeError, match="total_steps"):
        S.get("cosine", lr=1.0)
    with pytest.raises(TypeError, match="unexpected"):
        S.get("constant", lr=1.0, gamma=0.5)


def test_repr_shows_how_it_was_built():
    assert repr(S.cosine(0.1, 100)) == "cosine(lr=0.1, total_steps=100, lr_min=0.0)"


# ---------------------------------------------------------------------------
# Ranges (hypothesis) and the new schedules' shapes
# ---------------------------------------------------------------------------

quick = settings(deadline=None, max_examples=60)
lrs = st.floats(1e-6, 10)
factors = st.floats(1e-3, 1)


@quick
@given(lr=lrs, start=factors, end=st.floats(0, 1), total=st.integers(1, 50))
def test_linear_stays_between_its_two_factors_and_ends_at_the_second(lr, start, end, total):
    values = S.linear(lr, start, end, total)(np.arange(2 * total + 2))
    low, high = lr * min(start, end), lr * max(start, end)
    assert np.all(values >= low - 1e-12 * lr) and np.all(values <= high + 1e-12 * lr)
    assert values[0] == pytest.approx(lr * start, rel=1e-12)
    np.testing.assert_allclose(values[total:], lr * end, rtol=1e-12, atol=1e-15 * lr)
    assert np.all(np.diff(values) * np.sign(end - start) >= -1e-12 * lr)     # monotone towards end_factor


@quick
@given(max_lr=lrs, total=st.integers(10, 300), pct=st.floats(0.05, 0.95), three=st.booleans(),
       strategy=st.sampled_from(["cos", "linear"]), div=st.floats(1.5, 100), final=st.floats(1.5, 1e5))
def test_one_cycle_stays_between_its_floor_and_max_lr(max_lr, total, pct, three, strategy, div, final):
    if three and pct > 0.5:
        pct = pct / 2                     # three phases need 2·pct_start·T − 2 < T − 1
    if pct * total <= 1.5:
        return                            # a warm-up phase shorter than one step (or of zero length)
    schedule = S.one_cycle(max_lr, total, pct_start=pct, anneal_strategy=strategy, div_factor=div,
                           final_div_factor=final, three_phase=three)
    values = schedule(np.arange(total))
    floor = max_lr / div / final
    assert np.all(values >= floor * (1 - 1e-9)) and np.all(values <= max_lr * (1 + 1e-12))
    assert values[0] == pytest.approx(max_lr / div, rel=1e-12)
    assert values[-1] == pytest.approx(floor, rel=1e-9)
    peak = int(np.argmax(values))
    assert abs(peak - (pct * total - 1)) <= 1                 # the top is where phase 1 ends


@quick
@given(lr=lrs, T_0=st.integers(1, 20), T_mult=st.integers(1, 3), frac=st.floats(0, 1))
def test_warm_restarts_stay_in_range_and_restart_at_the_cycle_starts(lr, T_0, T_mult, frac):
    lr_min = frac * lr
    schedule = S.cosine_warm_restarts(lr, T_0, T_mult, lr_min)
    t = np.arange(200)
    values = schedule(t)
    assert np.all(values >= lr_min * (1 - 1e-12)) and np.all(values <= lr * (1 + 1e-12))
    starts, length, start = [], T_0, 0
    while start < 200:
        starts.append(start)
        start, length = start + length, length * T_mult
    np.testing.assert_allclose(values[starts], lr, rtol=1e-12)
    between = np.setdiff1d(t, starts)
    if lr > lr_min * (1 + 1e-9):
        assert np.all(values[between] < lr)                       # only the cycle starts reach lr


def test_sequential_restarts_the_clock_of_each_schedule_at_its_milestone():
    warm = S.linear(0.1, start_factor=0.1, total_steps=5)
    decay = S.cosine(0.1, total_steps=20)
    chain = S.sequential([warm, decay], milestones=[5])
    t = np.arange(30)
    np.testing.assert_array_equal(chain(t)[:5], warm(t[:5]))
    np.testing.assert_array_equal(chain(t)[5:], decay(t[5:] - 5))
    assert chain(5) == 0.1                      # the cosine's own step 0 at the milestone
    assert chain(4) == pytest.approx(0.1 * (0.1 + 0.9 * 4 / 5))  # the warm-up never shows its last value
    three = S.sequential([S.constant(1.0), S.constant(2.0), S.constant(3.0)], milestones=[2, 4])
    np.testing.assert_array_equal(three(np.arange(6)), [1, 1, 2, 2, 3, 3])


def test_reduce_lr_on_plateau_drops_after_patience_bad_epochs_then_cools_down():
    p = S.ReduceLROnPlateau(1.0, patience=2, factor=0.5, cooldown=1)
    lrs = [p.step(m) for m in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]
    # epochs 3, 4 bad (patience 2), epoch 5 the third bad one: drop; epoch 6 in cooldown; 7, 8 bad; 9: drop
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert p.best == 0.5 and p.last_epoch == 9


def test_reduce_lr_on_plateau_thresholds_min_lr_and_eps():
    rel = S.ReduceLROnPlateau(1.0, patience=0, threshold=0.1)
    rel.step(1.0)
    assert rel.step(0.95) == 0.1 and rel.best == 1.0          # 5 % better is not 10 % better: a bad epoch
    absolute = S.ReduceLROnPlateau(1.0, patience=0, threshold=0.01, threshold_mode="abs")
    absolute.step(1.0)
    assert absolute.step(0.98) == 1.0 and absolute.best == 0.98
    floor = S.ReduceLROnPlateau(1.0, patience=0, min_lr=0.3)
    assert [floor.step(1.0) for _ in range(4)] == [1.0, 0.3, 0.3, 0.3]
    tiny = S.ReduceLROnPlateau(1e-8, patience=0)
    assert [tiny.step(1.0) for _ in range(3)] == [1e-8] * 3    # a change below eps = 1e-8 is skipped
    maximize = S.ReduceLROnPlateau(1.0, mode="max", patience=0)
    assert [maximize.step(m) for m in (0.5, 0.9, 0.8)] == [1.0, 1.0, pytest.approx(0.1)]
    nan = S.ReduceLROnPlateau(1.0, patience=0)
    assert [nan.step(m) for m in (1.0, float("nan"))] == [1.0, pytest.approx(0.1)]   # NaN: a bad epoch
    assert "best=" in repr(nan) and "patience=0" in repr(nan)


@quick
@given(metrics=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=60),
       patience=st.integers(0, 4), cooldown=st.integers(0, 3), factor=st.floats(0.05, 0.9),
       min_lr=st.sampled_from([0.0, 0.01, 0.2]), mode=st.sampled_from(["min", "max"]),
       threshold_mode=st.sampled_from(["rel", "abs"]))
def test_reduce_lr_on_plateau_only_ever_divides_and_waits_between_drops(metrics, patience, cooldown, factor,
                                                                       min_lr, mode, threshold_mode):
    p = S.ReduceLROnPlateau(1.0, mode=mode, factor=factor, patience=patience, cooldown=cooldown,
                            min_lr=min_lr, threshold_mode=threshold_mode)
    lrs = [1.0] + [p.step(m) for m in metrics]
    drops = [epoch for epoch in range(1, len(lrs)) if lrs[epoch] != lrs[epoch - 1]]
    for epoch in drops:
        assert lrs[epoch] == max(lrs[epoch - 1] * factor, min_lr) < lrs[epoch - 1]
    assert min(lrs) >= min_lr
    # The first epoch always improves on best = ±inf; then patience + 1 bad epochs; after a drop,
    # cooldown epochs that do not count, then patience + 1 bad ones again.
    if drops:
        assert drops[0] >= patience + 2
    assert all(b - a >= cooldown + patience + 1 for a, b in zip(drops, drops[1:]))


# ---------------------------------------------------------------- the registry, the one warm-up, wsd

def test_every_schedule_of_the_registry_is_built_by_get_and_the_run_ones_by_for_run():
    for name, entry in S.REGISTRY.items():
        assert S.factory(name) is entry.function and entry.label
    t = np.arange(200)
    for name in S.RUN_SCHEDULES:
        lrs = S.for_run(name, 0.1, 200, 20)(t)
        assert np.all((lrs >= 0) & (lrs <= 0.1 + 1e-12)) and lrs.max() > 0.099, name
    np.testing.assert_array_equal(S.for_run("cosine", 0.1, 200)(t), S.cosine(0.1, 200)(t))
    np.testing.assert_array_equal(S.for_run("one_cycle", 0.1, 200)(t), S.one_cycle(0.1, 200)(t))
    assert np.argmax(S.for_run("one_cycle", 0.1, 100, 30)(np.arange(100))) == 29
    with pytest.raises(ValueError, match=r"schedule 'sequential' needs more than a peak lr.*by name: constant"):
        S.for_run("sequential", 0.1, 100)
    with pytest.raises(ValueError, match="the warm-up must last from 1 to 99 updates .* got 100: shorten"):
        S.for_run("warmup_cosine", 0.1, 100, 100)
    with pytest.raises(ValueError, match="got 0: lengthen it to at least 1 update, or pick 'cosine'"):
        S.for_run("warmup_cosine", 0.1, 100, 0)


@given(warmup_steps=st.integers(1, 30), lr=st.floats(1e-4, 1.0))
@settings(deadline=None, max_examples=30)
def test_warmup_is_the_linear_ramp_chained_by_sequential(warmup_steps, lr):
    after = S.cosine(lr, 50)
    t = np.arange(warmup_steps + 60)
    expected = np.where(t < warmup_steps, lr * (t + 1) / warmup_steps, after(np.maximum(t - warmup_steps, 0)))
    np.testing.assert_allclose(S.warmup(after, warmup_steps)(t), expected, rtol=1e-14)
    chained = S.sequential([S.linear(lr, 1 / warmup_steps, 1.0, max(warmup_steps - 1, 1)), after], [warmup_steps])
    np.testing.assert_array_equal(S.warmup(after, warmup_steps)(t), chained(t))


@pytest.mark.parametrize("decay, shape", [("linear", lambda p: 1 - p), ("cosine", lambda p: (1 + np.cos(np.pi * p)) / 2),
                                          ("1-sqrt", lambda p: 1 - np.sqrt(p))])
def test_wsd_has_its_three_phases(decay, shape):
    lr, lr_min, T, W, D = 0.3, 0.01, 100, 10, 25
    schedule = S.wsd(lr, T, W, D, lr_min=lr_min, decay=decay)
    t = np.arange(T + 5)
    lrs = schedule(t)
    np.testing.assert_allclose(lrs[:W], lr * (np.arange(W) + 1) / W, rtol=1e-14)          # warm-up
    np.testing.assert_allclose(lrs[W:T - D], lr, rtol=1e-15)                               # stable
    p = (np.arange(T - D, T) - (T - D)) / D
    np.testing.assert_allclose(lrs[T - D:T], lr_min + (lr - lr_min) * shape(p), rtol=1e-12)  # decay
    np.testing.assert_allclose(lrs[T:], lr_min, rtol=1e-12)
    assert np.all(np.diff(lrs[T - D:]) <= 1e-15)
    assert S.wsd(lr, T, 0, D)(0) == lr                                                     # no warm-up
    with pytest.raises(ValueError, match=r"warmup_steps \+ decay_steps must be <= total_steps: 60 \+ 50 > 100"):
        S.wsd(lr, T, 60, 50)
    with pytest.raises(ValueError, match="decay must be one of 'linear', 'cosine', '1-sqrt'"):
        S.wsd(lr, T, W, D, decay="step")


def test_constant_lowers_the_first_steps_and_multistep_counts_repeated_milestones():
    np.testing.assert_allclose(S.constant(0.3, 1 / 3, 4)(np.arange(6)), [0.1, 0.1, 0.1, 0.1, 0.3, 0.3])
    np.testing.assert_allclose(S.multistep(1.0, [2, 4, 4], 0.5)(np.arange(6)), [1, 1, 0.5, 0.5, 0.125, 0.125])
    with pytest.raises(ValueError, match="milestones must be in increasing order"):
        S.multistep(1.0, [4, 2])
    with pytest.raises(ValueError, match="mode must be one of 'triangular', 'triangular2', 'exp_range'"):
        S.cyclic(0.1, 1.0, mode="sine")
