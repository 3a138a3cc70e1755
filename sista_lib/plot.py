"""Figure helpers the chapters reuse.

Every helper draws on a Matplotlib ``Axes`` it is given (or creates one) and returns the axes or
figure, so a notebook can compose them. :func:`use_book_style` sets the book's figure defaults:
figures sized for the text column of the website and drawn at twice that resolution, legible
fonts, white backgrounds and a colour-blind-safe palette (Okabe and Ito) in which every colour
also has its own line style. :func:`frames_player` turns precomputed frames of a figure into a
small HTML player with a slider, for pages read without a live kernel.

- Signals, images and algorithms: :func:`show_images`, :func:`plot_signal_and_coefficients`,
  :func:`plot_convergence`.
- Training: :func:`plot_crops_and_measurements` (the task), :func:`plot_learning_curves`,
  :func:`plot_training_progress` (per epoch and against time), :func:`plot_reconstruction_grid`
  (test images and their reconstructions).
- Reading trained networks: :func:`plot_parameter_trajectories`, :func:`plot_depth_sweep`,
  :func:`plot_lines`, :func:`plot_atoms`, :func:`plot_atom_profiles` and :func:`mark_bands`
  (per atom, with the wavelet bands), :func:`plot_singular_values`,
  :func:`plot_spectrum_change`, :func:`plot_code_sparsity`, :func:`plot_matrix`,
  :func:`plot_matrices`, :func:`plot_matrix_blocks`, :func:`plot_eigenvalues`.
- Layout: :func:`legend_below`.

Figures with several series of one kind (the variants of a network, say) take ``styles``, the
line keywords of each series by its label (e.g. ``{"color": "0.35", "ls": ":"}``,
:data:`REFERENCE_STYLE`); the series without an entry take the colours of :data:`BOOK_COLORS`
and the line styles of :data:`BOOK_LINESTYLES` in turn, so the first such series is blue and
solid, the second orange and dashed.
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
    "REFERENCE_STYLE",
    "legend_below",
    "plot_crops_and_measurements",
    "plot_training_progress",
    "plot_reconstruction_grid",
    "plot_lines",
    "plot_depth_sweep",
    "plot_parameter_trajectories",
    "mark_bands",
    "plot_atom_profiles",
    "plot_singular_values",
    "plot_dictionary_change",
    "plot_matrix_diagonals",
    "plot_spectrum_change",
    "plot_lstm_recurrence",
    "plot_code_sparsity",
    "plot_matrices",
    "plot_matrix_blocks",
    "plot_eigenvalues",
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
#: The look of a reference series drawn with others (an untrained network, say): dark grey, dotted.
REFERENCE_STYLE = {"color": "0.35", "ls": ":"}

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
    start: int = 1,
    marker: str | None = None,
    figsize: tuple[float, float] = (6, 3.6),
    steps_per_epoch: int = 1,
    ax=None,
):
    """Learning curves, one line per model; optional (low, high) bands, e.g. min/max over seeds.

    ``curves[name][i]`` is drawn at epoch ``start + i`` (``start=0`` when the first value is
    that of the initial parameters), times ``steps_per_epoch`` to draw against optimiser steps,
    with ``marker`` at each point if given. Without ``ax``, a figure of ``figsize`` is made.
    Returns the axes.
    """
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
        raise TypeError(f"start must be an integer epoch, got {type(start).__name__}")
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) \
            or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be an integer >= 1, got {steps_per_epoch!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    for name, values in curves.items():
        v = _np(values).astype(float)
        epochs = np.arange(start, start + len(v)) * steps_per_epoch
        (line,) = ax.plot(epochs, v, marker=marker, label=name)
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


# --------------------------------------------------------------------------------------------
# series, checks and layout
# --------------------------------------------------------------------------------------------


def _check_mapping(x: Any, name: str, what: str) -> list[str]:
    """The keys of a non-empty mapping ``x`` (labels of series, titles of panels)."""
    if not isinstance(x, Mapping):
        raise TypeError(f"{name} must be a mapping of {what}, got {type(x).__name__}")
    if not x:
        raise ValueError(f"{name} must hold at least one entry ({what}), got an empty mapping")
    return list(x)


def _check_length(values: Any, n: int, name: str) -> None:
    if len(values) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(values)}")


def _check_ncols(ncols: Any) -> int:
    """A number of columns of panels: an integer >= 1."""
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}")
    return int(ncols)


def _series_styles(labels: Sequence[str], styles: Mapping[str, Mapping[str, Any]] | None,
                   ) -> dict[str, dict[str, Any]]:
    """Line keywords per label: ``styles[label]`` where given, else the book's colours and line
    styles in turn."""
    if styles is not None and not isinstance(styles, Mapping):
        raise TypeError(f"styles must be a mapping of series labels to line keywords, got "
                        f"{type(styles).__name__}")
    out, i = {}, 0
    for label in labels:
        if styles is not None and label in styles:
            out[label] = dict(styles[label])
        else:
            out[label] = {"color": BOOK_COLORS[i % len(BOOK_COLORS)],
                          "ls": BOOK_LINESTYLES[i % len(BOOK_LINESTYLES)]}
            i += 1
    return out


def legend_below(fig, ax=None, *, ncol: int = 2, space: float = 0.06):
    """One legend for the whole figure, centred below its axes, without a frame.

    The entries are those of ``ax`` (default: of every axes of ``fig``); the axes are laid out
    (``tight_layout``) above the bottom fraction ``space`` of the figure, which holds the legend.
    Returns the legend.
    """
    if not 0 <= space < 1:
        raise ValueError(f"space must be a fraction of the figure's height in [0, 1), got {space}")
    if ax is None:
        legend = fig.legend(loc="lower center", ncol=ncol, frameon=False)
    else:
        legend = fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=ncol,
                            frameon=False)
    fig.tight_layout(rect=(0, space, 1, 1))
    return legend


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


def plot_crops_and_measurements(images: Sequence[Any], titles: Sequence[str], measurements: Any,
                                *, figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.9),
                                height_ratios: tuple[float, float] = (1.55, 1.0)):
    r"""Images side by side (top, grey levels in [0, 1]) and the measurements of one image
    (bottom): the columns :math:`x_t` of a ``(T, M)`` array, one per time step, as a heat map
    centred at 0.

    Returns
    -------
    matplotlib.figure.Figure
        With ``len(images) + 1`` axes, the measurements' last.

    Raises
    ------
    ValueError
        If ``images`` is empty, ``titles`` does not have one entry per image, or
        ``measurements`` is not 2-d.
    """
    images = [_np(im) for im in images]
    if not images:
        raise ValueError("images must hold at least one image, got none")
    _check_length(titles, len(images), "titles (one per image)")
    x = _np(measurements)
    if x.ndim != 2:
        raise ValueError(f"measurements must be a (T, M) array, got shape {x.shape}")
    fig = plt.figure(figsize=figsize)
    grid = fig.add_gridspec(2, len(images), height_ratios=list(height_ratios))
    for i, (img, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(img, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    ax = fig.add_subplot(grid[1, :])
    lim = float(np.abs(x).max())
    ax.imshow(x.T, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set(xlabel="time step t (image column)", ylabel=f"$x_t$ ({x.shape[1]} entries)", yticks=[])
    ax.grid(False)
    fig.tight_layout()
    return fig


def plot_training_progress(
    curves: Mapping[str, Any],
    minutes: Mapping[str, Any],
    *,
    bands: Mapping[str, tuple[Any, Any]] | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    ylabel: str = "validation MSE",
    steps_per_epoch: int | None = None,
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.9),
    space: float = 0.17,
):
    """Learning curves per epoch (left, :func:`plot_learning_curves`, log scale) and against
    training time (right, the same values at ``minutes[name]``, the time at the end of each
    epoch), one legend below both. With ``steps_per_epoch`` (the same for every network), the
    left panel is drawn against optimiser steps instead of epochs.

    Parameters
    ----------
    curves : mapping label -> per-epoch values (epoch 1 first)
    minutes : mapping label -> training time in minutes at the end of each epoch
    bands : mapping label -> (low, high), optional
        Shaded on the left, e.g. the range over seeds.
    reference : float, optional
        A level drawn in grey on both panels (e.g. the value before training), named
        ``reference_label`` in the legend.
    space : float
        Fraction of the figure's height below the axes, for the legend.

    Raises
    ------
    ValueError
        If a curve has no times in ``minutes``, or not one per epoch.
    """
    labels = _check_mapping(curves, "curves", "labels to per-epoch values")
    if not isinstance(minutes, Mapping):
        raise TypeError(f"minutes must be a mapping of labels to times, got "
                        f"{type(minutes).__name__}")
    for label in labels:
        if label not in minutes:
            raise ValueError(f"minutes must have the times of every curve, got none for {label!r}")
        _check_length(minutes[label], len(curves[label]), f"minutes[{label!r}] (one per epoch)")
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    per_steps = steps_per_epoch is not None
    plot_learning_curves(curves, bands=bands, ylabel=ylabel, ax=axes[0],
                         steps_per_epoch=steps_per_epoch if per_steps else 1,
                         xlabel="optimiser steps" if per_steps else "epoch")
    axes[0].get_legend().remove()
    if reference is not None:
        axes[0].axhline(reference, color="0.5", ls="-", lw=1, label=reference_label)
    axes[0].set_title("against optimiser steps" if per_steps else "per epoch")
    for label in labels:
        axes[1].plot(_np(minutes[label]), _np(curves[label]).astype(float), label=label)
    if reference is not None:
        axes[1].axhline(reference, color="0.5", ls="-", lw=1)
    axes[1].set(xlabel="training time (min)", title="against training time")
    legend_below(fig, axes[0], space=space)
    return fig


def plot_reconstruction_grid(
    originals: Sequence[Any],
    estimates: Mapping[str, Sequence[Any]],
    *,
    scores: Mapping[str, Sequence[float]] | None = None,
    column_titles: Sequence[str] | None = None,
    original_label: str = "original",
    score_format: str = "{:.1f} dB",
    figsize: tuple[float, float] | None = None,
):
    """Images (top row) and their reconstructions by several methods (one row per method).

    Every image is shown with grey levels in [0, 1], the estimates clipped to that range; each
    row is named on its left, each reconstruction titled with its score.

    Parameters
    ----------
    originals : sequence of (N, T) images
        One per column.
    estimates : mapping row label -> sequence of images
        For each method, its reconstruction of each original, in the same order.
    scores : mapping row label -> sequence of float, optional
        A score per reconstruction (e.g. its PSNR), written with ``score_format``.
    column_titles : sequence of str, optional
        Titles of the originals.
    figsize : (width, height), optional
        Default: the column width, 1.7 inches per row.

    Returns
    -------
    matplotlib.figure.Figure
        With ``(len(estimates) + 1) * len(originals)`` axes, row by row.

    Raises
    ------
    ValueError
        If a method does not have one estimate (or one score) per original.
    """
    originals = [_np(im) for im in originals]
    if not originals:
        raise ValueError("originals must hold at least one image, got none")
    rows = _check_mapping(estimates, "estimates", "row labels to reconstructions")
    n = len(originals)
    for label in rows:
        _check_length(estimates[label], n, f"estimates[{label!r}] (one per original)")
        if scores is not None:
            if label not in scores:
                raise ValueError(f"scores must have the scores of every row, got none for "
                                 f"{label!r}")
            _check_length(scores[label], n, f"scores[{label!r}] (one per original)")
    if column_titles is not None:
        _check_length(column_titles, n, "column_titles (one per original)")
    figsize = (COLUMN_WIDTH_IN, 1.7 * (len(rows) + 1)) if figsize is None else figsize
    fig, axes = plt.subplots(len(rows) + 1, n, figsize=figsize, squeeze=False)
    for col in range(n):
        axes[0, col].imshow(originals[col], vmin=0, vmax=1, interpolation="nearest")
        if column_titles is not None:
            axes[0, col].set_title(column_titles[col])
        for row, label in enumerate(rows, start=1):
            axes[row, col].imshow(np.clip(_np(estimates[label][col]), 0, 1), vmin=0, vmax=1,
                                  interpolation="nearest")
            if scores is not None:
                axes[row, col].set_title(score_format.format(scores[label][col]))
    for row, label in enumerate([original_label, *rows]):
        axes[row, 0].set_ylabel(label)
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        ax.spines[["left", "bottom"]].set_visible(False)
    fig.tight_layout(h_pad=1.4, w_pad=0.4)
    return fig


# --------------------------------------------------------------------------------------------
# reading trained networks
# --------------------------------------------------------------------------------------------


def plot_lines(x: Any, curves: Mapping[str, Any], *,
               styles: Mapping[str, Mapping[str, Any]] | None = None, baseline: float | None = None,
               xlabel: str = "", ylabel: str = "", ax=None, **kwargs: Any):
    """One line per label over the same ``x``, with an optional grey horizontal ``baseline``.

    ``styles`` give each series' line keywords (see the module's note); ``kwargs`` (``marker``,
    ``ms``, ``lw``, ...) apply to every line. No legend is drawn (see :func:`legend_below`).

    Raises
    ------
    ValueError
        If a curve does not have one value per entry of ``x``.
    """
    labels = _check_mapping(curves, "curves", "labels to values")
    x = _np(x)
    for label in labels:
        _check_length(curves[label], len(x), f"curves[{label!r}] (one value per x)")
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.4))
    for label, style in _series_styles(labels, styles).items():
        ax.plot(x, _np(curves[label]), **{**style, **kwargs}, label=label)
    if baseline is not None:
        ax.axhline(baseline, color="0.5", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_depth_sweep(k_values: Sequence[int], scores: Mapping[str, Any], *,
                     trained_k: int | None = None,
                     styles: Mapping[str, Mapping[str, Any]] | None = None,
                     reference: Mapping[str, Any] | None = None,
                     ylabel: str = "mean test PSNR (dB)",
                     figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.6), space: float = 0.15):
    """Scores of networks rebuilt with ``K`` layers, against ``K`` (log scale, base 2), one line
    with dots per label, the depth they were trained with dashed; one legend below. A NaN score
    (the output diverged at that depth) is a cross in the series' colour at the bottom of the
    axes (several at one depth are stacked upwards).

    ``reference`` (label -> scores, e.g. the untrained parameters) is drawn first, in
    :data:`REFERENCE_STYLE`; the series of ``scores`` take the book's colours in turn.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a series does not have one score per value of ``k_values``.
    """
    if reference is not None:
        _check_mapping(reference, "reference", "labels to scores")
        styles = {**{label: REFERENCE_STYLE for label in reference}, **(styles or {})}
        scores = {**reference, **scores}
    k_values = [int(k) for k in k_values]
    for label in _check_mapping(scores, "scores", "labels to scores"):
        _check_length(scores[label], len(k_values), f"scores[{label!r}] (one per K)")
    fig, ax = plt.subplots(figsize=figsize)
    xlabel = "layers / iterations K"
    if trained_k is not None:
        xlabel += f" (trained with K = {trained_k})"
    plot_lines(k_values, scores, styles=styles, marker="o", ax=ax, xlabel=xlabel, ylabel=ylabel)
    stacked = dict.fromkeys(k_values, 0)        # crosses at one depth are stacked upwards
    for label, line in zip(scores, ax.get_lines()):
        bad = [k for k, v in zip(k_values, np.asarray(scores[label], dtype=float)) if np.isnan(v)]
        heights = [0.04 + 0.08 * stacked[k] for k in bad]
        for k in bad:
            stacked[k] += 1
        if bad:
            ax.plot(bad, heights, ls="none", marker="x", ms=9, mew=2, color=line.get_color(),
                    transform=ax.get_xaxis_transform(), clip_on=False)
    if any(stacked.values()):
        ax.set_xlabel(xlabel + "; ×: the output diverged")
    if trained_k is not None:
        ax.axvline(trained_k, color="0.6", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(k_values, [str(k) for k in k_values])
    legend_below(fig, space=space)
    return fig


def plot_learning_rate_sweep(sweep: Mapping[str, Any], *,
                             labels: Mapping[str, str] | None = None,
                             styles: Mapping[str, Mapping[str, Any]] | None = None,
                             reference: float | None = None,
                             reference_label: str = "",
                             ylabel: str = "mean test PSNR (dB)",
                             figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.4),
                             space: float = 0.15):
    """Each network's score against the learning rate (log scale), one line with dots per
    network; a run that diverged is a cross in its colour at the bottom of the axes, at its
    rate (several at one rate are stacked upwards). One legend below.

    Parameters
    ----------
    sweep : dict
        What :func:`sista_lib.experiment.learning_rate_sweep` returns.
    labels : mapping, optional
        Legend label per model name (default ``sista_lib.experiment.MODEL_LABELS``).
    reference : float, optional
        A score drawn as a horizontal line in :data:`REFERENCE_STYLE` (e.g. the untrained
        SISTA-RNN's, ``sweep["initial"]["sista_rnn"]``), labelled ``reference_label``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .experiment import MODEL_LABELS

    if not isinstance(sweep, Mapping) or not {"lrs", "models", "score", "diverged"} <= set(sweep):
        raise ValueError("sweep must be what sista_lib.experiment.learning_rate_sweep returns "
                         "(keys 'lrs', 'models', 'score', 'diverged'), got "
                         f"{sorted(sweep) if isinstance(sweep, Mapping) else type(sweep).__name__}")
    labels = dict(MODEL_LABELS if labels is None else labels)
    lrs = [float(lr) for lr in sweep["lrs"]]
    names = {m: labels.get(m, m) for m in sweep["models"]}
    fig, ax = plt.subplots(figsize=figsize)
    stacked = {lr: 0 for lr in lrs}     # crosses at one rate are stacked upwards, not on top
    for m, style in zip(sweep["models"], _series_styles(list(names.values()), styles).values()):
        y = [np.nan if sweep["score"][m][lr] is None else sweep["score"][m][lr] for lr in lrs]
        ax.plot(lrs, y, marker="o", **style, label=names[m])
        bad = [lr for lr in lrs if sweep["diverged"][m][lr] is not None]
        if bad:
            heights = [0.04 + 0.08 * stacked[lr] for lr in bad]
            for lr in bad:
                stacked[lr] += 1
            ax.plot(bad, heights, ls="none", marker="x", ms=9, mew=2,
                    color=style["color"], transform=ax.get_xaxis_transform(), clip_on=False)
    if reference is not None:
        ax.axhline(reference, lw=1.2, **REFERENCE_STYLE, label=reference_label)
    ax.set_xscale("log")
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.minorticks_off()
    ax.set(xlabel="learning rate (×: the run diverged)", ylabel=ylabel)
    legend_below(fig, space=space)
    return fig


def plot_parameter_trajectories(
    trajectories: Mapping[str, Sequence[Mapping[str, Any]]],
    panels: Mapping[str, str],
    *,
    marks: Mapping[str, Sequence[int]] | None = None,
    reference: Mapping[str, float] | None = None,
    reach: Any | None = None,
    reference_label: str = r"$\theta_0 \pm \eta s$",
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    ncols: int = 2,
    xlabel: str = "epoch",
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 5.4),
    space: float = 0.06,
):
    r"""Parameters after each epoch, one panel per parameter, one thin line per run.

    Parameters
    ----------
    trajectories : mapping label -> sequence of runs
        Each run maps a parameter's key to its values after each epoch (epoch 0 first), e.g.
        :func:`sista_lib.interpret.scalar_trajectories`. The runs of one label share its style.
    panels : mapping key -> title
        The parameters to draw, in order.
    marks : mapping label -> sequence of int, optional
        An epoch per run to mark with a dot (e.g. its best validation epoch).
    reference, reach : optional
        For each key of ``reference``, the envelope ``reference[key] ± reach`` (``reach``: one
        radius per epoch) dotted in grey, e.g. :math:`\theta_0 \pm \eta s` after :math:`s`
        steps; the axes keep the limits of the runs.

    Returns
    -------
    matplotlib.figure.Figure
        With one legend below the panels.

    Raises
    ------
    ValueError
        If ``marks`` has not one epoch per run, or a run lacks a key of ``panels``.
    """
    labels = _check_mapping(trajectories, "trajectories", "labels to runs")
    keys = _check_mapping(panels, "panels", "parameter keys to titles")
    for label in labels:
        for i, run in enumerate(trajectories[label]):
            missing = [k for k in keys if k not in run]
            if missing:
                raise ValueError(f"trajectories[{label!r}][{i}] must have every key of panels, "
                                 f"got none for {missing}")
        if marks is not None:
            if label not in marks:
                raise ValueError(f"marks must have the epochs of every label, got none for "
                                 f"{label!r}")
            _check_length(marks[label], len(trajectories[label]), f"marks[{label!r}] (one per run)")
    ncols = _check_ncols(ncols)
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, sharex=True, squeeze=False)
    flat = axes.ravel()
    looks = _series_styles(labels, styles)
    for label in labels:
        for i, run in enumerate(trajectories[label]):
            for ax, key in zip(flat, keys):
                values = _np(run[key])
                ax.plot(values, **looks[label], lw=1, alpha=0.8, label=label if i == 0 else None)
                if marks is not None:
                    e = int(marks[label][i])
                    ax.plot(e, values[e], "o", color=looks[label].get("color"), ms=4)
    for ax, key in zip(flat, keys):
        lo, hi = ax.get_ylim()
        if reference is not None and reach is not None and key in reference:
            for sign in (1, -1):
                ax.plot(reference[key] + sign * _np(reach), ":", color="0.5", lw=1.2,
                        label=reference_label if sign == 1 else None)
        ax.set(ylim=(lo, hi), title=panels[key])
    for ax in flat[len(keys):]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    legend_below(fig, flat[0], ncol=3, space=space)
    return fig


def mark_bands(ax, bands: Sequence[Any], *, names: bool = True):
    """Dashed lines between bands of atoms and, with ``names``, their short names above the axes.

    ``bands``: objects with ``start``, ``stop`` and ``short``, e.g.
    :func:`sista_lib.interpret.wavelet_bands`. Returns ``ax``.
    """
    for band in bands[1:]:
        ax.axvline(band.start - 0.5, color="0.6", lw=0.8, ls="--")
    for band in bands if names else []:
        ax.text((band.start + band.stop) / 2, 1.01, band.short, transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=10)
    return ax


def plot_atom_profiles(
    panels: Sequence[Mapping[str, Any]],
    ylabels: Sequence[str],
    *,
    references: Sequence[float | None] | None = None,
    bands: Sequence[Any] | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    xlabel: str = "atom index j",
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 5.3),
    space: float = 0.06,
):
    """Per-atom quantities of several runs, one panel each, stacked: the mean over the runs as
    a line, their range shaded.

    Parameters
    ----------
    panels : sequence of mappings label -> (runs, atoms) array
        One mapping per panel, the same labels in each.
    ylabels : sequence of str
        One per panel.
    references : sequence of float or None, optional
        A dotted grey level per panel (None: none).
    bands : sequence of bands, optional
        Marked on every panel (:func:`mark_bands`), named above the first.

    Returns
    -------
    matplotlib.figure.Figure
        With one legend below the panels.

    Raises
    ------
    ValueError
        If ``ylabels`` or ``references`` does not have one entry per panel, or a series is not
        a 2-d (runs, atoms) array.
    """
    if not panels:
        raise ValueError("panels must hold at least one panel, got none")
    _check_length(ylabels, len(panels), "ylabels (one per panel)")
    if references is not None:
        _check_length(references, len(panels), "references (one per panel)")
    fig, axes = plt.subplots(len(panels), 1, figsize=figsize, sharex=True, squeeze=False)
    axes = axes[:, 0]
    for p, (ax, series) in enumerate(zip(axes, panels)):
        labels = _check_mapping(series, f"panels[{p}]", "labels to (runs, atoms) arrays")
        for label, style in _series_styles(labels, styles).items():
            values = _np(series[label]).astype(float)
            if values.ndim != 2:
                raise ValueError(f"panels[{p}][{label!r}] must be a (runs, atoms) array, got "
                                 f"shape {values.shape}")
            atoms = np.arange(values.shape[1])
            ax.plot(atoms, values.mean(0), **style, lw=1, label=label)
            ax.fill_between(atoms, values.min(0), values.max(0), color=style.get("color"),
                            alpha=0.2, lw=0)
    for p, ax in enumerate(axes):
        if references is not None and references[p] is not None:
            ax.axhline(references[p], color="0.5", lw=1, ls=":")
        if bands is not None:
            mark_bands(ax, bands, names=p == 0)
        ax.set_ylabel(ylabels[p])
    axes[-1].set_xlabel(xlabel)
    legend_below(fig, axes[0], space=space)
    return fig


def plot_singular_values(values: Mapping[str, Sequence[Any]], *, reference: float | None = None,
                         styles: Mapping[str, Mapping[str, Any]] | None = None, ax=None,
                         xlabel: str = "index i (sorted)", ylabel: str = "singular value",
                         title: str = ""):
    """Sorted singular values, one thin line per matrix, the matrices of one label in its style.

    Parameters
    ----------
    values : mapping label -> sequence of 1-d arrays
        The singular values of each matrix (e.g. one per training seed).
    reference : float, optional
        A dotted grey level (1 for an orthogonal matrix).

    Returns
    -------
    matplotlib.axes.Axes
        With a legend of the labels.
    """
    labels = _check_mapping(values, "values", "labels to sequences of singular values")
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.0))
    for label, style in _series_styles(labels, styles).items():
        for i, sv in enumerate(values[label]):
            sv = _np(sv)
            if sv.ndim != 1:
                raise ValueError(f"values[{label!r}][{i}] must be 1-d singular values, got shape "
                                 f"{sv.shape}")
            ax.plot(sv, **style, lw=1, label=label if i == 0 else None)
    if reference is not None:
        ax.axhline(reference, color="0.5", ls=":", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def plot_dictionary_change(D: Any, D0: Any, indices: Sequence[int],
                           spectra: Mapping[str, Sequence[Any]], *,
                           labels: Sequence[str] | None = None,
                           figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 6.6)):
    r"""How a learned dictionary differs from its initial one, in two stacked panels: (a) atoms
    ``indices`` of ``D`` over those of ``D0`` (dashed grey, :func:`plot_atoms`), their legend
    below the panel; (b) the singular values :math:`\sigma_i(D)` of every learned dictionary
    against 1 (:func:`plot_singular_values`).

    Parameters
    ----------
    D, D0 : (N, N) arrays
        A learned dictionary and its initial value.
    indices : sequence of int
        The atoms drawn in panel (a), from top to bottom; ``labels``, one per atom.
    spectra : mapping label -> sequence of 1-d arrays
        The singular values of each learned dictionary, e.g. one per seed.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes are panels (a) and (b), in this order.

    Raises
    ------
    ValueError
        If ``labels`` does not have one entry per atom of ``indices``.
    """
    if labels is not None:
        _check_length(labels, len(indices), "labels (one per atom of indices)")
    fig, axes = plt.subplots(2, 1, figsize=figsize, gridspec_kw={"height_ratios": [1.5, 1]})
    plot_atoms(D, indices, reference=D0, ax=axes[0], labels=labels)
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    axes[0].set_title("(a) atoms of a learned D and their wavelets")
    plot_singular_values(spectra, reference=1.0, ax=axes[1], ylabel=r"$\sigma_i(D)$",
                         title="(b) singular values of every learned D")
    fig.tight_layout()
    return fig


def plot_matrix_diagonals(M: Any, offsets: Sequence[int], profiles: Mapping[str, Any], *,
                          title: str = "$F - I$", ylabel: str = "mean of diagonal k of $F - I$",
                          figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 3.4)):
    """A matrix and the means of its diagonals, side by side: left, ``M`` as an image
    (:func:`plot_matrix`); right, one line with dots per label of the mean of diagonal ``k``
    (e.g. :func:`sista_lib.interpret.diagonal_means`, averaged over runs) for each ``k`` in
    ``offsets``, against 0; one legend below.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes: the image, the profiles, the image's colour bar.

    Raises
    ------
    ValueError
        If a profile does not have one value per offset.
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1, 1.2]})
    plot_matrix(M, ax=axes[0], title=title)
    plot_lines(offsets, profiles, baseline=0.0, marker="o", ms=3, ax=axes[1],
               xlabel="diagonal offset k", ylabel=ylabel)
    legend_below(fig, axes[1], space=0.07)
    return fig


def _float_matrix(M: Any, name: str, square: bool = False) -> np.ndarray:
    arr = np.asarray(_np(M), dtype=np.float64)
    if arr.ndim != 2 or (square and arr.shape[0] != arr.shape[1]):
        want = "a square matrix" if square else "a matrix"
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr


def plot_spectrum_change(pairs: Sequence[tuple[Any, Any]], *, labels: Sequence[str] | None = None,
                         when: tuple[str, str] = ("initial", "trained"), ax=None,
                         xlabel: str = "index (sorted)", ylabel: str = "singular value",
                         title: str = ""):
    """Singular values of matrices before (dotted) and after training (solid), one colour per
    pair (e.g. per layer: ``labels`` default "layer 1", "layer 2", ...).

    Parameters
    ----------
    pairs : sequence of (initial, trained) matrices
        Their singular values are computed here, in float64.

    Returns
    -------
    matplotlib.axes.Axes
        With a legend of the colours and of the two line styles.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must hold at least one (initial, trained) pair, got none")
    if len(pairs) > len(BOOK_COLORS):
        raise ValueError(f"pairs must have at most {len(BOOK_COLORS)} entries (one colour each), "
                         f"got {len(pairs)}")
    labels = [f"layer {k + 1}" for k in range(len(pairs))] if labels is None else list(labels)
    _check_length(labels, len(pairs), "labels (one per pair)")
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 3.4))
    for k, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pairs[{k}] must be an (initial, trained) pair, got {len(pair)} "
                             "entries")
        for i, (mat, style) in enumerate(zip(pair, (":", "-"))):
            sv = np.linalg.svd(_float_matrix(mat, f"pairs[{k}][{i}]"), compute_uv=False)
            ax.plot(sv, style, color=BOOK_COLORS[k], lw=1.2)
    handles = [plt.Line2D([], [], color=BOOK_COLORS[k], lw=1.6, label=label)
               for k, label in enumerate(labels)]
    handles += [plt.Line2D([], [], color="0.3", ls=ls, lw=1.6, label=w)
                for ls, w in zip((":", "-"), when)]
    ax.legend(handles=handles, ncol=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def plot_lstm_recurrence(
    pairs: Sequence[tuple[Any, Any]],
    *,
    gates: Sequence[str] = ("input gate", "forget gate", "cell", "output gate"),
    figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 5.2),
):
    """The recurrent matrices ``weight_hh`` of an LSTM, in two stacked panels: (a) the trained
    one of layer 1, transposed, its columns in blocks of ``gates`` as torch stacks them
    (:func:`plot_matrix_blocks`); (b) the singular values of every layer's before and after
    training (:func:`plot_spectrum_change`).

    Parameters
    ----------
    pairs : sequence of (initial, trained) matrices, one pair per layer
        E.g. :func:`sista_lib.interpret.lstm_recurrent_weights`.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes: panels (a) and (b), then the colour bar of (a).

    Raises
    ------
    ValueError
        If ``pairs`` is empty (or as :func:`plot_matrix_blocks` and :func:`plot_spectrum_change`
        raise).
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must hold one (initial, trained) pair of weight_hh per layer, "
                         "got none")
    W = _np(pairs[0][1]).T
    fig, axes = plt.subplots(2, 1, figsize=figsize, gridspec_kw={"height_ratios": [1, 1.9]})
    plot_matrix_blocks(W, gates, ax=axes[0],
                       title=f"(a) weight_hh_l0ᵀ of layer 1 ({W.shape[0]} × {W.shape[1]})")
    plot_spectrum_change(pairs, ax=axes[1], title="(b) singular values of weight_hh of each layer")
    fig.tight_layout()
    return fig


def plot_code_sparsity(sparsity: Mapping[str, Mapping[str, Any]], *,
                       bands: Sequence[Any] | None = None,
                       styles: Mapping[str, Mapping[str, Any]] | None = None,
                       figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 5.8)):
    r"""How sparse codes are: top, the histogram of the number of non-zero entries per code
    (fractions of the codes, bins of 2); bottom, the fraction of the codes that use each atom.

    Parameters
    ----------
    sparsity : mapping label -> dict
        Each with ``"counts"`` (non-zero entries of each code) and ``"atom_usage"`` (per atom),
        as :func:`sista_lib.interpret.code_sparsity` returns.
    bands : sequence of bands, optional
        Marked on the bottom panel (:func:`mark_bands`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = _check_mapping(sparsity, "sparsity", "labels to code_sparsity results")
    for label in labels:
        missing = {"counts", "atom_usage"} - set(sparsity[label])
        if missing:
            raise ValueError(f"sparsity[{label!r}] must have 'counts' and 'atom_usage', got none "
                             f"for {sorted(missing)}")
    n = len(sparsity[labels[0]]["atom_usage"])
    fig, axes = plt.subplots(2, 1, figsize=figsize)
    for label, style in _series_styles(labels, styles).items():
        counts = _np(sparsity[label]["counts"])
        axes[0].hist(counts, bins=np.arange(0, n + 2, 2), histtype="step", **style, lw=1.4,
                     weights=np.full(counts.size, 1 / counts.size), label=label)
        axes[1].plot(_np(sparsity[label]["atom_usage"]), **style, lw=1.2, label=label)
    axes[0].set(xlabel=rf"non-zero entries of $\hat h_t$ (of {n})", ylabel="fraction of columns")
    axes[1].set(xlabel="atom index j", ylabel="fraction of columns\nusing atom j")
    if bands is not None:
        mark_bands(axes[1], bands)
    axes[0].legend(loc="upper left")
    fig.tight_layout(h_pad=1.5)
    return fig


def plot_matrices(matrices: Mapping[str, Any], *, ncols: int = 2, ticks: bool = False,
                  figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 5.8)):
    """Matrices side by side in a grid, each with its title and colour bar (:func:`plot_matrix`),
    without ticks unless ``ticks``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    titles = _check_mapping(matrices, "matrices", "titles to matrices")
    ncols = _check_ncols(ncols)
    fig, axes = plt.subplots(-(-len(titles) // ncols), ncols, figsize=figsize, squeeze=False)
    for ax, title in zip(axes.flat, titles):
        plot_matrix(matrices[title], title=title, ax=ax)
        if not ticks:
            ax.set(xticks=[], yticks=[])
    for ax in axes.flat[len(titles):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_matrix_blocks(M: Any, blocks: Sequence[str], *, title: str = "", ax=None):
    """A matrix whose columns form equal blocks (e.g. the gates of an LSTM), each block named
    below it, separated by black lines; the image fills the axes (:func:`plot_matrix`).

    Raises
    ------
    ValueError
        If the number of columns is not a multiple of the number of blocks.
    """
    M = _np(M)
    if M.ndim != 2:
        raise ValueError(f"M must be a matrix, got shape {M.shape}")
    if not blocks or M.shape[1] % len(blocks):
        raise ValueError(f"blocks must split the {M.shape[1]} columns of M into equal blocks, got "
                         f"{len(blocks)} blocks")
    width = M.shape[1] // len(blocks)
    ax = plot_matrix(M, ax=ax, title=title)
    ax.set_aspect("auto")
    for g in range(1, len(blocks)):
        ax.axvline(g * width - 0.5, color="k", lw=0.8)
    ax.set_xticks([width / 2 + g * width for g in range(len(blocks))], list(blocks))
    ax.set_yticks([])
    return ax


def plot_eigenvalues(pairs: Mapping[str, tuple[Any, Any]], *, ncols: int = 2,
                     when: tuple[str, str] = ("initial", "trained"),
                     figsize: tuple[float, float] = (COLUMN_WIDTH_IN, 6.6)):
    """Eigenvalues in the complex plane of square matrices before (grey crosses) and after
    training (dots), one panel per pair, with the unit circle; the panels share their axes.

    Parameters
    ----------
    pairs : mapping title -> (initial, trained) square matrices
        Their eigenvalues are computed here, in float64.

    Returns
    -------
    matplotlib.figure.Figure
        The first panel holds the legend.
    """
    titles = _check_mapping(pairs, "pairs", "titles to (initial, trained) matrices")
    ncols = _check_ncols(ncols)
    mats = {}
    for title in titles:
        if len(pairs[title]) != 2:
            raise ValueError(f"pairs[{title!r}] must be an (initial, trained) pair, got "
                             f"{len(pairs[title])} entries")
        mats[title] = [_float_matrix(m, f"pairs[{title!r}][{i}]", square=True)
                       for i, m in enumerate(pairs[title])]
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    fig, axes = plt.subplots(-(-len(titles) // ncols), ncols, figsize=figsize, sharex=True,
                             sharey=True, squeeze=False)
    for ax, title in zip(axes.flat, titles):
        ax.plot(circle.real, circle.imag, color="0.7", lw=1)
        looks = zip(mats[title], ("x", "."), ("0.45", BOOK_COLORS[3]), when)
        for mat, marker, color, label in looks:
            ev = np.linalg.eigvals(mat)
            ax.plot(ev.real, ev.imag, marker, color=color, ms=4, label=label)
        ax.set_aspect("equal")
        ax.set_title(title)
    for ax in axes.flat[len(titles):]:
        ax.set_axis_off()
    axes.flat[0].legend(loc="upper left")
    fig.tight_layout()
    return fig
