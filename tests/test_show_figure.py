"""optlessons.plots.show_figure: a PNG output whose metadata carries the alt text."""

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from optlessons import plots  # noqa: E402


def test_show_figure_displays_a_png_with_its_alt_text_and_closes_the_figure(monkeypatch):
    shown = []
    import IPython.display
    monkeypatch.setattr(IPython.display, "display", lambda obj, metadata=None: shown.append((obj, metadata)))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = plots.show_figure(fig, "  A falling line.  ")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (image, metadata), = shown
    assert image.data == png and metadata == {"image/png": {"alt": "A falling line."}}
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="alt"):
        plots.show_figure(plt.figure(), " ")
