r"""SISTA: sequential iterative soft-thresholding (Wisdom, Powers, Pitton and Atlas 2016/2017).

The model, in the paper's symbols, for a sequence of observations :math:`x_1, \dots, x_T`:

.. math::

    x_t = A D h_t + \text{noise}, \qquad y_t = D h_t, \qquad y_t \approx F y_{t-1},

with a measurement matrix :math:`A \in \mathbb{R}^{M \times N}`, a dictionary
:math:`D \in \mathbb{R}^{N \times N}` (orthonormal in the paper, atoms are columns) and linear
dynamics :math:`F \in \mathbb{R}^{N \times N}`. With the previous estimate
:math:`\hat h_{t-1}` held fixed, SISTA minimises at each time step

.. math::

    \mathcal{L}_t(h) = \tfrac12 \lVert x_t - A D h \rVert_2^2 + \lambda_1 \lVert h \rVert_1
    + \tfrac{\lambda_2}{2} \lVert D h - F D \hat h_{t-1} \rVert_2^2

with :math:`K` ISTA iterations of step :math:`1/\alpha`, started from the prediction
:math:`P \hat h_{t-1}`, :math:`P = D^T F D`:

.. math::

    h_t^{(0)} &= P \hat h_{t-1},\\
    h_t^{(k)} &= \operatorname{soft}_{\lambda_1/\alpha}\!\Big(S h_t^{(k-1)} + V x_t
    + \tfrac{\lambda_2}{\alpha} P \hat h_{t-1}\Big),\\
    \hat h_t &= h_t^{(K)},

    S = I - \tfrac{1}{\alpha} D^T (A^T A + \lambda_2 I) D, \qquad V = \tfrac{1}{\alpha} D^T A^T .

:math:`\mathcal{L}_t` is a Lasso on an augmented system (:func:`augmented_lasso`), and each SISTA
iteration is exactly one ISTA iteration on it (:func:`sista_lib.sparse.ista`).

Sequences are time-major, ``(T, B, M)`` like torch's RNNs. NumPy in gives NumPy out, torch in
gives torch out, float64 stays float64, and gradients flow through tensor inputs.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from ._checks import (
    ArrayLike,
    check_bool,
    check_finite,
    check_ndim,
    check_positive_int,
    check_representable,
    check_scalar,
    common_dtype,
    like,
    to_torch,
)
from .sparse import StepSizeWarning, _soft, lipschitz_constant

__all__ = [
    "sista",
    "sista_objective",
    "augmented_lasso",
    "sista_step_size",
    "sista_weights",
]

Scalar = float | torch.Tensor


# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------
def _scalar(value: Any, name: str, *, positive: bool = False, signed: bool = False,
            dtype: torch.dtype | None = None) -> Scalar:
    """Validate a scalar parameter; a one-element tensor is kept as a tensor (for autograd).

    Non-negative unless ``positive`` (> 0) or ``signed`` (any sign). With ``dtype`` (the
    working dtype), the value must survive the cast to it."""
    nonnegative = not (positive or signed)
    if isinstance(value, torch.Tensor):
        check_scalar(value.detach(), name, positive=positive, nonnegative=nonnegative,
                     dtype=dtype)
        return value.reshape(())
    return check_scalar(value, name, positive=positive, nonnegative=nonnegative, dtype=dtype)


def _check_ratio(num: Scalar, alpha: Scalar, name: str, dtype: torch.dtype) -> None:
    """The iterations use ``num / alpha`` (the threshold, the drift weight): it must survive
    the working dtype too."""
    check_representable(_value(num) / _value(alpha), name, dtype)


def _require_F(F: Any) -> None:
    if F is None:
        raise TypeError(
            "F must be an (N, N) array or tensor (the dynamics y_t ~ F y_{t-1}; the paper's "
            "is the identity, numpy.eye(N)), got None"
        )


def _value(v: Scalar) -> float:
    """The Python float of a validated scalar parameter (no gradient)."""
    return float(v.detach()) if isinstance(v, torch.Tensor) else v


def _matrices(A: Any, D: Any, F: Any | None) -> tuple[torch.Tensor, ...]:
    """Check ``A`` (M, N), ``D`` (N, Nc) and ``F`` (N, N); returns them as tensors."""
    At = to_torch(A, "A")
    Dt = to_torch(D, "D")
    check_ndim(At, "A", 2)
    check_ndim(Dt, "D", 2)
    if At.shape[1] != Dt.shape[0]:
        raise ValueError(
            f"A has {At.shape[1]} columns but D has {Dt.shape[0]} rows: A must be (M, N) and "
            f"D must be (N, N_coefficients), got A {tuple(At.shape)} and D {tuple(Dt.shape)}"
        )
    check_finite(At, "A")
    check_finite(Dt, "D")
    if F is None:
        return At, Dt
    Ft = to_torch(F, "F")
    check_ndim(Ft, "F", 2)
    N = Dt.shape[0]
    if tuple(Ft.shape) != (N, N):
        raise ValueError(
            f"F must have shape ({N}, {N}) to act on y_t = D h_t, got {tuple(Ft.shape)}"
        )
    check_finite(Ft, "F")
    return At, Dt, Ft


def _check_last(t: torch.Tensor, name: str, size: int, what: str) -> None:
    if t.ndim < 1 or t.shape[-1] != size:
        raise ValueError(
            f"{name} must have {size} entries in its last dimension ({what}), got shape "
            f"{tuple(t.shape)}"
        )


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
def sista_step_size(A: ArrayLike, D: ArrayLike, lam2: float = 0.0, *,
                    allow_nonconvex: bool = False) -> float:
    r"""The Lipschitz constant :math:`L` of SISTA's step: :math:`\alpha \ge L` is the classical
    step condition, and the objective decreases at every step for any :math:`\alpha > L/2`.

    .. math::

        L = \lambda_{\max}\!\big(D^T (A^T A + \lambda_2 I) D\big)
          = \big\lVert \bar\Phi \big\rVert_2^2, \qquad
        \bar\Phi = \begin{bmatrix} A D \\ \sqrt{\lambda_2}\, D \end{bmatrix},

    the Lipschitz constant of the gradient of the smooth part :math:`f` of
    :math:`\mathcal{L}_t`. A proximal-gradient step :math:`h \to h^+` of size
    :math:`1/\alpha` on an :math:`L`-smooth :math:`f` satisfies

    .. math::

        \mathcal{L}_t(h^+) \le \mathcal{L}_t(h) - \big(\alpha - \tfrac{L}{2}\big)
        \lVert h^+ - h \rVert_2^2,

    so every iteration decreases :math:`\mathcal{L}_t` (strictly, until a fixed point) whenever
    :math:`\alpha > L/2`. :math:`\alpha \ge L` is the classical condition for ISTA's
    :math:`O(1/k)` bound on the gap to the optimum (and for FISTA's :math:`O(1/k^2)`). For an
    orthonormal :math:`D`, :math:`L = \lVert A \rVert_2^2 + \lambda_2`.

    With :math:`\lambda_2 < 0` (``allow_nonconvex``) the Hessian :math:`D^T(A^TA + \lambda_2
    I)D` of :math:`f` is indefinite when :math:`M < N`, and :math:`L` is its largest eigenvalue
    in absolute value: the decrease above still holds (it needs only an :math:`L`-Lipschitz
    gradient), but :math:`\mathcal{L}_t` is nonconvex and unbounded below.

    Parameters
    ----------
    A : (M, N) array
    D : (N, N) array
    lam2 : float, default 0
        :math:`\lambda_2 \ge 0`, or any sign with ``allow_nonconvex``.
    allow_nonconvex : bool, default False

    Returns
    -------
    float
    """
    At, Dt = _matrices(A, D, None)
    if isinstance(lam2, torch.Tensor):
        lam2 = lam2.detach()
    lam2 = _value(_lam2(lam2, allow_nonconvex))
    if lam2 < 0:    # an indefinite Hessian: its largest eigenvalue in absolute value
        At, Dt = At.double(), Dt.double()
        hessian = Dt.T @ (At.T @ At + lam2 * torch.eye(At.shape[1], dtype=At.dtype)) @ Dt
        return float(torch.linalg.eigvalsh(hessian).abs().max())
    Phi_bar, _ = _augmented(At.double(), Dt.double(), None, lam2, None, None)
    return lipschitz_constant(Phi_bar)


def _lam2(lam2: Any, allow_nonconvex: Any, dtype: torch.dtype | None = None) -> Scalar:
    r"""Validate :math:`\lambda_2`: non-negative unless ``allow_nonconvex`` (a negative
    :math:`\lambda_2` makes :math:`\mathcal{L}_t` nonconvex, unbounded below when M < N)."""
    allow_nonconvex = check_bool(allow_nonconvex, "allow_nonconvex")
    lam2 = _scalar(lam2, "lam2", signed=True, dtype=dtype)
    if _value(lam2) < 0 and not allow_nonconvex:
        raise ValueError(f"lam2 must be >= 0 (a negative weight makes the objective nonconvex; "
                         f"pass allow_nonconvex=True to iterate anyway), got {_value(lam2)}")
    return lam2


def _augmented(
    A: torch.Tensor,
    D: torch.Tensor,
    F: torch.Tensor | None,
    lam2: Scalar,
    x_t: torch.Tensor | None,
    h_prev: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    root = lam2**0.5 if isinstance(lam2, float) else torch.sqrt(lam2)
    Phi_bar = torch.cat([A @ D, root * D], dim=0)
    if x_t is None:
        return Phi_bar, None
    prediction = h_prev @ (F @ D).T  # F D hhat_{t-1}, batched over rows
    return Phi_bar, torch.cat([x_t, root * prediction], dim=-1)


def augmented_lasso(
    A: ArrayLike,
    D: ArrayLike,
    F: ArrayLike,
    lam2: float,
    x_t: ArrayLike,
    h_prev: ArrayLike,
) -> tuple[ArrayLike, ArrayLike]:
    r"""The Lasso that SISTA solves at time :math:`t`, as one stacked system.

    .. math::

        \mathcal{L}_t(h) = \tfrac12 \lVert \bar x_t - \bar\Phi h \rVert_2^2
        + \lambda_1 \lVert h \rVert_1,

        \bar\Phi = \begin{bmatrix} A D \\ \sqrt{\lambda_2}\, D \end{bmatrix}, \qquad
        \bar x_t = \begin{bmatrix} x_t \\ \sqrt{\lambda_2}\, F D \hat h_{t-1} \end{bmatrix}.

    Hence ``sparse.ista(Phi_bar, x_bar, lam1, step=1/alpha, h0=P @ h_prev)`` reproduces SISTA
    at time :math:`t` (:math:`P = D^T F D`).

    Parameters
    ----------
    A : (M, N) array
    D : (N, N) array
    F : (N, N) array
    lam2 : float
        :math:`\lambda_2 \ge 0`.
    x_t : (..., M) array
        Observation(s) at time :math:`t`; leading dimensions are a batch.
    h_prev : (..., N) array
        Previous estimate(s) :math:`\hat h_{t-1}`, same leading shape as ``x_t``.

    Returns
    -------
    Phi_bar : (M + N, N) array
    x_bar : (..., M + N) array
        Both of the kind (NumPy/torch) of ``x_t``.
    """
    _require_F(F)
    At, Dt, Ft = _matrices(A, D, F)
    xt = to_torch(x_t, "x_t")
    ht = to_torch(h_prev, "h_prev")
    _check_last(xt, "x_t", At.shape[0], "M, the rows of A")
    _check_last(ht, "h_prev", Dt.shape[1], "the columns of D")
    if ht.shape[:-1] != xt.shape[:-1]:
        raise ValueError(
            f"h_prev must have the leading shape of x_t {tuple(xt.shape[:-1])}, got "
            f"{tuple(ht.shape)}"
        )
    check_finite(xt, "x_t")
    check_finite(ht, "h_prev")
    dtype = common_dtype(At, Dt, Ft, xt, ht)
    lam2 = _scalar(lam2, "lam2", dtype=dtype)
    Phi_bar, x_bar = _augmented(
        At.to(dtype), Dt.to(dtype), Ft.to(dtype), lam2, xt.to(dtype), ht.to(dtype)
    )
    return like(Phi_bar, x_t), like(x_bar, x_t)


def _objective(
    AD: torch.Tensor,
    D: torch.Tensor,
    FD: torch.Tensor,
    lam1: Scalar,
    lam2: Scalar,
    x: torch.Tensor,
    h: torch.Tensor,
    h_prev: torch.Tensor,
) -> torch.Tensor:
    fit = x - h @ AD.T
    drift = h @ D.T - h_prev @ FD.T
    return (
        0.5 * (fit * fit).sum(-1)
        + lam1 * h.abs().sum(-1)
        + 0.5 * lam2 * (drift * drift).sum(-1)
    )


def sista_objective(
    x: ArrayLike,
    A: ArrayLike,
    D: ArrayLike,
    F: ArrayLike,
    lam1: float,
    lam2: float,
    h: ArrayLike,
    h_prev: ArrayLike,
) -> ArrayLike:
    r"""SISTA's objective at one time step, for given :math:`h_t` and :math:`\hat h_{t-1}`.

    .. math::

        \mathcal{L}_t(h_t) = \tfrac12 \lVert x_t - A D h_t \rVert_2^2
        + \lambda_1 \lVert h_t \rVert_1
        + \tfrac{\lambda_2}{2} \lVert D h_t - F D \hat h_{t-1} \rVert_2^2 .

    Parameters
    ----------
    x : (..., M) array
        Observations; leading dimensions are a batch (e.g. ``(T, B)`` to score a whole
        sequence at once, with ``h_prev`` the sequence shifted by one step).
    A, D, F : (M, N), (N, N), (N, N) arrays
    lam1, lam2 : float
        :math:`\lambda_1, \lambda_2 \ge 0`.
    h, h_prev : (..., N) arrays, same leading shape as ``x``

    Returns
    -------
    array of shape ``(...)``, the kind of ``x``.
    """
    _require_F(F)
    At, Dt, Ft = _matrices(A, D, F)
    xt = to_torch(x, "x")
    ht = to_torch(h, "h")
    hp = to_torch(h_prev, "h_prev")
    _check_last(xt, "x", At.shape[0], "M, the rows of A")
    for name, t in (("h", ht), ("h_prev", hp)):
        _check_last(t, name, Dt.shape[1], "the columns of D")
        if t.shape[:-1] != xt.shape[:-1]:
            raise ValueError(
                f"{name} must have the leading shape of x {tuple(xt.shape[:-1])}, got "
                f"{tuple(t.shape)}"
            )
    for name, t in (("x", xt), ("h", ht), ("h_prev", hp)):
        check_finite(t, name)
    dtype = common_dtype(At, Dt, Ft, xt, ht, hp)
    lam1 = _scalar(lam1, "lam1", dtype=dtype)
    lam2 = _scalar(lam2, "lam2", dtype=dtype)
    At, Dt, Ft, xt, ht, hp = (t.to(dtype) for t in (At, Dt, Ft, xt, ht, hp))
    return like(_objective(At @ Dt, Dt, Ft @ Dt, lam1, lam2, xt, ht, hp), x)


def _weights(
    A: torch.Tensor, D: torch.Tensor, F: torch.Tensor, alpha: Scalar, lam2: Scalar
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    AD = A @ D
    gram = AD.T @ AD + lam2 * (D.T @ D)  # D^T (A^T A + lam2 I) D
    eye = torch.eye(D.shape[1], dtype=D.dtype, device=D.device)
    S = eye - gram / alpha
    V = AD.T / alpha
    P = D.T @ F @ D
    return S, V, P


def sista_weights(
    A: ArrayLike, D: ArrayLike, F: ArrayLike, alpha: float, lam1: float, lam2: float
) -> dict[str, Any]:
    r"""The matrices of SISTA and of the unfolded SISTA-RNN, from the interpretable parameters.

    .. math::

        P = D^T F D, \quad
        S = I - \tfrac{1}{\alpha} D^T (A^T A + \lambda_2 I) D, \quad
        V = \tfrac{1}{\alpha} D^T A^T, \quad b = \tfrac{\lambda_1}{\alpha},

        W_1 = S P + \tfrac{\lambda_2}{\alpha} P, \qquad W_k = \tfrac{\lambda_2}{\alpha} P
        \ (k > 1),

    so that :math:`h_t^{(1)} = \operatorname{soft}_b(W_1 \hat h_{t-1} + V x_t)` and
    :math:`h_t^{(k)} = \operatorname{soft}_b(W_k \hat h_{t-1} + S h_t^{(k-1)} + V x_t)`.

    Parameters
    ----------
    A : (M, N) array
    D : (N, N) array
    F : (N, N) array
    alpha : float
        :math:`\alpha > 0`.
    lam1, lam2 : float
        :math:`\lambda_1, \lambda_2 \ge 0`.

    Returns
    -------
    dict
        ``"S"`` (N, N), ``"V"`` (N, M), ``"P"``, ``"W1"``, ``"Wk"`` (N, N), each the kind of ``A``
        and of the common float dtype of ``A, D, F``; ``"b"`` a float (or a 0-d tensor when
        ``alpha``/``lam1`` are tensors).
    """
    _require_F(F)
    At, Dt, Ft = _matrices(A, D, F)
    dtype = common_dtype(At, Dt, Ft)
    alpha = _scalar(alpha, "alpha", positive=True, dtype=dtype)
    lam1 = _scalar(lam1, "lam1", dtype=dtype)
    lam2 = _scalar(lam2, "lam2", dtype=dtype)
    _check_ratio(lam1, alpha, "lam1 / alpha (the threshold b)", dtype)
    _check_ratio(lam2, alpha, "lam2 / alpha", dtype)
    S, V, P = _weights(At.to(dtype), Dt.to(dtype), Ft.to(dtype), alpha, lam2)
    Wk = (lam2 / alpha) * P
    W1 = S @ P + Wk
    out = {"S": S, "V": V, "P": P, "W1": W1, "Wk": Wk}
    result: dict[str, Any] = {k: like(v, A) for k, v in out.items()}
    result["b"] = lam1 / alpha
    return result


# --------------------------------------------------------------------------------------------
# the algorithm
# --------------------------------------------------------------------------------------------
def sista(
    x: ArrayLike,
    A: ArrayLike,
    D: ArrayLike,
    F: ArrayLike,
    alpha: float,
    lam1: float,
    lam2: float,
    *,
    n_iter: int = 3,
    h0: ArrayLike | None = None,
    tol: float | None = None,
    max_iter: int = 1000,
    return_history: bool = False,
    allow_nonconvex: bool = False,
):
    r"""Sequential ISTA: causal sparse recovery of a sequence with a linear-dynamics prior.

    For :math:`t = 1, \dots, T`, with :math:`P = D^T F D`,
    :math:`S = I - \frac{1}{\alpha} D^T (A^T A + \lambda_2 I) D` and
    :math:`V = \frac{1}{\alpha} D^T A^T`:

    .. math::

        h_t^{(0)} &= P \hat h_{t-1},\\
        h_t^{(k)} &= \operatorname{soft}_{\lambda_1/\alpha}\!\Big(S h_t^{(k-1)} + V x_t
        + \tfrac{\lambda_2}{\alpha} P \hat h_{t-1}\Big),\quad k = 1..K,\\
        \hat h_t &= h_t^{(K)} .

    Each iteration is one ISTA step (step :math:`1/\alpha`) on the time-:math:`t` objective
    :math:`\mathcal{L}_t` of :func:`sista_objective`. The signal estimate is
    :math:`\hat y_t = D \hat h_t` (the caller's to form).

    Parameters
    ----------
    x : (T, B, M) or (T, M) array or tensor
        Observations :math:`x_t`, time-major; ``(T, M)`` is one sequence.
    A : (M, N) array
        Measurement matrix.
    D : (N, N) array
        Dictionary (synthesis, atoms are columns; orthonormal in the paper).
    F : (N, N) array
        Dynamics on the signal, :math:`y_t \approx F y_{t-1}` (the paper: :math:`F = I`).
    alpha : float
        Inverse step size :math:`\alpha > 0`. With :math:`L` from :func:`sista_step_size`,
        each iteration decreases :math:`\mathcal{L}_t` whenever :math:`\alpha > L/2`
        (:math:`\mathcal{L}_t(h^+) \le \mathcal{L}_t(h) - (\alpha - L/2)\lVert h^+ -
        h\rVert^2`); :math:`\alpha \ge L` is the classical condition for ISTA's
        :math:`O(1/k)` bound. A :class:`~sista_lib.sparse.StepSizeWarning` is issued when
        :math:`\alpha \le L/2`, where the iterations may diverge.
    lam1, lam2 : float
        :math:`\lambda_1 \ge 0` (sparsity) and :math:`\lambda_2 \ge 0` (temporal term).
        ``alpha``, ``lam1`` and ``lam2`` may be 0-d tensors (gradients then flow to them).
    n_iter : int, default 3
        :math:`K`, the number of iterations per time step (the paper's untrained SISTA uses 3).
        Ignored when ``tol`` is given.
    h0 : array, optional
        :math:`\hat h_0`. Shape ``(B, N)`` (one per sequence) or ``(N,)``; with a batch, an
        ``(N,)`` vector is explicitly shared by every sequence (as the SISTA-RNN's trainable
        :math:`\hat h_0`). For ``(T, M)`` input it must be ``(N,)``. Default zeros.
    tol : float, optional
        "Converged SISTA": at each time step iterate until the relative objective change
        :math:`|\mathcal{L}_t^{(k-1)} - \mathcal{L}_t^{(k)}| / |\mathcal{L}_t^{(k-1)}|` is below
        ``tol`` for every sequence of the batch, or ``max_iter`` iterations were run (the
        paper's converged baseline uses ``tol=1e-4``).
    max_iter : int, default 1000
        Cap on iterations per time step when ``tol`` is given.
    return_history : bool, default False
        Also return a dict:

        - ``"objective"``: shape ``(K_max + 1, T, B)`` (``(K_max + 1, T)`` for one sequence),
          :math:`\mathcal{L}_t(h_t^{(k)})` with row 0 at the warm start :math:`P\hat h_{t-1}`.
          With ``tol`` the time steps stop at different :math:`k`; a stopped step repeats its
          final value up to row ``K_max`` (the largest count used).
        - ``"n_iter"``: shape ``(T,)``, iterations run at each time step (int64).
    allow_nonconvex : bool, default False
        Accept :math:`\lambda_2 < 0`. The iterations are then still defined (a trained
        SISTA-RNN, whose parameters are not constrained, may hold such a :math:`\lambda_2`),
        but :math:`\mathcal{L}_t` is nonconvex, and no longer a model of the data; :math:`L` is
        :func:`sista_step_size`'s.

    Returns
    -------
    h : (T, B, N) or (T, N) array or tensor
        The estimates :math:`\hat h_t`, of the kind and float dtype of the inputs
        (float64 if any of ``x, A, D, F, h0`` is float64).
    history : dict, only if ``return_history``

    Raises
    ------
    ValueError
        On mismatched shapes of ``x, A, D, F, h0``, non-finite values, ``alpha <= 0``,
        negative ``lam1`` or ``lam2`` (the latter unless ``allow_nonconvex``), non-positive
        ``tol``, or an ``alpha``/``lam1``/``lam2``/
        ``tol`` (or ``lam1/alpha``, ``lam2/alpha``) that overflows or underflows in the working
        dtype (float32 unless an input is float64).
    TypeError
        On non-numeric input, ``F=None``, a non-integer ``n_iter``/``max_iter`` or a
        non-bool ``return_history``.
    """
    _require_F(F)
    At, Dt, Ft = _matrices(A, D, F)
    xt = to_torch(x, "x")
    check_ndim(xt, "x", (2, 3))
    M, N = At.shape[0], Dt.shape[1]
    _check_last(xt, "x", M, "M, the rows of A")
    check_finite(xt, "x")
    single = xt.ndim == 2
    if single:
        xt = xt.unsqueeze(1)
    T, B = xt.shape[0], xt.shape[1]
    if T == 0:
        raise ValueError("x must hold at least one time step, got T = 0")

    if tol is None:
        n_iter = check_positive_int(n_iter, "n_iter", minimum=0)
    else:
        n_iter = check_positive_int(max_iter, "max_iter", minimum=1)
    return_history = check_bool(return_history, "return_history")

    tensors = [At, Dt, Ft, xt]
    if h0 is not None:
        h0t = to_torch(h0, "h0")
        allowed = [(N,)] if single else [(B, N), (N,)]
        if tuple(h0t.shape) not in allowed:
            want = " or ".join(str(s) for s in allowed)
            raise ValueError(f"h0 must have shape {want}, got {tuple(h0t.shape)}")
        check_finite(h0t, "h0")
        tensors.append(h0t)
    dtype = common_dtype(*tensors)
    alpha = _scalar(alpha, "alpha", positive=True, dtype=dtype)
    lam1 = _scalar(lam1, "lam1", dtype=dtype)
    lam2 = _lam2(lam2, allow_nonconvex, dtype)
    _check_ratio(lam1, alpha, "lam1 / alpha (the threshold)", dtype)
    _check_ratio(lam2, alpha, "lam2 / alpha", dtype)
    if tol is not None:
        tol = check_scalar(tol, "tol", positive=True, dtype=dtype)
    At, Dt, Ft, xt = (t.to(dtype) for t in (At, Dt, Ft, xt))
    h_prev = xt.new_zeros(B, N) if h0 is None else h0t.to(dtype).expand(B, N)

    L = sista_step_size(At.detach(), Dt.detach(), _value(lam2), allow_nonconvex=True)
    alpha_value = _value(alpha)
    if alpha_value <= L / 2:
        warnings.warn(
            f"alpha={alpha_value:.4g} is at most L/2={L / 2:.4g} "
            f"(L = lambda_max(D^T (A^T A + lam2 I) D)): SISTA may diverge",
            StepSizeWarning,
            stacklevel=2,
        )

    S, V, P = _weights(At, Dt, Ft, alpha, lam2)
    AD, FD = At @ Dt, Ft @ Dt
    threshold = lam1 / alpha
    drift_weight = lam2 / alpha
    track = return_history or tol is not None

    estimates, objectives, counts = [], [], []
    for t in range(T):
        x_now = xt[t]
        prediction = h_prev @ P.T  # P hhat_{t-1}
        constant = x_now @ V.T + drift_weight * prediction
        h = prediction
        values = [_objective(AD, Dt, FD, lam1, lam2, x_now, h, h_prev)] if track else []
        k = 0
        while k < n_iter:
            h = _soft(h @ S.T + constant, threshold)
            k += 1
            if track:
                values.append(_objective(AD, Dt, FD, lam1, lam2, x_now, h, h_prev))
                if tol is not None:
                    previous, current = values[-2], values[-1]
                    change = (previous - current).abs() / previous.abs().clamp_min(1e-300)
                    if bool((change < tol).all()):
                        break
        estimates.append(h)
        counts.append(k)
        if track:
            objectives.append(values)
        h_prev = h

    h_all = torch.stack(estimates)
    if single:
        h_all = h_all.squeeze(1)
    h_out = like(h_all, x)
    if not return_history:
        return h_out
    k_max = max(counts)
    rows = torch.stack([
        torch.stack(values + [values[-1]] * (k_max + 1 - len(values)))
        for values in objectives
    ], dim=1)  # (K_max + 1, T, B)
    if single:
        rows = rows.squeeze(-1)
    history = {
        "objective": like(rows, x),
        "n_iter": like(torch.tensor(counts, dtype=torch.int64), x),
    }
    return h_out, history
