"""Figure helpers the chapters reuse.

Every helper draws on a Matplotlib ``Axes`` it is given (or creates one) and returns the axes or
figure, so a notebook can compose them. :func:`use_book_style` sets the book's figure defaults:
figures sized for the text column of the website and drawn at twice that resolution, legible
fonts, white backgrounds and a colour-blind-safe palette (Okabe and Ito) in which every colour
also has its own line style. :func:`frames_player` turns precomputed frames of a figure into a
small HTML player with a slider, for pages read without a live kernel.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

__all__ = [
    "BOOK_COLORS",
    "BOOK_LINESTYLES",
    "COLUMN_WIDTH_IN",
    "use_book_style",
    "frames_player",
    "show_images",
    "plot_signal_and_coefficients",
    "plot_convergence",
    "plot_learning_curves",
    "plot_atoms",
    "plot_matrix",
]

#: The Okabe-Ito palette, distinguishable with the common forms of colour blindness:
#: blue, orange, bluish green, vermillion, reddish purple, sky blue, black (yellow is left out:
#: it is too pale on white).
BOOK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
#: One line style per colour of :data:`BOOK_COLORS`, so that curves differ in more than colour.
BOOK_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (8, 2)), (0, (1, 1)))
#: Width of the website's text column in inches at the book's display scale (100 px per inch):
#: a figure this wide is shown at its own size, so its fonts appear at their nominal size.
COLUMN_WIDTH_IN = 6.8

#: Display scale: figure inches to CSS pixels on the website and in Jupyter.
_DISPLAY_DPI = 100
#: Every bitmap is drawn at this multiple of the display scale (hi-DPI screens, zooming).
_OVERSAMPLE = 2


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _png_bytes(fig, *, tight: bool = True) -> tuple[bytes, int]:
    """``fig`` as a PNG drawn at twice its display resolution, and its display width in pixels.

    The PNG is stored as compactly as is safe: greyscale when every pixel is grey, a palette
    when there are at most 256 colours, otherwise a 256-colour palette (plots: the antialiased
    edges between a few colours are all that changes).
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_OVERSAMPLE * fig.dpi, facecolor="white",
                bbox_inches="tight" if tight else None)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    pixels = np.asarray(image)
    if (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
        image = image.convert("L")
    else:
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue(), int(round(pixels.shape[1] / _OVERSAMPLE))


def _inline_png(fig):
    """IPython formatter: (base64 PNG, {"width": display width}) for a figure, None if empty."""
    if not fig.axes and not fig.lines and not fig.images and not fig.texts:
        return None
    data, width = _png_bytes(fig)
    return base64.b64encode(data).decode("ascii"), {"width": width}


def _enable_hidpi_inline() -> bool:
    """In a Jupyter kernel, show figures as compact PNGs drawn at twice their display size.

    The output carries the display width in its metadata (as IPython's "retina" format does, but
    without a fixed height, so that a narrow screen scales the figure down in proportion);
    Jupyter and the website both honour it. Returns whether a kernel was found.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter") or not hasattr(shell, "kernel"):
        return False
    try:
        # Load the inline backend now: it installs its own figure formatter when it loads, which
        # would otherwise replace ours at the first figure.
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:  # pragma: no cover - not a Jupyter kernel
        return False
    from matplotlib.figure import Figure

    formatters = shell.display_formatter.formatters
    for mime in ("image/svg+xml", "image/jpeg", "application/pdf"):
        formatters[mime].pop(Figure, None)
    formatters["image/png"].for_type(Figure, _inline_png)
    return True


def use_book_style(dpi: int = _DISPLAY_DPI) -> None:
    """The book's figure defaults.

    - Figures are shown at ``dpi`` pixels per inch (100: a figure of :data:`COLUMN_WIDTH_IN`
      inches fills the website's text column) and drawn at twice that resolution: in a Jupyter
      kernel as compact hi-DPI PNGs whose metadata give their display width, and by ``savefig``
      at ``2 * dpi``.
    - Fonts of 10-11 pt (legends and tick labels 10 pt), white backgrounds, a light grid, no
      top/right spines.
    - Figures made for the website are shown at their display width (the PNG's metadata), never
      stretched beyond their natural resolution.
    - The colour cycle is :data:`BOOK_COLORS` (Okabe-Ito), each colour paired with a line style
      of :data:`BOOK_LINESTYLES`.
    """
    plt.rcParams.update({
        "figure.dpi": dpi,
        "savefig.dpi": _OVERSAMPLE * dpi,
        "figure.figsize": (COLUMN_WIDTH_IN, 3.4),
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "axes.prop_cycle": cycler(color=list(BOOK_COLORS), linestyle=list(BOOK_LINESTYLES)),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 11,
        "axes.titlesize": 11,
        "axes.labelsize": 11,
        "legend.fontsize": 10,
        "legend.framealpha": 0.9,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "lines.linewidth": 1.6,
        "lines.markersize": 5,
        "image.cmap": "gray",
    })
    _enable_hidpi_inline()


def _figure_bytes(fig, fmt: str) -> bytes:
    if fmt == "png":
        return _png_bytes(fig, tight=False)[0]
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_OVERSAMPLE * fig.dpi, facecolor="white")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    pixels = np.asarray(image)
    if (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
        image = image.convert("L")
    out = io.BytesIO()
    image.save(out, format="jpeg", quality=88, optimize=True)
    return out.getvalue()


def frames_player(fig, update: Callable[[Any], None], values: Sequence[Any], *,
                  label: str = "value", fmt: str = "png", start: int | None = None):
    """Precomputed frames of ``fig`` behind a slider: an interactive figure without a kernel.

    ``update(value)`` redraws ``fig`` for one value; each frame is drawn at twice the figure's
    display resolution and embedded in the page as ``fmt`` ("png", compact for plots and for
    pixel-exact images; "jpeg" for smooth photographic content). Returns an ``IPython.display.HTML`` object: a picture shown at the
    figure's display size (never wider than the text column) and a range input labelled
    ``label = value`` that switches frames with a few lines of inline JavaScript. No network
    access, no widget library. The figure is closed.
    """
    from IPython.display import HTML

    values = list(values)
    if not values:
        raise ValueError("values is empty")
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    start = len(values) // 2 if start is None else int(start)
    if not 0 <= start < len(values):
        raise ValueError(f"start must index values (0..{len(values) - 1}), got {start}")
    frames = []
    for value in values:
        update(value)
        frames.append(f"data:image/{fmt};base64," +
                      base64.b64encode(_figure_bytes(fig, fmt)).decode("ascii"))
    width = int(round(fig.get_figwidth() * fig.dpi))
    plt.close(fig)
    key = "player-" + hashlib.sha256("".join([label, *frames]).encode()).hexdigest()[:12]
    captions = [f"{label} = {v}" for v in values]
    shown = frames[start]
    frames[start] = ""  # the <img> holds it: each frame is stored once
    frames_js, captions_js = json.dumps(frames), json.dumps(captions).replace("</", "<\\/")
    return HTML(
        f'<div class="frames-player" id="{key}" style="max-width: 100%; width: {width}px">'
        f'<img src="{shown}" alt="{html.escape(captions[start])}" '
        f'style="display: block; width: 100%; height: auto">'
        f'<label style="display: flex; gap: 0.75em; align-items: center; margin-top: 0.25em">'
        f'<input type="range" min="0" max="{len(values) - 1}" step="1" value="{start}" '
        f'style="flex: 1" aria-label="{html.escape(label)}">'
        f'<output style="min-width: 9em; font-family: monospace">{html.escape(captions[start])}</output>'
        f'</label></div>'
        f'<script>(function () {{ const root = document.getElementById("{key}");'
        f' const frames = {frames_js}, captions = {captions_js};'
        f' const img = root.querySelector("img"), out = root.querySelector("output");'
        f' frames[{start}] = img.src;'
        f' root.querySelector("input").addEventListener("input", e => {{'
        f' const i = +e.target.value; img.src = frames[i]; img.alt = captions[i];'
        f' out.textContent = captions[i]; }}); }})();</script>'
    )


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
            ax.set_title(titles[i])
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
    ax.legend()
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
    ax.legend()
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
        ax.plot(D[:, idx] + offset, ls="-", lw=1.4, label=None if labels is None else labels[j])
        offset -= spread
    ax.set_yticks([])
    ax.set_xlabel("sample")
    if labels is not None:
        ax.legend()
    return ax


def plot_matrix(M: Any, *, title: str = "", ax=None, symmetric: bool = True):
    """Show a matrix as an image with a colour bar (a diverging map centred at 0 by default)."""
    M = _np(M)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.2))
    lim = float(np.abs(M).max() or 1.0)
    im = ax.imshow(M, cmap="RdBu_r" if symmetric else "viridis",
                   vmin=-lim if symmetric else None, vmax=lim if symmetric else None)
    ax.set_title(title)
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax
