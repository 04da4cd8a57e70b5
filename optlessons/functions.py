"""Two-dimensional test functions ("landscapes") for watching optimizers move.

Each factory returns a :class:`Landscape`: the function's value, gradient and
Hessian (all analytic), its known minima, a good plotting window and a
standard start point::

    f = rosenbrock()
    f.value([-1.5, 2.0])          # 12.5
    f.gradient([-1.5, 2.0])       # array([ 95., -50.])
    X, Y, Z = f.grid(200)         # for plt.contour(X, Y, Z)

``value`` and ``gradient`` accept points of shape ``(..., 2)``, so a whole
grid is evaluated at once: ``f.value(np.stack([X, Y], axis=-1))``.

=================  ==========================================  =====================
key                function                                    minima
=================  ==========================================  =====================
``quadratic``      ½ (p − c)ᵀ A (p − c), eigenvalues μ, κμ      c
``rosenbrock``     (a − x)² + b (y − x²)²                      (a, a²)
``beale``          Σᵢ (cᵢ − x + x yⁱ)², c = 1.5, 2.25, 2.625   (3, 0.5)
``himmelblau``     (x² + y − 11)² + (x + y² − 7)²              four, all f = 0
``saddle``         x² − y²                                     none (saddle at 0)
``six_hump_camel`` (4 − 2.1x² + x⁴/3) x² + xy + (4y² − 4) y²   six, three depths
``double_well``    ¼ (x² − 1)² + (c/2) y²                      (±1, 0); saddle at 0
=================  ==========================================  =====================

``double_well`` (notebook 09) is not in ``LANDSCAPES``: call it directly.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import argcheck

__all__ = [
    "Landscape",
    "Quadratic",
    "quadratic",
    "rosenbrock",
    "beale",
    "himmelblau",
    "saddle",
    "six_hump_camel",
    "double_well",
    "NoisyGradient",
    "LANDSCAPES",
    "ESCAPE_FACTOR",
    "escape_box",
    "escaped",
    "lowest_minimum",
]

Window = tuple[tuple[float, float], tuple[float, float]]


#: A point has escaped (a run diverged) when it lies more than this many window widths (or
#: heights) from the window's centre. The one divergence rule: ``train.minimize``, the momentum
#: rate map and the plotted paths all use it.
ESCAPE_FACTOR = 10.0


def escape_box(window: Window) -> tuple[tuple[float, float], tuple[float, float]]:
    """((cx, cy), (ax, ay)): the window's centre and the distances allowed from it,
    ESCAPE_FACTOR × the window's width and height."""
    (xmin, xmax), (ymin, ymax) = window
    centre = (float(xmin + xmax) / 2.0, float(ymin + ymax) / 2.0)
    return centre, (ESCAPE_FACTOR * float(xmax - xmin), ESCAPE_FACTOR * float(ymax - ymin))


def escaped(points, window: Window) -> np.ndarray:
    """For points of shape (..., 2): True where a point is not finite or |x − cx| > ax or
    |y − cy| > ay (see :func:`escape_box`); shape (...)."""
    p = np.asarray(points, dtype=float)
    (cx, cy), (ax, ay) = escape_box(window)
    with np.errstate(invalid="ignore"):
        inside = (np.abs(p[..., 0] - cx) <= ax) & (np.abs(p[..., 1] - cy) <= ay)
    return ~inside


def lowest_minimum(landscape) -> float | None:
    """L* = the lowest value at ``landscape.minima``, or None without known minima (a saddle, or
    an object that has no ``minima``). Works for any object with ``value`` and ``minima``."""
    minima = np.asarray(getattr(landscape, "minima", np.empty((0, 2))), dtype=float).reshape(-1, 2)
    if minima.size == 0:
        return None
    return float(np.min(landscape.value(minima)))


def _points(p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2) (an x and a y), got shape {p.shape}")
    return p


class Landscape:
    """A function of two variables with everything needed to plot and test on it.

    Build one with a factory (:func:`rosenbrock`, …) rather than by hand.
    A custom one needs three functions of the coordinate arrays ``x, y``
    (any broadcastable shapes): ``value(x, y) -> z``,
    ``gradient(x, y) -> (df/dx, df/dy)`` and
    ``hessian(x, y) -> (d²f/dx², d²f/dxdy, d²f/dy²)``.

    Attributes
    ----------
    name : str
        For titles and legends, e.g. ``"Rosenbrock"``.
    minima : ndarray, shape (k, 2)
        The known local minima (a copy; empty for a function without any).
    window : ((xmin, xmax), (ymin, ymax))
        A plotting window showing the start and the minima.
    start : ndarray, shape (2,)
        The standard start point used by notebooks, widgets and tests (a copy).
    """

    def __init__(
        self,
        name: str,
        value: Callable,
        gradient: Callable,
        hessian: Callable,
        minima,
        window: Window,
        start,
        description: str = "",
    ):
        self.name = name
        self.description = description
        self._value = value
        self._gradient = gradient
        self._hessian = hessian
        self._minima = np.array(minima, dtype=float).reshape(-1, 2)
        (xmin, xmax), (ymin, ymax) = window
        self.window: Window = ((float(xmin), float(xmax)), (float(ymin), float(ymax)))
        self._start = np.array(start, dtype=float)
        if self._start.shape != (2,):
            raise ValueError(f"start must have shape (2,), got {self._start.shape}")

    @property
    def minima(self) -> np.ndarray:
        return self._minima.copy()

    @property
    def start(self) -> np.ndarray:
        return self._start.copy()

    @property
    def f_star(self) -> float | None:
        """L*, the lowest value at the known minima (None without any): see :func:`lowest_minimum`."""
        return lowest_minimum(self)

    def value(self, p):
        """f(p) for points ``p`` of shape (..., 2); returns shape (...) (a float for one point)."""
        p = _points(p)
        if p.ndim == 1:  # one point: numpy scalars are much faster than 0-d arrays
            return np.float64(self._value(p[0], p[1]))
        z = self._value(p[..., 0], p[..., 1])
        return np.broadcast_to(z, p.shape[:-1]).astype(float)

    __call__ = value

    def gradient(self, p) -> np.ndarray:
        """∇f(p) = (∂f/∂x, ∂f/∂y) for points ``p`` of shape (..., 2); returns shape (..., 2)."""
        p = _points(p)
        if p.ndim == 1:
            return np.array(self._gradient(p[0], p[1]), dtype=float)
        gx, gy = self._gradient(p[..., 0], p[..., 1])
        out = np.empty(p.shape, dtype=float)
        out[..., 0] = gx
        out[..., 1] = gy
        return out

    def hessian(self, p) -> np.ndarray:
        """The matrix of second derivatives at ``p`` (shape (2,) → (2, 2); (..., 2) → (..., 2, 2))."""
        p = _points(p)
        hxx, hxy, hyy = self._hessian(p[..., 0], p[..., 1])
        out = np.empty(p.shape + (2,), dtype=float)
        out[..., 0, 0] = hxx
        out[..., 0, 1] = hxy
        out[..., 1, 0] = hxy
        out[..., 1, 1] = hyy
        return out

    def grid(self, n: int = 200, window: Window | None = None):
        """``X, Y, Z`` of shape (n, n) over the window, ready for ``plt.contour(X, Y, Z)``."""
        (xmin, xmax), (ymin, ymax) = self.window if window is None else window
        X, Y = np.meshgrid(np.linspace(xmin, xmax, n), np.linspace(ymin, ymax, n))
        Z = self.value(np.stack([X, Y], axis=-1))
        return X, Y, Z

    def __repr__(self) -> str:
        minima = np.array2string(self._minima, precision=4, separator=", ").replace("\n", "")
        return (
            f"<Landscape {self.name!r}: minima {minima}, window {self.window}, "
            f"start ({self._start[0]:g}, {self._start[1]:g})>"
        )


class Quadratic(Landscape):
    """f(p) = ½ (p − c)ᵀ A (p − c), with A = R diag(μ, L) Rᵀ.

    R rotates by ``angle`` radians, so the flat direction (curvature μ) points
    along (cos angle, sin angle) and the steep one (curvature L = κμ) across
    it. The Hessian is A everywhere. Gradient descent with learning rate
    η converges iff η < 2/L, and fastest at η = 2/(μ + L).

    Extra attributes: ``matrix`` (A), ``eigenvalues`` (array [μ, L]), ``mu``,
    ``L``, ``condition_number`` (κ = L/μ), ``angle``, ``center`` (c).
    """

    def __init__(self, condition_number: float, angle: float, mu: float, center):
        argcheck.number(condition_number, "condition_number", 1)
        argcheck.positive(mu, "mu")
        center = np.array(center, dtype=float)
        if center.shape != (2,):
            raise ValueError(f"center must have shape (2,), got {center.shape}")
        self.condition_number = float(condition_number)
        self.angle = float(angle)
        self.mu = float(mu)
        self.L = self.condition_number * self.mu
        self.center = center
        c, s = math.cos(angle), math.sin(angle)
        R = np.array([[c, -s], [s, c]])
        A = R @ np.diag([self.mu, self.L]) @ R.T
        self.matrix = (A + A.T) / 2  # exactly symmetric (rounding can break it by 1 ulp)
        a11, a12, a22 = self.matrix[0, 0], self.matrix[0, 1], self.matrix[1, 1]
        cx, cy = center

        def value(x, y):
            dx, dy = x - cx, y - cy
            return 0.5 * (a11 * dx**2 + 2 * a12 * dx * dy + a22 * dy**2)

        def gradient(x, y):
            dx, dy = x - cx, y - cy
            return a11 * dx + a12 * dy, a12 * dx + a22 * dy

        def hessian(x, y):
            return a11, a12, a22

        super().__init__(
            name=f"Quadratic (κ = {self.condition_number:g})",
            value=value,
            gradient=gradient,
            hessian=hessian,
            minima=[center],
            window=((cx - 5.0, cx + 5.0), (cy - 5.0, cy + 5.0)),
            start=center + R @ np.array([-4.0, 2.0]),
            description="½ (p − c)ᵀ A (p − c), A with eigenvalues μ and L = κμ",
        )

    @property
    def eigenvalues(self) -> np.ndarray:
        """The Hessian's eigenvalues, ``[μ, L]`` (smallest first)."""
        return np.array([self.mu, self.L])


def quadratic(condition_number: float = 10.0, angle: float = 0.0, mu: float = 1.0, center=(0.0, 0.0)) -> Quadratic:
    """An elongated bowl: ½ (p − c)ᵀ A (p − c), A with eigenvalues μ and L = κμ.

    ``condition_number`` is κ = L/μ (1 is a round bowl); ``angle`` (radians)
    rotates the bowl; ``mu`` is the smallest curvature; ``center`` the minimum.
    The start is (−4, 2) from the centre in the bowl's own axes (rotated with it).
    See :class:`Quadratic` for the attributes (``eigenvalues``, ``matrix``…).
    """
    return Quadratic(condition_number, angle, mu, center)


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    """Rosenbrock's banana valley: f = (a − x)² + b (y − x²)².

    Minimum f = 0 at (a, a²), at the end of a long, curved, flat-bottomed
    valley. Start (−1.5, 2), on the far side of the valley.
    """

    def value(x, y):
        return (a - x) ** 2 + b * (y - x**2) ** 2

    def gradient(x, y):
        return -2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)

    def hessian(x, y):
        return 2 - 4 * b * (y - x**2) + 8 * b * x**2, -4 * b * x, 2 * b + 0 * x

    return Landscape(
        name="Rosenbrock",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=[(a, a**2)],
        window=((min(-2.0, a - 1.0), max(2.0, a + 1.0)), (min(-1.0, a**2 - 1.0), max(3.0, a**2 + 1.0))),
        start=(-1.5, 2.0),
        description="(a − x)² + b (y − x²)²",
    )


_BEALE_C = (1.5, 2.25, 2.625)


def beale() -> Landscape:
    """Beale's function: f = Σᵢ₌₁³ (cᵢ − x + x yⁱ)², c = (1.5, 2.25, 2.625).

    Minimum f = 0 at (3, 0.5), in a narrow flat valley; steep walls for |y| > 1
    and a plateau along x = 0 (f = 14.203125 there). Start (1, 1.5).

    A sum of squares rᵢ² has ∇f = 2 Σ rᵢ ∇rᵢ and ∇²f = 2 Σ (∇rᵢ ∇rᵢᵀ + rᵢ ∇²rᵢ),
    with rᵢ = cᵢ − x + x yⁱ, ∇rᵢ = (yⁱ − 1, i x yⁱ⁻¹).
    """

    def value(x, y):
        return sum((c - x + x * y**i) ** 2 for i, c in enumerate(_BEALE_C, start=1))

    def gradient(x, y):
        gx = gy = 0.0
        for i, c in enumerate(_BEALE_C, start=1):
            r = c - x + x * y**i
            gx = gx + 2 * r * (y**i - 1)
            gy = gy + 2 * r * (i * x * y ** (i - 1))
        return gx, gy

    def hessian(x, y):
        hxx = hxy = hyy = 0.0
        for i, c in enumerate(_BEALE_C, start=1):
            r = c - x + x * y**i
            rx, ry = y**i - 1, i * x * y ** (i - 1)  # ∇r
            rxy, ryy = i * y ** (i - 1), i * (i - 1) * x * y ** max(i - 2, 0)  # ∇²r (r_xx = 0)
            hxx = hxx + 2 * rx * rx
            hxy = hxy + 2 * (rx * ry + r * rxy)
            hyy = hyy + 2 * (ry * ry + r * ryy)
        return hxx, hxy, hyy

    return Landscape(
        name="Beale",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=[(3.0, 0.5)],
        window=((-4.5, 4.5), (-4.5, 4.5)),
        start=(1.0, 1.5),
        description="Σᵢ (cᵢ − x + x yⁱ)², c = (1.5, 2.25, 2.625)",
    )


# The four minima of Himmelblau's function (all with f = 0), refined by Newton's
# method to full double precision.
_HIMMELBLAU_MINIMA = [
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286169),
    (3.5844283403304917, -1.8481265269644034),
]


def himmelblau() -> Landscape:
    """Himmelblau's function: f = (x² + y − 11)² + (x + y² − 7)².

    Four minima, all with f = 0: (3, 2), (−2.805118, 3.131313),
    (−3.779310, −3.283186), (3.584428, −1.848127); a local maximum near
    (−0.2708, −0.9230). Which minimum an optimizer finds depends on where it
    starts. Start (0, 0).
    """

    def value(x, y):
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    def gradient(x, y):
        r1, r2 = x**2 + y - 11, x + y**2 - 7
        return 4 * x * r1 + 2 * r2, 2 * r1 + 4 * y * r2

    def hessian(x, y):
        return 12 * x**2 + 4 * y - 42, 4 * x + 4 * y, 4 * x + 12 * y**2 - 26

    return Landscape(
        name="Himmelblau",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=_HIMMELBLAU_MINIMA,
        window=((-5.0, 5.0), (-5.0, 5.0)),
        start=(0.0, 0.0),
        description="(x² + y − 11)² + (x + y² − 7)²",
    )


def saddle() -> Landscape:
    """A saddle: f = x² − y².

    No minimum: (0, 0) is a saddle point (gradient zero, Hessian diag(2, −2)),
    and f decreases without bound along y. The start (−1.5, 0.01) sits just
    off the ridge line y = 0, so gradient descent first slides towards the
    saddle and only slowly escapes along y (the escape then leaves the window:
    a run that goes on long enough reports ``diverged``).
    """

    def value(x, y):
        return x**2 - y**2

    def gradient(x, y):
        return 2 * x, -2 * y

    def hessian(x, y):
        return 2.0 + 0 * x, 0 * x, -2.0 + 0 * x

    return Landscape(
        name="Saddle",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=np.empty((0, 2)),
        window=((-2.0, 2.0), (-2.0, 2.0)),
        start=(-1.5, 0.01),
        description="x² − y²",
    )


# The six local minima of the six-hump camel function, refined by Newton's
# method, deepest first: two global (f = −1.0316284534898774), two at
# f = −0.2154638243837179, two at f = 2.1042503103112593.
_CAMEL_MINIMA = [
    (0.08984201310031807, -0.7126564030207396),
    (-0.08984201310031807, 0.7126564030207396),
    (1.7036067149699805, -0.7960835686726251),
    (-1.7036067149699805, 0.7960835686726251),
    (1.6071047529201976, 0.5686514548841313),
    (-1.6071047529201976, -0.5686514548841313),
]


def six_hump_camel() -> Landscape:
    """The six-hump camel: f = (4 − 2.1x² + x⁴/3) x² + xy + (4y² − 4) y².

    Six local minima of three depths (``minima`` lists them deepest first):

    * (±0.0898420, ∓0.7126564), f = −1.0316285 (the two global minima)
    * (±1.7036067, ∓0.7960836), f = −0.2154638
    * (±1.6071048, ±0.5686515), f = 2.1042503

    Start (−2, −0.5): plain gradient descent (any small learning rate) slides
    into the shallowest minimum, (−1.6071, −0.5687) with f = 2.104; with
    momentum 0.9 and lr between 0.003 and 0.02 it rolls on into the global
    minimum (0.0898, −0.7127).
    """

    def value(x, y):
        return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2

    def gradient(x, y):
        return 8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3

    def hessian(x, y):
        return 8 - 25.2 * x**2 + 10 * x**4, 1.0 + 0 * x, -8 + 48 * y**2

    return Landscape(
        name="Six-hump camel",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=_CAMEL_MINIMA,
        window=((-2.2, 2.2), (-1.2, 1.2)),
        start=(-2.0, -0.5),
        description="(4 − 2.1x² + x⁴/3) x² + xy + (4y² − 4) y²",
    )


def double_well(curvature: float = 8.0) -> Landscape:
    """Two valleys and a saddle between them: f = ¼ (x² − 1)² + (c/2) y², c = ``curvature``.

    Minima f = 0 at (±1, 0), Hessian diag(2, c); a saddle at (0, 0) with
    f = ¼ and Hessian diag(−1, c): curving up across the valleys (y), down along
    the ridge between them (x). Where |x| < 1/√3 the x-curvature 3x² − 1 is
    negative, so there Newton's method steps towards the saddle, not away.
    Start (0.01, 1.2): just off the ridge x = 0, so gradient descent first
    slides down to the saddle and lingers there before it rolls into the
    valley at (1, 0).
    """
    c = argcheck.positive(curvature, "curvature")

    def value(x, y):
        return 0.25 * (x**2 - 1) ** 2 + 0.5 * c * y**2

    def gradient(x, y):
        return x**3 - x, c * y

    def hessian(x, y):
        return 3 * x**2 - 1, 0 * x, c + 0 * x

    return Landscape(
        name="Double well",
        value=value,
        gradient=gradient,
        hessian=hessian,
        minima=[(-1.0, 0.0), (1.0, 0.0)],
        window=((-2.0, 2.0), (-1.5, 1.5)),
        start=(0.01, 1.2),
        description=f"¼ (x² − 1)² + {c / 2:g} y²",
    )


class NoisyGradient:
    """A landscape whose gradient carries Gaussian noise: g(p) = ∇f(p) + σ ξ, ξ ~ N(0, I).

    A fresh ξ is drawn from ``rng`` (a ``numpy.random.Generator`` or an int seed) at every
    call of ``gradient`` for one point; the value, the Hessian, the window, the
    minima and the start are the wrapped landscape's. A stand-in for the
    mini-batch noise of SGD (notebook 04) on a 2-D landscape.
    """

    def __init__(self, landscape, sigma: float, rng: np.random.Generator):
        self.landscape = landscape
        self.sigma = argcheck.number(sigma, "sigma", 0)
        self.rng = argcheck.generator(rng)

    def gradient(self, p) -> np.ndarray:
        g = np.asarray(self.landscape.gradient(p), dtype=float)
        return g + self.sigma * self.rng.standard_normal(g.shape)

    def __getattr__(self, name):          # value, hessian, window, minima, start, name, grid …
        return getattr(self.landscape, name)

    def __repr__(self) -> str:
        return f"<NoisyGradient σ = {self.sigma:g} on {self.landscape!r}>"


LANDSCAPES: dict[str, Callable[[], Landscape]] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "saddle": saddle,
    "six_hump_camel": six_hump_camel,
}
