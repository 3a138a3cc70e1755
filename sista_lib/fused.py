r"""Recurrences with a hand-written backward through time.

The soft-threshold recurrences of :mod:`sista_lib.models` take :math:`T \times K` tiny steps
(batch :math:`B`, :math:`N` units); recorded by autograd, each step leaves a dozen graph nodes
whose bookkeeping costs as much as the matrix products. The two :class:`torch.autograd.Function`
classes here run the same recurrences as one graph node each:

- forward through time, keeping only the layer outputs :math:`h_t^{(k)}` (whose non-zeros are
  the soft-threshold's active sets);
- backward through time with only the *recurrent* products inside the loop (the matrices
  :math:`S^T`-side and :math:`W`-side of each step, at most one matmul per layer);
- every weight gradient afterwards as ONE large product over all :math:`T B` rows, e.g.
  :math:`\partial L/\partial W = \sum_t \delta z_t^T \hat h_{t-1} = \Delta Z^T H_{\mathrm{prev}}`
  with :math:`\Delta Z, H_{\mathrm{prev}}` the stacked :math:`(T B, N)` matrices.

With :math:`z` the pre-activation and :math:`s = \operatorname{soft}_b(z) =
\operatorname{sign}(z)\max(|z| - b, 0)`:

.. math::

    \frac{\partial s}{\partial z} = [s \ne 0], \qquad
    \frac{\partial s}{\partial b} = -\operatorname{sign}(z)\,[s \ne 0] = -\operatorname{sign}(s),

for either sign of :math:`b` (a negative threshold widens instead of shrinking; then
:math:`s \ne 0` wherever :math:`z \ne 0`), exactly the rule of ``sista_lib.sparse._soft``,
whose values the forward reproduces bit for bit.

The Functions take the *derived* RNN weights (:math:`W, V, S, b, h_0` and the input), so that the
interpretable parameterisation of the SISTA-RNN (:math:`A, D, F, \alpha, \lambda_1, \lambda_2,
D^{-1}`, softplus, tying) stays in ordinary autograd upstream: tied layers pass expanded copies
and autograd sums their gradients. They are first-order only (no double backward).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable

import torch
from torch.autograd.function import once_differentiable

__all__ = ["IMPLEMENTATIONS", "POOL_LIMIT_BYTES", "SISTARecurrence", "StackedRecurrence",
           "check_implementation", "clear_scratch", "sista_rnn_recurrence",
           "stacked_rnn_recurrence"]

_Writer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------
# the soft threshold, written into a given buffer
# --------------------------------------------------------------------------------------------

def _soft_writer(b: torch.Tensor) -> _Writer:
    r"""``write(z, out)``: :math:`\operatorname{out} \leftarrow \operatorname{soft}_b(z)`.

    The values of :func:`sista_lib.sparse._soft_values` (bit for bit, up to the sign of a zero),
    with the case chosen once per sequence instead of once per step, in the fewest passes:

    - a non-negative 0-d ``b``: torch's fused ``softshrink``;
    - a non-negative per-unit ``b``: :math:`z - \operatorname{clip}(z, -b, b)`;
    - a negative ``b`` everywhere: :math:`z - b\operatorname{sign}(z)` (every non-zero widens);
    - mixed signs: :math:`z - \operatorname{sign}(z)\min(|z|, b)`, which is
      :math:`\operatorname{sign}(z)\max(|z| - b, 0)` for either sign of :math:`b` with the same
      single rounding (:math:`\operatorname{sign}(z) \min(|z|, b)` is exact).

    ``z`` must not share memory with ``out``.
    """
    if b.dim() == 0 and float(b) >= 0.0:
        value = float(b)
        return lambda z, out: torch._C._nn.softshrink(z, value, out=out)
    if bool((b >= 0).all()):
        neg_b = -b

        def clip_write(z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
            torch.clamp(z, neg_b, b, out=out)          # out holds clip(z, -b, b) ...
            return torch.sub(z, out, out=out)          # ... then z - clip(z, -b, b)
        return clip_write
    if bool((b < 0).all()):
        return lambda z, out: torch.addcmul(z, torch.sign(z), b, value=-1.0, out=out)

    def mixed_write(z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        sign, magnitude = torch.sign(z), torch.abs(z)
        torch.minimum(magnitude, b, out=magnitude)
        return torch.addcmul(z, sign, magnitude, value=-1.0, out=out)
    return mixed_write


class _Scratch(threading.local):
    """Per-thread scratch buffers, one per role (see :func:`_scratch`)."""

    def __init__(self) -> None:
        self.buffers: dict[tuple, torch.Tensor] = {}
        self.recycled: dict[tuple, list[torch.Tensor]] = {}


_SCRATCH = _Scratch()


#: Buffers larger than this are allocated per call, not kept (a large evaluation batch must not
#: pin its memory for the rest of the process).
POOL_LIMIT_BYTES = 64 * 2**20


def _poolable(n: int, like: torch.Tensor) -> bool:
    return like.device.type == "cpu" and n * like.element_size() <= POOL_LIMIT_BYTES


def _scratch(role: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    r"""An uninitialised buffer of ``shape`` for a temporary that never leaves one call.

    On the CPU the storage is kept per thread and role and reused by the next call: the
    multi-megabyte temporaries of a sequence (:math:`V x_t` for all :math:`t`, the deltas, the
    signs) would otherwise come back from the C allocator as fresh pages each call, and
    touching them again costs page faults comparable to the matrix products. Other devices
    have a caching allocator: there, a plain ``new_empty``. :func:`clear_scratch` frees them.
    """
    n = math.prod(shape)
    if not _poolable(n, like):
        return like.new_empty(shape)
    key = (role, like.dtype)
    buf = _SCRATCH.buffers.get(key)
    if buf is None or buf.numel() < n:
        buf = _SCRATCH.buffers[key] = like.new_empty(n)
    return buf[:n].view(shape)


_use_count = getattr(torch._C, "_storage_Use_Count", None)
_MAX_RECYCLED = 4


def _is_free(buf: torch.Tensor) -> bool:
    # 2 = the pool's tensor + the temporary storage object of this very check
    return _use_count(buf.untyped_storage()._cdata) <= 2


def _recycled(role: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    r"""A buffer for tensors that outlive the call (saved for backward, returned), on the CPU
    taken from this thread's pool when no tensor uses its storage any more.

    A pooled buffer is handed out again only when its storage's use count shows that the pool
    alone holds it (the graph that saved it was freed, the returned codes were dropped), so it
    never overwrites live data; otherwise a new one is allocated and pooled (up to a few per
    role, replacing a free one that is too small).
    """
    n = math.prod(shape)
    if _use_count is None or not _poolable(n, like):
        return like.new_empty(shape)
    pool = _SCRATCH.recycled.setdefault((role, like.dtype), [])
    free = [i for i, buf in enumerate(pool) if _is_free(buf)]
    for i in free:
        if pool[i].numel() >= n:
            return pool[i][:n].view(shape)
    buf = like.new_empty(n)
    if len(pool) < _MAX_RECYCLED:
        pool.append(buf)
    elif free:
        pool[free[0]] = buf
    return buf[:n].view(shape)


def clear_scratch() -> None:
    """Free this thread's scratch buffers (they are re-allocated on the next call)."""
    _SCRATCH.buffers.clear()
    _SCRATCH.recycled.clear()


def _active_sets(layers: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    r"""Per layer :math:`\operatorname{sign}(h)` and the active-set mask :math:`[h \ne 0]`
    (as ``|sign(h)|``: two vectorised passes over the whole sequence, faster than ``h != 0``
    and its boolean arithmetic), in scratch buffers."""
    K, like = len(layers), layers[0]
    signs = _scratch("signs", (K,) + tuple(like.shape), like).unbind(0)
    masks = _scratch("masks", (K,) + tuple(like.shape), like).unbind(0)
    for h, sign, mask in zip(layers, signs, masks):
        torch.sign(h, out=sign)
        torch.abs(sign, out=mask)
    return list(signs), list(masks)


def _prev_product(dz: torch.Tensor, states: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_t \delta z_t^T s_{t-1}` with :math:`s_{-1} = ` ``first``: ONE product over the
    stacked :math:`((T-1) B, \cdot)` rows plus the first step's.

    ``dz`` (T, B, n), ``states`` (T, B, N), ``first`` (B, N) -> (n, N).
    """
    out = dz[0].t() @ first
    if dz.shape[0] > 1:
        out = torch.addmm(out, dz[1:].reshape(-1, dz.shape[-1]).t(),
                          states[:-1].reshape(-1, states.shape[-1]))
    return out


def _threshold_grad(dz: torch.Tensor, sign: torch.Tensor, per_unit: bool) -> torch.Tensor:
    r""":math:`\partial L/\partial b = -\sum \delta z \odot \operatorname{sign}(h)` over time and
    batch (and units, for a scalar threshold): one pass (a dot product) when both are
    contiguous, else the product lands in a scratch buffer and is summed."""
    if not per_unit and dz.is_contiguous() and sign.is_contiguous():
        return -torch.dot(dz.view(-1), sign.view(-1))
    prod = torch.mul(dz, sign, out=_scratch("product", tuple(dz.shape), dz))
    return -(prod.sum((0, 1)) if per_unit else prod.sum())


# --------------------------------------------------------------------------------------------
# the SISTA-RNN
# --------------------------------------------------------------------------------------------

class SISTARecurrence(torch.autograd.Function):
    r"""The SISTA-RNN recurrence (both variants) with a hand-written backward through time.

    With ``n_blocks`` :math:`= W.\mathrm{shape}[0] / N` stacked blocks (1 when :math:`K = 1`,
    :math:`K` when every layer has its own :math:`W_k, V_k`, 2 when layers :math:`2..K` share
    block 2 as tied layers do), :math:`z^{(k)}_t` the pre-activation of layer :math:`k`:

    .. math::

        z_t^{(1)} &= W_1 r_{t-1} + V_1 x_t,\qquad
        z_t^{(k)} = W_k \hat h_{t-1} + V_k x_t + S_k h_t^{(k-1)},\quad k = 2..K,\\
        h_t^{(k)} &= \operatorname{soft}_{b_k}(z_t^{(k)}),\qquad \hat h_t = h_t^{(K)},

    with :math:`r_{t-1} = \hat h_{t-1}` (``variant="paper"``) or :math:`h_{t-1}^{(1)}`
    (``"released"``), all states starting at :math:`h_0`. Backward, with
    :math:`g_t = \partial L / \partial \hat h_t` given and :math:`\delta^{(k)}_t = \partial L /
    \partial z^{(k)}_t`, from :math:`t = T` down:

    .. math::

        \delta_t^{(K)} &= \big(g_t + \textstyle\sum_k W_k^T \delta_{t+1}^{(k)}\big)
        \odot [h_t^{(K)} \ne 0],\\
        \delta_t^{(k-1)} &= S_k^T \delta_t^{(k)} \odot [h_t^{(k-1)} \ne 0]

    (released: layer 1's own term :math:`W_1^T \delta^{(1)}_{t+1}` goes to
    :math:`\delta^{(1)}_t`, not to :math:`\hat h_t`). Then, each in one product over all steps,
    :math:`\partial L/\partial W_k = \sum_t \delta^{(k)}_t r_{t-1}^T`,
    :math:`\partial L/\partial V_k = \sum_t \delta^{(k)}_t x_t^T`,
    :math:`\partial L/\partial S_k = \sum_t \delta^{(k)}_t h_t^{(k-1)T}`,
    :math:`\partial L/\partial b_k = -\sum_t \operatorname{sign}(h_t^{(k)})^T \delta^{(k)}_t`.

    Use through :func:`sista_rnn_recurrence`, which checks the shapes.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, W: torch.Tensor, V: torch.Tensor, S: torch.Tensor,
                b: torch.Tensor, h0: torch.Tensor, n_layers: int, variant: str) -> torch.Tensor:
        T, B, M = x.shape
        N, K = h0.shape[-1], n_layers
        n_blocks = W.shape[0] // N
        released = variant == "released" and K > 1
        # V x_t for every step and block in one product, outside the loop
        XV = _scratch("xv", (T, B, n_blocks * N), x)
        torch.mm(x.reshape(T * B, M), V.t(), out=XV.view(T * B, n_blocks * N))
        layers = list(_recycled("layers", (K, T, B, N), x).unbind(0))
        outs = [h.unbind(0) for h in layers]
        soft = [_soft_writer(b[k]) for k in range(K)]
        ST = [S[k].t() for k in range(K - 1)]
        shared = n_blocks < K                  # tied: layers 2..K read block 2
        # The step's products accumulate in place into its V x_t blocks (a dead scratch row
        # after the step), so that the gemm adds to them with no bias copy; a block shared by
        # tied layers 2..K is copied for all but its last reader.
        tmp = _scratch("z_layer", (B, N), x)
        blocks = [XV[..., j * N:(j + 1) * N].unbind(0) for j in range(n_blocks)]
        block_of = [min(k, 1) if shared else k for k in range(K)]
        last_reader = {j: k for k, j in enumerate(block_of)}
        # layer k >= 2 reads zsrc[k][t] and writes S_k h + that into zdst[k][t]
        zsrc = [blocks[block_of[k]] for k in range(K)]
        zdst = [zsrc[k] if last_reader[block_of[k]] == k else [tmp] * T for k in range(K)]

        if not released:
            WT = W.t()
            hhat = h0
            for t, xv in enumerate(XV.unbind(0)):
                torch.addmm(xv, hhat, WT, out=xv)        # W_k hhat_{t-1} + V_k x_t, all k
                h = soft[0](blocks[0][t], outs[0][t])
                for k in range(1, K):
                    z = torch.addmm(zsrc[k][t], h, ST[k - 1], out=zdst[k][t])
                    h = soft[k](z, outs[k][t])
                hhat = h
        else:
            W1T, WrT = W[:N].t(), W[N:].t()
            XVr = XV[..., N:].unbind(0)
            h1, hhat = h0, h0
            for t in range(T):
                z1 = blocks[0][t]
                h1 = soft[0](torch.addmm(z1, h1, W1T, out=z1), outs[0][t])
                torch.addmm(XVr[t], hhat, WrT, out=XVr[t])   # W_k hhat_{t-1} + V_k x_t, k >= 2
                h = h1
                for k in range(1, K):
                    z = torch.addmm(zsrc[k][t], h, ST[k - 1], out=zdst[k][t])
                    h = soft[k](z, outs[k][t])
                hhat = h
        ctx.save_for_backward(x, W, V, S, h0, *layers)
        ctx.config = (K, n_blocks, released)
        return layers[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_top: torch.Tensor):
        x, W, V, S, h0, *layers = ctx.saved_tensors
        K, n_blocks, released = ctx.config
        T, B, M = x.shape
        N = h0.shape[-1]
        G = grad_top.contiguous()
        signs, masks = _active_sets(layers)
        shared = n_blocks < K
        # dZ: [delta^(1) | blocks 2..] per step, the left factor of the W and V products
        dZ = _scratch("dz", (T, B, n_blocks * N), x)
        dz_layer = [dZ[..., :N]]
        if shared:   # layers 2..K keep their own deltas; block 2 holds their sum
            dz_layer += list(_scratch("dz_own", (K - 1, T, B, N), x).unbind(0))
            block_sum = dZ[..., N:].unbind(0)
        else:
            dz_layer += [dZ[..., k * N:(k + 1) * N] for k in range(1, K)]
        dz_t = [d.unbind(0) for d in dz_layer]
        mask_t = [m.unbind(0) for m in masks]
        Gt, dZt = G.unbind(0), dZ.unbind(0)
        W1, Wr = W[:N], W[N:]
        dZrt = dZ[..., N:].unbind(0) if released else None
        # fixed buffers: each is read before it is written again within a step
        Sk = S.unbind(0)               # (indexing S inside the loop would cost a select)
        dh_buf = _scratch("dh", (B, N), x)
        carry_buf = _scratch("carry", (B, N), x)
        carry1_buf = _scratch("carry1", (B, N), x)

        carry = Gt[T - 1]              # dL/dhhat_t
        carry1 = None                  # released: dL/dh_t^(1) through W_1 from step t+1
        for t in range(T - 1, -1, -1):
            dh = carry
            for k in range(K - 1, 0, -1):
                dz = torch.mul(dh, mask_t[k][t], out=dz_t[k][t])
                if released and k == 1 and carry1 is not None:
                    # in place: carry1's buffer is rewritten later this step
                    dh = torch.addmm(carry1, dz, Sk[0], out=carry1)
                else:
                    dh = torch.mm(dz, Sk[k - 1], out=dh_buf)
            torch.mul(dh, mask_t[0][t], out=dz_t[0][t])
            if shared:
                if K == 3:
                    torch.add(dz_t[1][t], dz_t[2][t], out=block_sum[t])
                else:
                    torch.sum(torch.stack([dz_t[k][t] for k in range(1, K)]), 0,
                              out=block_sum[t])
            if t == 0:
                break
            if released:
                carry1 = torch.mm(dz_t[0][t], W1, out=carry1_buf)
                carry = torch.addmm(Gt[t - 1], dZrt[t], Wr, out=carry_buf)
            else:
                carry = torch.addmm(Gt[t - 1], dZt[t], W, out=carry_buf)
        needs = ctx.needs_input_grad
        dx = dW = dV = dS = db = dh0 = None
        dZf = dZ.view(T * B, n_blocks * N)
        if needs[0]:
            dx = (dZf @ V).reshape(T, B, M)
        if needs[1]:
            if released:
                dW = torch.cat([_prev_product(dZ[..., :N], layers[0], h0),
                                _prev_product(dZ[..., N:], layers[-1], h0)], 0)
            else:
                dW = _prev_product(dZ, layers[-1], h0)
        if needs[2]:
            dV = dZf.t() @ x.reshape(T * B, M)
        if needs[3] and K > 1:          # (K = 1: S is empty, its gradient None as in autograd)
            dS = torch.stack([dz_layer[k].reshape(T * B, N).t() @ layers[k - 1].reshape(T * B, N)
                              for k in range(1, K)])
        if needs[4]:
            db = torch.stack([_threshold_grad(dz_layer[k], signs[k], False) for k in range(K)])
        if needs[5]:
            dh0 = dZt[0] @ W       # both variants: every state starts at h0
        return dx, dW, dV, dS, db, dh0, None, None


def sista_rnn_recurrence(
    x: torch.Tensor,
    W: torch.Tensor,
    V: torch.Tensor,
    S: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor,
    *,
    n_layers: int,
    variant: str = "paper",
) -> torch.Tensor:
    r"""The codes :math:`\hat h_t = h_t^{(K)}` of a SISTA-RNN from its derived weights.

    .. math::

        h_t^{(1)} &= \operatorname{soft}_{b_1}\big(W_1 r_{t-1} + V_1 x_t\big),\\
        h_t^{(k)} &= \operatorname{soft}_{b_k}\big(W_k \hat h_{t-1} + S_k h_t^{(k-1)}
        + V_k x_t\big),\quad k = 2..K,

    :math:`r_{t-1} = \hat h_{t-1}` (paper) or :math:`h^{(1)}_{t-1}` (released), one
    :class:`SISTARecurrence` graph node (see it for the backward).

    Parameters
    ----------
    x : (T, B, M) tensor
        Time-major input :math:`x_t`.
    W : (n_blocks * N, N) tensor
        :math:`[W_1; W_2; \dots]` stacked by rows: ``n_blocks`` is 1 (:math:`K = 1`),
        :math:`K` (one block per layer) or 2 (layers :math:`2..K` share block 2, tied).
    V : (n_blocks * N, M) tensor
        The input weights, stacked like ``W``.
    S : (K - 1, N, N) tensor
        ``S[k-2]`` carries layer :math:`k-1` into layer :math:`k`.
    b : (K,) tensor
        One threshold per layer, of either sign.
    h0 : (B, N) tensor
        :math:`\hat h_0` (and :math:`h_0^{(1)}` in the released variant), possibly expanded.
    n_layers : int
        :math:`K`.
    variant : {"paper", "released"}

    Returns
    -------
    (T, B, N) tensor
        :math:`\hat h_t`; differentiable in every tensor argument.
    """
    if variant not in ("paper", "released"):
        raise ValueError(f"variant must be 'paper' or 'released', got {variant!r}")
    K = n_layers
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"n_layers must be an int >= 1, got {K!r}")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, M), got {tuple(x.shape)}")
    T, B, M = x.shape
    if h0.ndim != 2 or h0.shape[0] != B:
        raise ValueError(f"h0 must have shape ({B}, N), got {tuple(h0.shape)}")
    N = h0.shape[1]
    allowed = sorted({1 if K == 1 else 2, K})
    if W.ndim != 2 or W.shape[1] != N or W.shape[0] % N or W.shape[0] // N not in allowed:
        raise ValueError(f"W must have shape (n_blocks * {N}, {N}) with n_blocks in {allowed}, "
                         f"got {tuple(W.shape)}")
    if tuple(V.shape) != (W.shape[0], M):
        raise ValueError(f"V must have shape {(W.shape[0], M)}, got {tuple(V.shape)}")
    if tuple(S.shape) != (K - 1, N, N):
        raise ValueError(f"S must have shape {(K - 1, N, N)}, got {tuple(S.shape)}")
    if tuple(b.shape) != (K,):
        raise ValueError(f"b must have shape ({K},), got {tuple(b.shape)}")
    return SISTARecurrence.apply(x, W, V, S, b, h0, K, variant)


# --------------------------------------------------------------------------------------------
# the generic stacked RNN
# --------------------------------------------------------------------------------------------

class StackedRecurrence(torch.autograd.Function):
    r"""The generic stacked soft-threshold RNN with a hand-written backward through time.

    .. math::

        h_t^{(1)} &= \operatorname{soft}_{b_1}\big(W_1 h_{t-1}^{(1)} + V x_t\big),\\
        h_t^{(k)} &= \operatorname{soft}_{b_k}\big(W_k h_{t-1}^{(k)} + S_k h_t^{(k-1)}\big),

    per-unit thresholds :math:`b_k`, per-layer initial states :math:`h_0^{(k)}`. Backward,
    with :math:`g_t = \partial L/\partial h_t^{(K)}`:

    .. math::

        \delta_t^{(k)} = \big(W_k^T \delta_{t+1}^{(k)} + S_{k+1}^T \delta_t^{(k+1)}
        + [k = K]\, g_t\big) \odot [h_t^{(k)} \ne 0],

    then :math:`\partial L/\partial W_k = \sum_t \delta_t^{(k)} h_{t-1}^{(k)T}`,
    :math:`\partial L/\partial S_k = \sum_t \delta_t^{(k)} h_t^{(k-1)T}`,
    :math:`\partial L/\partial V = \sum_t \delta_t^{(1)} x_t^T`,
    :math:`\partial L/\partial b_k = -\sum_t \operatorname{sign}(h_t^{(k)}) \odot
    \delta_t^{(k)}`, each one product (or reduction) over all :math:`T B` rows.

    Use through :func:`stacked_rnn_recurrence`, which checks the shapes.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, V: torch.Tensor, W: torch.Tensor, S: torch.Tensor,
                b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        T, B, M = x.shape
        K, _, H = W.shape
        XV = _scratch("xv", (T, B, H), x)
        torch.mm(x.reshape(T * B, M), V.t(), out=XV.view(T * B, H))
        layers = list(_recycled("layers", (K, T, B, H), x).unbind(0))
        outs = [h.unbind(0) for h in layers]
        soft = [_soft_writer(b[k]) for k in range(K)]
        WT = [W[k].t() for k in range(K)]
        ST = [S[k].t() for k in range(K - 1)]
        rec = _scratch("z_layer", (B, H), x)
        state = list(h0.unbind(0))
        for t, xv in enumerate(XV.unbind(0)):
            # products accumulate in place (no bias copy) into buffers dead after the step
            h = soft[0](torch.addmm(xv, state[0], WT[0], out=xv), outs[0][t])
            state[0] = h
            for k in range(1, K):
                torch.mm(state[k], WT[k], out=rec)                   # W_k h_{t-1}^(k)
                h = soft[k](torch.addmm(rec, h, ST[k - 1], out=rec), outs[k][t])
                state[k] = h
        ctx.save_for_backward(x, V, W, S, h0, *layers)
        return layers[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_top: torch.Tensor):
        x, V, W, S, h0, *layers = ctx.saved_tensors
        T, B, M = x.shape
        K, _, H = W.shape
        G = grad_top.contiguous()
        signs, masks = _active_sets(layers)
        dZ = _scratch("dz", (K, T, B, H), x)
        dz_t = [d.unbind(0) for d in dZ.unbind(0)]
        mask_t = [m.unbind(0) for m in masks]
        Gt = G.unbind(0)
        Wk, Sk = W.unbind(0), S.unbind(0)
        dh_buf = _scratch("dh", (B, H), x)
        carry_bufs = _scratch("carry", (K, B, H), x).unbind(0)
        carry: list[torch.Tensor | None] = [None] * K     # W_k^T delta_{t+1}^(k)
        carry[K - 1] = Gt[T - 1]
        for t in range(T - 1, -1, -1):
            dh = carry[K - 1]
            for k in range(K - 1, -1, -1):
                dz = torch.mul(dh, mask_t[k][t], out=dz_t[k][t])
                if k > 0:
                    below = carry[k - 1]
                    # (a carry buffer is rewritten later this step: accumulate in place)
                    dh = (torch.mm(dz, Sk[k - 1], out=dh_buf) if below is None
                          else torch.addmm(below, dz, Sk[k - 1], out=below))
            if t == 0:
                break
            carry[K - 1] = torch.addmm(Gt[t - 1], dz_t[K - 1][t], Wk[K - 1],
                                       out=carry_bufs[K - 1])
            for k in range(K - 1):
                carry[k] = torch.mm(dz_t[k][t], Wk[k], out=carry_bufs[k])
        needs = ctx.needs_input_grad
        dx = dV = dW = dS = db = dh0 = None
        if needs[0]:
            dx = (dZ[0].view(T * B, H) @ V).reshape(T, B, M)
        if needs[1]:
            dV = dZ[0].view(T * B, H).t() @ x.reshape(T * B, M)
        if needs[2]:
            dW = torch.stack([_prev_product(dZ[k], layers[k], h0[k]) for k in range(K)])
        if needs[3] and K > 1:          # (K = 1: S is empty, its gradient None as in autograd)
            dS = torch.stack([dZ[k].view(T * B, H).t() @ layers[k - 1].view(T * B, H)
                              for k in range(1, K)])
        if needs[4]:
            db = torch.stack([_threshold_grad(dZ[k], signs[k], True) for k in range(K)])
        if needs[5]:
            dh0 = torch.bmm(dZ[:, 0], W)
        return dx, dV, dW, dS, db, dh0


def stacked_rnn_recurrence(
    x: torch.Tensor,
    V: torch.Tensor,
    W: torch.Tensor,
    S: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor,
) -> torch.Tensor:
    r"""The top-layer states :math:`h_t^{(K)}` of the generic stacked soft-threshold RNN.

    .. math::

        h_t^{(1)} &= \operatorname{soft}_{b_1}\big(W_1 h_{t-1}^{(1)} + V x_t\big),\\
        h_t^{(k)} &= \operatorname{soft}_{b_k}\big(W_k h_{t-1}^{(k)} + S_k h_t^{(k-1)}\big)
        \ \ (k \ge 2),

    one :class:`StackedRecurrence` graph node (see it for the backward).

    Parameters
    ----------
    x : (T, B, M) tensor
    V : (H, M) tensor
    W : (K, H, H) tensor
    S : (K - 1, H, H) tensor
    b : (K, H) tensor
        Per-unit thresholds, of either sign.
    h0 : (K, B, H) tensor
        Initial states :math:`h_0^{(k)}`, possibly expanded.

    Returns
    -------
    (T, B, H) tensor
        :math:`h_t^{(K)}`; differentiable in every argument.
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, M), got {tuple(x.shape)}")
    T, B, M = x.shape
    if W.ndim != 3 or W.shape[0] < 1 or W.shape[1] != W.shape[2]:
        raise ValueError(f"W must have shape (K, H, H) with K >= 1, got {tuple(W.shape)}")
    K, H = W.shape[0], W.shape[1]
    for name, value, shape in (("V", V, (H, M)), ("S", S, (K - 1, H, H)), ("b", b, (K, H)),
                               ("h0", h0, (K, B, H))):
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    return StackedRecurrence.apply(x, V, W, S, b, h0)


#: The two implementations of the recurrent models' forward pass (``implementation=``).
IMPLEMENTATIONS = ("fused", "reference")


def check_implementation(implementation: Any) -> str:
    """``implementation`` if it is one of :data:`IMPLEMENTATIONS`, else a ``ValueError``."""
    if not isinstance(implementation, str) or implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be 'fused' or 'reference', "
                         f"got {implementation!r}")
    return implementation
