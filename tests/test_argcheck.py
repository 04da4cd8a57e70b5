"""optlessons.argcheck: the package's one set of argument checks and their one wording."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from optlessons import argcheck as V

anything = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                     st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(-100, 100).map(np.int64), st.floats(-1e6, 1e6).map(np.float64))
bounds = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([0.0, 0.5, 1.0, -2.5]))


@given(value=anything, low=bounds, high=bounds, low_open=st.booleans(), high_open=st.booleans(),
       finite=st.booleans())
def test_number_accepts_exactly_the_numbers_in_the_range(value, low, high, low_open, high_open, finite):
    is_num = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    inside = (is_num and not math.isnan(value) and (not finite or math.isfinite(value))
              and (low is None or (value > low if low_open else value >= low))
              and (high is None or (value < high if high_open else value <= high)))
    if inside:
        got = V.number(value, "x", low, high, low_open=low_open, high_open=high_open, finite=finite)
        assert type(got) is float and got == value
    else:
        with pytest.raises(ValueError) as info:
            V.number(value, "x", low, high, low_open=low_open, high_open=high_open, finite=finite)
        rule = V.number_rule(low, high, low_open=low_open, high_open=high_open, finite=finite)
        assert str(info.value) == f"x must be {rule}, got {value!r}"


def test_the_rule_reads_like_the_range():
    assert V.number_rule(0) == "a finite number >= 0"
    assert V.number_rule(0, low_open=True) == "a finite number > 0"
    assert V.number_rule(0, low_open=True, finite=False) == "a number > 0"
    assert V.number_rule(0, 1, high_open=True) == "a number in [0, 1)"
    assert V.number_rule(0, 1, low_open=True) == "a number in (0, 1]"
    assert V.number_rule(high=1) == "a finite number <= 1"
    with pytest.raises(ValueError, match=r"^lr must be a finite number >= 0, got -1$"):
        V.number(-1, "lr", 0)
    with pytest.raises(ValueError, match=r"^betas\[1\] must be a number in \[0, 1\), got 1.0$"):
        V.number(1.0, "betas[1]", 0, 1, high_open=True)
    assert V.positive(2, "eps") == 2.0
    for bad in (0, -1.0, math.inf, math.nan, "1"):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            V.positive(bad, "eps")


@given(value=anything, minimum=st.one_of(st.none(), st.integers(-3, 3)), maximum=st.one_of(st.none(), st.integers(-3, 9)))
def test_integer_accepts_exactly_the_integers_in_the_range(value, minimum, maximum):
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    inside = is_int and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if inside:
        got = V.integer(value, "n", minimum, maximum)
        assert type(got) is int and got == value
    else:
        with pytest.raises(ValueError, match=rf"^n must be an integer.*, got {re.escape(repr(value))}$"):
            V.integer(value, "n", minimum, maximum)


def test_integer_rules():
    with pytest.raises(ValueError, match=r"^epochs must be an integer >= 1, got 0$"):
        V.integer(0, "epochs", 1)
    with pytest.raises(ValueError, match=r"^batch_size must be an integer from 1 to 128, got 129$"):
        V.integer(129, "batch_size", 1, 128)
    with pytest.raises(ValueError, match=r"^k must be an integer <= 3, got 3.0$"):
        V.integer(3.0, "k", maximum=3)
    with pytest.raises(ValueError, match=r"^flag must be an integer, got True$"):
        V.integer(True, "flag")


@given(seed=st.integers(0, 2**63))
def test_an_int_seed_gives_the_generator_default_rng_gives(seed):
    a, b = V.generator(seed), np.random.default_rng(seed)
    assert isinstance(a, np.random.Generator) and a.integers(0, 2**62) == b.integers(0, 2**62)
    g = np.random.default_rng(seed)
    assert V.generator(g) is g                           # a Generator is used as it is, state and all


@pytest.mark.parametrize("bad", [None, 1.5, "0", True, np.random.RandomState(0)])
def test_anything_else_is_not_a_generator(bad):
    with pytest.raises(TypeError, match=r"^rng must be a numpy.random.Generator or an int seed >= 0, "
                                        r"e.g. np.random.default_rng\(0\); got \w+$"):
        V.generator(bad)


def test_a_negative_seed_is_a_value_error_naming_the_argument():
    with pytest.raises(ValueError, match=r"^rng_or_seed must be .* an int seed >= 0.*got -1$"):
        V.generator(-1, "rng_or_seed")
