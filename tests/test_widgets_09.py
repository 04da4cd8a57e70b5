"""Notebook 09's widget, driven headlessly: GD, momentum, Adam and Newton on the double well."""

import matplotlib

matplotlib.use("Agg", force=True)

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ipywidgets as W  # noqa: E402

from optlessons import widgets  # noqa: E402


@pytest.fixture(scope="module")
def race():
    return widgets.curvature_race()


def _reset(race, **values):
    defaults = {"curvature": 8.0, "x0": 1e-3, "y0": 1.2, "noise": 0.0, "seed": 0, "steps": 200,
                "GD.lr": 0.1, "Momentum.lr": 0.02, "Adam.lr": 0.05, "Newton.lr": 1.0, "Newton.damping": 0.0,
                "Newton.saddle_free": False}
    with race.hold():
        for name in widgets.CURVATURE_OPTIMIZERS:
            race.controls[f"{name}.on"].value = True
        for name, value in {**defaults, **values}.items():
            race.controls[name].value = value
    assert race.error is None, race.error
    return race.result


def test_it_builds_draws_and_shows_a_status_sentence():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        race = widgets.curvature_race()
    assert race.error is None and race.refreshes == 1
    assert race.png()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(isinstance(c, W.ValueWidget) for c in race.controls.values())
    assert "Fell below the saddle" in race.message.value
    data, metadata = race._repr_mimebundle_()
    assert "run the notebook" in data["text/plain"] and metadata["image/png"]["alt"]
    assert [h.get_label() for h in race._legend.legend_handles][-1] == "saddle"


def test_default_race_first_order_methods_escape_and_newton_sits_on_the_saddle(race):
    result = _reset(race)
    out = result.outcomes
    assert {n: o.kind for n, o in out.items()} == {"GD": "minimum", "Momentum": "minimum", "Adam": "minimum",
                                                    "Newton": "saddle"}
    assert np.allclose(result.trajectories["Newton"].points[-1], [0.0, 0.0], atol=1e-12)
    assert out["Adam"].escaped_at < out["GD"].escaped_at            # Adam rescales the tiny x-gradient
    assert out["Newton"].escaped_at is None
    assert "Newton is at the saddle (0, 0)" in race.message.value


def test_a_start_closer_to_the_ridge_makes_gd_linger_longer(race):
    far = _reset(race, x0=1e-2).outcomes["GD"].escaped_at
    near = _reset(race, x0=1e-6).outcomes["GD"].escaped_at
    # near the saddle x grows by (1 + η) per step: 1e-4 closer costs about ln(1e4)/ln(1.1) ≈ 97 steps more
    assert near - far == pytest.approx(np.log(1e4) / np.log(1.1), abs=3)


def test_noise_kicks_a_run_off_the_ridge(race):
    # x0 = 1e-8: without noise GD has not left the saddle after 150 steps; with σ = 0.01 it has
    stuck = _reset(race, x0=1e-8, steps=150)
    assert stuck.outcomes["GD"].escaped_at is None
    kicked = _reset(race, x0=1e-8, steps=150, noise=0.01)
    assert kicked.outcomes["GD"].escaped_at is not None
    assert "noise of σ = 0.01" in race.message.value
    again = _reset(race, x0=1e-8, steps=150, noise=0.01)           # seeded: the same run again
    assert np.array_equal(again.trajectories["GD"].points, kicked.trajectories["GD"].points)
    other = _reset(race, x0=1e-8, steps=150, noise=0.01, seed=1)
    assert not np.array_equal(other.trajectories["GD"].points, kicked.trajectories["GD"].points)


def test_saddle_free_or_damped_newton_leaves_the_saddle(race):
    assert _reset(race, **{"Newton.saddle_free": True}).outcomes["Newton"].kind == "minimum"
    assert _reset(race, **{"Newton.damping": 2.0}).outcomes["Newton"].kind == "minimum"


def test_a_diverging_learning_rate_gives_a_sentence_and_a_partial_path(race):
    result = _reset(race, **{"GD.lr": 0.5})                           # above 2/c = 0.25
    assert race.error is None
    gd = result.outcomes["GD"]
    assert gd.kind == "diverged" and result.trajectories["GD"].diverged
    assert "GD diverged at step" in race.message.value and "too large" in race.message.value
    assert len(race.paths.lines["GD"].get_xdata()) >= 1
    # a steeper valley lowers the limit: 0.2 is stable at c = 8, not at c = 20
    assert _reset(race, **{"GD.lr": 0.2}).outcomes["GD"].kind == "minimum"
    assert _reset(race, **{"GD.lr": 0.2}, curvature=20.0).outcomes["GD"].kind == "diverged"


def test_a_singular_hessian_gives_a_sentence_not_a_traceback(race):
    result = _reset(race, x0=1 / np.sqrt(3), y0=0.0)                  # 3x² − 1 = 0 at the start
    assert race.error is None
    assert result.outcomes["Newton"].kind == "singular"
    assert "singular" in race.message.value and "damping" in race.message.value
    newton_row, = [row for row in result.rows if row.name == "Newton"]
    assert newton_row.status == "stopped at step 1: singular Hessian"
    assert "singular Hessian" in race.summary.value
    assert _reset(race, x0=1 / np.sqrt(3), y0=0.0, **{"Newton.damping": 0.5}).outcomes["Newton"].kind == "minimum"


def test_untick_everything_is_a_sentence(race):
    _reset(race)
    with race.hold():
        for name in widgets.CURVATURE_OPTIMIZERS:
            race.controls[f"{name}.on"].value = False
    assert race.error is None and "Tick at least one" in race.message.value


def test_damping_below_the_negative_curvature_still_finds_the_saddle_and_above_it_escapes(race):
    # at the saddle H = diag(−1, c): H + δI is indefinite for δ < 1 and positive definite for δ > 1
    assert _reset(race, **{"Newton.damping": 0.5}).outcomes["Newton"].kind == "saddle"
    assert _reset(race, **{"Newton.damping": 1.5}).outcomes["Newton"].kind == "minimum"


def test_a_steeper_valley_makes_the_default_gd_diverge_but_not_newton(race):
    result = _reset(race, curvature=30.0)                             # 2/c = 0.067 < GD's lr 0.1
    assert result.outcomes["GD"].kind == "diverged"
    assert result.outcomes["Newton"].kind == "saddle"
    assert result.outcomes["Adam"].kind == "minimum"
