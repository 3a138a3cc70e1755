"""Figure helpers the chapters reuse.

Every helper draws on a Matplotlib ``Axes`` it is given (or creates one) and returns the axes or
figure, so a notebook can compose them. :func:`use_book_style` keeps figures small (the notebooks
are committed with their outputs).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "use_book_style",
    "show_images",
    "plot_signal_and_coefficients",
    "plot_convergence",
    "plot_learning_curves",
    "plot_atoms",
    "plot_matrix",
]


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def use_book_style(dpi: int = 80) -> None:
    """Small, readable figures: modest dpi, light grid, no top/right spines."""
    plt.rcParams.update({
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "figure.figsize": (6.4, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "image.cmap": "gray",
    })


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    size: float = 2.2,
    cmap: str = "gray",
):
    """Show 2-D images side by side (a grid when ``ncols`` is given); returns the figure."""
    images = [_np(im) for im in images]
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    n = len(images)
    if n == 0:
        raise ValueError("images is empty")
    ncols = n if ncols is None else ncols
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, im in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(im, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def plot_signal_and_coefficients(signal: Any, coefficients: Any, *, title: str = "", axes=None):
    """A signal (left) and its coefficients as a stem plot (right)."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 2.6))
    axes[0].plot(_np(signal), lw=1)
    axes[0].set_title(f"{title} signal".strip())
    c = _np(coefficients)
    axes[1].stem(np.arange(len(c)), c, markerfmt=" ", basefmt="k-")
    axes[1].set_title(f"{title} coefficients".strip())
    return axes


def plot_convergence(
    curves: Mapping[str, Any],
    *,
    reference: float | None = None,
    loglog: bool = False,
    ylabel: str = "objective",
    xlabel: str = "iteration k",
    ax=None,
):
    """Plot one curve per name; with ``reference`` plot the gap ``curve - reference`` (log y)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, values in curves.items():
        v = _np(values).astype(float)
        k = np.arange(len(v))
        if reference is not None:
            v = v - reference
            ax.set_yscale("log")
        if loglog:
            ax.loglog(k[1:], v[1:], label=name)
        else:
            ax.plot(k, v, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if reference is None else f"{ylabel} gap")
    ax.legend(fontsize=8)
    return ax


def plot_learning_curves(
    curves: Mapping[str, Any],
    *,
    ylabel: str = "validation MSE",
    xlabel: str = "epoch",
    logy: bool = True,
    bands: Mapping[str, tuple[Any, Any]] | None = None,
    ax=None,
):
    """Learning curves, one line per model; optional (low, high) bands, e.g. min/max over seeds."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in curves.items():
        v = _np(values).astype(float)
        epochs = np.arange(1, len(v) + 1)
        (line,) = ax.plot(epochs, v, label=name)
        if bands is not None and name in bands:
            lo, hi = (_np(b).astype(float) for b in bands[name])
            ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


def plot_atoms(D: Any, indices: Sequence[int], *, labels: Sequence[str] | None = None, ax=None,
               reference: Any | None = None):
    """Plot selected dictionary atoms (columns of ``D``), optionally over a reference dictionary."""
    D = _np(D)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    offset = 0.0
    spread = 1.2 * float(np.abs(D[:, list(indices)]).max() or 1.0)
    for j, idx in enumerate(indices):
        if reference is not None:
            ax.plot(_np(reference)[:, idx] + offset, color="0.6", lw=1, ls="--")
        ax.plot(D[:, idx] + offset, lw=1.2, label=None if labels is None else labels[j])
        offset -= spread
    ax.set_yticks([])
    ax.set_xlabel("sample")
    if labels is not None:
        ax.legend(fontsize=8)
    return ax


def plot_matrix(M: Any, *, title: str = "", ax=None, symmetric: bool = True):
    """Show a matrix as an image with a colour bar (a diverging map centred at 0 by default)."""
    M = _np(M)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.2))
    lim = float(np.abs(M).max() or 1.0)
    im = ax.imshow(M, cmap="RdBu_r" if symmetric else "viridis",
                   vmin=-lim if symmetric else None, vmax=lim if symmetric else None)
    ax.set_title(title, fontsize=9)
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax
