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
    check_bool,
    check_finite,
    check_min_ndim,
    check_ndim,
    check_positive_int,
    check_representable,
    check_scalar,
    common_dtype,
    dtype_name,
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
    r"""Issued when a solver is given a step larger than :math:`1/L`.

    Above :math:`1/L`, FISTA loses its guarantee and ISTA its :math:`O(1/k)` bound; ISTA's
    objective still decreases at every step up to :math:`2/L` (sufficient decrease,
    :math:`F(h^+) \le F(h) - (\alpha - L/2)\lVert h^+ - h\rVert^2` with
    :math:`\alpha = 1/\text{step}`), and ISTA may diverge beyond :math:`2/L`."""


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
        Same shape, dtype and kind as ``z`` (a NumPy scalar or 0-d array stays one).

    Raises
    ------
    ValueError
        If ``z`` or ``threshold`` holds NaN or infinity, a threshold is negative, does not
        broadcast to ``z``'s shape, or does not survive the cast to ``z``'s dtype.
    TypeError
        If either is not real numeric.
    """
    zt = to_torch(z, "z")
    check_finite(zt, "z")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        b: torch.Tensor | float = check_scalar(threshold, "threshold", nonnegative=True,
                                               dtype=zt.dtype)
    else:
        bt = to_torch(threshold, "threshold")
        check_finite(bt, "threshold")
        if bool((bt < 0).any()):
            raise ValueError("threshold must be >= 0 everywhere")
        cast = bt.to(zt.dtype)
        if not bool(torch.isfinite(cast).all()):
            raise ValueError(
                f"threshold overflows {dtype_name(zt.dtype)} (z's dtype): its largest value is "
                f"{float(bt.max()):.4g}"
            )
        bt = cast
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
    if 0 in Pt.shape:
        raise ValueError(f"Phi must have at least one row and one column, got shape "
                         f"{tuple(Pt.shape)}")
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
    array of shape ``(...)``: one value per signal (a 0-d array for a single signal), of the
    kind of ``y`` and the common float dtype of ``Phi, y, h``.
    """
    Pt, yt = _prepare(Phi, y)
    ht = to_torch(h, "h")
    if ht.ndim < 1 or ht.shape[:-1] != yt.shape[:-1] or ht.shape[-1] != Pt.shape[1]:
        raise ValueError(
            f"h must have shape {tuple(yt.shape[:-1]) + (Pt.shape[1],)} to match y and Phi, "
            f"got {tuple(ht.shape)}"
        )
    check_finite(ht, "h")
    dtype = common_dtype(Pt, yt, ht)
    lam = check_scalar(lam, "lam", nonnegative=True, dtype=dtype)
    return like(_objective(Pt.to(dtype), yt.to(dtype), ht.to(dtype), lam), y)


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
    if Pt.numel() == 0:
        return 0.0
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


#: Active-set rounds of the support polish (``polish=True``), and atoms each round adds per
#: signal. On the benchmark problems, four rounds certified most signals whose FISTA support was
#: nearly right; more rounds mostly re-solved signals that were far from it.
_POLISH_ROUNDS = 4
_POLISH_ADD = 4
#: Signals solved together in one batched Cholesky factorisation. Each chunk is padded to its
#: largest support only, and signals are sorted by support size first, so that little is wasted.
_POLISH_CHUNK = 256
#: Relative slack on the optimality test |Phi_j^T (y - Phi h)| <= lam off the support. A
#: certified h has a relative duality gap of the same order.
_KKT_SLACK = 1e-9


def _support_polish(
    Phi: torch.Tensor, Y: torch.Tensor, H: torch.Tensor, lam: float,
    rounds: int = _POLISH_ROUNDS,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact Lasso solutions from approximate ones, by a few rounds of an active-set method.

    For each signal (a row of ``Y`` (B, M), with its iterate a row of ``H`` (B, N)), guess the
    support :math:`S` and signs :math:`s` from the iterate and solve the optimality conditions
    restricted to them, a linear system:

    .. math::

        \Phi_S^T\Phi_S\, h_S = \Phi_S^T y - \lambda s, \qquad h_{S^c} = 0 .

    The solution is the Lasso optimum exactly when its signs are :math:`s` and
    :math:`\lvert\Phi_j^T(y - \Phi h)\rvert \le \lambda` for every :math:`j \notin S` (the
    Lasso's optimality conditions; the problem is convex, so they are sufficient). Such a signal
    is *certified*. For the others, atoms whose sign came out wrong leave :math:`S`, the
    ``_POLISH_ADD`` most violating atoms join it with the sign of their correlation, and the
    next round tries again. Everything is computed in float64.

    Returns
    -------
    H_out : (B, N) float64 tensor
        The certified solutions; the input rows where a signal was not certified.
    certified : (B,) bool tensor
    """
    Phi = Phi.to(torch.float64)
    n_signals, N = H.shape
    # Atoms N, ..., 2N - 1 are padding: unit diagonal in the extended Gram matrix, no
    # correlation, no sign. A gathered system padded with distinct ones solves to 0 there, so
    # chunks of signals with supports of different sizes need no masks.
    G = Phi.T @ Phi
    G_padded = torch.block_diag(G, torch.eye(N, dtype=torch.float64))
    C = torch.zeros(n_signals, 2 * N, dtype=torch.float64)
    C[:, :N] = Y.to(torch.float64) @ Phi                   # Phi^T y, one row per signal
    out = H.to(torch.float64, copy=True)
    certified = torch.zeros(n_signals, dtype=torch.bool)
    active = H != 0
    signs = torch.sign(out)
    pending = torch.arange(n_signals)
    for _ in range(rounds):
        sizes = active[pending].sum(1)
        # more atoms than rows: Phi_S^T Phi_S is singular, no unique solve on that support
        solvable = sizes <= Phi.shape[0]
        order = torch.argsort(sizes[solvable], stable=True)
        for chunk in pending[solvable][order].split(_POLISH_CHUNK):
            if chunk.numel() > 0:
                _polish_chunk(G, G_padded, C, lam, chunk, active, signs, out, certified)
        pending = pending[~certified[pending]]
        if pending.numel() == 0:
            break
    return out, certified


def _polish_chunk(
    G: torch.Tensor, G_padded: torch.Tensor, C: torch.Tensor, lam: float, chunk: torch.Tensor,
    active: torch.Tensor, signs: torch.Tensor, out: torch.Tensor, certified: torch.Tensor,
) -> None:
    """One active-set round for the signals ``chunk``; updates the last four arguments.

    ``G_padded`` and ``C`` carry the padding atoms of :func:`_support_polish`.
    """
    N = G.shape[0]
    act = active[chunk]
    sizes = act.sum(1)
    k = max(int(sizes.max()), 1)       # an empty support gets one padding atom
    # each signal's support first (in any order), then distinct padding atoms
    idx = torch.topk(act.to(torch.int8), k, dim=1).indices
    slots = torch.arange(k)
    valid = slots < sizes[:, None]
    idx = torch.where(valid, idx, N + slots)
    G_S = G_padded.reshape(-1).index_select(0, (idx[:, :, None] * (2 * N) + idx[:, None, :]).reshape(-1))
    s = torch.where(valid, signs[chunk].gather(1, idx.clamp(max=N - 1)), 0.0)
    rhs = C[chunk].gather(1, idx) - lam * s
    factor, info = torch.linalg.cholesky_ex(G_S.view(len(chunk), k, k))
    factored = info == 0
    x = torch.cholesky_solve(rhs[..., None], factor)[..., 0]
    x = torch.where(factored[:, None], x, 0.0)
    h = torch.zeros(len(chunk), 2 * N, dtype=G.dtype).scatter_(1, idx, x)[:, :N]
    correlation = C[chunk, :N] - h @ G                                  # Phi^T (y - Phi h)
    wrong_sign = valid & (torch.sign(x) != s) & factored[:, None]
    violation = ~act & (correlation.abs() > lam * (1.0 + _KKT_SLACK)) & factored[:, None]
    ok = factored & ~wrong_sign.any(1) & ~violation.any(1)
    out[chunk[ok]] = h[ok]
    certified[chunk[ok]] = True
    # the next guess for the others
    leaving = torch.zeros(len(chunk), 2 * N, dtype=torch.bool).scatter_(1, idx, wrong_sign)
    act &= ~leaving[:, :N]
    top = torch.topk(torch.where(violation, correlation.abs(), 0.0), min(_POLISH_ADD, N))
    joining = torch.zeros_like(act).scatter_(1, top.indices, top.values > 0)
    active[chunk] = act | joining
    signs[chunk] = torch.where(joining, torch.sign(correlation), signs[chunk])


#: Adaptive step (``step="adaptive"``): each iteration first tries the last accepted step times
#: _STEP_GROWTH, a failed test multiplies it by _STEP_SHRINK, and it never exceeds _STEP_MAX / L.
_STEP_GROWTH = 1.05
_STEP_SHRINK = 0.5
_STEP_MAX = 64.0


def _momentum_weights(n_iter: int, like_tensor: torch.Tensor) -> torch.Tensor:
    r"""FISTA's extrapolation weights :math:`1 + \beta_j = 1 + (t_j - 1)/t_{j+1}`, for
    :math:`j = 0, \dots, n_{\text{iter}}` iterations since the (re)start."""
    t_seq = [1.0]
    for _ in range(n_iter + 1):
        t_seq.append(0.5 * (1.0 + (1.0 + 4.0 * t_seq[-1] ** 2) ** 0.5))
    return like_tensor.new_tensor([1.0 + (t_seq[j] - 1.0) / t_seq[j + 1] for j in range(n_iter + 1)])


def _backtracking_step(
    Phi: torch.Tensor, Y: torch.Tensor, Z: torch.Tensor, PZ: torch.Tensor, lam: float,
    steps: torch.Tensor, min_step: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Proximal-gradient step from ``Z`` (N, B) with one step per signal, each shrunk until the
    quadratic upper bound holds along the step.

    With :math:`d = h^+ - z`, the smooth part is quadratic, so the bound
    :math:`f(h^+) \le f(z) + \nabla f(z)^T d + \lVert d\rVert^2 / (2 s)` is exactly
    :math:`s\,\lVert\Phi d\rVert^2 \le \lVert d\rVert^2`; it costs no product beyond
    :math:`\Phi h^+`, which the next iteration needs anyway. A failing signal's step is halved,
    never below ``min_step`` (:math:`1/L`, where the bound always holds). ``steps`` (1, B) is
    updated in place; returns :math:`h^+` and :math:`\Phi h^+`.
    """
    gradient = Phi.T @ (PZ - Y)
    H_new = _soft_values(torch.addcmul(Z, gradient, steps, value=-1.0), lam * steps)
    PH_new = Phi @ H_new
    cols = None                                                # None: every signal
    while True:
        if cols is None:
            d2 = (H_new - Z).square().sum(0)
            pd2 = (PH_new - PZ).square().sum(0)
            s = steps[0]
        else:
            d2 = (H_new[:, cols] - Z[:, cols]).square().sum(0)
            pd2 = (PH_new[:, cols] - PZ[:, cols]).square().sum(0)
            s = steps[0, cols]
        failed = (s * pd2 > d2) & (s > min_step)
        if not bool(failed.any()):
            return H_new, PH_new
        cols = failed.nonzero().squeeze(1) if cols is None else cols[failed]
        s_new = torch.clamp(steps[0, cols] * _STEP_SHRINK, min=min_step)
        steps[0, cols] = s_new
        Zc = Z[:, cols]
        Hc = _soft_values(torch.addcmul(Zc, gradient[:, cols], s_new, value=-1.0), lam * s_new)
        H_new[:, cols] = Hc
        PH_new[:, cols] = Phi @ Hc


def _solve(
    Phi: Any,
    y: Any,
    lam: float,
    *,
    n_iter: int,
    step: float | str | None,
    h0: Any,
    tol: float | None,
    return_history: bool,
    accelerated: bool,
    restart: bool = False,
    polish: bool = False,
):
    Pt, yt = _prepare(Phi, y)
    dtype = yt.dtype
    lam = check_scalar(lam, "lam", nonnegative=True, dtype=dtype)
    n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    return_history = check_bool(return_history, "return_history")
    restart = check_bool(restart, "restart")
    polish = check_bool(polish, "polish")
    L = lipschitz_constant(Pt)
    adaptive = isinstance(step, str)
    if adaptive and step != "adaptive":
        raise ValueError(f"step must be a positive float, 'adaptive' or None, got {step!r}")
    if step is None or adaptive:
        if L == 0:
            raise ValueError("Phi is zero: the Lasso has no curvature and no default step 1/L")
        step = 1.0 / L
        check_representable(step, "step (the default 1/L)", dtype)
    else:
        step = check_scalar(step, "step", positive=True, dtype=dtype)
        if step * L > 1.0 + 1e-9:
            warnings.warn(
                f"step={step:.4g} exceeds 1/L={1.0 / L:.4g}: no guarantee for FISTA; ISTA "
                f"still descends below 2/L={2.0 / L:.4g} and may diverge above it",
                StepSizeWarning,
                stacklevel=3,
            )
    # the threshold step * lam is what the iterations use, in the working dtype
    check_representable(step * lam, "step * lam (the threshold)", dtype)
    if tol is not None:
        tol = check_scalar(tol, "tol", positive=True, dtype=dtype)
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
    # row layout for these shapes) plus a few fused element-wise passes.
    n_signals = batch_shape.numel()
    Y = yt.reshape(n_signals, M).T.contiguous()
    H = yt.new_zeros(N, n_signals) if h0 is None else h0t.reshape(n_signals, N).T.contiguous()
    # Fixed step: u = z - step * Phi^T (Phi z - y). The Gram form u = (I - step G) z + step c,
    # G = Phi^T Phi, c = Phi^T y, costs N^2 per signal instead of 2MN: use it when that is less.
    # Adaptive step: the product Phi h that the step test needs is kept, and Phi z follows
    # from it by the same extrapolation as z, so each iteration still costs 2MN.
    use_gram = N < 2 * M and not adaptive
    if use_gram:
        S = torch.eye(N, dtype=Pt.dtype, device=Pt.device) - step * (Pt.T @ Pt)
        C = step * (Pt.T @ Y)
    if adaptive:
        steps = H.new_full((1, n_signals), step)
        PH = Pt @ H
        PZ = PH
    threshold = step * lam
    track = return_history or tol is not None
    history = [_objective_columns(Pt, Y, H, lam)] if track else []

    Z = H  # extrapolated point (FISTA); equals H for ISTA
    t = 1.0
    if restart:
        # momentum weights looked up per signal by iterations since its last restart
        weights = _momentum_weights(n_iter, H)
        since_restart = torch.zeros(n_signals, dtype=torch.long, device=H.device)
    for k in range(n_iter):
        if adaptive:
            steps = torch.clamp(steps * _STEP_GROWTH, max=_STEP_MAX / L)
            H_new, PH_new = _backtracking_step(Pt, Y, Z, PZ, lam, steps, step)
        elif use_gram:
            H_new = fnn.softshrink(torch.addmm(C, S, Z), threshold)
        else:
            U = torch.addmm(Z, Pt.T, torch.addmm(Y, Pt, Z, beta=-1), alpha=-step)
            H_new = fnn.softshrink(U, threshold)
        if not accelerated:
            beta1 = None                                          # Z = H_new
        elif restart:
            # Gradient restart (O'Donoghue and Candes 2015), per signal, tested every
            # _RESTART_EVERY iterations: where the step H_new - H points against the gradient
            # mapping Z - H_new, drop the momentum (t back to 1, so Z = H_new).
            if k % _RESTART_EVERY == 0:
                uphill = ((H_new - H) * (Z - H_new)).sum(0) > 0
                since_restart.masked_fill_(uphill, 0)
            beta1 = weights[since_restart]
            since_restart += 1
        else:
            t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
            beta1 = 1.0 + (t - 1.0) / t_new
            t = t_new
        # Z = H_new + beta (H_new - H), and Phi Z likewise
        Z = H_new if beta1 is None else torch.lerp(H, H_new, beta1)
        if adaptive:
            PZ = PH_new if beta1 is None else torch.lerp(PH, PH_new, beta1)
            PH = PH_new
        H = H_new
        if track:
            history.append(_objective_columns(Pt, Y, H, lam))
            if tol is not None:
                previous, current = history[-2], history[-1]
                change = (previous - current).abs() / previous.abs().clamp_min(1e-300)
                if bool((change < tol).all()):
                    break

    if polish:
        polished, _ = _support_polish(Pt, yt.reshape(n_signals, M), H.T, lam)
        H = polished.to(H.dtype).T
        if track:
            history.append(_objective_columns(Pt, Y, H, lam))

    h_out = like(H.T.reshape(batch_shape + (N,)).contiguous(), y)
    if return_history:
        rows = torch.stack(history)
        return h_out, like(rows.reshape((rows.shape[0],) + batch_shape), y)
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
    step : float or "adaptive", optional
        Step size :math:`1/\alpha`; default :math:`1/L` with :math:`L` from
        :func:`lipschitz_constant`. A step larger than :math:`1/L` is allowed (ISTA's objective
        still decreases up to :math:`2/L`; beyond, it may diverge) but issues a
        :class:`StepSizeWarning`. ``"adaptive"``: one step per signal, found by
        backtracking (Beck and Teboulle 2009) that also tries to grow it: each iteration first
        tries 1.05 times the last accepted step, and halves it until the quadratic upper bound
        :math:`\lVert\Phi d\rVert^2 \le \alpha \lVert d\rVert^2` holds along the step
        :math:`d`, never going below :math:`1/L`. Away from the worst case the local curvature
        on sparse vectors is well below :math:`L`, so larger steps are accepted and fewer
        iterations are needed; each iteration costs a few more element-wise passes.
    h0 : (..., N) array, optional
        Starting point (default zeros).
    tol : float, optional
        Stop early once every signal's relative objective change
        :math:`|F_{k-1} - F_k| / |F_{k-1}|` is below ``tol``.
    return_history : bool, default False
        Also return the objective per iteration, shape ``(n_done + 1, ...)``; row 0 is the
        objective at ``h0`` (with ``polish``, one more row: the objective after polishing).
    polish : bool, default False
        After the iterations, try to make each signal's solution exact: a few rounds of an
        active-set method guess the support :math:`S` and signs :math:`s` from the iterate,
        solve :math:`\Phi_S^T\Phi_S h_S = \Phi_S^T y - \lambda s` (in float64), and keep the
        result only where it satisfies the Lasso's optimality conditions (then it is the
        optimum, to rounding and a relative slack of 1e-9). Signals not certified keep their
        last iterate. Pays off when the iterations have nearly found the support, as
        proximal-gradient methods do in finitely many iterations on most problems.

    Returns
    -------
    h : (..., N) array or tensor, same kind and dtype as ``y``
    history : (n_done + 1, ...) array, only if ``return_history``

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite data, negative ``lam``, non-positive ``step``/``tol``,
        a string ``step`` other than ``"adaptive"``, or a ``lam``/``step``/``tol`` (or the
        threshold ``step * lam``) that overflows or underflows in the working dtype (float32
        unless an input is float64).
    TypeError
        On non-numeric input, a non-integer ``n_iter`` or a flag (``return_history``,
        ``polish``, ``restart``) that is not a bool.
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
    polish: bool = False,
):
    return _solve(
        Phi, y, lam, n_iter=n_iter, step=step, h0=h0, tol=tol,
        return_history=return_history, accelerated=False, polish=polish,
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
    polish: bool = False,
):
    return _solve(
        Phi, y, lam, n_iter=n_iter, step=step, h0=h0, tol=tol,
        return_history=return_history, accelerated=True, restart=restart, polish=polish,
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

        h^{(k)} &= \operatorname{soft}_{\lambda/\alpha}\!\Big(z^{(k)}
        + \tfrac{1}{\alpha}\Phi^T\big(y - \Phi z^{(k)}\big)\Big),\\
        t_{k+1} &= \tfrac{1 + \sqrt{1 + 4 t_k^2}}{2},\\
        z^{(k+1)} &= h^{(k)} + \tfrac{t_k - 1}{t_{k+1}}\big(h^{(k)} - h^{(k-1)}\big),

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
    """    polish : bool, default False
""",
    """    restart : bool, default False
        Per-signal gradient restart of the momentum (see above).
    polish : bool, default False
""",
)
