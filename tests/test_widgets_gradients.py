"""optlessons.widgets.gradients (notebook 02's gradient explorer) driven headlessly: set a control,
check the result, the figure's artists, the status line and the alt text."""

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from optlessons import functions, widgets  # noqa: E402
from optlessons.widgets.gradients import ALIGNED_DEGREES  # noqa: E402


def _arrow(patch, p):
    """The drawn arrow as a vector: from p to the vertex of its path farthest from p (data units)."""
    path = patch.get_path()
    vertices = path.vertices[path.codes != path.CLOSEPOLY]
    return vertices[np.argmax(np.linalg.norm(vertices - p, axis=1))] - p


@pytest.fixture(scope="module")
def ex():
    return widgets.gradient_explorer()


def _set(ex, t1=-1.0, t2=2.0, psi=0):
    with ex.hold():
        ex.controls["t1"].value, ex.controls["t2"].value, ex.controls["psi"].value = t1, t2, psi
    assert ex.error is None, ex.message.value
    return ex.result


@settings(max_examples=40, deadline=None)
@given(t1=st.integers(-50, 50), t2=st.integers(-50, 50), notch=st.integers(0, 71))
def test_the_result_is_the_gradient_dotted_with_u(ex, t1, t2, notch):
    """D_u L = ∇L(p)·u = |∇L| cos φ, ∇L(p) is the landscape's gradient, and |D_u L| never exceeds |∇L|."""
    r = _set(ex, t1 / 10, t2 / 10, 5 * notch)
    p = np.array([t1 / 10, t2 / 10])
    np.testing.assert_allclose(r.point, p)
    np.testing.assert_allclose(r.gradient, ex.landscape.gradient(p))
    u = np.array([np.cos(np.radians(5 * notch)), np.sin(np.radians(5 * notch))])
    np.testing.assert_allclose(r.direction, u)
    assert r.directional_derivative == pytest.approx(float(r.gradient @ u))
    assert abs(r.directional_derivative) <= r.norm * (1 + 1e-12)
    if not r.stationary:
        assert r.directional_derivative == pytest.approx(r.norm * np.cos(np.radians(r.phi)), abs=1e-9 * r.norm)


def test_the_figure_follows_the_controls(ex):
    r = _set(ex, -1.0, 2.0, 90)
    for patch, direction in ((ex.direction_arrow, r.direction), (ex.gradient_arrow, r.gradient / r.norm)):
        drawn = _arrow(patch, r.point)           # from p along u (or ∇L), the same length for both
        assert np.degrees(np.arccos(drawn @ direction / np.linalg.norm(drawn))) < 0.5
        assert np.linalg.norm(drawn) == pytest.approx(ex.arrow_length, rel=0.1)   # the head's stroke: a few px
    np.testing.assert_allclose(ex.point.get_xydata(), [r.point])
    assert ex.level.levels == pytest.approx([ex.landscape.value([-1.0, 2.0])])    # the contour through p
    assert ex.title_text.get_text() == (rf"$|\nabla L(p)|$ = {r.norm:.2f},   $D_u L = \nabla L\cdot u$ = "
                                       f"{r.directional_derivative:.2f}")
    before = ex.png()
    r2 = _set(ex, 0.5, 2.0, 90)
    assert ex.png() != before and ex.level.levels == pytest.approx([r2.value])
    assert len([c for c in ex.ax.collections if c.get_animated()]) == 1  # the old contour is gone, not stacked


def test_the_message_and_alt_text_name_the_numbers_and_the_special_directions(ex):
    r = _set(ex, -1.0, 2.0, 0)
    assert "∇L(p) = (24.00, -48.00), |∇L(p)| = 53.67, pointing at 296.6°" in ex.message.value
    assert "D_u L = ∇L·u = 24.00 = |∇L| cos φ, with φ = 63.4°" in ex.message.value
    assert ex.alt_text().startswith(ex.shows) and "D_u L = ∇L·u = 24.00" in ex.alt_text()
    assert ex.image.tooltip == ex.alt_text()
    for psi, words in ((295, "steepest ascent"), (115, "steepest descent"), (25, "along the contour")):
        r = _set(ex, -1.0, 2.0, psi)
        assert words in ex.message.value, (psi, ex.message.value)
        assert min(r.phi, 180 - r.phi, abs(r.phi - 90)) <= ALIGNED_DEGREES
    r = _set(ex, -1.0, 2.0, 50)
    assert not any(w in ex.message.value for w in ("steepest", "along the contour"))


def test_at_a_minimum_the_gradient_vanishes_and_its_arrow_goes(ex):
    r = _set(ex, 3.0, 2.0, 0)                                       # one of Himmelblau's minima
    assert r.stationary and r.directional_derivative == pytest.approx(0.0, abs=1e-9)
    assert "stationary point" in ex.message.value and not ex.gradient_arrow.get_visible()
    _set(ex, -1.0, 2.0, 0)
    assert ex.gradient_arrow.get_visible()


def test_bad_arguments_are_sentences():
    with pytest.raises(ValueError, match=r"t1 must be a number in \[-5, 5\], got 9"):
        widgets.gradient_explorer(t1=9)
    with pytest.raises(ValueError, match=r"psi_deg must be a number in \[0, 355\], got 400"):
        widgets.gradient_explorer(psi_deg=400)
    with pytest.raises(ValueError, match="landscape must be one of"):
        widgets.gradient_explorer("everest")


def test_a_point_without_a_gradient_is_a_sentence_and_the_figure_stays():
    """A cone L = |θ| has no gradient at its tip: the explorer says so and keeps the last figure."""
    def gradient(x, y):
        r = np.hypot(x, y)
        return x / r, y / r

    cone = functions.Landscape("cone", lambda x, y: np.hypot(x, y), gradient, lambda x, y: (0 * x, 0 * x, 0 * x),
                               minima=[(0.0, 0.0)], window=((-2, 2), (-2, 2)), start=(1.0, 1.0))
    ex = widgets.gradient_explorer(cone, t1=1.0, t2=1.0, psi_deg=45)
    assert ex.result.directional_derivative == pytest.approx(1.0)
    good, png = ex.result, ex.png()
    with ex.hold():
        ex.controls["t1"].value, ex.controls["t2"].value = 0.0, 0.0
    assert ex.error is not None and ex.result is good and ex.png() == png
    assert "Could not draw this setting: the gradient at p = (0.00, 0.00) is not finite" in ex.message.value
