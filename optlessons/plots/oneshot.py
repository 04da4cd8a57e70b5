"""One-shot figures for a notebook cell: ``plot_trajectories``, ``plot_losses``, ``plot_race``,
``plot_ema_weights``, ``plot_step_sizes``, ``plot_moments``; each draws into the axes passed, or a new
pyplot figure."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import matplotlib.ticker

from ..functions import lowest_minimum
from .figures import style
from .panels import ContourPanel, LossPanel

def _pyplot_axes(ncols=1, figsize=None):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=figsize or (5.0 * ncols, 4.2), layout="constrained")
    return fig, axes


def _as_mapping(trajectories):
    if isinstance(trajectories, Mapping):
        return dict(trajectories)
    if isinstance(trajectories, (list, tuple)):
        return {f"run {i + 1}": t for i, t in enumerate(trajectories)}
    return {"path": trajectories}


def plot_trajectories(landscape, trajectories, *, ax=None, window=None, title=None, start=None,
                      levels=20):
    """Contours of ``landscape`` with each trajectory's path; start and minima marked.

    ``trajectories``: a dict label -> Trajectory (or (n, 2) points), a list, or one trajectory.
    Returns the ``ContourPanel`` (its ``.ax.figure`` is the figure).
    """
    trajs = _as_mapping(trajectories)
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(5.6, 4.8))
    panel = ContourPanel(ax, landscape, list(trajs), window=window, title=title, levels=levels)
    panel.update(trajs, start=start)
    return panel


def plot_losses(trajectories, *, ax=None, f_star=None, landscape=None, title="Loss"):
    """Loss curves of each trajectory: ``f - f*`` on a log axis when f* is known, else ``f``.

    Pass ``f_star`` or a ``landscape`` (its known minima give f*). Returns the ``LossPanel``.
    """
    trajs = _as_mapping(trajectories)
    if f_star is None and landscape is not None:
        f_star = lowest_minimum(landscape)
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(5.6, 4.2))
    panel = LossPanel(ax, list(trajs), f_star=f_star, title=title)
    panel.update(trajs)
    ax.legend(fontsize="small")
    return panel


def plot_race(landscape, trajectories, *, title=None, axes=None):
    """Paths on the contours (left) and loss curves (right), side by side. Returns (fig, (panel, panel))."""
    trajs = _as_mapping(trajectories)
    if axes is None:
        fig, axes = _pyplot_axes(2, figsize=(11, 4.6))
    fig = axes[0].figure
    cp = plot_trajectories(landscape, trajs, ax=axes[0], title=title)
    lp = LossPanel(axes[1], list(trajs), f_star=lowest_minimum(landscape))
    lp.update(trajs)
    return fig, (cp, lp)


def plot_ema_weights(betas=(0.5, 0.9, 0.99), k=60, *, ax=None):
    """The weight ``(1 - β) β^k`` an exponential moving average gives the gradient from k steps ago.

    Each β is annotated with its effective window ``1 / (1 - β)`` (the number of
    recent steps that carry about 63 % of the weight).
    """
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(6.4, 4.0))
    ks = np.arange(k + 1)
    for i, beta in enumerate(betas):
        st = style(i)
        w = (1 - beta) * beta ** ks
        ax.plot(ks, w, color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                markersize=4, markevery=max(1, k // 12),
                label=f"β = {beta:g}  (window ≈ {1 / (1 - beta):.0f} steps)")
    ax.set_title("Exponential moving average: weight of a past gradient")
    ax.set_xlabel("k, steps into the past")
    ax.set_ylabel("weight (1 − β) β$^k$")
    ax.set_xlim(0, k)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_step_sizes(step_sizes, *, ax=None, title="Step size per step", log=True,
                    ylabel="step size |Δθ|"):
    """Step-size traces: ``step_sizes`` label -> array (n,) or (n, 2) (one line per coordinate)."""
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(6.4, 4.0))
    series = _as_mapping(step_sizes)
    i = 0
    for label, s in series.items():
        s = np.asarray(s, dtype=float)
        cols = [s] if s.ndim == 1 else [s[:, j] for j in range(s.shape[1])]
        names = [label] if s.ndim == 1 else [f"{label}, coordinate {j + 1}" for j in range(s.shape[1])]
        for col, name in zip(cols, names):
            st = style(i)
            i += 1
            y = np.abs(col) if log else col
            if log:
                y = np.where(y > 0, y, np.nan)
            ax.plot(np.arange(1, len(col) + 1), y, color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.6, label=name)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(title)
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel + ("   (log scale)" if log else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_moments(m, v, *, axes=None, names=("x", "y"), title="Adam's moment estimates"):
    """Traces of the first moment m (left) and the second moment v (right, log), per coordinate.

    ``m`` and ``v``: arrays (n, d), the state after each of n steps.
    """
    m = np.asarray(m, dtype=float)
    v = np.asarray(v, dtype=float)
    if m.ndim == 1:
        m, v = m[:, None], v[:, None]
    if axes is None:
        fig, axes = _pyplot_axes(2, figsize=(10, 3.8))
        fig.suptitle(title)
    t = np.arange(1, len(m) + 1)
    for j in range(m.shape[1]):
        st = style(j)
        name = names[j] if j < len(names) else f"θ{j + 1}"
        axes[0].plot(t, m[:, j], color=st["color"], linestyle=st["linestyle"], label=f"m, {name}")
        axes[1].plot(t, np.where(v[:, j] > 0, v[:, j], np.nan), color=st["color"],
                     linestyle=st["linestyle"], label=f"v, {name}")
    axes[0].axhline(0, color="0.5", linewidth=0.8)
    axes[0].set_title("first moment m (mean of g)")
    axes[0].set_ylabel("m")
    axes[1].set_yscale("log")
    axes[1].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())   # 10ᵏ labels only
    axes[1].set_title("second moment v (mean of g²)")
    axes[1].set_ylabel("v   (log scale)")
    for ax in axes:
        ax.set_xlabel("step t")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return axes
