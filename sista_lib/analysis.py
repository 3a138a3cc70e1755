r"""Analysis helpers: best :math:`k`-term approximation and the :math:`\ell_1` phase transition.

Sparse coding rests on two facts the book measures rather than asserts:

- *Compressibility*: in a good orthonormal basis :math:`D` a signal :math:`y = D h` is well
  approximated by its :math:`k` largest coefficients (:func:`best_k_term`,
  :func:`energy_compaction`).
- *Recoverability*: a :math:`k`-sparse :math:`h` is recovered exactly from :math:`m` random
  measurements :math:`x = \Phi h` by :math:`\ell_1` minimisation when :math:`m` exceeds the
  statistical dimension of the :math:`\ell_1` descent cone (Amelunxen, Lotz, McCoy and Tropp
  2014), which traces the Donoho-Tanner phase transition (:func:`l1_statistical_dimension`,
  :func:`l1_phase_transition`, and the empirical :func:`phase_transition_grid`).

:func:`best_k_term` and :func:`energy_compaction` accept NumPy arrays or torch tensors and return
the kind they were given; the phase-transition functions return NumPy arrays or floats.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from scipy.optimize import brentq, linprog
from scipy.stats import norm

from ._checks import (
    ArrayLike,
    check_finite,
    check_min_ndim,
    check_ndim,
    check_positive_int,
    check_scalar,
    like,
    to_torch,
)

__all__ = [
    "best_k_term",
    "energy_compaction",
    "l1_statistical_dimension",
    "l1_phase_transition",
    "basis_pursuit",
    "phase_transition_grid",
]


# --- best k-term approximation ----------------------------------------------------------------

def best_k_term(h: ArrayLike, k: int) -> ArrayLike:
    r"""Keep the :math:`k` largest-magnitude coefficients of each signal, zero the rest.

    .. math::

        h_k = \arg\min_{\lVert g \rVert_0 \le k} \lVert h - g \rVert_2 ,

    For an orthonormal dictionary :math:`D`, :math:`D h_k` is the best :math:`k`-term
    approximation of :math:`y = D h` and its error is
    :math:`\lVert y - D h_k \rVert_2^2 = \lVert h - h_k \rVert_2^2`.

    Parameters
    ----------
    h : (..., N) array or tensor
        Coefficients; leading dimensions are a batch.
    k : int
        Number of coefficients kept per signal, ``0 <= k <= N``. Ties are broken so that
        exactly ``k`` entries are kept.

    Returns
    -------
    (..., N) array or tensor, same kind and dtype as ``h``.
    """
    ht = to_torch(h, "h")
    check_min_ndim(ht, "h", 1)
    check_finite(ht, "h")
    k = check_positive_int(k, "k", minimum=0)
    n = ht.shape[-1]
    if k > n:
        raise ValueError(f"k must be <= N={n} (the number of coefficients), got {k}")
    keep = torch.zeros_like(ht, dtype=torch.bool)
    if k > 0:
        idx = torch.topk(ht.abs(), k, dim=-1).indices
        keep.scatter_(-1, idx, True)
    return like(torch.where(keep, ht, torch.zeros_like(ht)), h)


def energy_compaction(h: ArrayLike) -> ArrayLike:
    r"""Fraction of each signal's energy held by its :math:`k` largest coefficients, all :math:`k`.

    .. math::

        c_k = \frac{\lVert h_k \rVert_2^2}{\lVert h \rVert_2^2}
            = \frac{\sum_{i=1}^{k} |h|_{(i)}^2}{\sum_{i=1}^{N} |h|_{(i)}^2},
        \qquad k = 0, 1, \dots, N,

    where :math:`|h|_{(1)} \ge |h|_{(2)} \ge \dots` are the sorted magnitudes and :math:`h_k` is
    :func:`best_k_term`. For an orthonormal :math:`D` the relative error of the best
    :math:`k`-term approximation of :math:`y = D h` is
    :math:`\lVert y - D h_k\rVert^2 / \lVert y\rVert^2 = 1 - c_k`.

    Parameters
    ----------
    h : (..., N) array or tensor

    Returns
    -------
    (..., N + 1) array or tensor, non-decreasing along the last axis, ``c_0 = 0`` and
    ``c_N = 1``. A signal with zero energy is exactly represented by zero terms: its row is
    all ones.
    """
    ht = to_torch(h, "h")
    check_min_ndim(ht, "h", 1)
    check_finite(ht, "h")
    energy = torch.sort(ht * ht, dim=-1, descending=True).values
    cumulative = torch.cat([torch.zeros_like(energy[..., :1]), energy.cumsum(-1)], dim=-1)
    total = cumulative[..., -1:]
    safe = torch.where(total > 0, total, torch.ones_like(total))
    frac = torch.where(total > 0, cumulative / safe, torch.ones_like(cumulative))
    # cumsum rounding can leave the last entry a hair off 1: make c_N exactly 1.
    frac[..., -1] = 1.0
    return like(frac.clamp(0.0, 1.0), h)


# --- the l1 phase transition ------------------------------------------------------------------

def _as_fraction_array(value: Any, name: str) -> tuple[np.ndarray, bool]:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number or array, got bool")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if ((arr < 0) | (arr > 1)).any():
        raise ValueError(f"{name} must lie in [0, 1], got values in [{arr.min()}, {arr.max()}]")
    return arr, arr.ndim == 0


def _psi(rho: float) -> float:
    """Normalised statistical dimension of the l1 descent cone at a rho-sparse point."""
    if rho <= 0.0:
        return 0.0
    if rho >= 1.0:
        return 1.0
    # Stationarity of the bound in tau: rho*tau = 2(1-rho)(phi(tau) - tau*Q(tau)); the left side
    # increases and the right side decreases in tau, so the root is unique.
    def stationarity(tau: float) -> float:
        return rho * tau - 2.0 * (1.0 - rho) * (norm.pdf(tau) - tau * norm.sf(tau))

    tau = brentq(stationarity, 0.0, 40.0, xtol=1e-14, rtol=1e-14)
    tail = (1.0 + tau * tau) * norm.sf(tau) - tau * norm.pdf(tau)  # E[(g - tau)_+^2]
    return float(rho * (1.0 + tau * tau) + (1.0 - rho) * 2.0 * tail)


def l1_statistical_dimension(rho: Any) -> np.ndarray | float:
    r"""Normalised statistical dimension :math:`\psi(\rho)` of the :math:`\ell_1` descent cone.

    For an :math:`s`-sparse :math:`h \in \mathbb{R}^N` with :math:`\rho = s/N`, Amelunxen et al.
    (2014, Prop. 4.5) give :math:`\delta(\mathcal{D}(\lVert\cdot\rVert_1, h)) / N \to \psi(\rho)`,

    .. math::

        \psi(\rho) = \inf_{\tau \ge 0}\Big\{ \rho\,(1 + \tau^2)
        + (1-\rho)\sqrt{\tfrac{2}{\pi}}\int_\tau^\infty (u - \tau)^2 e^{-u^2/2}\,du \Big\},

    with the integral in closed form :math:`2[(1+\tau^2)Q(\tau) - \tau\varphi(\tau)]`
    (:math:`\varphi` the standard normal density, :math:`Q` its upper tail). :math:`\ell_1`
    minimisation recovers :math:`h` from :math:`m` Gaussian measurements with high probability
    when :math:`m/N > \psi(\rho)` and fails when :math:`m/N < \psi(\rho)`.

    Parameters
    ----------
    rho : float or array
        Sparsity fraction(s) :math:`s/N` in :math:`[0, 1]`.

    Returns
    -------
    float for a scalar input, else an ndarray of the same shape; increasing from
    :math:`\psi(0) = 0` to :math:`\psi(1) = 1`.
    """
    arr, scalar = _as_fraction_array(rho, "rho")
    out = np.vectorize(_psi, otypes=[np.float64])(arr)
    return float(out) if scalar else out


def _critical_rho(delta: float) -> float:
    if delta <= 0.0:
        return 0.0
    if delta >= 1.0:
        return 1.0
    eps = brentq(lambda e: _psi(e) - delta, 0.0, 1.0, xtol=1e-14, rtol=1e-14)
    return eps / delta


def l1_phase_transition(delta: Any) -> np.ndarray | float:
    r"""The Donoho-Tanner curve :math:`\rho^\star(\delta)` from the statistical dimension.

    In the phase diagram's coordinates, undersampling :math:`\delta = m/N` and sparsity
    :math:`\rho = k/m`, recovery by :math:`\ell_1` succeeds below the curve and fails above it:

    .. math::

        \rho^\star(\delta) = \frac{\varepsilon}{\delta}
        \quad\text{where}\quad \psi(\varepsilon) = \delta ,

    with :math:`\psi` from :func:`l1_statistical_dimension` (which is increasing, so
    :math:`\varepsilon = k/N` is unique).

    Parameters
    ----------
    delta : float or array
        Undersampling ratio(s) :math:`m/N` in :math:`[0, 1]`.

    Returns
    -------
    float for a scalar input, else an ndarray of the same shape, values in :math:`[0, 1]`.
    """
    arr, scalar = _as_fraction_array(delta, "delta")
    out = np.vectorize(_critical_rho, otypes=[np.float64])(arr)
    return float(out) if scalar else out


def basis_pursuit(Phi: ArrayLike, x: ArrayLike) -> ArrayLike:
    r"""Basis pursuit, the :math:`\lambda \to 0` limit of the Lasso, solved as a linear program.

    .. math::

        \min_h \lVert h \rVert_1 \quad\text{subject to}\quad \Phi h = x ,

    written with :math:`h = u - v`, :math:`u, v \ge 0`: minimise :math:`\mathbf 1^T(u + v)`
    subject to :math:`[\Phi, -\Phi][u; v] = x` (SciPy's HiGHS solver).

    Parameters
    ----------
    Phi : (M, N) array or tensor
    x : (..., M) array or tensor
        Observations; leading dimensions are a batch (solved one by one).

    Returns
    -------
    (..., N) array or tensor, same kind as ``x``, float64.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite data, or when :math:`\Phi h = x` has no solution.
    """
    Pt = to_torch(Phi, "Phi").to(torch.float64)
    xt = to_torch(x, "x").to(torch.float64)
    check_ndim(Pt, "Phi", 2)
    check_min_ndim(xt, "x", 1)
    check_finite(Pt, "Phi")
    check_finite(xt, "x")
    m, n = Pt.shape
    if xt.shape[-1] != m:
        raise ValueError(
            f"x has {xt.shape[-1]} entries in its last dimension but Phi has {m} rows "
            f"(expected x of shape (..., {m}))"
        )
    P = Pt.numpy()
    A_eq = np.hstack([P, -P])
    cost = np.ones(2 * n)
    flat = xt.reshape(-1, m).numpy()
    out = np.empty((flat.shape[0], n))
    for i, xi in enumerate(flat):
        res = linprog(cost, A_eq=A_eq, b_eq=xi, bounds=(0, None), method="highs")
        if res.status != 0:
            raise ValueError(f"basis pursuit failed for signal {i}: {res.message}")
        out[i] = res.x[:n] - res.x[n:]
    result = torch.from_numpy(out).reshape(xt.shape[:-1] + (n,))
    return like(result, x)


def phase_transition_grid(
    n: int,
    deltas: Sequence[float] | np.ndarray,
    rhos: Sequence[float] | np.ndarray,
    *,
    n_trials: int = 10,
    seed: int = 0,
    tol: float = 1e-4,
) -> np.ndarray:
    r"""Empirical success rate of :math:`\ell_1` recovery on a Donoho-Tanner grid.

    For each undersampling :math:`\delta` and sparsity :math:`\rho`, with :math:`m =
    \operatorname{round}(\delta N)` and :math:`k = \max(1, \operatorname{round}(\rho m))`, each
    trial draws a Gaussian :math:`\Phi \in \mathbb{R}^{m \times N}` (entries
    :math:`\mathcal N(0, 1/m)`), a :math:`k`-sparse :math:`h^\star` with a uniformly random
    support and standard normal nonzeros, observes :math:`x = \Phi h^\star`, solves
    :func:`basis_pursuit`, and counts a success when
    :math:`\lVert \hat h - h^\star \rVert_2 \le \mathrm{tol}\,\lVert h^\star \rVert_2`.

    Parameters
    ----------
    n : int
        Signal length :math:`N`.
    deltas : sequence of float
        Undersampling ratios :math:`m/N` in :math:`(0, 1]`.
    rhos : sequence of float
        Sparsity ratios :math:`k/m` in :math:`(0, 1]`.
    n_trials : int, default 10
        Trials per grid cell.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the result is deterministic.
    tol : float, default 1e-4
        Relative error below which a recovery counts as exact.

    Returns
    -------
    (len(deltas), len(rhos)) float64 ndarray of success fractions in :math:`[0, 1]`.
    """
    n = check_positive_int(n, "n")
    n_trials = check_positive_int(n_trials, "n_trials")
    tol = check_scalar(tol, "tol", positive=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    d_arr, _ = _as_fraction_array(deltas, "deltas")
    r_arr, _ = _as_fraction_array(rhos, "rhos")
    for name, arr in (("deltas", d_arr), ("rhos", r_arr)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
        if (arr <= 0).any():
            raise ValueError(f"{name} must be > 0, got {arr.min()}")
    rng = np.random.default_rng(seed)
    success = np.zeros((d_arr.size, r_arr.size))
    for i, delta in enumerate(d_arr):
        m = max(1, int(round(delta * n)))
        for j, rho in enumerate(r_arr):
            k = min(n, max(1, int(round(rho * m))))
            wins = 0
            for _ in range(n_trials):
                Phi = rng.standard_normal((m, n)) / np.sqrt(m)
                h_true = np.zeros(n)
                h_true[rng.choice(n, k, replace=False)] = rng.standard_normal(k)
                h_hat = basis_pursuit(Phi, Phi @ h_true)
                wins += np.linalg.norm(h_hat - h_true) <= tol * np.linalg.norm(h_true)
            success[i, j] = wins / n_trials
    return success
