"""Problem set 5's checks: the mistake models equal the package's references (and so torch),
every known mistake is named, mistakes written by hand are caught and named, the course's
schedules, clipping and lr_find may not be called, and bad specs are refused in a sentence.
(The source solutions on the visible and hidden cases, and through a pickle round trip, are
tested with the other sets in test_checks_grading.py.)"""

import math
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from optlessons import optim, schedules, search, train
from optlessons.checks import CheckFailed, engine, ps5
from optlessons.models import LinearRegression
from optlessons import checks

TABLES = [   # check, model, variants
    ("check_warmup", ps5.warmup_model, ps5.WARMUP_VARIANTS),
    ("check_warmup_cosine", ps5.warmup_cosine_model, ps5.WARMUP_COSINE_VARIANTS),
    ("check_clip_grad_norm", ps5.clip_model, ps5.CLIP_VARIANTS),
    ("check_range_test", ps5.range_test_model, ps5.RANGE_TEST_VARIANTS),
]
VARIANTS = [(check, mistake, table[mistake.name]) for check, model, table in TABLES
            for mistake in engine.variant_mistakes(model, table)]


# --------------------------------------------------------------------------- the models are the references


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-4, 2.0), f=st.floats(0.01, 1.0), total=st.integers(1, 30), t=st.integers(0, 40))
def test_warmup_model_is_linear_lr(lr, f, total, t):
    expected = schedules.linear(lr, f, 1.0, total)(t)
    assert ps5.warmup_model(t, lr=lr, start_factor=f, total_steps=total) == pytest.approx(expected, rel=1e-12)
    assert ps5.warmup_reference(t, lr=lr, start_factor=f, total_steps=total) == expected


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-3, 2.0), f=st.floats(0.01, 1.0), warm=st.integers(1, 10), rest=st.integers(1, 30),
       low=st.floats(0.0, 1.0), data=st.data())
def test_warmup_cosine_model_is_sequential_linear_cosine(lr, f, warm, rest, low, data):
    total = warm + rest
    t = data.draw(st.integers(0, total))
    kw = dict(lr=lr, start_factor=f, warmup_steps=warm, total_steps=total, lr_min=low * lr)
    expected = ps5.warmup_cosine_reference(t, **kw)
    assert ps5.warmup_cosine_model(t, **kw) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    if t == warm:   # the cosine starts its own clock at lr at the milestone
        assert expected == pytest.approx(lr)
    if t == total:
        assert expected == pytest.approx(low * lr, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10 ** 6), count=st.integers(1, 4), max_norm=st.floats(1e-4, 10.0),
       ratio=st.floats(0.0, 50.0))
def test_clip_model_is_clip_grad_norm(seed, count, max_norm, ratio):
    rng = np.random.default_rng(seed)
    grads = {f"g{i}": rng.normal(size=rng.integers(1, 4, size=2)) * ratio for i in range(count)}
    clipped, total = ps5.clip_model(grads, max_norm)
    ref, ref_total = train.clip_grad_norm(grads, max_norm)
    assert total == pytest.approx(ref_total, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(clipped[k], ref[k], rtol=1e-12)


@pytest.mark.parametrize("smooth, diverge_factor, end_lr", [(0.98, 4.0, 10.0), (0.8, 2.0, 10.0), (0.9, 4.0, 0.01)])
def test_range_test_model_is_lr_find_on_full_batches(smooth, diverge_factor, end_lr):
    """The loop the learner writes is lr_find's: SGD on all the data at once, the same rates,
    losses and stopping step (and, with end_lr 0.01, no stop at all)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=25)
    params = {"w": np.zeros(3), "b": np.zeros(())}
    found = search.lr_find(LinearRegression(3), types.SimpleNamespace(X_train=X, y_train=y), optim.SGD,
                           start_lr=1e-3, end_lr=end_lr, num_steps=60, smooth=smooth,
                           diverge_factor=diverge_factor, batch_size=25, rng=0, params=params)
    lrs, losses = ps5.range_test_model(ps5.LeastSquares(X, y), params, np.geomspace(1e-3, end_lr, 60),
                                       update=ps5.SGDStep(), smooth=smooth, diverge_factor=diverge_factor)
    assert len(lrs) == len(found.lrs)
    assert found.stopped_at == (None if end_lr < 1 else len(lrs) - 1)
    assert len(lrs) == 60 if end_lr < 1 else len(lrs) < 60
    np.testing.assert_allclose(lrs, found.lrs, rtol=1e-12)
    np.testing.assert_allclose(losses, found.losses, rtol=1e-9)


def test_the_visible_range_tests_stop_and_one_does_not():
    """The cases tell a test that stops from one that does not, and from one a step late."""
    cases = ps5.range_test_cases(ps5.RANGE_TEST_VISIBLE, np.random.default_rng(ps5.RANGE_TEST_SEED))
    lengths = [(len(ps5.range_test_model(*c.inputs.values(), **c.kwargs)[0]), len(c.inputs["lrs"]))
               for c in cases]
    assert sum(used < total - 1 for used, total in lengths) >= 3, lengths
    assert any(used == total for used, total in lengths), lengths


def test_the_range_test_stops_on_a_nan_loss():
    lrs, losses = ps5.range_test_model(lambda p: (math.nan, p), {}, [1.0, 2.0, 3.0], update=lambda p, g, lr: p)
    assert len(lrs) == 1 and math.isnan(losses[0])


def test_a_visible_range_test_turns_nan_before_the_smoothed_loss_blows_up():
    """The NaN case tells `not ℓ <= c·min` (stops on NaN) from `ℓ > c·min` (runs on with NaN)."""
    spec = [s for s in ps5.RANGE_TEST_VISIBLE if s["problem"] == "quadratic_nan"]
    assert spec
    cases = ps5.range_test_cases(ps5.RANGE_TEST_VISIBLE, np.random.default_rng(ps5.RANGE_TEST_SEED))
    case = [c for c in cases if "NaN" in c.label][0]
    lrs, losses = ps5.range_test_model(*case.inputs.values(), **case.kwargs)
    assert len(lrs) < len(case.inputs["lrs"]) and math.isnan(losses[-1]) and np.all(np.isfinite(losses[:-1]))
    on, _ = ps5.range_test_model(*case.inputs.values(), **case.kwargs, nan_stops=False)
    assert len(on) == len(case.inputs["lrs"])


@pytest.mark.parametrize("warm, total", [(0, 6), (4, 4), (0, 1), (1, 1)])
def test_warmup_cosine_at_both_ends(warm, total):
    """W = 0: the cosine alone; W = T: the warm-up alone, lr at t = T; the model agrees."""
    kw = dict(lr=0.2, start_factor=0.25, warmup_steps=warm, total_steps=total, lr_min=0.02)
    values = [ps5.warmup_cosine_reference(t, **kw) for t in range(total + 1)]
    if warm == 0:
        np.testing.assert_allclose(values, schedules.cosine(0.2, total, 0.02)(np.arange(total + 1)), rtol=1e-12)
    else:
        np.testing.assert_allclose(values, schedules.linear(0.2, 0.25, 1.0, warm)(np.arange(total + 1)), rtol=1e-12)
        assert values[-1] == pytest.approx(0.2)
    assert [ps5.warmup_cosine_model(t, **kw) for t in range(total + 1)] == pytest.approx(values, rel=1e-12)
    assert any(s["warmup_steps"] == 0 for s in ps5.WARMUP_COSINE_VISIBLE)
    assert any(s["warmup_steps"] == s["total_steps"] for s in ps5.WARMUP_COSINE_VISIBLE)


def cosine_dividing_by_the_horizon(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0):
    if t < warmup_steps:
        return lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    s, horizon = t - warmup_steps, total_steps - warmup_steps
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * s / horizon)) / 2


def test_a_cosine_that_divides_by_a_zero_horizon_is_caught():
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        checks.check_warmup_cosine(cosine_dividing_by_the_horizon)


def test_all_zero_gradients_are_clipped_to_zero_and_a_division_by_the_norm_is_caught():
    grads = {"W1": np.zeros((3, 2)), "b1": np.zeros(2)}
    clipped, total = train.clip_grad_norm(grads, 1.0)
    assert total == 0.0 and all(np.all(g == 0) for g in clipped.values())
    assert any(s["ratio"] == 0 for s in ps5.CLIP_VISIBLE)

    def clip_by_direction(grads, max_norm):                 # the direction g/‖g‖ times the clipped length
        total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
        return {k: g / total * min(total, max_norm) for k, g in grads.items()}, total
    zero = [s for s in ps5.CLIP_VISIBLE if s["ratio"] == 0]
    with np.errstate(invalid="ignore"), pytest.raises(CheckFailed, match="all zero") as info:
        checks.check_clip_grad_norm(clip_by_direction, cases=zero)
    assert "nan" in str(info.value), info.value




# --------------------------------------------------------------------------- every known mistake is named


@pytest.mark.parametrize("check, mistake, variant", VARIANTS, ids=[f"{v[0]}-{v[1].name}" for v in VARIANTS])
def test_every_known_mistake_is_named_first(check, mistake, variant):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(mistake.compute)
    msg = str(info.value)
    assert "This looks like a known mistake: " + variant.hint in msg, msg


def warmup_ahead(t, *, lr, start_factor, total_steps):
    return lr * (start_factor + (1 - start_factor) * min(t + 1, total_steps) / total_steps)


def cosine_whole_horizon(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0):
    if t < warmup_steps:
        return lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (t - warmup_steps) / total_steps)) / 2


def clip_per_tensor(grads, max_norm):
    out = {}
    for k, g in grads.items():
        n = np.linalg.norm(g)
        out[k] = g * min(max_norm / (n + 1e-6), 1.0)
    return out, math.sqrt(sum(np.linalg.norm(g) ** 2 for g in grads.values()))


def clip_in_place(grads, max_norm):
    total = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values()))
    for g in grads.values():
        g *= min(max_norm / (total + 1e-6), 1.0)
    return grads, total


def clip_without_eps(grads, max_norm):
    total = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values()))
    return {k: g * min(max_norm / total, 1.0) for k, g in grads.items()}, total


def clip_scaling_up(grads, max_norm):
    total = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values()))
    return {k: g * (max_norm / (total + 1e-6)) for k, g in grads.items()}, total


def range_test_written(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0, bug=None):
    used, losses, avg, best, stop_next = [], [], 0.0, math.inf, False
    for t, lr in enumerate(lrs):
        loss, grads = loss_and_grad(params)
        used.append(lr)
        losses.append(loss)
        if stop_next:
            break
        avg = smooth * avg + (1 - smooth) * loss
        smoothed = avg / (1 - smooth ** (t + 1))
        best = min(best, smoothed)
        if smoothed > diverge_factor * best and bug != "no_break":
            if bug == "late":
                stop_next = True
            else:
                break
        params = update(params, grads, lr)
    return np.array(used), np.array(losses)


def range_test_no_break(*args, **kwargs):
    return range_test_written(*args, **kwargs, bug="no_break")


def range_test_late(*args, **kwargs):
    return range_test_written(*args, **kwargs, bug="late")


@pytest.mark.parametrize("check, fn, phrases", [
    ("check_warmup", warmup_ahead, ["at index 0", "one step ahead"]),
    ("check_warmup_cosine", cosine_whole_horizon, ["horizon is T_max = total_steps − warmup_steps"]),
    ("check_clip_grad_norm", clip_per_tensor, ["clipped by its own norm"]),
    ("check_clip_grad_norm", clip_in_place, ["changed its input `grads['W1']` in place"]),
    ("check_clip_grad_norm", clip_without_eps, ["the 1e-6 is missing"]),
    ("check_clip_grad_norm", clip_scaling_up, ["is scaled up"]),
    ("check_range_test", range_test_no_break, ["number of steps recorded", "does not stop at divergence"]),
    ("check_range_test", range_test_late, ["stops one step late"]),
    ("check_range_test", range_test_written, ["the loss NaN once", "does not stop when the loss becomes NaN"]),
], ids=lambda x: getattr(x, "__name__", None))
def test_mistakes_written_by_hand_are_named(check, fn, phrases):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(fn)
    msg = str(info.value)
    for phrase in phrases:
        assert phrase in msg, msg


def test_the_missing_eps_only_shows_on_small_norms_and_is_caught_there():
    """Without the 1e-6 a result differs by a relative 1e-6/‖g‖: invisible at ‖g‖ = 3, caught at 1e-3."""
    big = [dict(shapes=[(3, 2), (2,)], max_norm=1.0, ratio=3.0)]
    checks.check_clip_grad_norm(clip_without_eps, cases=big)
    with pytest.raises(CheckFailed, match="the 1e-6 is missing"):
        checks.check_clip_grad_norm(clip_without_eps, cases=[dict(shapes=[(5,)], max_norm=1e-3, ratio=1.0)])


def test_a_result_of_the_wrong_kind_is_a_sentence():
    with pytest.raises(CheckFailed, match="return a dict with the same names"):
        checks.check_clip_grad_norm(lambda grads, max_norm: (list(grads.values()), 1.0))
    with pytest.raises(CheckFailed, match="returned None for t = 0"):
        checks.check_warmup(lambda t, **kw: None)
    with pytest.raises(CheckFailed, match="2 learning rates but 1 losses"):
        checks.check_range_test(lambda f, p, lrs, **kw: (lrs[:2], lrs[:1]))


# --------------------------------------------------------------------------- the course's own may not be called


def warmup_by_linear(t, *, lr, start_factor, total_steps):
    return schedules.linear(lr, start_factor, 1.0, total_steps)(t)


def cosine_by_sequential(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0):
    return schedules.sequential([schedules.constant(lr), schedules.constant(lr_min)], [warmup_steps])(t)


def cosine_by_cosine(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0):
    if t < warmup_steps:
        return lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    return schedules.cosine(lr, total_steps - warmup_steps, lr_min)(t - warmup_steps)


def range_test_by_lr_find(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0):
    found = search.lr_find(LinearRegression(1), types.SimpleNamespace(X_train=np.ones((2, 1)),
                                                                       y_train=np.ones(2)), optim.SGD)
    return found.lrs, found.losses


@pytest.mark.parametrize("check, cheat, reference", [
    ("check_warmup", warmup_by_linear, "optlessons.schedules.linear"),
    ("check_warmup_cosine", cosine_by_sequential, "optlessons.schedules.sequential"),
    ("check_warmup_cosine", cosine_by_cosine, "optlessons.schedules.cosine"),
    ("check_clip_grad_norm", train.clip_grad_norm, "optlessons.train.clip_grad_norm"),
    ("check_range_test", range_test_by_lr_find, "optlessons.search.lr_find"),
], ids=lambda x: getattr(x, "__name__", x) if callable(x) else None)
def test_calling_the_course_s_own_fails(check, cheat, reference):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(cheat)
    assert f"calls the course's `{reference}`" in str(info.value), str(info.value)


def test_every_schedule_is_forbidden_in_both_schedule_checks():
    for check in ("check_warmup", "check_warmup_cosine"):
        refs = checks.forbidden_references(check)
        assert {f"optlessons.schedules.{n}" for n in ("linear", "cosine", "sequential", "warmup",
                                                        "one_cycle", "cosine_warm_restarts")} == set(refs)


# --------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize("check, spec, phrase", [
    ("check_range_test", dict(problem="rosenbrock", start_lr=1e-3, end_lr=1.0, num=5, update="sgd"),
     "problem must be"),
    ("check_range_test", dict(problem="quadratic", eigenvalues=(1.0,), start_lr=1e-3, end_lr=1.0, num=5,
                              update="adam"), "update must be one of"),
    ("check_clip_grad_norm", dict(shapes=[(2,)], max_norm=1.0), "needs the key 'ratio'"),
    ("check_warmup", dict(lr=0.1, start_factor=0.5, total_steps=3, warmup_steps=2), "unknown key"),
])
def test_a_bad_spec_is_a_value_error_naming_it(check, spec, phrase):
    with pytest.raises(ValueError, match=phrase):
        getattr(checks, check)(lambda *a, **k: None, cases=[spec])


def range_test_in_place(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0):
    used, losses, avg, best = [], [], 0.0, math.inf
    for t, lr in enumerate(lrs):
        loss, grads = loss_and_grad(params)
        used.append(lr)
        losses.append(loss)
        avg = smooth * avg + (1 - smooth) * loss
        ell = avg / (1 - smooth ** (t + 1))
        best = min(best, ell)
        if not ell <= diverge_factor * best:
            break
        for k in params:
            params[k] -= lr * grads[k]
    return np.array(used), np.array(losses)


@pytest.mark.parametrize("check, fn, phrase", [
    ("check_clip_grad_norm", clip_in_place, "changes the caller's gradients too"),
    ("check_range_test", range_test_in_place, "moves the caller's starting point"),
], ids=["clip", "range_test"])
def test_an_input_changed_in_place_is_explained_for_the_function_checked(check, fn, phrase):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(fn)
    msg = str(info.value)
    assert "in place" in msg and phrase in msg and "trajectory" not in msg, msg
