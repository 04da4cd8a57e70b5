"""optlessons.schedules: values at known steps, argument checks, lookup by name."""

import math

import numpy as np
import pytest

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
]


@pytest.mark.parametrize("schedule, t, expected", CASES, ids=[f"{c[0]!r}@{c[1]}" for c in CASES])
def test_value_at_known_step(schedule, t, expected):
    assert schedule(t) == pytest.approx(expected, rel=1e-12)
    assert isinstance(schedule(t), float)


@pytest.mark.parametrize("schedule", [c[0] for c in CASES[::3]], ids=repr)
def test_arrays_of_steps_give_the_same_values(schedule):
    t = np.arange(0, 60, 7)
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
    assert set(S.SCHEDULES) == {"constant", "step_decay", "exponential", "inverse_time", "cosine", "warmup"}
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
