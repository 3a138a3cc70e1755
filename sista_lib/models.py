r"""Networks: the SISTA-RNN, its released-code variant, LISTA, and the black-box baselines.

Every sequence model takes a time-major input ``x`` of shape ``(T, B, M)`` (the compressed
observations :math:`x_t`) and returns ``yhat`` of shape ``(T, B, N)`` (the estimates
:math:`\hat y_t`), like torch's RNNs.

- :class:`SISTARNN`: :math:`K` iterations of SISTA unfolded over time and iterations into a
  :math:`K`-layer stacked RNN (Wisdom, Powers, Pitton and Atlas 2016/2017). Its trainable
  parameters are the *interpretable* ones :math:`\{A, D, F, \alpha, \lambda_1, \lambda_2,
  \hat h_0\}`; the RNN weights :math:`W_1, W_k, S, V, b` are functions of them, computed once per
  forward call and shown by :meth:`SISTARNN.rnn_weights`.
- :class:`StackedRNN`: the paper's generic stacked soft-threshold RNN (free weights).
- :class:`LSTMBaseline`: stacked LSTM plus a linear read-out (the paper's strongest baseline).
- :class:`LISTA`: learned ISTA (Gregor and LeCun 2010), the feed-forward warm-up of chapter 4.

:func:`build_model` builds the experiment's models by name, :func:`count_parameters` counts
trainable parameters. The soft-threshold recurrences run by default through
:mod:`sista_lib.fused` (one autograd node per sequence, a hand-written backward pass through
time); ``forward(..., implementation="reference")`` runs the plain autograd time loop, the
reference the fused path is tested against. Every time-independent product is hoisted out of
the time loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as fnn

from ._checks import (
    ArrayLike,
    check_finite,
    check_representable,
    check_ndim,
    check_positive_int,
    check_scalar,
    like,
    to_torch,
)
from .fused import check_implementation, sista_rnn_recurrence, stacked_rnn_recurrence
from .sparse import _soft, lipschitz_constant

__all__ = [
    "SISTARNNWeights",
    "SISTARNN",
    "StackedRNN",
    "LSTMBaseline",
    "hard_sigmoid",
    "LISTA",
    "count_parameters",
    "build_model",
    "MODEL_NAMES",
]

MODEL_NAMES = ("sista_rnn", "sista_rnn_released", "stacked_rnn", "lstm")

#: Initialisations of :class:`StackedRNN` and of :class:`LSTMBaseline`, and the LSTM's gates.
STACKED_INITS = ("authors", "scaled")
LSTM_INITS = ("keras1", "torch")
LSTM_GATES = ("sigmoid", "hard_sigmoid")

_SCALARS = ("alpha", "lam1", "lam2")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _check_dtype(dtype: Any) -> torch.dtype:
    """``dtype``, or torch's default dtype when it is None; float32 or float64 only."""
    if dtype is None:
        dtype = torch.get_default_dtype()
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def _inverse_softplus(t: torch.Tensor) -> torch.Tensor:
    """softplus^{-1}(v) = log(exp(v) - 1) = v + log(1 - exp(-v)), for v > 0, in float64 (the
    first form overflows for large v, in float32 from v of about 89), cast back to t's dtype."""
    v = t.to(torch.float64)
    return torch.where(v > 20.0, v + torch.log(-torch.expm1(-v)), torch.log(torch.expm1(v))).to(
        t.dtype)


def _matrix(value: Any, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A finite tensor of exactly ``shape`` (a detached copy, so a Parameter may own it)."""
    t = to_torch(value, name)
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    check_finite(t, name)
    return t.detach().to(dtype).clone()


def _per_layer_matrix(
    value: Any, name: str, shape: tuple[int, int], n_copies: int | None, dtype: torch.dtype
) -> torch.Tensor:
    """Shape ``shape`` (tied) or ``(K,) + shape`` (untied; a 2-D value is copied K times)."""
    t = to_torch(value, name)
    if n_copies is None:
        return _matrix(t, name, shape, dtype)
    if t.ndim == 2:
        return _matrix(t, name, shape, dtype).expand(n_copies, *shape).clone()
    return _matrix(t, name, (n_copies,) + shape, dtype)


def _per_layer_scalar(
    value: Any, name: str, n_copies: int | None, dtype: torch.dtype, *, positive: bool
) -> torch.Tensor:
    """A 0-d tensor (tied) or a ``(K,)`` tensor (untied; a scalar is copied K times)."""
    if n_copies is not None and (isinstance(value, (list, tuple))
                                 or getattr(value, "ndim", 0) == 1):
        values = list(value)
        if len(values) != n_copies:
            raise ValueError(f"{name} must be a scalar or have n_layers={n_copies} entries, "
                             f"got {len(values)}")
    else:
        values = [value] * (1 if n_copies is None else n_copies)
    checked = [check_scalar(v, name, positive=positive, nonnegative=not positive) for v in values]
    for v in checked:
        check_representable(v, name, dtype)   # 1e39 is inf and 1e-50 is 0 in float32
    t = torch.tensor(checked, dtype=dtype)
    return t[0] if n_copies is None else t


def _check_input(x: Any, name: str, size: int, dtype: torch.dtype) -> torch.Tensor:
    xt = to_torch(x, name)
    check_ndim(xt, name, 3)
    if xt.shape[-1] != size:
        raise ValueError(
            f"{name} must have shape (T, B, {size}) (time-major, {size} measurements per step), "
            f"got {tuple(xt.shape)}"
        )
    if xt.shape[0] == 0 or xt.shape[1] == 0:
        raise ValueError(f"{name} must have T >= 1 and B >= 1, got shape {tuple(xt.shape)}")
    xt = xt.to(dtype)
    check_finite(xt, name)
    return xt


# --------------------------------------------------------------------------------------------
# the SISTA-RNN
# --------------------------------------------------------------------------------------------

@dataclass
class SISTARNNWeights:
    r"""The stacked-RNN weights a :class:`SISTARNN` derives from its interpretable parameters.

    Attributes
    ----------
    W : tuple of K (N, N) tensors
        Recurrent weights; ``W[0]`` is :math:`W_1`, ``W[k-1]`` is :math:`W_k`.
    S : tuple of K-1 (N, N) tensors
        ``S[k-2]`` carries layer :math:`k-1`'s output into layer :math:`k` (:math:`k = 2..K`).
    V : tuple of K (N, M) tensors
        Input weights of each layer.
    b : tuple of K 0-d tensors
        Soft thresholds :math:`b^{(k)} = \lambda_1^{(k)}/\alpha^{(k)}`.
    U : (N, N) tensor
        Output matrix, :math:`\hat y_t = U h_t^{(K)}` with :math:`U = D^{(K)}`.
    P : tuple of K (N, N) tensors
        The prediction matrices :math:`P^{(k)}` the weights are built from.
    """

    W: tuple[torch.Tensor, ...]
    S: tuple[torch.Tensor, ...]
    V: tuple[torch.Tensor, ...]
    b: tuple[torch.Tensor, ...]
    U: torch.Tensor
    P: tuple[torch.Tensor, ...]


class SISTARNN(nn.Module):
    r"""The SISTA-RNN: :math:`K` SISTA iterations per time step, unfolded into a stacked RNN.

    **Paper variant** (``variant="paper"``), exactly :math:`K` iterations of SISTA
    (:func:`sista_lib.sista.sista`) for any parameter values:

    .. math::

        h_t^{(1)} &= \operatorname{soft}_{b}\big(W_1 \hat h_{t-1} + V x_t\big),\\
        h_t^{(k)} &= \operatorname{soft}_{b}\big(W_k \hat h_{t-1} + S h_t^{(k-1)} + V x_t\big),
        \quad k = 2..K,\\
        \hat h_t &= h_t^{(K)}, \qquad \hat y_t = D \hat h_t,

    with :math:`P = D^T F D`, :math:`S = I - \tfrac{1}{\alpha} D^T (A^T A + \lambda_2 I) D`,
    :math:`V = \tfrac{1}{\alpha} D^T A^T`, :math:`W_1 = S P + \tfrac{\lambda_2}{\alpha} P`,
    :math:`W_k = \tfrac{\lambda_2}{\alpha} P` and :math:`b = \lambda_1 / \alpha`.
    Every layer reads the *top* layer's previous state :math:`\hat h_{t-1}` and the input.

    **Untied layers** (``tie_layers=False``) are SISTA with per-iteration parameters
    :math:`\theta^{(k)} = (A^{(k)}, D^{(k)}, F^{(k)}, \alpha^{(k)}, \lambda_1^{(k)},
    \lambda_2^{(k)})`: iteration :math:`k` is the gradient step and prox of the step-:math:`t`
    problem written with :math:`\theta^{(k)}`, started from :math:`h_t^{(0)} = P^{(1)} \hat h_{t-1}`:

    .. math::

        h_t^{(k)} = \operatorname{soft}_{b^{(k)}}\big(S^{(k)} h_t^{(k-1)} + V^{(k)} x_t
        + \tfrac{\lambda_2^{(k)}}{\alpha^{(k)}} P^{(k)} \hat h_{t-1}\big),

    so :math:`W_1 = S^{(1)} P^{(1)} + \tfrac{\lambda_2^{(1)}}{\alpha^{(1)}} P^{(1)}`,
    :math:`W_k = \tfrac{\lambda_2^{(k)}}{\alpha^{(k)}} P^{(k)}`, the layer-:math:`k` input
    weight is :math:`V^{(k)}`, the matrix from layer :math:`k-1` into layer :math:`k` is
    :math:`S^{(k)}`, the threshold is :math:`b^{(k)} = \lambda_1^{(k)}/\alpha^{(k)}`, and
    :math:`\hat y_t = D^{(K)} \hat h_t`. With identical copies this is the tied network.
    :math:`\hat h_0` is shared by all layers.

    **Released-code variant** (``variant="released"``): an approximation, in PyTorch, of the
    authors' Theano code (stwisdom/sista-rnn) as described in the book's reference notes. It
    differs from the paper in three places:

    1. layer 1 reads its *own* previous state, :math:`h_t^{(1)} = \operatorname{soft}_b(W_1
       h_{t-1}^{(1)} + V x_t)`; layers :math:`2..K` read :math:`\hat h_{t-1} = h_{t-1}^{(K)}` as
       above (both states start at :math:`\hat h_0`), so for :math:`K > 1` it is not unfolded
       SISTA;
    2. :math:`V = D^T A^T` without the :math:`1/\alpha` (equal at :math:`\alpha = 1`);
    3. a separately trained matrix :math:`D^{-1}` (initialised to :math:`D^T`) replaces
       :math:`D^T` in the prediction matrix only, :math:`P = D^{-1} F D`, hence in :math:`W_1 =
       S P + \tfrac{\lambda_2}{\alpha} P` and :math:`W_k = \tfrac{\lambda_2}{\alpha} P`;
       :math:`S` and :math:`V` keep :math:`D^T`.

    With :math:`K = 1`, :math:`\alpha = 1` and :math:`D^{-1} = D^T` both variants coincide.
    The complex-valued scaffold of the original (imaginary parts identically zero) is not
    reproduced; with untied layers the original built the :math:`S` entering layer :math:`k`
    from layer :math:`k-1`'s parameters, here from layer :math:`k`'s as in the paper.

    Parameters
    ----------
    A : (M, N) array or tensor
        Measurement matrix (untied: ``(M, N)`` copied to every layer, or ``(K, M, N)``).
    D : (N, N) array or tensor
        Dictionary, atoms as columns (untied: ``(N, N)`` or ``(K, N, N)``).
    F : (N, N) array or tensor, optional
        Dynamics :math:`y_t \approx F y_{t-1}`; default the identity (untied: or ``(K, N, N)``).
    alpha, lam1, lam2 : float
        :math:`\alpha > 0`, :math:`\lambda_1 \ge 0`, :math:`\lambda_2 \ge 0` (untied: a scalar
        or ``K`` values). With ``positive=True`` all three must be ``> 0``.
    n_layers : int, default 3
        :math:`K`, SISTA iterations per time step.
    variant : {"paper", "released"}
    tie_layers : bool, default True
        Share :math:`\theta` across layers (the paper's experiment) or keep one copy per layer.
    h0 : (N,) array, optional
        Initial estimate :math:`\hat h_0` (default zeros); trainable.
    positive : bool, default False
        Keep :math:`\alpha, \lambda_1, \lambda_2` positive through :math:`v =
        \operatorname{softplus}(\rho)`; the parameters are then named ``raw_alpha``,
        ``raw_lam1``, ``raw_lam2`` and hold :math:`\rho`. Off in the paper and the released code.
    Dinv : (N, N) array, optional
        Released variant only: initial :math:`D^{-1}` (default :math:`D^T`).
    dtype : torch.dtype, optional
        float32 or float64; default ``torch.get_default_dtype()``.
        Storage precision of the parameters (float64 for exactness tests).

    Notes
    -----
    Trainable parameters: ``A``, ``D``, ``F``, ``alpha``, ``lam1``, ``lam2``, ``h0`` (and
    ``Dinv`` in the released variant); tied, with the paper's sizes, :math:`2N^2 + MN + N + 3`
    (:math:`3N^2 + MN + N + 3` released).
    """

    def __init__(
        self,
        A: ArrayLike,
        D: ArrayLike,
        F: ArrayLike | None = None,
        alpha: float = 1.0,
        lam1: float = 0.5,
        lam2: float = 1.0,
        n_layers: int = 3,
        variant: str = "paper",
        tie_layers: bool = True,
        h0: ArrayLike | None = None,
        positive: bool = False,
        *,
        Dinv: ArrayLike | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n_layers = check_positive_int(n_layers, "n_layers")
        if variant not in ("paper", "released"):
            raise ValueError(f"variant must be 'paper' or 'released', got {variant!r}")
        if not isinstance(tie_layers, bool):
            raise TypeError(f"tie_layers must be a bool, got {type(tie_layers).__name__}")
        if not isinstance(positive, bool):
            raise TypeError(f"positive must be a bool, got {type(positive).__name__}")
        self.variant = variant
        self.tie_layers = tie_layers
        self.positive = positive
        dtype = _check_dtype(dtype)
        copies = None if tie_layers else self.n_layers

        At = to_torch(A, "A")
        if At.ndim not in ((2,) if tie_layers else (2, 3)):
            raise ValueError(f"A must have shape (M, N){'' if tie_layers else ' or (K, M, N)'}, "
                             f"got {tuple(At.shape)}")
        M, N = At.shape[-2:]
        self.input_size, self.n_atoms = int(M), int(N)
        self.A = nn.Parameter(_per_layer_matrix(At, "A", (M, N), copies, dtype))
        self.D = nn.Parameter(_per_layer_matrix(D, "D", (N, N), copies, dtype))
        F = torch.eye(N, dtype=dtype) if F is None else F
        self.F = nn.Parameter(_per_layer_matrix(F, "F", (N, N), copies, dtype))
        if variant == "released":
            Dinv_init = self.D.detach().transpose(-1, -2) if Dinv is None else Dinv
            self.Dinv = nn.Parameter(_per_layer_matrix(Dinv_init, "Dinv", (N, N), copies, dtype))
        elif Dinv is not None:
            raise ValueError("Dinv is a parameter of the released variant only "
                             "(variant='released'); the paper uses D^T")
        for name, value in zip(_SCALARS, (alpha, lam1, lam2)):
            t = _per_layer_scalar(value, name, copies, dtype, positive=positive or name == "alpha")
            if positive:
                self.register_parameter("raw_" + name, nn.Parameter(_inverse_softplus(t)))
            else:
                self.register_parameter(name, nn.Parameter(t))
        h0_init = torch.zeros(N, dtype=dtype) if h0 is None else h0
        self.h0 = nn.Parameter(_matrix(h0_init, "h0", (N,), dtype))

    # ---- constructors ----------------------------------------------------------------------

    @classmethod
    def paper_init(
        cls,
        A: ArrayLike,
        D: ArrayLike,
        *,
        n_layers: int = 3,
        variant: str = "paper",
        tie_layers: bool = True,
        positive: bool = False,
        dtype: torch.dtype | None = None,
    ) -> "SISTARNN":
        r"""The paper's initial values: :math:`F = I`, :math:`\alpha = 1`, :math:`\lambda_1 = 0.5`,
        :math:`\lambda_2 = 1`, :math:`\hat h_0 = 0` (and :math:`D^{-1} = D^T` when released).

        Untrained, it is SISTA with those parameters ("untrained SISTA" in the paper).
        """
        return cls(A, D, None, 1.0, 0.5, 1.0, n_layers=n_layers, variant=variant,
                   tie_layers=tie_layers, positive=positive, dtype=dtype)

    # ---- parameters ------------------------------------------------------------------------

    def _scalar(self, name: str) -> torch.Tensor:
        if self.positive:
            return fnn.softplus(getattr(self, "raw_" + name))
        return getattr(self, name)

    def sista_parameters(self) -> dict[str, torch.Tensor]:
        r"""The interpretable parameters as SISTA uses them (after softplus when ``positive``).

        Keys ``A, D, F, alpha, lam1, lam2, h0`` (and ``Dinv`` when released); tied layers give
        single values, untied ones stacks with a leading dimension :math:`K`. Tensors keep their
        graph; ``detach()`` them for inspection.
        """
        out = {"A": self.A, "D": self.D, "F": self.F}
        for name in _SCALARS:
            out[name] = self._scalar(name)
        out["h0"] = self.h0
        if self.variant == "released":
            out["Dinv"] = self.Dinv
        return out

    def _derived(self):
        r"""Per-copy weights, stacked over a leading dimension L (1 tied, K untied)."""
        p = self.sista_parameters()
        L = 1 if self.tie_layers else self.n_layers
        A, D, F = (p[k].reshape(L, *p[k].shape[-2:]) for k in ("A", "D", "F"))
        alpha, lam1, lam2 = (p[k].reshape(L, 1, 1) for k in _SCALARS)
        Dt = D.transpose(-1, -2)
        AD = A @ D                                                  # (L, M, N)
        ADt = AD.transpose(-1, -2)                                  # D^T A^T, (L, N, M)
        eye = torch.eye(self.n_atoms, dtype=D.dtype, device=D.device)
        S = eye - (ADt @ AD + lam2 * (Dt @ D)) / alpha              # I - D^T(A^TA + lam2 I)D/alpha
        left = self.Dinv.reshape(L, *D.shape[-2:]) if self.variant == "released" else Dt
        P = left @ F @ D                                            # D^T F D (or Dinv F D)
        V = ADt if self.variant == "released" else ADt / alpha
        Wk = (lam2 / alpha) * P                                     # W_k, k >= 2
        W1 = S[0] @ P[0] + Wk[0]                                    # S P + (lam2/alpha) P
        b = (lam1 / alpha).reshape(L)
        return W1, Wk, S, V, b, D[-1], P

    def rnn_weights(self) -> SISTARNNWeights:
        r"""The stacked-RNN weights :math:`W_k, S, V, b, U` derived from the current parameters.

        One entry per layer (tied layers repeat the same tensor). See the class docstring for
        the formulas; gradients flow through them.
        """
        W1, Wk, S, V, b, U, P = self._derived()
        K = self.n_layers
        idx = (lambda k: 0) if self.tie_layers else (lambda k: k)
        return SISTARNNWeights(
            W=(W1,) + tuple(Wk[idx(k)] for k in range(1, K)),
            S=tuple(S[idx(k)] for k in range(1, K)),
            V=tuple(V[idx(k)] for k in range(K)),
            b=tuple(b[idx(k)] for k in range(K)),
            U=U,
            P=tuple(P[idx(k)] for k in range(K)),
        )

    def extra_repr(self) -> str:
        return (f"M={self.input_size}, N={self.n_atoms}, n_layers={self.n_layers}, "
                f"variant={self.variant!r}, tie_layers={self.tie_layers}, "
                f"positive={self.positive}")

    # ---- forward ---------------------------------------------------------------------------

    #: Default of ``forward(implementation=...)``; set it on an instance to change the default.
    implementation: str = "fused"

    def forward(
        self, x: ArrayLike, h0: ArrayLike | None = None, *, return_codes: bool = False,
        implementation: str | None = None,
    ):
        r"""Run the network over a sequence.

        Parameters
        ----------
        x : (T, B, M) array or tensor
            Time-major observations :math:`x_t`; cast to the parameters' dtype.
        h0 : (N,) or (B, N) array, optional
            Overrides the learned :math:`\hat h_0` (e.g. to continue a sequence).
        return_codes : bool, default False
            Also return the sparse codes :math:`\hat h_t = h_t^{(K)}`.
        implementation : {"fused", "reference"}, optional
            ``"fused"`` (default, :attr:`implementation`): the whole recurrence is one graph
            node with a hand-written backward through time
            (:func:`sista_lib.fused.sista_rnn_recurrence`); ``"reference"``: the same
            recurrence recorded step by step by autograd. Equal values and gradients.

        Returns
        -------
        yhat : (T, B, N)
            :math:`\hat y_t = D^{(K)} \hat h_t`; NumPy when ``x`` was NumPy.
        h : (T, B, N), only with ``return_codes``
        """
        implementation = check_implementation(
            self.implementation if implementation is None else implementation)
        dtype = self.h0.dtype
        xt = _check_input(x, "x", self.input_size, dtype).to(self.h0.device)
        T, B, _ = xt.shape
        N, K = self.n_atoms, self.n_layers
        if h0 is None:
            h_start = self.h0.expand(B, N)
        else:
            h_start = to_torch(h0, "h0").to(dtype=dtype, device=xt.device)
            check_finite(h_start, "h0")
            if tuple(h_start.shape) not in ((N,), (B, N)):
                raise ValueError(f"h0 must have shape ({N},) or ({B}, {N}), "
                                 f"got {tuple(h_start.shape)}")
            h_start = h_start.expand(B, N)

        W1, Wk, S, V, b, U, _ = self._derived()
        tied = self.tie_layers
        # Stacked weights: the recurrent terms of all layers in one matmul per step.
        # Tied: [W1; Wk] (layers 2..K share the term Wk hhat_{t-1} + V x_t). Untied: [W1; ...; WK].
        n_blocks = 1 if K == 1 else (2 if tied else K)
        W_cat = torch.cat([W1] + [Wk[0 if tied else j] for j in range(1, n_blocks)], 0)
        V_cat = torch.cat([V[0 if tied else j] for j in range(n_blocks)], 0)
        if implementation == "fused":
            # S entering layers 2..K and the K thresholds; tied copies are expanded views, so
            # autograd sums their gradients into the one shared weight upstream.
            S_in = S.expand(K - 1, N, N) if tied else S[1:]
            H = sista_rnn_recurrence(xt, W_cat, V_cat, S_in, b.expand(K) if tied else b,
                                     h_start, n_layers=K, variant=self.variant)
            yhat = H @ U.transpose(0, 1)
            if return_codes:
                return like(yhat, x), like(H, x)
            return like(yhat, x)
        ST = [S[0 if tied else k].transpose(0, 1) for k in range(1, K)]
        bk = [b[0 if tied else k] for k in range(K)]
        # V x_t (+ nothing else) for every t and every block in ONE matmul.
        # (unbind/split rather than indexing: their backward is one stack/cat, not T zero-fills)
        XV = (xt.reshape(T * B, -1) @ V_cat.transpose(0, 1)).reshape(T, B, n_blocks * N)

        codes = []
        if self.variant == "paper" or K == 1:
            WT = W_cat.transpose(0, 1)
            hhat = h_start
            for xv in XV.unbind(0):
                z = torch.addmm(xv, hhat, WT).split(N, dim=1)  # W hhat_{t-1} + V x_t, per block
                h = _soft(z[0], bk[0])
                for k in range(1, K):
                    h = _soft(torch.addmm(z[1 if tied else k], h, ST[k - 1]), bk[k])
                codes.append(h)
                hhat = h
        else:  # released, K > 1: layer 1 recurs on itself, layers 2..K on the top layer
            W1T = W_cat[:N].transpose(0, 1)
            WrT = W_cat[N:].transpose(0, 1)
            XV1, XVr = XV[..., :N].unbind(0), XV[..., N:].unbind(0)
            h1, hhat = h_start, h_start
            for t in range(T):
                h1 = _soft(torch.addmm(XV1[t], h1, W1T), bk[0])
                zr = torch.addmm(XVr[t], hhat, WrT).split(N, dim=1)
                h = h1
                for k in range(1, K):
                    h = _soft(torch.addmm(zr[0 if tied else k - 1], h, ST[k - 1]), bk[k])
                codes.append(h)
                hhat = h
        H = torch.stack(codes)                             # (T, B, N)
        yhat = H @ U.transpose(0, 1)
        if return_codes:
            return like(yhat, x), like(H, x)
        return like(yhat, x)


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------

class StackedRNN(nn.Module):
    r"""The paper's generic stacked soft-threshold RNN (the black-box baseline of the SISTA-RNN).

    .. math::

        h_t^{(1)} &= \operatorname{soft}_{b_1}\big(W_1 h_{t-1}^{(1)} + V x_t\big),\\
        h_t^{(k)} &= \operatorname{soft}_{b_k}\big(W_k h_{t-1}^{(k)} + S_k h_t^{(k-1)}\big)
        \ \ (k \ge 2),\\
        \hat y_t &= U h_t^{(K)} + c,

    with :math:`\operatorname{soft}_b(z) = \operatorname{sign}(z)\max(|z| - b, 0)` element-wise
    and one threshold per unit. Every matrix, threshold, :math:`c` and the initial states
    :math:`h_0^{(k)}` are free. The input enters layer 1 only; each layer recurs on itself.

    Initialisation (seeded, independent of torch's global generator), ``init=``:

    - ``"authors"`` (the released code's "Xavier" draw): every matrix
      :math:`X \in \mathbb R^{p \times q}` Gaussian with standard deviation
      :math:`\sqrt{2/(pq)}` (so about 0.022 for :math:`V` and 0.011 for :math:`W_k, S_k, U`
      here), the thresholds :math:`b_k \sim \mathcal N(0, 2/H)` (zero mean: some units start
      *widening* instead of shrinking), :math:`W_2 = \dots = W_K` and :math:`S_2 = \dots = S_K`
      start as one shared draw (then train separately), :math:`c = 0`, :math:`h_0^{(k)} = 0`;
    - ``"scaled"`` (default): variance-preserving Gaussians, :math:`V_{ij} \sim \mathcal N(0, 1/M)`,
      :math:`(S_k)_{ij}, U_{ij} \sim \mathcal N(0, 1/H)` and recurrent
      :math:`(W_k)_{ij} \sim \mathcal N(0, g^2/H)` with ``recurrent_gain`` :math:`g = 0.5`
      (spectral radius about :math:`g`), thresholds :math:`b_k = ` ``threshold_init`` (0.5,
      SISTA's :math:`\lambda_1/\alpha`), :math:`c = 0`, :math:`h_0^{(k)} = 0`; about 8 times
      larger weights than ``"authors"``.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        :math:`M`, :math:`H` (units per layer) and :math:`N`.
    n_layers : int, default 3
    seed : int, default 0
    init : {"authors", "scaled"}, default "scaled"
        The study uses ``"authors"`` (:class:`sista_lib.experiment.ExperimentConfig`).
    recurrent_gain : float, default 0.5
        ``init="scaled"`` only.
    threshold_init : float, default 0.5
        ``init="scaled"`` only.
    dtype : torch.dtype, optional
        float32 or float64; default ``torch.get_default_dtype()``.

    Notes
    -----
    Trainable parameters: :math:`HM + KH^2 + (K-1)H^2 + KH + NH + N + KH` (``V``, ``W``,
    ``S``, ``b``, ``U``, ``c``, ``h0``).
    """

    def __init__(
        self,
        input_size: int = 32,
        hidden_size: int = 128,
        output_size: int = 128,
        n_layers: int = 3,
        seed: int = 0,
        *,
        init: str = "scaled",
        recurrent_gain: float = 0.5,
        threshold_init: float = 0.5,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        M = self.input_size = check_positive_int(input_size, "input_size")
        H = self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        N = self.output_size = check_positive_int(output_size, "output_size")
        K = self.n_layers = check_positive_int(n_layers, "n_layers")
        seed = check_positive_int(seed, "seed", minimum=0)
        gain = check_scalar(recurrent_gain, "recurrent_gain", nonnegative=True)
        b0 = check_scalar(threshold_init, "threshold_init")
        dtype = _check_dtype(dtype)
        g = torch.Generator().manual_seed(seed)

        def gauss(*shape: int, std: float) -> nn.Parameter:
            return nn.Parameter(std * torch.randn(*shape, generator=g, dtype=torch.float64)
                                .to(dtype))

        if init not in STACKED_INITS:
            raise ValueError(f"init must be one of {STACKED_INITS}, got {init!r}")
        self.init = init
        if init == "scaled":
            self.V = gauss(H, M, std=1.0 / math.sqrt(M))
            self.W = gauss(K, H, H, std=gain / math.sqrt(H))
            self.S = gauss(K - 1, H, H, std=1.0 / math.sqrt(H))
            self.b = nn.Parameter(torch.full((K, H), b0, dtype=dtype))
            self.U = gauss(N, H, std=1.0 / math.sqrt(H))
        else:
            def xavier(*shape: int) -> torch.Tensor:  # the released code's sqrt(2 / (p q))
                return math.sqrt(2.0 / math.prod(shape)) * torch.randn(
                    *shape, generator=g, dtype=torch.float64)

            self.V = nn.Parameter(xavier(H, M).to(dtype))
            w1, w_upper = xavier(H, H), xavier(H, H)
            self.W = nn.Parameter(torch.stack([w1] + [w_upper] * (K - 1)).to(dtype))
            self.S = nn.Parameter(xavier(H, H).expand(K - 1, H, H).clone().to(dtype))
            self.b = nn.Parameter(torch.stack([xavier(H) for _ in range(K)]).to(dtype))
            self.U = nn.Parameter(xavier(N, H).to(dtype))
        self.c = nn.Parameter(torch.zeros(N, dtype=dtype))
        self.h0 = nn.Parameter(torch.zeros(K, H, dtype=dtype))

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"output_size={self.output_size}, n_layers={self.n_layers}")

    #: Default of ``forward(implementation=...)``; set it on an instance to change the default.
    implementation: str = "fused"

    def forward(self, x: ArrayLike, *, implementation: str | None = None) -> ArrayLike:
        r"""``x`` (T, B, M) -> ``yhat`` (T, B, N); NumPy when ``x`` was NumPy.

        ``implementation="fused"`` (default, :attr:`implementation`) runs the recurrence as one
        graph node with a hand-written backward through time
        (:func:`sista_lib.fused.stacked_rnn_recurrence`); ``"reference"`` records it step by
        step with autograd. Equal values and gradients.
        """
        implementation = check_implementation(
            self.implementation if implementation is None else implementation)
        xt = _check_input(x, "x", self.input_size, self.V.dtype).to(self.V.device)
        T, B, _ = xt.shape
        K = self.n_layers
        if implementation == "fused":
            top = stacked_rnn_recurrence(xt, self.V, self.W, self.S, self.b,
                                         self.h0.unsqueeze(1).expand(K, B, self.hidden_size))
            yhat = torch.addmm(self.c, top.reshape(T * B, -1), self.U.T)
            return like(yhat.reshape(T, B, self.output_size), x)
        XV = (xt.reshape(T * B, -1) @ self.V.T).reshape(T, B, self.hidden_size)
        WT = [w.T for w in self.W.unbind(0)]
        ST = [s.T for s in self.S.unbind(0)]
        b = self.b.unbind(0)
        state = [h.expand(B, self.hidden_size) for h in self.h0.unbind(0)]
        tops = []
        for xv in XV.unbind(0):
            h = _soft(torch.addmm(xv, state[0], WT[0]), b[0])
            state[0] = h
            for k in range(1, K):
                h = _soft(torch.addmm(state[k] @ WT[k], h, ST[k - 1]), b[k])
                state[k] = h
            tops.append(h)
        yhat = torch.addmm(self.c, torch.stack(tops).reshape(T * B, -1), self.U.T)
        return like(yhat.reshape(T, B, self.output_size), x)


def hard_sigmoid(z: torch.Tensor) -> torch.Tensor:
    r"""Keras 1's gate non-linearity, :math:`\operatorname{clip}(0.2 z + 0.5, 0, 1)`."""
    return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)


def _keras1_orthogonal(n: int, generator: torch.Generator, scale: float = 1.1) -> torch.Tensor:
    """Keras 1's ``orthogonal`` initialiser for an (n, n) matrix: ``scale`` times the U of the
    SVD of a standard Gaussian matrix (Keras 1's default scale is 1.1)."""
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    u, _, _ = torch.linalg.svd(a)
    return scale * u


class LSTMBaseline(nn.Module):
    r"""Stacked LSTM plus a linear read-out, the paper's black-box baseline.

    :math:`K` LSTM layers (hidden and cell states start at zero), with gates
    :math:`i, f, o = \sigma(\cdot)`, cell input :math:`g = \tanh(\cdot)`,
    :math:`c_t = f \odot c_{t-1} + i \odot g` and :math:`h_t = o \odot \tanh(c_t)`; then
    :math:`\hat y_t = U h_t^{(K)} + c`.

    ``init="keras1"`` (the study's) is the authors' Keras 1 LSTM: per gate, Glorot-uniform input
    weights (:math:`\mathcal U(\pm\sqrt{6/(n_\text{in} + H)})`), orthogonal recurrent weights
    scaled by 1.1, one bias per gate (zero, the forget gate's 1), a Glorot-uniform read-out with
    zero bias. torch's second bias vector ``bias_hh`` is frozen at zero so that the parameters
    (and their count) are Keras's. ``init="torch"`` keeps torch's
    :math:`\mathcal U(\pm 1/\sqrt H)` for every weight, both bias vectors trainable, the forget
    gate's bias 1 in total (the default).

    ``gate="sigmoid"`` (default) uses torch's fused ``nn.LSTM``; ``gate="hard_sigmoid"`` is
    Keras 1's default gate :math:`\operatorname{clip}(0.2 z + 0.5, 0, 1)`, computed by a plain
    time loop over the same parameters (about 1.7 times slower on a CPU).

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        :math:`M`, :math:`H`, :math:`N`.
    n_layers : int, default 4
    seed : int, optional
        Seeds the initialisation without touching torch's global generator.
    init : {"keras1", "torch"}, default "torch"
    gate : {"sigmoid", "hard_sigmoid"}, default "sigmoid"
    dtype : torch.dtype, optional
        float32 or float64; default ``torch.get_default_dtype()``.

    Notes
    -----
    Trainable parameters: :math:`4(MH + H^2 + H) + (K - 1)\,4(2H^2 + H) + NH + N` with
    ``init="keras1"`` (493,696 at the paper's sizes); :math:`4KH` more with ``init="torch"``.
    """

    def __init__(
        self,
        input_size: int = 32,
        hidden_size: int = 128,
        output_size: int = 128,
        n_layers: int = 4,
        seed: int | None = 0,
        *,
        init: str = "torch",
        gate: str = "sigmoid",
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        H = self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = check_positive_int(output_size, "output_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        if init not in LSTM_INITS:
            raise ValueError(f"init must be one of {LSTM_INITS}, got {init!r}")
        if gate not in LSTM_GATES:
            raise ValueError(f"gate must be one of {LSTM_GATES}, got {gate!r}")
        self.init, self.gate = init, gate
        dtype = _check_dtype(dtype)
        if seed is not None:
            seed = check_positive_int(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.lstm = nn.LSTM(self.input_size, H, num_layers=self.n_layers, dtype=dtype)
            self.readout = nn.Linear(H, self.output_size, dtype=dtype)
        if init == "keras1":
            self._keras1_init(torch.Generator().manual_seed(0 if seed is None else seed))
        else:
            with torch.no_grad():
                for k in range(self.n_layers):
                    getattr(self.lstm, f"bias_ih_l{k}")[H:2 * H] = 1.0   # gates: i, f, g, o
                    getattr(self.lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0

    @torch.no_grad()
    def _keras1_init(self, g: torch.Generator) -> None:
        H = self.hidden_size

        def glorot(fan_out: int, fan_in: int) -> torch.Tensor:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            return (2 * torch.rand(fan_out, fan_in, generator=g, dtype=torch.float64) - 1) * limit

        for k in range(self.n_layers):
            n_in = self.input_size if k == 0 else H
            w_ih = torch.cat([glorot(H, n_in) for _ in range(4)])          # i, f, g, o
            w_hh = torch.cat([_keras1_orthogonal(H, g) for _ in range(4)])
            getattr(self.lstm, f"weight_ih_l{k}").copy_(w_ih)
            getattr(self.lstm, f"weight_hh_l{k}").copy_(w_hh)
            b_ih = getattr(self.lstm, f"bias_ih_l{k}")
            b_ih.zero_()
            b_ih[H:2 * H] = 1.0
            b_hh = getattr(self.lstm, f"bias_hh_l{k}")
            b_hh.zero_()
            b_hh.requires_grad_(False)   # Keras has one bias per gate
        self.readout.weight.copy_(glorot(self.output_size, H))
        self.readout.bias.zero_()

    def extra_repr(self) -> str:
        return f"n_layers={self.n_layers}, init={self.init!r}, gate={self.gate!r}"

    def _hard_sigmoid_lstm(self, x: torch.Tensor) -> torch.Tensor:
        T, B, _ = x.shape
        H = self.hidden_size
        out = x
        for k in range(self.n_layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(self.lstm, f"{name}_l{k}") for name in
                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            G = torch.addmm(b_ih + b_hh, out.reshape(T * B, -1), w_ih.T).reshape(T, B, 4 * H)
            h = c = out.new_zeros(B, H)
            hs, WT = [], w_hh.T
            for gt in G.unbind(0):
                i, f, gg, o = torch.addmm(gt, h, WT).chunk(4, dim=1)
                c = hard_sigmoid(f) * c + hard_sigmoid(i) * torch.tanh(gg)
                h = hard_sigmoid(o) * torch.tanh(c)
                hs.append(h)
            out = torch.stack(hs)
        return out

    def forward(self, x: ArrayLike) -> ArrayLike:
        r"""``x`` (T, B, M) -> ``yhat`` (T, B, N); NumPy when ``x`` was NumPy."""
        dtype = self.readout.weight.dtype
        xt = _check_input(x, "x", self.input_size, dtype).to(self.readout.weight.device)
        if self.gate == "hard_sigmoid":
            out = self._hard_sigmoid_lstm(xt)
        else:
            out, _ = self.lstm(xt)
        return like(self.readout(out), x)


# --------------------------------------------------------------------------------------------
# LISTA (feed-forward warm-up)
# --------------------------------------------------------------------------------------------

class LISTA(nn.Module):
    r"""Learned ISTA (Gregor and LeCun 2010): :math:`K` unfolded ISTA iterations, learned weights.

    .. math::

        h^{(1)} = \operatorname{soft}_{\theta}(W_e y), \qquad
        h^{(k)} = \operatorname{soft}_{\theta}\big(W_e y + S h^{(k-1)}\big), \quad k = 2..K,

    with :math:`W_e \in \mathbb{R}^{N\times M}`, :math:`S \in \mathbb{R}^{N\times N}` and one
    threshold per coefficient :math:`\theta \in \mathbb{R}^N`, shared by the layers. With
    :math:`W_e = \Phi^T/\alpha`, :math:`S = I - \Phi^T\Phi/\alpha` and :math:`\theta =
    \lambda/\alpha` it is exactly :math:`K` ISTA iterations from :math:`h^{(0)} = 0`
    (:meth:`from_ista`).

    Parameters
    ----------
    We : (N, M) array or tensor
    S : (N, N) array or tensor
    theta : float or (N,) array
    n_layers : int, default 3
    dtype : torch.dtype, optional
        float32 or float64; default ``torch.get_default_dtype()``.
    """

    def __init__(
        self,
        We: ArrayLike,
        S: ArrayLike,
        theta: Any,
        n_layers: int = 3,
        *,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dtype = _check_dtype(dtype)
        self.n_layers = check_positive_int(n_layers, "n_layers")
        Wt = to_torch(We, "We")
        check_ndim(Wt, "We", 2)
        N, M = Wt.shape
        self.input_size, self.n_atoms = int(M), int(N)
        self.We = nn.Parameter(_matrix(Wt, "We", (N, M), dtype))
        self.S = nn.Parameter(_matrix(S, "S", (N, N), dtype))
        if isinstance(theta, (int, float)) and not isinstance(theta, bool):
            theta_t = torch.full((N,), check_scalar(theta, "theta", nonnegative=True), dtype=dtype)
        else:
            theta_t = _matrix(theta, "theta", (N,), dtype)
        self.theta = nn.Parameter(theta_t)

    @classmethod
    def from_ista(
        cls,
        Phi: ArrayLike,
        lam: float,
        n_layers: int = 3,
        *,
        step: float | None = None,
        dtype: torch.dtype | None = None,
    ) -> "LISTA":
        r"""Initialise at ISTA: :math:`W_e = \Phi^T/\alpha`, :math:`S = I - \Phi^T\Phi/\alpha`,
        :math:`\theta = \lambda/\alpha`, with step :math:`1/\alpha` (default :math:`1/L`)."""
        Pt = to_torch(Phi, "Phi").to(torch.float64)
        check_ndim(Pt, "Phi", 2)
        check_finite(Pt, "Phi")
        lam = check_scalar(lam, "lam", nonnegative=True)
        if step is None and not bool(Pt.any()):
            raise ValueError("Phi is zero: ISTA has no curvature and no default step 1/L; "
                             "pass step explicitly")
        step = 1.0 / lipschitz_constant(Pt) if step is None else check_scalar(step, "step",
                                                                            positive=True)
        eye = torch.eye(Pt.shape[1], dtype=torch.float64)
        return cls(step * Pt.T, eye - step * (Pt.T @ Pt), step * lam, n_layers, dtype=dtype)

    def forward(self, y: ArrayLike) -> ArrayLike:
        r"""``y`` (..., M) -> codes ``h`` (..., N); NumPy when ``y`` was NumPy."""
        yt = to_torch(y, "y")
        if yt.ndim < 1 or yt.shape[-1] != self.input_size:
            raise ValueError(f"y must have shape (..., {self.input_size}), got {tuple(yt.shape)}")
        yt = yt.to(dtype=self.We.dtype, device=self.We.device)
        c = yt @ self.We.T
        h = _soft(c, self.theta)
        ST = self.S.T
        for _ in range(1, self.n_layers):
            h = _soft(c + h @ ST, self.theta)
        return like(h, y)


# --------------------------------------------------------------------------------------------
# utilities
# --------------------------------------------------------------------------------------------

def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` by default)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def build_model(name: str, A: ArrayLike, D: ArrayLike, **kw: Any) -> nn.Module:
    r"""Build one of the experiment's models by name, sized from :math:`A` (M x N) and :math:`D`.

    - ``"sista_rnn"``: :meth:`SISTARNN.paper_init` (paper variant); ``kw`` goes to it
      (``n_layers``, ``tie_layers``, ``positive``, ``dtype``).
    - ``"sista_rnn_released"``: the same with ``variant="released"``.
    - ``"stacked_rnn"``: :class:`StackedRNN` with ``input_size=M``, ``hidden_size=N``,
      ``output_size=N`` unless ``kw`` overrides them (``n_layers`` default 3, ``seed``, ...).
    - ``"lstm"``: :class:`LSTMBaseline` likewise (``n_layers`` default 4).

    ``A`` and ``D`` are used as initial values only by the SISTA-RNNs; the baselines take
    just their sizes.
    """
    if not isinstance(name, str) or name not in MODEL_NAMES:
        raise ValueError(f"name must be one of {MODEL_NAMES}, got {name!r}")
    At, Dt = to_torch(A, "A"), to_torch(D, "D")
    check_ndim(At, "A", 2)
    check_ndim(Dt, "D", 2)
    M, N = At.shape
    if Dt.shape != (N, N):
        raise ValueError(f"D must have shape ({N}, {N}) to match A of shape {tuple(At.shape)} "
                         f"(N = {N} atoms), got {tuple(Dt.shape)}")
    if name == "sista_rnn":
        return SISTARNN.paper_init(A, D, variant="paper", **kw)
    if name == "sista_rnn_released":
        return SISTARNN.paper_init(A, D, variant="released", **kw)
    sizes = {"input_size": M, "hidden_size": N, "output_size": Dt.shape[0]}
    sizes.update(kw)
    if name == "stacked_rnn":
        return StackedRNN(**sizes)
    return LSTMBaseline(**sizes)
