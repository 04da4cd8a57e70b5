"""Controls, status-line helpers and :class:`Experiment`, the base of every widget experiment."""

from __future__ import annotations

import contextlib
import html
import re
import warnings

import anywidget
import numpy as np
import ipywidgets as W
import traitlets
from ipywidgets.widgets.trait_types import NumberFormat

from .. import plots
from ..plots import FigureRenderer, LossPanel, new_figure
from .canvas import BrowserFigure

WIDE_LABEL = {"description_width": "initial"}


#: How a learning rate is written, on every learning-rate slider and in every status line alike:
#: four significant digits, trailing zeros dropped (10^-1.3 is 0.05012, 10^-4 is 0.0001, 0.1 is 0.1).
LR_FORMAT = ".4~g"

MINUS = "\u2212"     # d3-format, which draws the read-outs, writes a minus sign, not a hyphen


def readout(value, fmt):
    """``value`` as a slider's read-out with ``readout_format`` ``fmt`` shows it (d3-format, in the browser),
    for status lines that must print the same text: "d" (an integer), ".Nf" (N decimals) or ".Ng" /
    ".N~g" (N significant digits, "~": trailing zeros dropped; exponent form below 1e-6 or from 10^N on).
    A negative value is written with a minus sign (U+2212), as d3 does."""
    spec = re.fullmatch(r"(?:\.(\d+))?(~?)([dfg])", fmt)
    if spec is None or (spec[3] == "d") != (spec[1] is None):
        raise ValueError(f"readout format must be 'd', '.Nf', '.Ng' or '.N~g', got {fmt!r}")
    digits, trim, kind = int(spec[1] or 0), spec[2], spec[3]
    value = float(value)
    if kind == "d":
        text = str(round(value))
    elif kind == "f":
        text = f"{value:.{digits}f}"
    else:
        digits = max(digits, 1)
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")     # the exponent after rounding
        exponent = int(exponent)
        if -7 < exponent < digits:          # JavaScript's toPrecision, which d3's "g" uses
            text = f"{value:.{digits - 1 - exponent}f}"
        else:
            text = f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    if trim:
        text = re.sub(r"(\.\d*?)0+(?=e|$)", r"\1", text).replace(".e", "e")
        text = text[:-1] if text.endswith(".") else text
    if text.startswith("-"):           # d3 drops the sign of a value that rounds to zero ("0.00", not "−0.00")
        text = text[1:] if float(text) == 0 else MINUS + text[1:]
    return text


def slider_text(slider):
    """The read-out of ``slider`` (a FloatSlider, FloatLogSlider or IntSlider) as the browser shows it."""
    return readout(slider.value, slider.readout_format)


def step_format(step):
    """The read-out format of a linear slider moving in steps of ``step``: as many decimals as the step has
    (0.05 -> ".2f", so 0.1 reads "0.10" beside "0.05"; 5 -> ".0f"), at most six."""
    step = float(step)
    if not step > 0:
        raise ValueError(f"a slider's step must be a positive number, got {step!r}")
    return f".{next((d for d in range(7) if abs(round(step, d) - step) <= 1e-9 * step), 6)}f"


class ReadoutFormat(traitlets.Unicode):
    """A read-out format for d3-format: what ipywidgets' ``NumberFormat`` takes, and d3's "~" (trailing
    zeros dropped), which d3-format understands and ipywidgets 8.1's check refuses."""

    def validate(self, obj, value):
        value = super().validate(obj, value)
        NumberFormat().validate(obj, value.replace("~", "", 1))       # raises TraitError if malformed
        return value


class LogSlider(W.FloatLogSlider):
    """An ``ipywidgets.FloatLogSlider`` (the same model and view) whose read-out may use d3's "~"."""
    readout_format = ReadoutFormat(LR_FORMAT).tag(sync=True)


def log_slider(description, value, lo, hi, *, continuous_update=True, readout_format=LR_FORMAT):
    """A learning-rate slider: moves in powers of ten from 10**lo to 10**hi (20 notches a decade).

    Like every slider of the experiments it is live: the figure follows while it is dragged
    (``continuous_update``; see :class:`Experiment` for why there is no backlog)."""
    return LogSlider(value=value, base=10, min=lo, max=hi, step=0.05, description=description,
                     readout_format=readout_format, continuous_update=continuous_update,
                     style=WIDE_LABEL, layout=W.Layout(width="320px"))


def float_slider(description, value, lo, hi, step, *, continuous_update=True, fmt=None):
    """A live slider over numbers from ``lo`` to ``hi`` in steps of ``step``; its read-out has the
    step's decimals (:func:`step_format`) unless ``fmt`` says otherwise."""
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         readout_format=fmt or step_format(step), continuous_update=continuous_update,
                         style=WIDE_LABEL, layout=W.Layout(width="320px"))


def int_slider(description, value, lo, hi, step=1, *, continuous_update=True):
    """A live slider over the integers from ``lo`` to ``hi`` in steps of ``step``."""
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                       continuous_update=continuous_update, style=WIDE_LABEL, layout=W.Layout(width="320px"))


def set_range(slider, lo, hi, value):
    """Change a slider's bounds and value without tripping min <= value <= max on the way."""
    slider.min, slider.max = min(slider.min, lo), max(slider.max, hi)
    slider.value = value
    slider.min, slider.max = lo, hi


def escape_html(text):
    return html.escape(str(text))


def swatch(i):
    """A coloured square for a table row: the colour of line ``i`` (``plots.style(i)``), or a colour given."""
    colour = i if isinstance(i, str) else plots.style(i)["color"]
    return f'<span style="color:{colour};font-weight:bold">■</span>'


# Text colours: darker shades of the Okabe–Ito vermillion and bluish green, so that text
# keeps a contrast of at least 4.5:1 on white (WCAG AA; the figure colours are 3.4–3.9:1).
# The words say the same thing: colour is never the only cue.
TEXT_COLOURS = {"info": "#333333", "warn": "#B34D00", "ok": "#007A5A"}


def set_loss_ylabel(panel):
    """The course's notation on a loss panel: the gap L − L* (log scale) or, with no minimum, L itself."""
    panel.ax.set_ylabel("L(θ) − L*   (log scale)" if panel.log else "L(θ)")


def note(text, kind="info"):
    return f'<span style="color:{TEXT_COLOURS[kind]}">{text}</span>'


def plain_text(markup):
    """The words of a short HTML status line: tags dropped (a line break ends a sentence), entities decoded."""
    text = re.sub(r"<(?!br\b)[^>]*>|\s+(?=<br)", "", markup)          # λ<sub>max</sub> -> λmax
    text = re.sub(r"(?<![.!?:;])<br\s*/?>", ". ", text)             # a line break ends a sentence
    return " ".join(html.unescape(re.sub(r"<br\s*/?>", " ", text)).split())


class ControlNames(anywidget.AnyWidget):
    """Gives each slider of the box it sits in an accessible name, its visible label, and has it
    announce its value as the read-out shows it.

    The same for a Play control's icon-only buttons (ipywidgets 8.1 draws ▶, ■ and ⟳ without
    names): "play or pause", "stop (back to step 0)", "repeat".

    ipywidgets 8.1 draws a slider's handle (ARIA role "slider") with noUiSlider and does not
    tie the visible description to it, so a screen reader announces a bare "slider" (axe:
    ``aria-input-field-name``, serious); and a ``FloatLogSlider``'s handle moves over the
    exponent, so it announces ``aria-valuetext`` "-1.2999999999999998" for η = 0.05. This
    invisible widget sets ``aria-label`` on every handle from its slider's label and
    ``aria-valuetext`` from its read-out ("0.05"), and again whenever a slider is redrawn or moved.
    Home and End move a handle to its slider's current ends (noUiSlider alone keeps the first range).
    It serves the box with class ``optlessons-experiment`` (every experiment) or
    ``optlessons-controls`` (:func:`labelled`) that contains it.
    """
    _esm = """
    const PLAY_BUTTONS = ['play or pause', 'stop (back to step 0)', 'repeat'];
    function nameHandles(root) {
      for (const slider of root.querySelectorAll('.widget-slider')) {
        const label = slider.querySelector('.widget-label');
        const text = label ? label.textContent.trim() : '';
        const readout = slider.querySelector('.widget-readout');
        const shown = readout ? readout.textContent.trim() : '';
        for (const handle of slider.querySelectorAll('.noUi-handle')) {
          if (text && handle.getAttribute('aria-label') !== text) handle.setAttribute('aria-label', text);
          if (shown && handle.getAttribute('aria-valuetext') !== shown) handle.setAttribute('aria-valuetext', shown);
        }
      }
      for (const play of root.querySelectorAll('.widget-play')) {
        play.querySelectorAll('button').forEach((button, i) => {
          if (!button.hasAttribute('aria-label')) button.setAttribute('aria-label', PLAY_BUTTONS[i]);
        });
      }
    }
    // noUiSlider 15 (ipywidgets 8.1) sends Home and End to the range the slider was created with,
    // not to the range the kernel set since (a "step t" of 300 steps, first drawn with 50, stopped
    // at 50 on End): both go to the current range's ends, read from the slider's options.
    function homeEnd(event) {
      if (event.key !== 'Home' && event.key !== 'End') return;
      const handle = event.target.closest && event.target.closest('.noUi-handle');
      const target = handle && handle.closest('.noUi-target');
      if (!target || !target.noUiSlider) return;
      event.preventDefault();
      event.stopPropagation();
      const range = target.noUiSlider.options.range;
      target.noUiSlider.setHandle(Number(handle.dataset.handle || 0), event.key === 'End' ? range.max : range.min);
    }
    function render({ el }) {
      let observer = null;
      let root = null;
      const attach = (tries) => {
        root = el.closest('.optlessons-experiment, .optlessons-controls');
        if (!root) { if (tries > 0) setTimeout(() => attach(tries - 1), 100); return; }
        root.addEventListener('keydown', homeEnd, true);     // before the handle's own listener
        nameHandles(root);
        observer = new MutationObserver(() => nameHandles(root));
        // a read-out's text changes as the slider moves; noUiSlider rewrites aria-valuetext on every move
        observer.observe(root, { childList: true, subtree: true, characterData: true,
                                 attributes: true, attributeFilter: ['aria-valuetext'] });
      };
      attach(100);
      return () => {
        if (observer) observer.disconnect();
        if (root) root.removeEventListener('keydown', homeEnd, true);
      };
    }
    export default { render };
    """

    def __init__(self):
        super().__init__(layout=W.Layout(display="none"))


def labelled(*children):
    """A ``VBox`` of ``children`` whose sliders a screen reader announces by their visible label and
    value (:class:`ControlNames`), for a notebook's own controls outside an experiment."""
    box = W.VBox([*children, ControlNames()])
    box.add_class("optlessons-controls")
    return box


class TitledImage(W.Image):
    """An ``ipywidgets.Image`` whose ``tooltip`` becomes the image's title, its accessible name.

    ipywidgets 8.1's ImageView shows a tooltip only when the model has a ``description``
    (an Image has none, and setting a tooltip fails with "Cannot read properties of
    undefined (reading 'length')"): this Image syncs an empty one.

    The figure of an experiment rendered in the kernel: each frame is matplotlib's PNG
    (``frame_state``); :class:`~optlessons.widgets.canvas.BrowserFigure` is the other kind.
    """
    description = traitlets.Unicode("").tag(sync=True)

    def frame_state(self, experiment):
        """The traits that show ``experiment``'s figure as drawn now: its PNG."""
        return {"value": experiment.render()}

    def png(self, experiment):
        """The PNG bytes shown."""
        return bytes(self.value)


# ============================================================================ the base class

class Experiment:
    """A figure with controls: set a control's value and the figure follows.

    Subclasses build ``self.controls`` and the figure's panels in ``__init__``,
    then call ``self._start()``; they implement ``compute()`` (controls ->
    result, no drawing) and ``draw(result)`` (result -> artists' data).
    """

    title = ""
    help = ""
    shows = ""      # one sentence: what the figure's panels show (the start of its alt text)
    #: True: the browser draws the moving lines over a background matplotlib renders once per view
    #: (:class:`~optlessons.widgets.canvas.BrowserFigure`); False: each frame is a PNG from the kernel.
    drawn_in_browser = False

    def __init__(self, width=10.0, height=4.2):
        self.controls: dict[str, W.Widget] = {}
        self.figure = new_figure(width, height)
        self.renderer = FigureRenderer(self.figure)
        css_width = f"{int(width * plots.WIDGET_DPI)}px"
        if self.drawn_in_browser:
            self.image = BrowserFigure(self.figure, self.renderer, width=css_width)
        else:
            self.image = TitledImage(format="png", layout=W.Layout(width=css_width))
        self.image.add_class("optlessons-figure")
        self.message = W.HTML()
        self.message.add_class("optlessons-message")
        self.result = None
        self.error = None           # the last exception a refresh caught (shown in `message`)
        self.refreshes = 0          # completed refreshes (tests and benchmarks read it)
        self._remembered = {}       # key -> a recent result of ``remembered``
        self._holding = 0
        self.widget = None

    # -- wiring
    def _start(self, layout_rows):
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        header = [W.HTML(f"<b>{escape_html(self.title)}</b> — {self.help}")] if self.title else []
        self.widget = W.VBox(header + list(layout_rows) + [self.image, self.message, ControlNames()])
        self.widget.add_class("optlessons-experiment")
        self.refresh()

    @contextlib.contextmanager
    def hold(self):
        """Change several controls at once with a single refresh at the end."""
        self._holding += 1
        try:
            yield self
        finally:
            self._holding -= 1
        if not self._holding:
            self.refresh()

    def _on_change(self, change):
        if not self._holding:
            self.refresh()

    def values(self):
        """The controls' current values, name -> value."""
        return {name: c.value for name, c in self.controls.items()}

    #: How many results ``remembered`` keeps: a drag back and forth revisits recent settings.
    REMEMBERED = 64

    def remembered(self, key, compute):
        """``compute()``, or the result it gave for the same ``key`` (hashable) in a recent refresh.

        For parts of ``compute()`` that a control change leaves alone: dragging one optimizer's
        learning rate reruns that optimizer only. ``key`` must name everything the part depends on.
        """
        if key in self._remembered:
            self._remembered[key] = self._remembered.pop(key)         # most recently used last
        else:
            if len(self._remembered) >= self.REMEMBERED:
                self._remembered.pop(next(iter(self._remembered)))
            self._remembered[key] = compute()
        return self._remembered[key]

    def forget(self):
        """Drop what ``remembered`` kept: the next ``compute()`` starts from scratch."""
        self._remembered.clear()

    # -- the cycle
    def compute(self):
        raise NotImplementedError

    def draw(self, result):
        raise NotImplementedError

    def describe(self, result):
        """The one-line status shown under the controls (HTML)."""
        return ""

    def static_key(self):
        """What the figure's cached background depends on besides the landscape and the layers
        (none here; subclasses add, e.g., a figure legend)."""
        return ()

    def layers(self):
        """{axes: key}: the loss panels, whose limits follow the runs, each cached as its own
        layer (``LossPanel.static_key``), so a change of their limits redraws them alone."""
        return {v.ax: v.static_key() for v in vars(self).values() if isinstance(v, LossPanel)}

    def render(self):
        """PNG bytes of the figure as it is now (the cached background, layers, moving artists)."""
        return self.renderer.render(self.static_key(), self.layers())

    def texts(self):
        """The experiment's text widgets (``ipywidgets.HTML`` attributes: the status line, a table)."""
        return [v for v in vars(self).values() if isinstance(v, W.HTML)]

    def refresh(self, result=None):
        """compute -> draw -> render; a failure becomes a message, the last good figure stays.

        ``result``: draw this result again instead of computing one (a timeline's step moved).

        What reaches the browser: one message for the image and its title, then one per text
        widget that changed (held until the image is sent, so the figure is painted first).
        """
        with contextlib.ExitStack() as held:
            for text in self.texts():
                held.enter_context(text.hold_sync())
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = self.compute() if result is None else result
                    self.draw(result)
                    frame = self.image.frame_state(self)
            except Exception as err:     # noqa: BLE001 — a learner sees a sentence, not a traceback
                self.error = err
                self.message.value = note(f"Could not draw this setting: {escape_html(err)}", "warn")
                return None
            self.error = None
            self.result = result
            self.message.value = self.describe(result)
            with self.image.hold_sync():                 # one message: the frame and its alt text
                for name, value in frame.items():
                    setattr(self.image, name, value)
                self.image.tooltip = self.alt_text()    # the live image's accessible name (its title)
        self.refreshes += 1
        return result

    def summary_text(self):
        """What the figure shows in numbers, as plain text: the status line (races add their table)."""
        return plain_text(self.message.value)

    def alt_text(self):
        """The figure's alt text: what it shows (``shows``, else the title), then the status line
        ``describe(result)`` as plain text — the numbers a sighted learner reads off the figure."""
        text = f"{self.shows or self.title + '.'} {self.summary_text()}".strip()
        return text if text.endswith((".", "!", "?")) else text + "."

    def png(self):
        """The figure as shown, as PNG bytes (matplotlib's render, also of a figure drawn in the browser)."""
        return self.image.png(self)

    def save(self, path):
        """Write the figure as shown to ``path`` (PNG).

        Use this, not ``self.figure.savefig``: the moving artists are marked
        *animated* for the renderer, and a plain ``savefig`` leaves them out.
        """
        with open(path, "wb") as f:
            f.write(self.png())

    # -- display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget, and the figure as it is now as a static image with its alt text.

        One output, several forms: JupyterLab with a live kernel shows the widget; where
        widgets cannot run (a notebook not yet run or not trusted, GitHub, nbviewer without
        widget state) the reader shows the image (``text/html`` or ``image/png``) instead.
        Never both: an output shows one form.
        """
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        data, metadata = plots.figure_bundle(self.png(), self.alt_text())
        data = dict(data, **bundle)
        data["text/plain"] = f"{self.title or type(self).__name__} (a widget: run the notebook to use it)"
        return data, metadata

    def __repr__(self):
        return f"<{type(self).__name__}: {len(self.controls)} controls>"
