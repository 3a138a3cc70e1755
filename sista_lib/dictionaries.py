r"""Dictionaries :math:`D` and measurement matrices :math:`A`.

A dictionary is a synthesis matrix whose *columns* are atoms: a signal is :math:`y = D h`.
For an orthonormal :math:`D`, analysis is :math:`h = D^T y`. All functions return float64
NumPy arrays; convert with ``torch.from_numpy`` where a tensor is needed.
"""

from __future__ import annotations

import numpy as np
import pywt

from ._checks import check_positive_int, check_scalar, check_seed

__all__ = ["wavelet_dictionary", "dct_dictionary", "measurement_matrix", "paper_measurement_matrix"]


def wavelet_dictionary(n: int, wavelet: str = "db4", level: int = 4) -> np.ndarray:
    r"""Orthonormal discrete wavelet synthesis matrix :math:`D \in \mathbb{R}^{n \times n}`.

    Column :math:`j` is ``pywt.waverec`` of the :math:`j`-th unit coefficient vector, with
    PyWavelets' coefficient order ``[cA_level, cD_level, ..., cD_1]`` and
    ``mode="periodization"`` (which makes the transform orthonormal). Hence
    :math:`D^T y` equals the concatenated ``pywt.wavedec(y, wavelet, mode="periodization",
    level=level)``. The paper uses ``db4`` (8 taps, 4 vanishing moments) at 4 levels.

    Parameters
    ----------
    n : int
        Signal length; must be divisible by ``2**level``.
    wavelet : str, default "db4"
        An orthogonal PyWavelets wavelet name (``haar``, ``dbN``, ``symN``, ``coifN``).
    level : int, default 4
        Decomposition depth, at least 1 and at most ``pywt.dwt_max_level(n, filter length)``
        (deeper levels would only see boundary effects; PyWavelets warns about them).

    Returns
    -------
    (n, n) float64 ndarray with orthonormal columns.

    Raises
    ------
    TypeError
        If ``n`` or ``level`` is not an integer or ``wavelet`` not a str.
    ValueError
        If ``wavelet`` is not an orthogonal discrete PyWavelets wavelet, ``n`` is not divisible
        by ``2**level``, or ``level`` is deeper than ``n`` allows.
    """
    n = check_positive_int(n, "n")
    level = check_positive_int(level, "level")
    if not isinstance(wavelet, str):
        raise TypeError(f"wavelet must be a PyWavelets name (str), got {type(wavelet).__name__}")
    try:
        w = pywt.Wavelet(wavelet)
    except ValueError as exc:
        raise ValueError(
            f"wavelet={wavelet!r} is not a PyWavelets discrete wavelet (orthogonal ones: "
            f"'haar', 'db1'..'db38', 'sym2'..'sym20', 'coif1'..'coif17'; see "
            f"pywt.wavelist(kind='discrete'))"
        ) from exc
    if not w.orthogonal:
        raise ValueError(f"wavelet={wavelet!r} is not orthogonal; an orthonormal basis needs one")
    max_level = pywt.dwt_max_level(n, w.dec_len)
    too_deep = (
        f"level={level} is too deep for n={n} with {wavelet!r} ({w.dec_len} taps): at most "
        f"pywt.dwt_max_level({n}, {w.dec_len}) = {max_level} level(s)"
    )
    if n % (2**level) != 0:
        hint = f"; {too_deep}" if level > max_level else ""
        raise ValueError(f"n={n} must be divisible by 2**level={2**level}{hint}")
    if level > max_level:
        raise ValueError(too_deep)
    template = pywt.wavedec(np.zeros(n), w, mode="periodization", level=level)
    sizes = [len(c) for c in template]
    D = np.empty((n, n))
    eye = np.eye(n)
    for j in range(n):
        coeffs = np.split(eye[j], np.cumsum(sizes)[:-1])
        D[:, j] = pywt.waverec(coeffs, w, mode="periodization")
    return D


def dct_dictionary(n: int, n_atoms: int | None = None) -> np.ndarray:
    r"""DCT dictionary with unit-norm atoms.

    With ``n_atoms = n`` (default) this is the orthonormal DCT-II synthesis matrix
    (``scipy.fft.idct(..., norm="ortho")``). With ``n_atoms > n`` it is the overcomplete DCT
    used in sparse-coding benchmarks: atom :math:`k` is :math:`\cos(\pi k (i + 1/2) / n_{atoms})`,
    :math:`i = 0..n-1`, mean removed for :math:`k > 0`, normalised to unit norm.

    Parameters
    ----------
    n : int
        Signal length.
    n_atoms : int, optional
        Number of atoms (columns), at least ``n``.

    Returns
    -------
    (n, n_atoms) float64 ndarray with unit-norm columns.
    """
    n = check_positive_int(n, "n")
    if n_atoms is not None:
        n_atoms = check_positive_int(n_atoms, "n_atoms")
    if n_atoms is None or n_atoms == n:
        from scipy.fft import idct

        return idct(np.eye(n), norm="ortho", axis=0)
    if n_atoms < n:
        raise ValueError(f"n_atoms must be >= n={n} (a dictionary that spans the space), got {n_atoms}")
    i = np.arange(n)[:, None] + 0.5
    k = np.arange(n_atoms)[None, :]
    D = np.cos(np.pi * k * i / n_atoms)
    D[:, 1:] -= D[:, 1:].mean(axis=0)
    return D / np.linalg.norm(D, axis=0)


def measurement_matrix(
    m: int, n: int, kind: str = "bernoulli", seed: int = 0, scale: float = 1.0
) -> np.ndarray:
    r"""Random compressive-sensing matrix :math:`A \in \mathbb{R}^{m \times n}`.

    ``"bernoulli"``: :math:`A_{ij} = \operatorname{sign}(g_{ij})/\sqrt{m}` with
    :math:`g_{ij} \sim \mathcal N(0, 1)` (the paper's choice); ``"gaussian"``:
    :math:`A_{ij} = g_{ij}/\sqrt{m}`. Both have unit-norm columns on average. The result is
    multiplied by ``scale`` (the paper divides by 3 so that :math:`\lVert A\rVert_2 \approx 1`).

    Parameters
    ----------
    m, n : int
        Number of measurements and signal length.
    kind : {"bernoulli", "gaussian"}
    seed : int
        Seed of ``numpy.random.default_rng`` (>= 0).
    scale : float, default 1.0
        Positive factor applied at the end.

    Returns
    -------
    (m, n) float64 ndarray
    """
    m = check_positive_int(m, "m")
    n = check_positive_int(n, "n")
    scale = check_scalar(scale, "scale", positive=True)
    if not isinstance(kind, str) or kind not in ("bernoulli", "gaussian"):
        raise ValueError(f"kind must be 'bernoulli' or 'gaussian', got {kind!r}")
    seed = check_seed(seed)
    g = np.random.default_rng(seed).standard_normal((m, n))
    A = np.sign(g) if kind == "bernoulli" else g
    return A * (scale / np.sqrt(m))


def paper_measurement_matrix(m: int = 32, n: int = 128, seed: int = 0) -> np.ndarray:
    r"""The paper's measurement matrix: Bernoulli :math:`\pm 1/\sqrt{m}`, divided by 3.

    Equivalent to ``measurement_matrix(m, n, "bernoulli", seed, scale=1/3)``; with
    :math:`m = 32, n = 128` its spectral norm is close to 1 (about 0.98 for seed 0). It is *not*
    what makes :math:`\alpha = 1` a classical step: with an orthonormal :math:`D` SISTA's
    :math:`L = \lambda_{\max}(D^T (A^T A + \lambda_2 I) D) = \lVert A\rVert_2^2 + \lambda_2`,
    about 1.96 at :math:`\lambda_2 = 1`. So :math:`\alpha = 1 < L`, outside the classical
    condition :math:`\alpha \ge L`, but :math:`\alpha = 1 > L/2`, so each SISTA step still
    decreases the objective (:func:`sista_lib.sista.sista_step_size`).
    """
    return measurement_matrix(m, n, "bernoulli", seed=seed, scale=1.0 / 3.0)
