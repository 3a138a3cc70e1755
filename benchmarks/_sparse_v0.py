# Frozen copy of sista_lib/sparse.py at commit 6addcb7, before the performance work.
# The benchmark times it next to the current module (same iterates, so the same answer) to show
# what the optimisation gained on this machine. Not part of the library; do not import elsewhere.
r"""Sparse coding: the Lasso, soft-thresholding, ISTA and FISTA.

Convention used throughout the book and the library, per signal :math:`y \in \mathbb{R}^M`
with a matrix :math:`\Phi \in \mathbb{R}^{M \times N}`:

.. math::

    F(h) = \tfrac12 \lVert y - \Phi h \rVert_2^2 + \lambda \lVert h \rVert_1 .

(scikit-learn's ``Lasso`` divides the quadratic term by ``M``: its ``alpha`` is
:math:`\lambda / M`.) Solvers are batched over leading dimensions: ``y`` of shape ``(..., M)``
gives ``h`` of shape ``(..., N)``. NumPy in gives NumPy out, torch in gives torch out, and
float64 input stays float64.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from sista_lib._checks import (
    ArrayLike,
    check_finite,
    check_min_ndim,
    check_ndim,
    check_positive_int,
    check_scalar,
    common_dtype,
    like,
    to_torch,
)

__all__ = [
    "StepSizeWarning",
    "soft_threshold",
    "lasso_objective",
    "lipschitz_constant",
    "ista",
    "fista",
]


class StepSizeWarning(UserWarning):
    """Issued when a solver is given a step larger than ``1/L`` (convergence not guaranteed)."""


def _soft(z: torch.Tensor, threshold: torch.Tensor | float) -> torch.Tensor:
    """Unchecked soft-thresholding on tensors (the hot path of every solver)."""
    return torch.sign(z) * torch.clamp(z.abs() - threshold, min=0.0)


def soft_threshold(z: ArrayLike, threshold: Any) -> ArrayLike:
    r"""Soft-thresholding, the proximal operator of :math:`b \lVert\cdot\rVert_1`.

    .. math::

        \operatorname{soft}_b(z) = \operatorname{sign}(z)\,\max(|z| - b, 0)
        = \arg\min_h \tfrac12 \lVert h - z \rVert_2^2 + b \lVert h \rVert_1 .

    Parameters
    ----------
    z : array or tensor
        Input of any shape.
    threshold : float or array
        :math:`b \ge 0`. A scalar, or an array whose shape broadcasts to ``z.shape`` without
        enlarging it (e.g. one threshold per coefficient, shape ``(N,)``).

    Returns
    -------
    array or tensor
        Same shape, dtype and kind as ``z``.
    """
    zt = to_torch(z, "z")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        b: torch.Tensor | float = check_scalar(threshold, "threshold", nonnegative=True)
    else:
        bt = to_torch(threshold, "threshold").to(zt.dtype)
        check_finite(bt, "threshold")
        if bool((bt < 0).any()):
            raise ValueError("threshold must be >= 0 everywhere")
        try:
            out_shape = torch.broadcast_shapes(zt.shape, bt.shape)
        except RuntimeError:
            out_shape = None
        if out_shape != zt.shape:
            raise ValueError(
                f"threshold of shape {tuple(bt.shape)} does not broadcast to z's shape "
                f"{tuple(zt.shape)}"
            )
        b = bt
    return like(_soft(zt, b), z)


def _prepare(Phi: Any, y: Any, name_y: str = "y") -> tuple[torch.Tensor, torch.Tensor]:
    """Check a (matrix, batch of signals) pair and bring both to a common float dtype."""
    Pt = to_torch(Phi, "Phi")
    yt = to_torch(y, name_y)
    check_ndim(Pt, "Phi", 2)
    check_min_ndim(yt, name_y, 1)
    if yt.shape[-1] != Pt.shape[0]:
        raise ValueError(
            f"{name_y} has {yt.shape[-1]} entries in its last dimension but Phi has "
            f"{Pt.shape[0]} rows (expected {name_y} of shape (..., {Pt.shape[0]}))"
        )
    check_finite(Pt, "Phi")
    check_finite(yt, name_y)
    dtype = common_dtype(Pt, yt)
    return Pt.to(dtype), yt.to(dtype)


def _objective(Phi: torch.Tensor, y: torch.Tensor, h: torch.Tensor, lam: float) -> torch.Tensor:
    residual = y - h @ Phi.T
    return 0.5 * (residual * residual).sum(-1) + lam * h.abs().sum(-1)


def lasso_objective(Phi: ArrayLike, y: ArrayLike, h: ArrayLike, lam: float) -> ArrayLike:
    r"""Lasso objective :math:`\tfrac12\lVert y - \Phi h\rVert^2 + \lambda\lVert h\rVert_1`.

    Parameters
    ----------
    Phi : (M, N) array
    y : (..., M) array
    h : (..., N) array, same leading shape as ``y``
    lam : float, :math:`\lambda \ge 0`

    Returns
    -------
    array of shape ``(...)``: one value per signal (a 0-d array for a single signal).
    """
    Pt, yt = _prepare(Phi, y)
    ht = to_torch(h, "h").to(yt.dtype)
    if ht.shape[:-1] != yt.shape[:-1] or ht.shape[-1] != Pt.shape[1]:
        raise ValueError(
            f"h must have shape {tuple(yt.shape[:-1]) + (Pt.shape[1],)} to match y and Phi, "
            f"got {tuple(ht.shape)}"
        )
    lam = check_scalar(lam, "lam", nonnegative=True)
    return like(_objective(Pt, yt, ht, lam), y)


def lipschitz_constant(Phi: ArrayLike) -> float:
    r"""Lipschitz constant of the Lasso gradient: :math:`L = \lambda_{\max}(\Phi^T\Phi) = \lVert\Phi\rVert_2^2`.

    Parameters
    ----------
    Phi : (M, N) array

    Returns
    -------
    float
    """
    Pt = to_torch(Phi, "Phi")
    check_ndim(Pt, "Phi", 2)
    check_finite(Pt, "Phi")
    return float(torch.linalg.matrix_norm(Pt.to(torch.float64), ord=2) ** 2)


def _solve(
    Phi: Any,
    y: Any,
    lam: float,
    *,
    n_iter: int,
    step: float | None,
    h0: Any,
    tol: float | None,
    return_history: bool,
    accelerated: bool,
):
    Pt, yt = _prepare(Phi, y)
    lam = check_scalar(lam, "lam", nonnegative=True)
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    L = lipschitz_constant(Pt)
    if step is None:
        if L == 0:
            raise ValueError("Phi is zero: the Lasso has no curvature and no default step 1/L")
        step = 1.0 / L
    else:
        step = check_scalar(step, "step", positive=True)
        if step * L > 1.0 + 1e-9:
            warnings.warn(
                f"step={step:.4g} exceeds 1/L={1.0 / L:.4g}: the iterates may diverge",
                StepSizeWarning,
                stacklevel=3,
            )
    if tol is not None:
        tol = check_scalar(tol, "tol", positive=True)
    batch_shape = yt.shape[:-1]
    N = Pt.shape[1]
    if h0 is None:
        h = yt.new_zeros(batch_shape + (N,))
    else:
        h = to_torch(h0, "h0").to(yt.dtype)
        if h.shape != batch_shape + (N,):
            raise ValueError(
                f"h0 must have shape {tuple(batch_shape) + (N,)}, got {tuple(h.shape)}"
            )
        check_finite(h, "h0")
        h = h.clone()

    # Gradient of the smooth part: Phi^T (Phi h - y) = h G - c with G = Phi^T Phi, c = Phi^T y.
    # The Gram form costs N^2 per signal instead of 2MN: use it when that is cheaper.
    use_gram = N <= 2 * Pt.shape[0]
    G = Pt.T @ Pt if use_gram else None
    c = yt @ Pt
    threshold = step * lam
    track = return_history or tol is not None
    history = [_objective(Pt, yt, h, lam)] if track else []

    z = h  # extrapolated point (FISTA); equals h for ISTA
    t = 1.0
    for _ in range(n_iter):
        grad = z @ G - c if use_gram else (z @ Pt.T - yt) @ Pt
        h_new = _soft(z - step * grad, threshold)
        if accelerated:
            t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
            z = h_new + ((t - 1.0) / t_new) * (h_new - h)
            t = t_new
        else:
            z = h_new
        h = h_new
        if track:
            history.append(_objective(Pt, yt, h, lam))
            if tol is not None:
                previous, current = history[-2], history[-1]
                change = (previous - current).abs() / previous.abs().clamp_min(1e-300)
                if bool((change < tol).all()):
                    break

    h_out = like(h, y)
    if return_history:
        return h_out, like(torch.stack(history), y)
    return h_out


_SOLVER_DOC = r"""
    Parameters
    ----------
    Phi : (M, N) array or tensor
        The matrix :math:`\Phi` (for compressive sensing with a dictionary, :math:`\Phi = A D`).
    y : (..., M) array or tensor
        Signals; leading dimensions are a batch.
    lam : float
        :math:`\lambda \ge 0`.
    n_iter : int, default 100
        Maximum number of iterations.
    step : float, optional
        Step size :math:`1/\alpha`; default :math:`1/L` with :math:`L` from
        :func:`lipschitz_constant`. A step larger than :math:`1/L` is allowed (to show divergence)
        but issues a :class:`StepSizeWarning`.
    h0 : (..., N) array, optional
        Starting point (default zeros).
    tol : float, optional
        Stop early once every signal's relative objective change
        :math:`|F_{k-1} - F_k| / |F_{k-1}|` is below ``tol``.
    return_history : bool, default False
        Also return the objective per iteration, shape ``(n_done + 1, ...)``; row 0 is the
        objective at ``h0``.

    Returns
    -------
    h : (..., N) array or tensor, same kind and dtype as ``y``
    history : (n_done + 1, ...) array, only if ``return_history``

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite data, negative ``lam``, non-positive ``step``/``tol``.
    """


def ista(
    Phi: ArrayLike,
    y: ArrayLike,
    lam: float,
    *,
    n_iter: int = 100,
    step: float | None = None,
    h0: ArrayLike | None = None,
    tol: float | None = None,
    return_history: bool = False,
):
    return _solve(
        Phi, y, lam, n_iter=n_iter, step=step, h0=h0, tol=tol,
        return_history=return_history, accelerated=False,
    )


def fista(
    Phi: ArrayLike,
    y: ArrayLike,
    lam: float,
    *,
    n_iter: int = 100,
    step: float | None = None,
    h0: ArrayLike | None = None,
    tol: float | None = None,
    return_history: bool = False,
):
    return _solve(
        Phi, y, lam, n_iter=n_iter, step=step, h0=h0, tol=tol,
        return_history=return_history, accelerated=True,
    )


ista.__doc__ = r"""Iterative soft-thresholding (ISTA; Daubechies, Defrise and De Mol 2004).

    A proximal-gradient step on the Lasso objective, with step :math:`1/\alpha`:

    .. math::

        h^{(k)} = \operatorname{soft}_{\lambda/\alpha}\!\Big(h^{(k-1)}
        + \tfrac{1}{\alpha}\Phi^T\big(y - \Phi h^{(k-1)}\big)\Big).

    The objective never increases when :math:`\alpha \ge L`, and the gap to the optimum decays
    as :math:`O(1/k)`.
""" + _SOLVER_DOC

fista.__doc__ = r"""Fast iterative soft-thresholding (FISTA; Beck and Teboulle 2009).

    ISTA's step taken from an extrapolated point :math:`z^{(k)}`:

    .. math::

        h^{(k)} = \operatorname{soft}_{\lambda/\alpha}\!\Big(z^{(k)}
        + \tfrac{1}{\alpha}\Phi^T\big(y - \Phi z^{(k)}\big)\Big),\quad
        t_{k+1} = \tfrac{1 + \sqrt{1 + 4 t_k^2}}{2},\quad
        z^{(k+1)} = h^{(k)} + \tfrac{t_k - 1}{t_{k+1}}\big(h^{(k)} - h^{(k-1)}\big),

    with :math:`t_1 = 1`, :math:`z^{(1)} = h^{(0)}`. The gap to the optimum decays as
    :math:`O(1/k^2)`; the objective is not monotone.
""" + _SOLVER_DOC
