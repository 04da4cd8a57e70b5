"""optlessons.widgets, driven headlessly: set a control's value, check the result, the message and the figure.

No kernel and no browser: observers run synchronously when a value is set, and
the figure reaches the screen through ``exp.image.value`` (PNG bytes), which a
test can read (an Output widget would capture nothing here; see TOOLING.md).
"""

import matplotlib

matplotlib.use("Agg", force=True)

import base64  # noqa: E402
import html  # noqa: E402
import re  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ipywidgets as W  # noqa: E402

from optlessons import widgets  # noqa: E402
from optlessons.widgets import race  # noqa: E402
from optlessons.functions import LANDSCAPES, escaped  # noqa: E402
from optlessons.plots import style  # noqa: E402
from optlessons.convergence import measured_rate  # noqa: E402
from optlessons.train import Trajectory, minimize  # noqa: E402

FACTORIES = {
    "playground": widgets.playground,
    "line_fit": widgets.line_fit,
    "learning_rate_experiment": widgets.learning_rate_experiment,
    "batch_size_experiment": widgets.batch_size_experiment,
    "momentum_experiment": widgets.momentum_experiment,
    "adam_experiment": widgets.adam_experiment,
    "adaptive_experiment": widgets.adaptive_experiment,
    "curvature_race": widgets.curvature_race,
    "gradient_explorer": widgets.gradient_explorer,
    "training_experiment": widgets.training_experiment,
}
#: Experiments cheap enough (a refresh in ~16 ms) to follow a slider while it is dragged.
LIVE = {"line_fit", "gradient_explorer"}


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    assert not caught, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def pg():
    playground = widgets.playground()
    playground.start_values = {name: c.value for name, c in playground.controls.items() if name != "landscape"}
    return playground


def _reset(pg, **values):
    """Put the shared playground back to its start state (every control, whichever test moved it
    and in whatever order xdist ran them), then apply ``values``."""
    with pg.hold():
        pg.controls["landscape"].value = "rosenbrock"
        for name, value in pg.start_values.items():
            pg.controls[name].value = value
        for name in widgets.OPTIMIZERS:
            pg.controls[f"{name}.on"].value = name in ("GD", "Momentum", "Adam")
        pg.controls["x0"].value, pg.controls["y0"].value = -1.5, 2.0
        pg.controls["steps"].value = 200
        pg.controls["Momentum.nesterov"].value = False
        pg.controls["Momentum.momentum"].value = 0.9
        pg.controls["GD.lr"].value = 1e-3
        for name, value in values.items():
            pg.controls[name].value = value
    return pg.result


# --------------------------------------------------------------------------- every widget

@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_widget_builds_draws_and_displays(name, no_warnings):
    exp = FACTORIES[name]()
    assert exp.error is None, exp.error
    assert exp.result is not None and exp.refreshes == 1
    assert exp.png()[:8] == b"\x89PNG\r\n\x1a\n"
    assert exp.controls and all(isinstance(c, W.ValueWidget) for c in exp.controls.values())
    assert exp.message.value                               # a status line, never empty
    bundle, metadata = exp._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "run the notebook" in bundle["text/plain"]
    # the static figure for readers without widgets: the PNG shown, with the alt text of its summary
    assert base64.b64decode(bundle["image/png"]) == exp.png()
    assert metadata["image/png"]["alt"] == exp.alt_text() == exp.image.tooltip
    assert f'alt="{html.escape(exp.alt_text())}"' in bundle["text/html"]
    assert widgets.plain_text(exp.message.value) in exp.alt_text()
    for ctrl in exp.controls.values():                     # every slider is live: the figure follows a drag
        if isinstance(ctrl, (W.FloatSlider, W.FloatLogSlider, W.IntSlider, W.SelectionSlider)):
            assert ctrl.continuous_update is True, ctrl.description
    assert exp.figure.axes and all(ax.get_title() for ax in exp.figure.axes if ax.get_label() != "<colorbar>")


def test_a_drag_reruns_only_the_optimizer_whose_control_moved_and_never_shows_a_stale_run():
    """Races remember each optimizer's run by the controls it depends on: moving GD's lr back and
    forth reruns GD only, and every result equals a run from scratch with the same settings."""
    pg = widgets.playground()
    momentum = pg.result.trajectories["Momentum"]
    landscape = LANDSCAPES["rosenbrock"]()
    for lr in (2e-3, 5e-4, 2e-3, 1e-3, 5e-4):                    # back and forth: revisits
        pg.controls["GD.lr"].value = lr
        assert pg.result.trajectories["Momentum"] is momentum    # not rerun
        fresh = minimize(landscape, pg.optimizer("GD"), start=pg.result.start, steps=200)
        np.testing.assert_array_equal(pg.result.trajectories["GD"].points, fresh.points)
    pg.controls["steps"].value = 100                              # a shared control: every run anew
    assert pg.result.trajectories["Momentum"] is not momentum
    assert len(pg.result.trajectories["Momentum"].points) == 101


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_control_change_redraws_the_same_figure(name, no_warnings):
    exp = FACTORIES[name]()
    figure, before = exp.figure, exp.png()
    ctrl = next(c for k, c in exp.controls.items() if k.endswith("lr") or k in ("slope", "t1"))
    ctrl.value = ctrl.value * 0.5 if not isinstance(ctrl, W.FloatSlider) else ctrl.value + 1.0
    assert exp.error is None and exp.refreshes == 2
    assert exp.figure is figure
    assert exp.png() != before


# --------------------------------------------------------------------------- the playground

def test_playground_controls_and_result(pg):
    result = _reset(pg)
    assert set(result.trajectories) == {"GD", "Momentum", "Adam"}
    for name in widgets.OPTIMIZERS:
        assert f"{name}.on" in pg.controls and f"{name}.lr" in pg.controls
    assert {"Adam.beta1", "Adam.beta2", "Momentum.momentum", "Momentum.nesterov",
            "RMSprop.alpha", "Adadelta.rho", "landscape", "x0", "y0", "steps", "tol"} <= set(pg.controls)
    assert isinstance(pg.controls["Adam.lr"], W.FloatLogSlider)
    assert all(isinstance(t, Trajectory) and t.n_steps == 200 for t in result.trajectories.values())
    assert [r.name for r in result.rows] == ["GD", "Momentum", "Adam"]
    assert "<table" in pg.summary.value


NEWER = ("NAdam", "RAdam", "Adamax")


def test_playground_offers_and_races_the_newer_optimizers(pg):
    from optlessons import optim
    assert {"NAdam.beta1", "NAdam.beta2", "NAdam.momentum_decay", "RAdam.beta1", "Adamax.beta2"} <= set(pg.controls)
    _reset(pg, **{f"{name}.on": True for name in NEWER})
    for name in ("GD", "Momentum", "Adam"):
        pg.controls[f"{name}.on"].value = False
    pg.controls["landscape"].value = "quadratic"               # suggests each one's lr
    result = pg.result
    assert [r.name for r in result.rows] == list(NEWER)
    for name in NEWER:
        opt = result.optimizers[name]
        assert type(opt) is getattr(optim, name)
        assert opt.defaults["lr"] == widgets.SUGGESTED_LR["quadratic"][name]
        row = next(r for r in result.rows if r.name == name)
        assert row.steps_to_tol is not None and row.diverged_at is None, row   # reaches the minimum
    assert pg.controls["NAdam.momentum_decay"].value == 4e-3                 # torch's default
    pg.controls["NAdam.momentum_decay"].value = 0.02
    assert pg.result.optimizers["NAdam"].defaults["momentum_decay"] == 0.02


LESSON_11 = ("Rprop", "ASGD", "Adafactor", "Lion", "ScheduleFreeSGD", "ScheduleFreeAdamW", "LBFGS")


@pytest.mark.parametrize("key", list(widgets.SUGGESTED_LR))
def test_the_newer_optimizers_never_diverge_at_their_suggested_lr(key):
    f = LANDSCAPES[key]()
    for name in NEWER + LESSON_11:
        spec = widgets.OPTIMIZERS[name]
        values = {h.name: h.default for h in spec.hypers} | {"lr": widgets.SUGGESTED_LR[key][name]}
        row = widgets.summarize(name, minimize(f, spec.make(values), start=f.start, steps=200), 1e-2)
        assert row.diverged_at is None or (name in LESSON_11 and row.escaped), (key, row)   # escaping a saddle is fine


def test_radam_gets_a_smaller_rosenbrock_lr_because_its_first_steps_are_not_normalised():
    f = LANDSCAPES["rosenbrock"]()
    spec = widgets.OPTIMIZERS["RAdam"]
    values = {h.name: h.default for h in spec.hypers} | {"lr": widgets.SUGGESTED_LR["rosenbrock"]["Adam"]}
    row = widgets.summarize("RAdam", minimize(f, spec.make(values), start=f.start, steps=200), 1e-2)
    assert row.diverged_at is not None and row.diverged_at <= 5     # within its un-rectified steps


def test_every_playground_line_and_the_first_eleven_styles_are_told_apart(pg):
    styles = [(s["color"], s["marker"], str(s["linestyle"])) for s in map(style, range(11))]
    assert len(set(styles)) == 11
    assert len(pg.paths.lines) == len(widgets.OPTIMIZERS) == 17      # 10 up to 2020, 7 of lesson 11
    assert set(race.RACE_STYLES) == set(widgets.OPTIMIZERS)
    for what in ("color", "marker", "linestyle"):                    # each cue alone tells every line apart
        assert len({str(s[what]) for s in race.RACE_STYLES.values()}) == len(widgets.OPTIMIZERS), what
    for name, line in pg.paths.lines.items():                        # (matplotlib names every dash pattern "--")
        assert (line.get_color(), line.get_marker()) == (race.RACE_STYLES[name]["color"], race.RACE_STYLES[name]["marker"])
    for name, line in pg.losses.lines.items():
        assert line.get_color() == race.RACE_STYLES[name]["color"]


def _luminance(colour):
    """WCAG relative luminance of '#rrggbb'."""
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_no_playground_colour_is_as_faint_as_yellow_on_the_grey_contours():
    yellow = _luminance("#F0E442")
    assert all(_luminance(s["color"]) < 0.75 * yellow for s in race.RACE_STYLES.values())
    assert "#F0E442" not in {s["color"] for s in race.RACE_STYLES.values()}
    # the first seven keep the course's colours, so figures described in the notebooks stay true
    assert [race.RACE_STYLES[n]["color"] for n in list(widgets.OPTIMIZERS)[:7]] == [style(i)["color"] for i in range(7)]


def test_the_playground_races_the_lesson_11_optimizers_lbfgs_with_its_closure(pg):
    from optlessons import optim
    _reset(pg, **{f"{name}.on": True for name in LESSON_11})
    for name in ("GD", "Momentum", "Adam"):
        pg.controls[f"{name}.on"].value = False
    pg.controls["landscape"].value = "quadratic"
    result = pg.result
    assert [r.name for r in result.rows] == list(LESSON_11) and not result.errors
    for name in LESSON_11:
        assert type(result.optimizers[name]) is getattr(optim, name)
    lbfgs = result.optimizers["LBFGS"]
    assert lbfgs.defaults["max_iter"] == 1 and lbfgs.defaults["line_search_fn"] == "strong_wolfe"
    assert 0 < lbfgs.state.n_iter <= result.trajectories["LBFGS"].n_steps  # at most one iteration a step
    assert next(r for r in result.rows if r.name == "LBFGS").steps_to_tol is not None


def test_moving_the_lr_slider_changes_the_trajectory_and_the_artists(pg, no_warnings):
    _reset(pg)
    line = pg.paths.lines["Adam"]
    old_points = pg.result.trajectories["Adam"].points
    old_png = pg.png()
    pg.controls["Adam.lr"].value = 0.01
    new = pg.result.trajectories["Adam"]
    assert not np.allclose(new.points[1:], old_points[1:])
    assert pg.paths.lines["Adam"] is line                          # same Line2D, new data
    np.testing.assert_allclose(line.get_xydata(), new.points)
    np.testing.assert_allclose(pg.losses.lines["Adam"].get_ydata(), np.log10(np.maximum(new.values, 1e-16)))
    assert pg.png() != old_png
    assert pg.renderer.full_draws == 1 or pg.renderer.full_draws < pg.refreshes   # background reused


def test_a_diverging_lr_gives_a_message_and_a_partial_path(pg, no_warnings):
    _reset(pg)
    pg.controls["GD.lr"].value = 0.05
    result = pg.result
    gd = result.trajectories["GD"]
    assert gd.diverged and "GD" in result.diverged
    row = next(r for r in result.rows if r.name == "GD")
    assert row.diverged_at is not None and row.status == f"diverged at step {row.diverged_at}"
    assert "diverged" in pg.message.value and "GD" in pg.message.value
    assert f"diverged at step {row.diverged_at}" in pg.summary.value
    drawn = pg.paths.lines["GD"].get_xydata()
    assert 2 <= len(drawn) < 200 and pg.paths.lines["GD"].get_visible()
    (x0, x1), (y0, y1) = result.landscape.window
    last = drawn[-1]
    assert not (x0 <= last[0] <= x1 and y0 <= last[1] <= y1)      # drawn until it left the window
    assert pg.error is None and pg.png()                          # never a blank figure
    assert pg.losses.blowups["GD"].get_visible()


def test_ticking_optimizers_on_and_off(pg):
    _reset(pg)
    pg.controls["Adam.on"].value = False
    assert "Adam" not in pg.result.trajectories
    assert not pg.paths.lines["Adam"].get_visible() and not pg.losses.lines["Adam"].get_visible()
    pg.controls["RMSprop.on"].value = True
    assert "RMSprop" in pg.result.trajectories and pg.paths.lines["RMSprop"].get_visible()
    legend = [t.get_text() for t in pg.figure.legends[0].get_texts()]
    assert legend == ["GD", "Momentum", "RMSprop", "start", "minimum"]
    assert len(pg.figure.legends) == 1
    with pg.hold():
        for name in widgets.OPTIMIZERS:
            pg.controls[f"{name}.on"].value = False
    assert pg.result.trajectories == {} and "Tick at least one" in pg.message.value
    assert pg.error is None


def test_changing_landscape_moves_the_start_suggests_lrs_and_redraws_contours(pg):
    _reset(pg)
    draws = pg.renderer.full_draws
    refreshes = pg.refreshes
    pg.controls["landscape"].value = "himmelblau"
    assert pg.refreshes == refreshes + 1                          # one refresh for the whole change
    assert pg.renderer.full_draws == draws + 1                    # new contours: background redrawn
    f = pg.result.landscape
    assert f.name == "Himmelblau" and pg.paths.landscape is f
    assert (pg.controls["x0"].value, pg.controls["y0"].value) == tuple(f.start)
    assert (pg.controls["x0"].min, pg.controls["x0"].max) == f.window[0]
    assert pg.controls["GD.lr"].value == pytest.approx(widgets.SUGGESTED_LR["himmelblau"]["GD"])
    reached = {r.name: r.steps_to_tol for r in pg.result.rows}
    assert all(v is not None for v in reached.values()), pg.result.rows
    pg.controls["landscape"].value = "saddle"                      # no minimum: linear loss axis
    assert pg.losses.f_star is None and pg.error is None
    assert all(r.status in ("no minimum to reach",) or r.diverged_at for r in pg.result.rows)


def test_start_point_controls(pg):
    _reset(pg, **{"x0": 0.5, "y0": -0.5})
    for t in pg.result.trajectories.values():
        np.testing.assert_allclose(t.points[0], [0.5, -0.5])
    np.testing.assert_allclose(pg.paths.start.get_xydata()[0], [0.5, -0.5])


def test_an_impossible_setting_is_reported_not_raised(pg):
    _reset(pg)
    pg.controls["Momentum.momentum"].value = 0.0
    pg.controls["Momentum.nesterov"].value = True              # Nesterov needs momentum > 0
    assert "Momentum" not in pg.result.trajectories
    row = next(r for r in pg.result.rows if r.name == "Momentum")
    assert row.status.startswith("not run") and "Nesterov" in row.status
    assert "Momentum" in pg.message.value and pg.error is None


def test_save_writes_the_png_shown(tmp_path):
    exp = widgets.line_fit()
    exp.save(tmp_path / "fit.png")
    assert (tmp_path / "fit.png").read_bytes() == exp.png()


def test_refresh_turns_an_exception_into_a_message_and_keeps_the_figure(monkeypatch):
    exp = widgets.learning_rate_experiment()
    png = exp.png()

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(exp, "compute", broken)
    exp.controls["lr"].value = 0.01                            # must not raise
    assert isinstance(exp.error, RuntimeError)
    assert "boom" in exp.message.value and exp.png() == png


def test_summarize_reports_steps_to_tolerance():
    exp = widgets.playground(landscape="quadratic", optimizers=("GD",), steps=200)
    row = exp.result.rows[0]
    assert row.steps_to_tol is not None and row.diverged_at is None
    assert row.status == f"within 0.01 of a minimum after {row.steps_to_tol} steps"
    assert abs(row.value) < 1e-3 and np.hypot(*row.end) < 0.01
    assert exp.result.trajectories["GD"].steps_to(0.01) == row.steps_to_tol
    exp.controls["tol"].value = 1e-4
    assert exp.result.rows[0].steps_to_tol > row.steps_to_tol


def test_playground_table_shows_every_raced_optimizers_settings():
    pg = widgets.playground()
    pg.controls["Momentum.lr"].value = 0.003
    settings = {r.name: r.settings for r in pg.result.rows}
    assert settings == {"GD": "lr 0.001", "Momentum": "lr 0.003, momentum β 0.90",          # as the sliders show them
                        "Adam": "lr 0.1, β₁ 0.90, β₂ 0.9990"}
    pg.controls["Momentum.nesterov"].value = True
    assert next(r.settings for r in pg.result.rows if r.name == "Momentum").endswith(", Nesterov")
    for text in settings.values():
        assert text in pg.summary.value or "Nesterov" in text
    assert widgets.OPTIMIZERS["RMSprop"].hypers[1].label == "α (smoothing)"    # not a learning rate


def test_playground_shows_gds_stability_limit_where_it_exists():
    pg = widgets.playground(landscape="rosenbrock")
    f = pg.result.landscape
    limits = {where: (tuple(p), lr) for where, p, lr in widgets.Playground.stability_limits(pg.result)}
    assert limits["at the minimum"][0] == (1.0, 1.0)
    assert limits["at the minimum"][1] == pytest.approx(2 / np.linalg.eigvalsh(f.hessian(np.array([1.0, 1.0])))[-1])
    assert limits["at the start"][1] == pytest.approx(2 / np.linalg.eigvalsh(f.hessian(f.start))[-1])
    assert f"{limits['at the minimum'][1]:.3g} at the minimum (1, 1)" in pg.message.value
    assert "2/λ<sub>max</sub>" in pg.message.value


def test_playground_says_oscillating_when_gd_bounces_above_its_limit():
    pg = widgets.playground(landscape="himmelblau", optimizers=("GD",))
    limit = dict((w, lr) for w, p, lr in widgets.Playground.stability_limits(pg.result))["at the minimum"]
    pg.controls["GD.lr"].value = 0.02                         # below 2/λ_max = 0.0243: converges
    assert pg.result.rows[0].steps_to_tol is not None and not pg.result.rows[0].oscillating
    pg.controls["GD.lr"].value = 0.03                         # above it, below divergence
    row = pg.result.rows[0]
    assert 0.02 < limit < 0.03 and row.oscillating and row.diverged_at is None
    assert row.status.startswith("oscillating, not converging") and "oscillating, not converging" in pg.summary.value


def test_leaving_an_unbounded_saddle_is_an_escape_not_a_divergence():
    pg = widgets.playground(landscape="saddle", optimizers=("Momentum",))
    row = pg.result.rows[0]
    assert row.escaped and row.diverged_at is not None and row.status.startswith("escaped the saddle")
    assert pg.result.diverged == [] and pg.result.escaped == ["Momentum"]
    assert "expected outcome" in pg.message.value and "smaller learning rate" not in pg.message.value
    assert "style='color:#D55E00'" not in pg.summary.value          # the outcome is not coloured as a failure


def test_race_and_momentum_loss_panels_use_the_courses_notation():
    pg = widgets.playground(landscape="rosenbrock", optimizers=("GD",))
    assert pg.ax_loss.get_ylabel() == "L(θ) − L*   (log scale)"
    pg.controls["landscape"].value = "saddle"                 # no minimum: the loss itself, linear
    assert pg.ax_loss.get_ylabel() == "L(θ)"
    assert widgets.OPTIMIZERS["AdamW"].hypers[-1].label == "weight decay ω"
    exp = widgets.momentum_experiment()
    assert exp.ax_loss.get_ylabel() == "L(θ) − L*   (log scale)" and exp.ax_map.get_xlabel() == "learning rate η"


def test_a_short_path_is_drawn_above_a_long_one(pg):
    _reset(pg)                                   # the default Rosenbrock race: GD's path is the shortest
    z = {n: pg.paths.lines[n].get_zorder() for n in pg.result.trajectories}
    assert z["GD"] > z["Adam"] and z["GD"] > z["Momentum"]
    assert pg.paths.ends["GD"].get_zorder() > pg.paths.lines["GD"].get_zorder()


def test_playground_rejects_unknown_names():
    with pytest.raises(ValueError, match="landscape"):
        widgets.playground(landscape="everest")
    with pytest.raises(ValueError, match="unknown optimizer"):
        widgets.playground(optimizers=("SGD++",))


# --------------------------------------------------------------------------- the lesson experiments

def test_line_fit_residuals_and_loss():
    exp = widgets.line_fit()
    r = exp.result
    assert r.slope == 0 and r.intercept == 0
    np.testing.assert_allclose(r.residuals, -exp.y)                     # r = ŷ − y with ŷ = 0
    assert r.loss == pytest.approx(np.mean(exp.y ** 2))
    with exp.hold():
        exp.controls["slope"].value = round(r.best_slope / 0.05) * 0.05
        exp.controls["intercept"].value = round(r.best_intercept / 0.05) * 0.05
    assert exp.result.loss - exp.result.best_loss < 0.01
    assert "Spot on" in exp.message.value
    segs = exp.residual_lines.get_segments()
    assert len(segs) == len(exp.x)
    w, b = exp.result.slope, exp.result.intercept
    np.testing.assert_allclose([s[1][1] for s in segs], w * exp.x + b)
    np.testing.assert_allclose(exp.fit_line.get_ydata(), w * exp.xs + b)
    assert "MSE" in exp.title_text.get_text()
    assert exp.controls["slope"].continuous_update        # cheap: follows the drag


def test_learning_rate_experiment_stability_limit(no_warnings):
    exp = widgets.learning_rate_experiment("quadratic", steps=60)
    limit = exp.result.stability_limit
    assert limit == pytest.approx(2 / exp.landscape.L)
    exp.controls["lr"].value = 0.9 * limit
    assert not exp.result.trajectory.diverged
    exp.controls["lr"].value = 1.2 * limit
    t = exp.result.trajectory
    assert t.diverged and "diverged" in exp.message.value and "stability limit" in exp.message.value
    assert len(exp.paths.lines["gradient descent"].get_xydata()) >= 2


def test_batch_size_experiment_noise_and_full_batch():
    exp = widgets.batch_size_experiment(batch_size=128, lr=0.05, steps=50)
    np.testing.assert_allclose(exp.result.points, exp.result.full_batch)   # batch = all data: plain GD
    exp.controls["batch_size"].value = 1
    r = exp.result
    assert r.points.shape == (51, 2)
    assert np.std(np.diff(r.losses)) > np.std(np.diff(r.full_batch_losses))  # noisier
    first = r.points.copy()
    exp.controls["seed"].value = 1
    assert not np.allclose(exp.result.points, first)                       # other mini-batches
    exp.controls["seed"].value = 0
    np.testing.assert_allclose(exp.result.points, first)                   # seeded: reproducible
    exp.controls["lr"].value = 1.9
    assert exp.result.diverged and "diverged" in exp.message.value and exp.error is None


@pytest.mark.parametrize("batch_size, lr, steps, seed", [(4, 0.05, 100, 0), (1, 0.0316, 300, 3), (16, 0.2, 21, 7),
                                                         (1, 0.501, 200, 0)])
def test_batch_size_experiment_is_pytorch_style_mini_batch_sgd(batch_size, lr, steps, seed):
    # A DataLoader(shuffle=True) over the 128 points, its generator seeded with the sampling seed:
    # a fresh permutation per epoch, consecutive batches of it, w, b -= η ∇(batch MSE); and a run
    # ends at the step whose point escapes (functions.escaped), that point kept for the picture.
    exp = widgets.batch_size_experiment(batch_size=batch_size, lr=lr, steps=steps, seed=seed)
    f, x, y = exp.loss_landscape, exp.x, exp.y
    rng = np.random.default_rng(seed)
    p, points = f.start.copy(), [f.start.copy()]
    while len(points) <= steps and not escaped(points[-1], f.window):
        order = rng.permutation(len(x))
        for begin in range(0, len(x), batch_size):
            idx = order[begin:begin + batch_size]
            r = p[0] * x[idx] + p[1] - y[idx]
            p = p - exp.controls["lr"].value * np.array([2 * np.mean(r * x[idx]), 2 * np.mean(r)])
            points.append(p)
            if len(points) > steps or escaped(p, f.window):
                break
    r = exp.result
    np.testing.assert_allclose(r.points, points, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.losses, f.value(np.array(points)), rtol=1e-9)
    assert r.diverged == bool(escaped(points[-1], f.window))
    if r.diverged:
        assert f"diverged at step {len(points) - 1}" in exp.message.value


def test_momentum_experiment_heat_map_is_cached_and_marks_the_setting(no_warnings):
    exp = widgets.momentum_experiment()
    m = exp.result.rate_map
    assert m.rate.shape == m.diverged.shape == (len(m.betas), len(m.lrs))
    assert m.diverged[:, -1].all() and np.isnan(m.rate[:, -1]).all()   # lr = 1 diverges for every β
    assert not m.diverged[:, 0].any() and np.isfinite(m.rate[:, 0]).all()   # lr = 1e-4 never does
    exp.controls["momentum"].value = 0.5
    assert exp.result.rate_map is m                               # cached, not recomputed
    assert exp.here.get_xydata()[0].tolist() == pytest.approx([exp.result.lr, 0.5])   # log η axis
    assert not exp.result.trajectory.diverged
    exp.controls["landscape"].value = "rosenbrock"
    assert exp.result.rate_map is not m and exp.result.landscape.name == "Rosenbrock"
    exp.controls["landscape"].value = "quadratic50"
    assert exp.result.rate_map is m


def _direct_rate(traj):
    """(‖θ_n − θ*‖ / ‖θ_0 − θ*‖)^(1/n), straight from a Trajectory."""
    d = traj.distances()
    return (d[-1] / d[0]) ** (1 / traj.n_steps)


def test_momentum_heat_map_shows_the_measured_rate_per_step(no_warnings):
    from optlessons.optim import SGD
    from optlessons.train import minimize
    exp = widgets.momentum_experiment(steps=60)
    m, f = exp.result.rate_map, exp.result.landscape
    assert m.rate.shape == m.diverged.shape == (len(m.betas), len(m.lrs)) and not m.nesterov
    # one cell against a direct run: lr ≈ 0.01, β ≈ 0.5 (converging, far from the rounding floor)
    i, j = np.argmin(np.abs(m.betas - 0.5)), np.argmin(np.abs(m.lrs - 0.01))
    traj = minimize(f, SGD(lr=float(m.lrs[j]), momentum=float(m.betas[i])), steps=60)
    assert not traj.diverged and not m.diverged[i, j]
    assert m.rate[i, j] == pytest.approx(_direct_rate(traj), rel=1e-9)
    assert m.rate[i, j] == pytest.approx(measured_rate(traj.distances()), rel=1e-9)
    # ... and the β = 0 row is gradient descent
    traj = minimize(f, SGD(lr=float(m.lrs[j])), steps=60)
    assert m.rate[0, j] == pytest.approx(_direct_rate(traj), rel=1e-9)
    # what is drawn is the rate (NaN cells masked), with the colour bar saying what it is
    drawn = exp._mesh.get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(drawn).ravel(), m.diverged.ravel())
    np.testing.assert_allclose(drawn.compressed(), m.rate[~m.diverged])
    assert exp._colorbar.ax.get_ylabel() == "rate per step (lower is faster)"
    assert exp.result.rate == pytest.approx(_direct_rate(exp.result.trajectory), rel=1e-9)
    assert f"rate per step {exp.result.rate:.3f}" in exp.message.value
    # on the quadratic: the theory's optimum is starred and the best cell is close to its rate
    mu, L = f.mu, f.L
    kappa = L / mu
    a_star, b_star = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    assert exp.optimum.get_visible()
    np.testing.assert_allclose(exp.optimum.get_xydata()[0], [a_star, b_star])
    assert m.theory.rate == pytest.approx(np.sqrt(b_star))
    best_lr, best_beta, best_rate = m.best
    assert m.theory.rate - 1e-9 <= best_rate < m.theory.rate + 0.06     # finite n: a little slower
    assert abs(np.log10(best_lr / a_star)) < 0.2 and abs(best_beta - b_star) < 0.1
    # the stability edge η λ_max = 2 + 2β, drawn, separates the converged cells from the diverged ones
    edge = exp.edge_line.get_xydata()
    np.testing.assert_allclose(edge[:, 0] * L, 2 + 2 * edge[:, 1])
    stable = m.lrs[None, :] * L < 0.9 * (2 + 2 * m.betas[:, None])
    unstable = m.lrs[None, :] * L > 1.1 * (2 + 2 * m.betas[:, None])
    assert not m.diverged[stable].any() and np.all(np.nan_to_num(m.rate[unstable], nan=1.0) >= 1.0)
    legend = [t.get_text() for t in exp._map_legend.get_texts()]
    assert legend[0] == "you (η, β)" and "diverged" in legend and "stability edge ηλ$_{max}$ = 2 + 2β" in legend
    assert any(t.startswith("optimum (η*, β*)") for t in legend)
    # Rosenbrock is no quadratic: no star, no edge, the rest stays
    exp.controls["landscape"].value = "rosenbrock"
    assert exp.result.rate_map.theory is None and not exp.optimum.get_visible()
    assert [t.get_text() for t in exp._map_legend.get_texts()] == ["you (η, β)", "diverged"]


def test_momentum_heat_map_marks_diverged_cells_as_minimize_does():
    from optlessons.optim import SGD
    from optlessons.train import minimize
    exp = widgets.momentum_experiment(steps=40)
    m, f = exp.result.rate_map, exp.result.landscape
    assert m.diverged[:, -1].all() and not m.diverged[:, 0].any()
    assert np.isnan(m.rate[m.diverged]).all() and np.isfinite(m.rate[~m.diverged]).all()
    for i in range(0, len(m.betas), 3):               # on each side of the boundary, row by row
        first = int(np.argmax(m.diverged[i]))
        for j in (first - 1, first):
            traj = minimize(f, SGD(lr=float(m.lrs[j]), momentum=float(m.betas[i])), steps=40)
            assert traj.diverged == m.diverged[i, j], (m.lrs[j], m.betas[i])
    # diverged cells are left out of the mesh and show the hatched grey under it, named in the legend
    handle = exp._map_legend.legend_handles[[t.get_text() for t in exp._map_legend.get_texts()].index("diverged")]
    assert handle.get_hatch() and exp.ax_map.patches[0].get_hatch() == handle.get_hatch()


def test_momentum_nesterov_toggle(no_warnings):
    from optlessons.optim import SGD
    from optlessons.train import minimize
    exp = widgets.momentum_experiment(lr=0.02, momentum=0.8, steps=80)
    heavy, heavy_map = exp.result.trajectory, exp.result.rate_map
    assert "nesterov" in exp.controls and exp.controls["nesterov"].value is False
    exp.controls["nesterov"].value = True
    r = exp.result
    assert r.nesterov and not np.allclose(r.trajectory.points, heavy.points)
    direct = minimize(r.landscape, SGD(lr=0.02, momentum=0.8, dampening=0.0, nesterov=True), steps=80)
    np.testing.assert_array_equal(r.trajectory.points, direct.points)
    np.testing.assert_array_equal(r.plain.points, minimize(r.landscape, SGD(lr=0.02), steps=80).points)
    assert "Nesterov momentum" in exp.message.value
    # its own heat map, cached per (landscape, nesterov, steps), measured with Nesterov's update
    m = r.rate_map
    assert m is not heavy_map and m.nesterov and "Nesterov" in exp.ax_map.get_title()
    i, j = np.argmin(np.abs(m.betas - 0.5)), np.argmin(np.abs(m.lrs - 0.01))
    cell = minimize(r.landscape, SGD(lr=float(m.lrs[j]), momentum=float(m.betas[i]), nesterov=True), steps=80)
    assert m.rate[i, j] == pytest.approx(_direct_rate(cell), rel=1e-9)
    s = np.sqrt(3 * r.landscape.L / r.landscape.mu + 1)             # Nesterov's optimum on a quadratic
    np.testing.assert_allclose(exp.optimum.get_xydata()[0], [4 / (3 * r.landscape.L + r.landscape.mu),
                                                              (s - 2) / (s + 2)])
    edge = exp.edge_line.get_xydata()
    np.testing.assert_allclose(edge[:, 0] * r.landscape.L, (2 + 2 * edge[:, 1]) / (1 + 2 * edge[:, 1]))
    exp.controls["momentum"].value = 0.0                # β = 0: plain GD, no "Nesterov needs momentum" error
    assert exp.error is None
    np.testing.assert_array_equal(exp.result.trajectory.points, exp.result.plain.points)
    exp.controls["nesterov"].value = False
    assert exp.result.rate_map is heavy_map


def test_momentum_heat_map_is_not_recomputed_on_lr_or_beta_moves(monkeypatch):
    exp = widgets.momentum_experiment()
    m = exp.result.rate_map
    calls = []
    f = exp.result.landscape
    real = type(f).gradient
    monkeypatch.setattr(type(f), "gradient", lambda self, p: (calls.append(np.shape(p)), real(self, p))[1])
    for lr, beta in [(0.02, 0.9), (0.005, 0.3), (0.05, 0.6)]:
        with exp.hold():
            exp.controls["lr"].value, exp.controls["momentum"].value = lr, beta
        assert exp.result.rate_map is m and exp.error is None
    assert all(s == (2,) for s in calls)                # only the two runs: no grid evaluations


def test_adaptive_experiment_eps_control_reaches_the_optimizers(no_warnings):
    from optlessons.optim import SGD, Adagrad, RMSprop, Adadelta
    from optlessons.train import minimize
    exp = widgets.adaptive_experiment()
    eps = exp.controls["eps"]
    assert isinstance(eps, W.FloatLogSlider) and (eps.min, eps.max) == (-10, -1) and eps.value == 1e-6
    before = {n: t.points for n, t in exp.result.trajectories.items()}
    eps.value = 1e-2
    q, r = exp.result.landscape, exp.result
    lrs = {n: exp.controls[f"{n}.lr"].value for n in r.trajectories}
    direct = {"GD": SGD(lr=lrs["GD"]), "Adagrad": Adagrad(lr=lrs["Adagrad"], eps=1e-2),
              "RMSprop": RMSprop(lr=lrs["RMSprop"], eps=1e-2), "Adadelta": Adadelta(lr=lrs["Adadelta"], eps=1e-2)}
    for name, opt in direct.items():
        np.testing.assert_array_equal(r.trajectories[name].points, minimize(q, opt, steps=r.steps).points)
        changed = not np.array_equal(r.trajectories[name].points, before[name])
        assert changed == (name != "GD"), name                    # GD has no ε
    assert "1.0e-02" in exp.message.value
    # the starting ε (Adadelta's default) leaves Adagrad and RMSprop as with their own defaults here
    eps.value = 1e-6
    for name, opt in {"Adagrad": Adagrad(lr=lrs["Adagrad"]), "RMSprop": RMSprop(lr=lrs["RMSprop"])}.items():
        np.testing.assert_allclose(exp.result.trajectories[name].points, minimize(q, opt, steps=r.steps).points,
                                   atol=1e-4)


def test_adam_experiment_records_moments_and_step_sizes():
    exp = widgets.adam_experiment(steps=100)
    r = exp.result
    assert r.m.shape == r.v.shape == r.steps_taken.shape == (100, 2)
    np.testing.assert_allclose(r.steps_taken[0], r.lr, rtol=1e-6)   # first step: lr · g/|g|
    exp.controls["beta1"].value = 0.0
    exp.controls["beta2"].value = 0.5
    np.testing.assert_allclose(exp.trace["m", 0].get_ydata(),
                               exp.result.m[:, 0])                 # the plotted m is the state's
    r = exp.result                                                  # β₁ = 0: m is the last gradient
    np.testing.assert_allclose(r.m, exp.landscape.gradient(r.trajectory.points[:-1]))
    assert exp.error is None


def test_adam_experiment_reports_the_largest_step_as_a_multiple_of_lr():
    exp = widgets.adam_experiment(lr=0.05, steps=200)
    exp.controls["beta1"].value = 0.0                  # RMSprop with a bias correction: steps above lr
    r = exp.result
    ratio = float(np.max(r.steps_taken)) / r.lr
    assert ratio > 1.5
    text = exp.message.value
    assert f"= {ratio:.2f} × lr" in text
    assert f"{1 / np.sqrt(1 - 0.999):.2f} × lr" in text    # (1 − β₁)/√(1 − β₂) with β₁ = 0: 31.62


def test_adaptive_experiment_rotation_and_gd_limit():
    exp = widgets.adaptive_experiment()
    assert set(exp.result.trajectories) == {"GD", "Adagrad", "RMSprop", "Adadelta"}
    steps_axis = {r.name: r.steps_to_tol for r in exp.result.rows}
    exp.controls["angle"].value = 45.0
    steps_rot = {r.name: r.steps_to_tol for r in exp.result.rows}
    assert exp.result.landscape.angle == pytest.approx(np.pi / 4)
    # Adagrad's per-coordinate scaling helps on the axis-aligned bowl, not on the rotated one
    assert steps_axis["Adagrad"] is not None
    assert steps_rot["Adagrad"] is None or steps_rot["Adagrad"] > steps_axis["Adagrad"]
    exp.controls["GD.lr"].value = 2.2 / exp.result.landscape.L
    assert "GD" in exp.result.diverged and "2/λ<sub>max</sub>" in exp.message.value


def test_adaptive_experiment_reports_kappa_after_diagonal_scaling():
    exp = widgets.adaptive_experiment(condition_number=50.0, angle_degrees=0.0)
    assert "after the best diagonal rescaling (what the per-coordinate methods can reach) κ = 1. " in exp.message.value
    exp.controls["angle"].value = 45.0                  # the valley along the diagonal: no help
    assert exp.kappa_after_diagonal_scaling(exp.result.landscape) == pytest.approx(50.0)
    assert "methods can reach) κ = 50." in exp.message.value


@pytest.mark.parametrize("name", ["playground", "momentum_experiment", "batch_size_experiment", "curvature_race"])
def test_the_cached_background_never_goes_stale(name):
    """After changes that move the axes (lr, steps, landscape), the PNG shown equals a full redraw."""
    import io
    from PIL import Image
    exp = FACTORIES[name]()
    changes = {"playground": [("Adam.lr", 0.5), ("steps", 50), ("landscape", "beale"), ("GD.lr", 0.2)],
               "momentum_experiment": [("lr", 0.05), ("steps", 40), ("landscape", "rosenbrock")],
               "batch_size_experiment": [("lr", 0.5), ("batch_size", 1), ("steps", 300)],
               "curvature_race": [("curvature", 30.0), ("steps", 50), ("x0", 1e-6), ("noise", 0.05)]}[name]
    for control, value in changes:
        exp.controls[control].value = value
        assert exp.error is None
    shown = np.asarray(Image.open(io.BytesIO(exp.png())).convert("RGB"))
    for artist in exp.figure.get_children():
        artist.set_animated(False)
    for ax in exp.figure.axes:
        for artist in ax.get_children():
            artist.set_animated(False)
    buf = io.BytesIO()
    exp.figure.savefig(buf, format="png")
    full = np.asarray(Image.open(buf).convert("RGB"))
    assert shown.shape == full.shape
    assert np.mean(np.any(shown != full, axis=-1)) < 0.002


def test_status_text_colours_are_readable_on_white():
    """WCAG AA: normal text needs a contrast ratio of at least 4.5:1 against its background."""
    def luminance(hex_colour):
        def linear(c):
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)

    from optlessons.widgets import TEXT_COLOURS
    for kind, colour in TEXT_COLOURS.items():
        assert (1.0 + 0.05) / (luminance(colour) + 0.05) >= 4.5, (kind, colour)


def test_learning_rate_readout_shows_enough_digits_near_the_limit_and_names_the_plot_floor():
    exp = widgets.learning_rate_experiment("quadratic", steps=50)
    exp.controls["lr"].value = 10 ** -0.7                     # the slider's notch just below 2/λmax = 0.2
    assert widgets.base.slider_text(exp.controls["lr"]) == "0.1995"      # not 0.2
    assert "η = 0.1995 is 0.998 × the stability limit" in exp.message.value
    assert "largest curvature" in exp.message.value and "floor" not in exp.message.value
    exp.controls["lr"].value = 0.1
    exp.controls["steps"].value = 300                        # converged far below what a log axis draws
    assert "drawn flat at 1e-16" in exp.message.value
    assert "floor 1e-16" in exp.floor_note.get_text()        # said on the plot too
    exp.controls["steps"].value = 10
    assert exp.floor_note.get_text() == "" and "floor" not in exp.message.value


# --------------------------------------------------------------------------- alt text

def test_plain_text_keeps_the_words_of_a_status_line():
    assert widgets.plain_text("2/λ<sub>max</sub> = 0.04<br>κ = 50 &lt; 100") == "2/λmax = 0.04. κ = 50 < 100"
    assert widgets.plain_text("ends here.<br/>Then this") == "ends here. Then this"


def test_alt_text_follows_the_figure():
    """The alt text is recomputed with the figure: a new setting, new numbers in it."""
    exp = widgets.learning_rate_experiment()
    before = exp.alt_text()
    exp.controls["lr"].value = exp.controls["lr"].value * 0.5
    assert exp.alt_text() != before and exp.alt_text() == exp.image.tooltip
    assert exp.alt_text().startswith(exp.shows) and exp.alt_text().endswith(".")


def test_race_alt_text_reads_the_summary_table():
    pg = widgets.playground()
    for row in pg.result.rows:
        assert f"{row.name} ({row.settings}): {row.status}, L = {row.value:.4g}" in pg.alt_text()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_experiment_names_its_sliders_for_screen_readers(name):
    """The invisible ControlNames widget sits in every experiment (the browser test checks what it does)."""
    exp = FACTORIES[name]()
    assert sum(isinstance(w, widgets.ControlNames) for w in exp.widget.children) == 1


def test_adam_experiment_beta2_moves_in_one_minus_beta2_on_a_log_scale():
    from optlessons.widgets.adam import BETA2_CHOICES
    exp = widgets.adam_experiment()
    slider = exp.controls["beta2"]
    values = [value for _, value in slider.options]
    assert values == sorted(values) and values[0] == 0.5 and values[-1] == 0.9999 and slider.value == 0.999
    gaps = 1 - np.array(values)
    assert np.all(gaps[:-1] / gaps[1:] <= 2.5 + 1e-9)              # each key press: 1 − β₂ by at most ×2.5
    assert values.index(0.999) - values.index(0.5) <= 10           # 0.5 → 0.999 in at most 10 presses
    assert [label for label, _ in slider.options][values.index(0.999)] == "0.999"   # the readout is β₂ as shown
    assert set(BETA2_CHOICES) <= set(values)
    custom = widgets.adam_experiment(betas=(0.9, 0.97)).controls["beta2"]
    assert 0.97 in [value for _, value in custom.options] and custom.value == 0.97
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"β₂"):
            widgets.adam_experiment(betas=(0.9, bad))


def test_adam_experiment_lr_readout_and_status_write_lr_alike():
    from optlessons.widgets.base import LR_FORMAT, slider_text
    exp = widgets.adam_experiment(lr=0.05)
    exp.controls["lr"].value = 10 ** -1.3                            # where the slider's notch lies: 0.0501…
    assert exp.controls["lr"].readout_format == LR_FORMAT
    assert slider_text(exp.controls["lr"]) == "0.05012" and "(lr = 0.05012;" in exp.message.value


# d3-format's outputs (ipywidgets' read-outs), as JavaScript prints them: the python side must match.
D3_READOUTS = [(".4~g", 10 ** -1.3, "0.05012"), (".4~g", 1e-4, "0.0001"), (".4~g", 0.1, "0.1"),
               (".4~g", 10 ** -0.7, "0.1995"), (".4~g", 10 ** 0.5, "3.162"), (".4~g", 1.0, "1"),
               (".4~g", 1e-7, "1e-7"), (".3~g", 12345.0, "1.23e+4"), (".3~g", 100.0, "100"),
               (".3g", 0.05, "0.0500"), (".3g", 0.0001, "0.000100"), (".2f", -1.0, "\u22121.00"),
               (".2f", -0.9, "\u22120.90"), (".2f", -0.001, "0.00"), (".0f", 45.0, "45"), ("d", 300, "300"),
               (".4~g", -0.05, "\u22120.05")]


@pytest.mark.parametrize("fmt, value, text", D3_READOUTS)
def test_readout_writes_a_value_as_the_slider_shows_it(fmt, value, text):
    from optlessons.widgets.base import readout
    assert readout(value, fmt) == text


def test_readout_refuses_a_format_it_cannot_match():
    from optlessons.widgets.base import readout
    for bad in (".1e", ".2%", "g", ".2d"):
        with pytest.raises(ValueError, match="readout format"):
            readout(1.0, bad)


def test_linear_sliders_show_the_step_s_decimals_and_log_sliders_the_lr_format():
    from optlessons.widgets.base import LR_FORMAT, float_slider, log_slider, step_format, slider_text
    assert [step_format(s) for s in (0.05, 0.01, 5.0, 0.005, 0.1 * 3, 0.04)] == [".2f", ".2f", ".0f", ".3f",
                                                                                  ".1f", ".2f"]
    with pytest.raises(ValueError, match="step"):
        step_format(0)
    slope = float_slider("slope w", 0.0, -2.0, 5.0, 0.05)
    assert [slider_text(slope) for slope.value in (0.0, 0.05, 0.1)] == ["0.00", "0.05", "0.10"]
    assert log_slider("learning rate", 0.05, -4, 0).readout_format == LR_FORMAT
    line = widgets.line_fit()
    assert line.controls["slope"].readout_format == ".2f"


@pytest.mark.parametrize("make, in_status", [(widgets.learning_rate_experiment, True),      # 03
                                             (widgets.batch_size_experiment, False),        # 04
                                             (widgets.adam_experiment, True)])              # 07
def test_every_learning_rate_reads_the_same_on_its_slider_and_in_the_status(make, in_status):
    from optlessons.widgets.base import LR_FORMAT, slider_text
    exp = make(lr=10 ** -1.3)
    lr = exp.controls["lr"]
    assert lr.readout_format == LR_FORMAT and slider_text(lr) == "0.05012"
    said = re.findall(r"(?:\blr|η) = (\d[\d.]*\d)", exp.message.value)      # every learning rate the status writes
    assert said == (["0.05012"] if in_status else []), exp.message.value


def test_03_s_legend_leaves_the_start_in_sight():
    """The novice's case: 03 with the start at (5, 5), the top right corner, drew the legend over it."""
    exp = widgets.learning_rate_experiment(lr=0.05)
    (_, x1), (_, y1) = exp.landscape.window
    with exp.hold():
        exp.controls["x0"].value, exp.controls["y0"].value = 0.9 * x1, 0.9 * y1
    ax = exp.paths.ax
    box = ax.get_legend().get_window_extent(exp.figure.canvas.get_renderer())
    start = ax.transData.transform(exp.paths.start.get_xydata()[0])
    assert not box.contains(*start), (box, start)


def test_04_s_minimum_star_is_drawn_above_the_end_markers():
    """04's runs end at the minimum: its star, drawn with the background, sat under their end markers."""
    from optlessons.plots import FigureRenderer
    exp = widgets.batch_size_experiment(lr=0.05)
    panel = exp.paths
    assert np.allclose(panel.minima.get_xydata(), exp.loss_landscape.minima)
    order = sorted(FigureRenderer(exp.figure)._animated(), key=lambda a: a.get_zorder())      # as drawn
    assert panel.minima.get_visible() and panel.minima.get_markerfacecolor() == "none"
    assert all(order.index(panel.minima) > order.index(end) for end in panel.ends.values())
    assert order.index(panel.minima) < order.index(panel.start)
