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
from torch.nn import functional as fnn

from ._checks import (
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


def _soft_values(z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The values of :math:`\operatorname{sign}(z)\max(|z| - b, 0)` for a tensor ``b``, in the
    fewest passes: torch's fused ``softshrink`` for a non-negative 0-d ``b``, :math:`z -
    \operatorname{clip}(z, -b, b)` for a non-negative ``b``, the formula itself otherwise (a
    negative threshold, which a trained network may reach, widens instead of shrinking)."""
    if b.dim() == 0:
        value = float(b.detach())
        if value >= 0.0:
            return fnn.softshrink(z, value)
    elif bool((b >= 0).all()):
        return z - torch.clamp(z, -b, b)
    return torch.sign(z) * torch.clamp(z.abs() - b, min=0.0)


class _SoftThreshold(torch.autograd.Function):
    r"""Soft-thresholding :math:`s = \operatorname{sign}(z)\max(|z| - b, 0)` with a
    hand-written backward (a tensor threshold ``b``).

    With :math:`\sigma = \operatorname{sign}(s)`: :math:`\partial s/\partial z = \sigma^2`
    (1 where the output is non-zero, else 0) and :math:`\partial s/\partial b = -\sigma`,
    summed over the dimensions ``b`` was broadcast along. A few element-wise passes instead of
    the autograd records of the five operations of the formula.
    """

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = _soft_values(z, b)
        ctx.save_for_backward(out)
        ctx.b_shape = b.shape
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        sign = torch.sign(out)
        grad_signed = grad * sign
        grad_z = grad_signed * sign if ctx.needs_input_grad[0] else None
        grad_b = None
        if ctx.needs_input_grad[1]:
            grad_b = -grad_signed.sum_to_size(ctx.b_shape) if ctx.b_shape else -grad_signed.sum()
        return grad_z, grad_b


def _soft(z: torch.Tensor, threshold: torch.Tensor | float) -> torch.Tensor:
    r"""Unchecked soft-thresholding on tensors (the hot path of every solver and network).

    Same values as :math:`\operatorname{sign}(z)\max(|z| - b, 0)` for any ``b`` (see
    :func:`_soft_values`), computed in fewer passes; through :class:`_SoftThreshold` when a
    gradient is recorded.
    """
    if not isinstance(threshold, torch.Tensor):
        threshold = float(threshold)     # Python or NumPy scalar
        if threshold >= 0.0:
            return fnn.softshrink(z, threshold)
        return torch.sign(z) * torch.clamp(z.abs() - threshold, min=0.0)
    if torch.is_grad_enabled() and (z.requires_grad or threshold.requires_grad):
        return _SoftThreshold.apply(z, threshold)
    return _soft_values(z, threshold)


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
    return float(torch.linalg.matrix_norm(Pt.detach().to(torch.float64), ord=2) ** 2)


#: FISTA's restart test runs every this many iterations. Testing every iteration cost about a
#: third more time per iteration on problem a of benchmarks/sparse_solvers.py (1000 signals)
#: and did not reach a smaller gap in the same number of iterations there.
_RESTART_EVERY = 4


def _objective_columns(
    Phi: torch.Tensor, Y: torch.Tensor, H: torch.Tensor, lam: float
) -> torch.Tensor:
    """Lasso objective of every column of ``H`` (N, B) for the columns of ``Y`` (M, B)."""
    residual = torch.addmm(Y, Phi, H, beta=-1)
    return 0.5 * (residual * residual).sum(0) + lam * H.abs().sum(0)


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
    restart: bool = False,
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
    M, N = Pt.shape
    if h0 is not None:
        h0t = to_torch(h0, "h0").to(yt.dtype)
        if h0t.shape != batch_shape + (N,):
            raise ValueError(
                f"h0 must have shape {tuple(batch_shape) + (N,)}, got {tuple(h0t.shape)}"
            )
        check_finite(h0t, "h0")

    # Work on columns: one signal per column, Y (M, B) and H (N, B). Each iteration is then
    # one or two BLAS products with the batch as the long dimension (measured faster than the
    # row layout for these shapes) plus two fused element-wise passes.
    n_signals = batch_shape.numel()
    Y = yt.reshape(n_signals, M).T.contiguous()
    H = yt.new_zeros(N, n_signals) if h0 is None else h0t.reshape(n_signals, N).T.contiguous()
    # Gradient step u = z - step * Phi^T (Phi z - y). The Gram form u = (I - step G) z + step c,
    # G = Phi^T Phi, c = Phi^T y, costs N^2 per signal instead of 2MN: use it when that is less.
    use_gram = N < 2 * M
    if use_gram:
        S = torch.eye(N, dtype=Pt.dtype, device=Pt.device) - step * (Pt.T @ Pt)
        C = step * (Pt.T @ Y)
    threshold = step * lam
    track = return_history or tol is not None
    history = [_objective_columns(Pt, Y, H, lam)] if track else []

    Z = H  # extrapolated point (FISTA); equals H for ISTA
    t = 1.0
    if restart:
        # Momentum weights 1 + beta_j = 1 + (t_j - 1)/t_{j+1} by iterations j since the last
        # restart, looked up per signal (one gather instead of a chain of small vector ops).
        t_seq = [1.0]
        for _ in range(n_iter + 1):
            t_seq.append(0.5 * (1.0 + (1.0 + 4.0 * t_seq[-1] ** 2) ** 0.5))
        weights = H.new_tensor([1.0 + (t_seq[j] - 1.0) / t_seq[j + 1] for j in range(n_iter + 1)])
        since_restart = torch.zeros(n_signals, dtype=torch.long, device=H.device)
    for k in range(n_iter):
        if use_gram:
            U = torch.addmm(C, S, Z)
        else:
            U = torch.addmm(Z, Pt.T, torch.addmm(Y, Pt, Z, beta=-1), alpha=-step)
        H_new = fnn.softshrink(U, threshold)
        if not accelerated:
            Z = H_new
        elif restart:
            # Gradient restart (O'Donoghue and Candes 2015), per signal, tested every
            # _RESTART_EVERY iterations: where the step H_new - H points against the gradient
            # mapping Z - H_new, drop the momentum (t back to 1, so Z = H_new).
            if k % _RESTART_EVERY == 0:
                uphill = ((H_new - H) * (Z - H_new)).sum(0) > 0
                since_restart.masked_fill_(uphill, 0)
            Z = torch.lerp(H, H_new, weights[since_restart])        # H_new + beta (H_new - H)
            since_restart += 1
        else:
            t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
            Z = torch.lerp(H, H_new, 1.0 + (t - 1.0) / t_new)    # H_new + beta (H_new - H)
            t = t_new
        H = H_new
        if track:
            history.append(_objective_columns(Pt, Y, H, lam))
            if tol is not None:
                previous, current = history[-2], history[-1]
                change = (previous - current).abs() / previous.abs().clamp_min(1e-300)
                if bool((change < tol).all()):
                    break

    h_out = like(H.T.reshape(batch_shape + (N,)).contiguous(), y)
    if return_history:
        return h_out, like(torch.stack(history).reshape((-1,) + batch_shape), y)
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
    restart: bool = False,
):
    return _solve(
        Phi, y, lam, n_iter=n_iter, step=step, h0=h0, tol=tol,
        return_history=return_history, accelerated=True, restart=restart,
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

    With ``restart=True`` (gradient restart of O'Donoghue and Candes 2015), a signal whose
    step points against its gradient mapping, :math:`(z^{(k)} - h^{(k)})^T (h^{(k)} -
    h^{(k-1)}) > 0`, has its momentum dropped: :math:`t_k` is reset to 1, so
    :math:`z^{(k+1)} = h^{(k)}`. Each signal restarts on its own; the test is made every 4th
    iteration (cheaper, and as effective on the benchmark problems). A heuristic without a better
    worst-case rate, it removes the momentum's oscillations and typically converges much faster
    once the support is found; off by default (the plain recursion above).
""" + _SOLVER_DOC.replace(
    """        objective at ``h0``.
""",
    """        objective at ``h0``.
    restart : bool, default False
        Per-signal gradient restart of the momentum (see above).
""",
)
