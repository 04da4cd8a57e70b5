"""The timeline (Play + "step t" slider) of the playground and the 03/05/07 experiments, headless.

Moving t redraws the last result cut at step t (artists' data lengths), never runs the
optimizers again, and the status line says which step is shown and where each run is.
"""

import matplotlib

matplotlib.use("Agg", force=True)

import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from ipywidgets.widgets.widget_link import Link  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402

from optlessons import widgets  # noqa: E402
from optlessons.widgets.timeline import FRAMES, Timeline, play_step  # noqa: E402

TIMED = {
    "playground": widgets.playground,
    "learning_rate_experiment": widgets.learning_rate_experiment,
    "momentum_experiment": widgets.momentum_experiment,
    "adam_experiment": widgets.adam_experiment,
}


def runs(exp):
    """label -> Trajectory of the runs an experiment draws."""
    r = exp.result
    if hasattr(r, "trajectories"):
        return dict(r.trajectories)
    if hasattr(r, "plain"):
        return exp.runs(r)
    label = next(iter(exp.paths.lines))
    return {label: r.trajectory}


def drawn_lengths(exp):
    """How many points each visible path and loss curve (Adam: m, v, step-size trace) holds."""
    out = {("path", k): len(l.get_xdata()) for k, l in exp.paths.lines.items() if l.get_visible()}
    if hasattr(exp, "losses"):
        out.update({("loss", k): len(l.get_xdata()) for k, l in exp.losses.lines.items() if l.get_visible()})
    if hasattr(exp, "trace"):
        out.update({("trace",) + k: len(l.get_xdata()) for k, l in exp.trace.items()})
    return out


def cut_curves(exp):
    """The per-step curves beside the paths: loss curves, or Adam's m, v and step-size traces."""
    lines = exp.losses.lines.values() if hasattr(exp, "losses") else exp.trace.values()
    return [line for line in lines if line.get_visible() and len(line.get_xdata())]


@pytest.fixture(params=sorted(TIMED))
def exp(request, monkeypatch):
    e = TIMED[request.param]()
    assert e.error is None, e.error
    e.computes = 0
    compute = e.compute

    def counted():
        e.computes += 1
        return compute()
    monkeypatch.setattr(e, "compute", counted)
    return e


def test_starts_at_the_end_with_the_whole_run_drawn(exp):
    tl = exp.timeline
    steps = exp.controls["steps"].value
    assert (tl.t, tl.steps, tl.slider.max, tl.play.max) == (steps, steps, steps, steps)
    assert f"Step {steps} of {steps} (the end)" in exp.message.value
    for (kind, *_), n in drawn_lengths(exp).items():
        assert n == (steps if kind == "trace" else steps + 1)     # traces start at step 1
    assert all(line.get_marker() == "None" for line in cut_curves(exp))    # nothing cut, nothing marked


def test_moving_t_redraws_up_to_t_without_computing(exp):
    refreshes, draws = exp.refreshes, exp.renderer.full_draws
    pngs = set()
    for t in (0, 1, 5, 9):
        exp.timeline.slider.value = t
        assert exp.error is None, exp.error
        pngs.add(exp.png())
        for (kind, *_), n in drawn_lengths(exp).items():
            assert n == (t if kind == "trace" else t + 1), (kind, t)
        # the marker of where each run is at step t, and the status line says the same
        for label, traj in runs(exp).items():
            x, y = traj.points[t]
            assert np.allclose(exp.paths.ends[label].get_xydata(), [[x, y]])
            assert f"{label} at ({x:.4g}, {y:.4g}), L = {traj.values[t]:.4g}" in exp.message.value
        for line in cut_curves(exp):                  # each curve's last point drawn is marked
            assert line.get_markevery() == [len(line.get_xdata()) - 1] and line.get_marker() != "None"
        assert f"Step {t} of {exp.controls['steps'].value}:" in exp.message.value
        assert f"Step {t} of" in exp.alt_text() and f"Step {t} of" in exp.image.tooltip
    assert exp.computes == 0                          # the runs were not recomputed
    assert exp.refreshes == refreshes + 4             # but the figure was redrawn each time
    assert len(pngs) == 4                             # four different pictures
    assert exp.renderer.full_draws == draws           # on the cached background: axes do not move


def test_a_new_setting_at_the_end_is_drawn_in_full_and_the_end_follows_steps(exp):
    tl = exp.timeline
    exp.controls["steps"].value = 60
    assert exp.computes == 1
    assert (tl.t, tl.steps, tl.slider.max, tl.play.max, tl.play.value) == (60, 60, 60, 60, 60)
    assert 60 % tl.play.step == 0
    assert all(n in (60, 61) for n in drawn_lengths(exp).values())
    assert "Step 60 of 60 (the end)" in exp.message.value


def test_a_new_setting_after_a_pause_keeps_t(exp):
    tl = exp.timeline
    tl.slider.value = 12
    lr = exp.controls["GD.lr" if "GD.lr" in exp.controls else "lr"]
    before = {k: l.get_xydata().copy() for k, l in exp.paths.lines.items() if l.get_visible()}
    lr.value = lr.value * 0.5
    assert exp.computes == 1 and tl.t == 12
    assert "Step 12 of" in exp.message.value
    assert all(n in (12, 13) for n in drawn_lengths(exp).values())
    after = {k: l.get_xydata() for k, l in exp.paths.lines.items() if l.get_visible()}
    assert any(not np.array_equal(before[k], after[k]) for k in before)     # the new run, at step 12
    exp.controls["steps"].value = 10                                          # fewer steps than t:
    assert (tl.t, tl.steps) == (10, 10)                                       # t goes to the new end
    exp.controls["steps"].value = 40                                          # and stays at the end
    assert (tl.t, tl.steps) == (40, 40)


def test_out_of_range_steps_are_impossible(exp):
    tl = exp.timeline
    tl.slider.value = -5
    assert tl.t == 0
    tl.slider.value = 10 ** 6
    assert tl.t == tl.steps
    assert exp.computes == 0
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        Timeline(exp, 0)


def test_play_and_slider_are_linked_in_the_browser():
    pg = widgets.playground()
    tl = pg.timeline
    assert isinstance(tl.link, Link)
    assert tl.link.source == (tl.play, "value") and tl.link.target == (tl.slider, "value")
    assert tl.slider.continuous_update and tl.slider.description == "step t"
    assert tl.play in tl.widget.children and tl.slider in tl.widget.children
    assert tl.widget in pg.widget.children


def test_a_diverged_run_says_where_it_stopped():
    exp = widgets.learning_rate_experiment(lr=0.3)       # 1.5 x GD's stability limit 0.2 on the bowl
    traj = exp.result.trajectory
    assert traj.diverged and traj.n_steps < exp.timeline.steps
    n = traj.n_steps
    status = exp.message.value.split("<br>")[0]
    assert f"Step {exp.timeline.steps} of {exp.timeline.steps}:" in status and "(the end)" not in status
    assert f"gradient descent diverged at step {n + 1}; its last point, at step {n}: (" in status
    assert f", L = {traj.values[n]:.4g}" in status and "f = " not in exp.message.value
    assert f"diverged at step {n + 1}" in traj.message                   # the same step as the run's message
    exp.timeline.slider.value = 2                        # before it blew up
    assert "diverged" not in exp.message.value.split("<br>")[0]
    assert len(exp.paths.lines["gradient descent"].get_xdata()) == 3


@given(st.integers(1, 1000))
def test_play_steps_divide_the_run(steps):
    d = play_step(steps)
    assert steps % d == 0                         # the last frame is the end
    frames = steps // d
    assert all(abs(frames - FRAMES) <= abs(steps // e - FRAMES) for e in range(1, steps + 1) if steps % e == 0)


@pytest.mark.parametrize("steps", range(10, 1001, 10))
def test_every_step_count_the_sliders_offer_plays_in_20_to_100_frames(steps):
    assert min(steps, 20) <= steps // play_step(steps) <= 100


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_play_step_rejects_bad_step_counts(bad):
    with pytest.raises(ValueError, match=re.escape(f"steps must be a whole number >= 1, got {bad!r}")):
        play_step(bad)


# --------------------------------------------------------------------------- the panels' upto option

@pytest.fixture
def panels():
    import matplotlib.pyplot as plt
    from optlessons.functions import LANDSCAPES
    from optlessons.optim import SGD
    from optlessons.plots import ContourPanel, LossPanel
    from optlessons.train import minimize
    f = LANDSCAPES["quadratic"]()
    fig, (a, b) = plt.subplots(1, 2)
    runs = {"GD": minimize(f, SGD(lr=0.01), steps=30)}
    yield ContourPanel(a, f, ["GD"]), LossPanel(b, ["GD"], f_star=f.f_star), runs
    plt.close(fig)


def test_panels_draw_up_to_a_step_in_the_whole_runs_frame(panels):
    paths, losses, runs = panels
    losses.update(runs)
    whole = (losses.ax.get_xlim(), losses.ax.get_ylim())
    for t in (0, 7, 30, 500):                     # a step past the end draws the whole run
        paths.update(runs, upto=t)
        losses.update(runs, upto=t)
        n = min(t, 30) + 1
        assert len(paths.lines["GD"].get_xdata()) == n == len(losses.lines["GD"].get_xdata())
        assert np.allclose(paths.ends["GD"].get_xydata(), [runs["GD"].points[n - 1]])
        assert (losses.ax.get_xlim(), losses.ax.get_ylim()) == whole     # the frame does not move
        assert losses.lines["GD"].get_marker() == ("None" if t >= 30 else "o")


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_panels_refuse_a_step_that_is_not_a_whole_number(panels, bad):
    paths, losses, runs = panels
    for update in (paths.update, losses.update):
        with pytest.raises(ValueError, match="upto must be a whole number of steps >= 0"):
            update(runs, upto=bad)
