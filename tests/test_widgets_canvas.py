"""The figure drawn in the browser (``optlessons.widgets.canvas``) agrees with matplotlib's.

Without a browser: what a frame sends (the moving lines as numbers; the background only when the
view changed), and that the saved static image is matplotlib's render. With headless Chromium
(skipped, with the reason, without it): ``canvas.js`` loaded into a blank page maps every point of
every moving line to the pixel matplotlib's ``transData`` gives, and the frame it draws puts each
optimizer's colour where matplotlib's render of the same figure does, to a pixel.
"""

import base64
import io
import json

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image  # noqa: E402

from optlessons import plots  # noqa: E402
from optlessons.widgets import adaptive_experiment, canvas, playground  # noqa: E402
from optlessons.widgets.race import RACE_STYLES  # noqa: E402
from scripts import labdriver  # noqa: E402

JS = canvas.SCRIPT.read_text()


@pytest.fixture(scope="module")
def pg():
    return playground(landscape="rosenbrock", optimizers=("GD", "Momentum", "Adam"), steps=200)


# ---- without a browser ------------------------------------------------------------------------

def test_a_frame_sends_the_moving_lines_as_numbers_and_the_background_once(pg):
    first = pg.image.frame
    background = pg.image.background
    assert background[:8] == b"\x89PNG\r\n\x1a\n"
    pg.controls["GD.lr"].value = 1.1e-3                    # GD's path moves; the view stays
    assert pg.image.frame == first + 1
    assert pg.image.background is background               # not sent again
    names = [line["color"] for line in pg.image.lines]
    assert RACE_STYLES["GD"]["color"].lower() in names
    gd = pg.paths.lines["GD"]
    sent = next(line for line in pg.image.lines if np.array_equal(
        np.frombuffer(line["xy"], "<f8").reshape(-1, 2), gd.get_xydata()))
    assert sent["axes"] == 0 and sent["marker"] in pg.image.sprites
    assert sent["marks"] == list(range(0, len(gd.get_xdata()), gd.get_markevery()))
    assert sum(len(line["xy"]) for line in pg.image.lines) < 40_000     # a few thousand floats


def test_a_new_landscape_sends_a_new_background_and_view(pg):
    before = (pg.image.background, pg.image.view)
    pg.controls["landscape"].value = "himmelblau"
    assert pg.image.background != before[0]
    assert pg.image.view["axes"][0]["xlim"] == list(pg.ax_path.get_xlim())
    pg.controls["landscape"].value = "rosenbrock"


def test_the_saved_image_is_matplotlibs_render_of_the_same_figure(pg):
    png = pg.png()
    assert png == pg.render() and png[:8] == b"\x89PNG\r\n\x1a\n"
    data, metadata = pg._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]) == png
    assert metadata["image/png"]["alt"] == pg.alt_text() == pg.image.tooltip


def test_the_adaptive_race_is_drawn_in_the_browser_too():
    exp = adaptive_experiment()
    assert isinstance(exp.image, canvas.BrowserFigure) and exp.image.lines


def test_only_lines_on_linear_axes_can_be_drawn_in_the_browser():
    fig = plots.new_figure(4, 3)
    ax = fig.add_subplot()
    ax.text(0, 0, "moving").set_animated(True)
    with pytest.raises(TypeError, match="only animated Line2D"):
        canvas.moving_lines(fig)
    ax.set_yscale("log")
    with pytest.raises(ValueError, match="linear axes only"):
        canvas.view(fig)


@given(n=st.integers(0, 300), every=st.one_of(st.none(), st.integers(1, 50)))
@settings(max_examples=50, deadline=None)
def test_marks_are_the_points_matplotlib_marks(n, every):
    line = Line2D(np.arange(n), np.arange(n), marker="o", markevery=every)
    expected = np.arange(n)[slice(None, None, every)]
    assert canvas.marks(line, n) == list(expected)


def test_a_marker_sprite_is_matplotlibs_marker_centred():
    fig = plots.new_figure(2, 2)
    (line,) = fig.add_subplot().plot([0], [0], marker="*", markersize=15, markerfacecolor="white",
                                      markeredgecolor="black")
    key, png, centre = canvas.marker_sprite(line)
    alpha = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[:, :, 3]
    assert alpha.shape == (2 * centre, 2 * centre)
    ys, xs = np.nonzero(alpha > 128)
    assert abs(xs.mean() + 0.5 - centre) < 1.0             # the star's ink is centred on the centre
    assert canvas.marker_sprite(line)[0] == key


# ---- in headless Chromium ---------------------------------------------------------------------

def _encode(value):
    """The widget's state as the page gets it: bytes as base64 strings marked for decoding."""
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


#: Loads canvas.js as a module and exposes its functions and a model made of a plain state.
PAGE_SETUP = """
window.decodeState = function decode(v) {
  if (v && typeof v === 'object' && '__bytes__' in v) {
    const raw = atob(v.__bytes__), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new DataView(bytes.buffer);
  }
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
};
"""


@pytest.fixture(scope="module")
def page():
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    with labdriver.chromium_page(viewport={"width": 900, "height": 500}) as page:
        page.set_content("<canvas id='frame'></canvas>")
        page.add_script_tag(content=PAGE_SETUP)
        page.add_script_tag(type="module", content=JS + "\nwindow.canvasModule = { toPixels, drawFrame };")
        page.wait_for_function("() => !!window.canvasModule")
        yield page


def _state(exp):
    return json.dumps(_encode({name: getattr(exp.image, name) for name in ("background", "view", "sprites", "lines")}))


@pytest.mark.browser
def test_the_browser_maps_every_point_to_matplotlibs_pixel(page, pg):
    pg.controls["Momentum.lr"].value = 3e-3
    js = page.evaluate("""state => {
        const s = decodeState(JSON.parse(state));
        const height = s.view.size[1];
        return s.lines.map(line => {
            const xy = new Float64Array(line.xy.buffer);
            const out = [];
            for (let i = 0; i < xy.length; i += 2) out.push(canvasModule.toPixels(s.view.axes[line.axes], height, xy[i], xy[i + 1]));
            return out;
        });
    }""", _state(pg))
    height = pg.figure.canvas.get_width_height()[1]
    lines = [line for line in canvas.moving_lines(pg.figure) if line.get_visible() and len(line.get_xdata())]
    assert len(js) == len(lines) >= 6
    for line, pixels in zip(lines, js):
        expected = line.axes.transData.transform(line.get_xydata())
        expected[:, 1] = height - expected[:, 1]
        assert np.abs(np.asarray(pixels) - expected).max() < 1e-6


def _colour_mask(rgb, colour, tol=60):
    target = np.array(matplotlib.colors.to_rgb(colour)) * 255
    return np.linalg.norm(rgb.astype(float) - target, axis=-1) < tol


def _dilate(mask):
    out = mask.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


@pytest.mark.browser
@pytest.mark.parametrize("landscape", ["rosenbrock", "himmelblau"])
def test_the_browsers_frame_puts_each_colour_where_matplotlib_does(page, landscape):
    exp = playground(landscape=landscape, optimizers=("GD", "Momentum", "Adam"), steps=200)
    pixels = page.evaluate("""async state => {
        const s = decodeState(JSON.parse(state));
        const model = { get: key => s[key] };
        const canvas = document.getElementById('frame');
        await canvasModule.drawFrame(canvas, model, { sprites: {} });
        return canvas.toDataURL('image/png');
    }""", _state(exp))
    browser = np.asarray(Image.open(io.BytesIO(base64.b64decode(pixels.split(",", 1)[1]))).convert("RGB"))
    exp.renderer.draw(exp.static_key(), exp.layers())
    mpl = exp.renderer.rgba()[:, :, :3]
    assert browser.shape == mpl.shape
    for name in ("GD", "Momentum", "Adam"):
        colour = RACE_STYLES[name]["color"]
        ours, theirs = _colour_mask(browser, colour), _colour_mask(mpl, colour)
        assert theirs.sum() > 50, name
        # every pixel of the colour in one image is within a pixel of one in the other
        assert (ours & ~_dilate(theirs)).sum() <= 0.02 * ours.sum(), name
        assert (theirs & ~_dilate(ours)).sum() <= 0.02 * theirs.sum(), name
    # and the rest of the picture is the same background
    assert np.mean(np.abs(browser.astype(int) - mpl.astype(int)) > 60) < 0.01
