"""optlessons.plots: palette, levels, panels that update in place, the blitting renderer, one-shot figures."""

import matplotlib

matplotlib.use("Agg", force=True)

import io  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import hypothesis.strategies as st  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from optlessons import plots  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from optlessons.functions import escaped, quadratic, rosenbrock, saddle  # noqa: E402
from optlessons.optim import SGD, Adam  # noqa: E402
from optlessons.train import minimize  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def runs():
    f = rosenbrock()
    return f, {
        "GD": minimize(f, SGD(lr=1e-3), steps=100),
        "Adam": minimize(f, Adam(lr=0.1), steps=100),
        "too fast": minimize(f, SGD(lr=0.01), steps=100),
    }


def _png_pixels(png):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --------------------------------------------------------------------------- palette and helpers

def test_palette_is_okabe_ito_with_distinct_markers_and_linestyles():
    assert len(set(plots.PALETTE)) == 8
    assert set(plots.PALETTE) == set(plots.OKABE_ITO.values())
    assert len(set(plots.MARKERS)) == len(plots.MARKERS) == len(plots.LINESTYLES) == 11
    first = [plots.style(i) for i in range(4)]
    assert len({s["color"] for s in first}) == 4
    assert len({str(s["linestyle"]) for s in first}) == 4
    assert plots.style(11) == plots.style(0)         # cycles after 11
    styles = [plots.style(i) for i in range(11)]
    assert len({(s["color"], s["marker"], str(s["linestyle"])) for s in styles}) == 11
    for i in range(8, 11):                           # a reused colour gets its own marker and dashes
        twin = plots.style(i - 8)
        assert styles[i]["color"] == twin["color"]
        assert styles[i]["marker"] != twin["marker"] and str(styles[i]["linestyle"]) != str(twin["linestyle"])
    assert plots.PALETTE[-1] == plots.OKABE_ITO["yellow"]   # weakest on white comes last


def test_contour_levels_are_log_spaced_for_rosenbrock_and_even_for_a_round_bowl():
    X, Y, Z = rosenbrock().grid(120)
    lv = plots.contour_levels(Z, 15)
    gaps = np.diff(lv - Z.min())
    assert np.all(gaps > 0)
    ratios = (lv[1:] - Z.min()) / (lv[:-1] - Z.min())
    assert np.allclose(ratios, ratios[0])            # geometric above the minimum
    assert lv[0] - Z.min() < 1.0                     # levels reach into the valley
    _, _, Zq = quadratic(condition_number=1.0).grid(120)
    lq = plots.contour_levels(Zq, 10)
    assert np.allclose(np.diff(lq), np.diff(lq)[0])  # evenly spaced


def test_contour_levels_ignore_non_finite_values():
    z = np.array([0.0, 1.0, np.inf, np.nan, 2.0])
    lv = plots.contour_levels(z, 4)
    assert np.all(np.isfinite(lv)) and lv.min() >= 0 and lv.max() <= 2


def test_visible_path_stops_at_the_first_non_finite_point_and_at_the_window_exit():
    window = ((-1, 1), (-1, 1))
    pts = np.array([[0, 0], [0.5, 0.5], [3, 0], [0.2, 0.2], [np.nan, 0]])
    assert len(plots.visible_path(pts, window)) == 4                       # only the NaN goes
    cut = plots.visible_path(pts, window, cut_at_exit=True)
    assert len(cut) == 3 and cut[-1][0] == 3                               # keeps the point outside
    far = np.array([[0, 0], [1e6, 0], [0, 0]])
    assert len(plots.visible_path(far, window)) == 2


@settings(max_examples=60, deadline=None)
@given(pts=arrays(float, st.tuples(st.integers(1, 30), st.just(2)),
                  elements=st.sampled_from([0.0, 0.5, -0.9, 1.5, 9.0, -25.0, 1e6, np.inf, np.nan])),
       cut=st.booleans())
def test_visible_path_ends_at_the_first_escaped_point_the_rule_minimize_stops_at(pts, cut):
    window = ((-1.0, 1.0), (-1.0, 1.0))
    shown = plots.visible_path(pts, window, cut_at_exit=cut)
    n = len(shown)
    np.testing.assert_array_equal(shown, pts[:n])               # a prefix of the path
    assert np.isfinite(shown).all()
    gone = escaped(shown, window)
    assert not gone[:-1].any()                                    # nothing escaped before its end
    outside = (np.abs(shown) > 1).any(axis=1)
    if cut:
        assert not outside[:-1].any()                             # a diverged run: cut where it leaves the picture
    if n < len(pts):                                              # it stopped early, for a reason
        assert (not np.isfinite(pts[n]).all()) or gone[-1] or (cut and outside[-1])


def test_loss_gap_floors_and_stops_at_non_finite():
    v = np.array([3.0, 1.0, 1.0, np.inf, 2.0])
    assert plots.loss_gap(v, 1.0).tolist() == [2.0, 1e-16, 1e-16]
    assert plots.loss_gap(v).tolist() == [3.0, 1.0, 1.0]


# --------------------------------------------------------------------------- panels

def test_contour_panel_updates_the_same_artists(runs):
    f, trajs = runs
    fig = plots.new_figure()
    ax = fig.add_subplot()
    panel = plots.ContourPanel(ax, f, list(trajs))
    lines = dict(panel.lines)
    panel.update({"GD": trajs["GD"]})
    n_artists = len(ax.get_children())
    assert panel.lines["GD"].get_visible() and not panel.lines["Adam"].get_visible()
    np.testing.assert_allclose(panel.lines["GD"].get_xydata(), trajs["GD"].points)
    panel.update(trajs)
    assert panel.lines == lines                                  # no new Line2D
    assert len(ax.get_children()) == n_artists                   # nothing piles up (legend replaced)
    np.testing.assert_allclose(panel.lines["Adam"].get_xydata(), trajs["Adam"].points)
    np.testing.assert_allclose(panel.start.get_xydata()[0], f.start)
    np.testing.assert_allclose(panel.ends["Adam"].get_xydata()[0], trajs["Adam"].points[-1])
    assert ax.get_title() == "Rosenbrock"
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert ax.get_xlim() == f.window[0] and ax.get_ylim() == f.window[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["GD", "Adam", "too fast", "start", "minimum"]


def test_a_diverged_path_is_drawn_up_to_where_it_left_the_window(runs):
    f, trajs = runs
    bad = trajs["too fast"]
    assert bad.diverged
    fig = plots.new_figure()
    panel = plots.ContourPanel(fig.add_subplot(), f, ["too fast"])
    panel.update({"too fast": bad})
    drawn = panel.lines["too fast"].get_xydata()
    (x0, x1), (y0, y1) = f.window
    inside = (drawn[:, 0] >= x0) & (drawn[:, 0] <= x1) & (drawn[:, 1] >= y0) & (drawn[:, 1] <= y1)
    assert inside[:-1].all() and not inside[-1]                  # stops at the first point outside
    assert len(drawn) >= 2


def test_set_landscape_replaces_contours_and_minima():
    fig = plots.new_figure()
    ax = fig.add_subplot()
    panel = plots.ContourPanel(ax, rosenbrock(), ["a"])
    before = len(ax.get_children())
    panel.set_landscape(quadratic())
    assert len(ax.get_children()) == before
    assert ax.get_xlim() == quadratic().window[0]
    panel.set_landscape(saddle())                                # no minima: no star
    assert not [l for l in ax.get_lines() if l.get_label() == "minimum"]


def test_loss_panel_log_gap_and_divergence_marker(runs):
    f, trajs = runs
    fig = plots.new_figure()
    ax = fig.add_subplot()
    panel = plots.LossPanel(ax, list(trajs), f_star=0.0)
    panel.update(trajs)
    np.testing.assert_allclose(panel.lines["GD"].get_ydata(), np.log10(trajs["GD"].values))
    assert panel.blowups["too fast"].get_visible() and not panel.blowups["GD"].get_visible()
    assert "log" in ax.get_ylabel() and ax.get_xlabel() == "step"
    lo, hi = ax.get_ylim()
    assert hi <= np.log10(max(t.values[0] for t in trajs.values())) + 3.5   # capped: 1000 x start
    ticks = [plots.panels._power_of_ten(v) for v in (0, 1, -3)]
    assert ticks == ["1", "10¹", "10⁻³"]
    panel.set_f_star(None)
    panel.update({"GD": trajs["GD"]})
    np.testing.assert_allclose(panel.lines["GD"].get_ydata(), trajs["GD"].values)


def test_loss_panel_handles_a_single_point_run():
    fig = plots.new_figure()
    panel = plots.LossPanel(fig.add_subplot(), ["short"], f_star=0.0)
    panel.update({"short": np.array([2.0])})
    assert len(panel.lines["short"].get_ydata()) == 1
    plots.figure_to_png(fig)


# --------------------------------------------------------------------------- the renderer

def _race_figure(runs, animated):
    f, trajs = runs
    fig = plots.new_figure(10, 4)
    a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    cp = plots.ContourPanel(a1, f, list(trajs), legend="markers", animated=animated)
    lp = plots.LossPanel(a2, list(trajs), f_star=0.0, animated=animated)
    return fig, cp, lp


@pytest.mark.slow  # make test-fast leaves it to make test: full draws compared pixel by pixel
def test_blitting_renderer_matches_a_full_draw(runs):
    f, trajs = runs
    fig, cp, lp = _race_figure(runs, animated=True)
    renderer = plots.FigureRenderer(fig)
    cp.update(trajs)
    lp.update(trajs)
    renderer.render(lp.static_key())
    cp.update({"GD": trajs["GD"]})                        # the loss axes' limits change...
    lp.update({"GD": trajs["GD"]})
    renderer.render(lp.static_key())
    assert renderer.full_draws == 2                       # ...so a second background is drawn
    cp.update(trajs)
    lp.update(trajs)
    blitted = _png_pixels(renderer.render(lp.static_key()))
    assert renderer.full_draws == 2                       # back to the first one: reused
    for ax in fig.axes:                                   # the same state, drawn in full
        for artist in ax.get_children():
            artist.set_animated(False)
    reference = _png_pixels(plots.figure_to_png(fig))
    assert blitted.shape == reference.shape
    differing = np.mean(np.any(blitted != reference, axis=-1))
    assert differing < 0.002, f"{differing:.2%} of pixels differ from a full draw"


def test_a_layer_axes_is_redrawn_alone_and_the_picture_is_a_full_draws(runs):
    """The loss axes as a layer: new limits redraw that axes only, pixel for pixel what a
    full draw of the same state gives; the background (contours) is drawn once."""
    f, trajs = runs
    fig, cp, lp = _race_figure(runs, animated=True)
    renderer = plots.FigureRenderer(fig)
    for shown in ({"GD": trajs["GD"]}, trajs, {"Adam": trajs["Adam"]}, trajs):
        cp.update(shown)
        lp.update(shown)
        layered = _png_pixels(renderer.render(layers={lp.ax: lp.static_key()}))
        full = _png_pixels(plots.FigureRenderer(fig).render(lp.static_key()))
        assert np.array_equal(layered, full)
    assert renderer.full_draws == 1
    assert 2 <= renderer.layer_draws <= 3                # one per distinct limits; the last reused


@pytest.mark.slow  # make test-fast leaves it to make test: full draws compared pixel by pixel
def test_overlapping_layers_are_drawn_together(runs):
    """Two layer axes whose labels overlap (one inside the other) still compose exactly."""
    f, trajs = runs
    fig, cp, lp = _race_figure(runs, animated=True)
    inset = fig.add_axes([0.75, 0.55, 0.2, 0.3])
    inset_panel = plots.LossPanel(inset, list(trajs), f_star=0.0, animated=True)
    renderer = plots.FigureRenderer(fig)
    for shown in ({"GD": trajs["GD"]}, trajs):
        lp.update(shown)
        inset_panel.update(shown)
        layers = {lp.ax: lp.static_key(), inset: inset_panel.static_key()}
        layered = _png_pixels(renderer.render(layers=layers))
        full = _png_pixels(plots.FigureRenderer(fig).render(tuple(layers.values())))
        assert np.array_equal(layered, full)


def test_renderer_output_changes_with_the_data_and_invalidate_redraws(runs):
    f, trajs = runs
    fig, cp, lp = _race_figure(runs, animated=True)
    renderer = plots.FigureRenderer(fig)
    cp.update({"GD": trajs["GD"]})
    lp.update({"GD": trajs["GD"]})
    one = renderer.render()
    assert one[:8] == b"\x89PNG\r\n\x1a\n"
    cp.update({"Adam": trajs["Adam"]})
    lp.update({"Adam": trajs["Adam"]})
    two = renderer.render()
    assert one != two
    cp.set_landscape(quadratic())
    renderer.invalidate()
    renderer.render()
    assert renderer.full_draws == 2


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(4))),
       st.integers(0, 9))
def test_png_bytes_decodes_to_the_same_pixels(rgba, level):
    """png_bytes is a lossless PNG of the RGB channels, whatever the size and compression level."""
    from PIL import Image
    decoded = Image.open(io.BytesIO(plots.png_bytes(rgba, level)))
    assert decoded.mode == "RGB" and decoded.size == (rgba.shape[1], rgba.shape[0])
    np.testing.assert_array_equal(np.asarray(decoded), rgba[:, :, :3])


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float64),
                                 np.zeros((4, 4), np.uint8)])
def test_png_bytes_names_the_argument_it_cannot_encode(bad):
    with pytest.raises(ValueError, match="rgba must be a"):
        plots.png_bytes(bad)


# --------------------------------------------------------------------------- one-shot figures

def test_plot_race_has_titles_labels_and_a_legend_per_optimizer(runs):
    f, trajs = runs
    fig, (cp, lp) = plots.plot_race(f, trajs)
    assert cp.ax.get_title() == "Rosenbrock" and lp.ax.get_title() == "Loss"
    assert [t.get_text() for t in cp.ax.get_legend().get_texts()][:3] == list(trajs)
    assert lp.ax.get_xlabel() == "step"
    assert plots.figure_to_png(fig)[:4] == b"\x89PNG"


def test_plot_trajectories_accepts_points_and_lists():
    f = quadratic()
    pts = np.array([[-4, 2], [-2, 1], [0, 0]], dtype=float)
    panel = plots.plot_trajectories(f, pts)
    np.testing.assert_allclose(panel.lines["path"].get_xydata(), pts)
    panel = plots.plot_trajectories(f, [pts, pts / 2])
    assert list(panel.lines) == ["run 1", "run 2"]


def test_plot_losses_uses_the_landscape_minimum(runs):
    f, trajs = runs
    panel = plots.plot_losses({"GD": trajs["GD"]}, landscape=f)
    assert panel.f_star == 0.0
    panel = plots.plot_losses({"GD": trajs["GD"]})
    assert panel.f_star is None and panel.ax.get_ylabel() == "f(x)"


def test_small_figures():
    ax = plots.plot_ema_weights((0.9, 0.99), k=30)
    assert len(ax.get_lines()) == 2
    assert "window ≈ 10 steps" in ax.get_legend().get_texts()[0].get_text()
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(0.1)
    ax = plots.plot_step_sizes({"Adam": np.abs(np.random.default_rng(0).normal(size=(20, 2)))})
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"
    m = np.random.default_rng(1).normal(size=(30, 2))
    axes = plots.plot_moments(m, m ** 2)
    assert axes[0].get_title().startswith("first moment") and axes[1].get_yscale() == "log"


def test_figure_bundle_carries_the_alt_text_in_html_and_in_the_png_metadata():
    import base64
    import html as html_module

    png = plots.figure_to_png(plots.new_figure(2, 1))
    alt = 'Two lines "A" & B: the loss falls by ten times in 100 steps.'
    data, metadata = plots.figure_bundle(png, alt)
    assert base64.b64decode(data["image/png"]) == png
    assert metadata == {"image/png": {"alt": alt}}
    assert f'alt="{html_module.escape(alt)}"' in data["text/html"]
    assert data["image/png"] in data["text/html"]


@pytest.mark.parametrize("alt", ["", "figure.png", "A plot of the loss", "   "])
def test_figure_bundle_refuses_alt_text_that_says_nothing(alt):
    with pytest.raises(ValueError, match="alt text must be at least one sentence"):
        plots.figure_bundle(b"png", alt)


def test_show_displays_the_inline_png_with_its_alt_text_and_closes_the_figure(monkeypatch):
    import matplotlib.pyplot as plt
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw, metadata: shown.append((data, metadata)))
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    plots.show("A falling line from one to zero: the loss goes down.", fig)
    (data, metadata), = shown
    assert data["image/png"] and metadata["image/png"]["alt"].startswith("A falling line")
    assert not plt.fignum_exists(fig.number)
