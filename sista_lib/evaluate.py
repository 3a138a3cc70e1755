r"""Prediction and the paper's scoring protocol, for trained networks and unsupervised baselines.

:func:`predict` runs a model over a data set; :func:`evaluate` applies the paper's scoring to
its estimates (de-normalise, clip, 8-bit quantise, per-image MSE/PSNR/SSIM;
:func:`sista_lib.metrics.score_images`); :func:`evaluate_baselines` scores the unsupervised
baselines (untrained SISTA with :math:`K = 3`, SISTA to convergence, the per-column Lasso to
convergence) the same way. :func:`mean_loss` is the validation loss of
:func:`sista_lib.train.train`,

.. math::

    \mathcal L = \frac{1}{T n N}\sum_{t,i,n} \big(\hat y_{t,i,n} - y_{t,i,n}\big)^2 .
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._checks import check_positive_int

BASELINE_PROTOCOLS = ("book", "authors")
#: The methods :func:`evaluate_baselines` scores, by the keys of its result.
BASELINE_METHODS = ("sista_untrained", "sista_converged", "lasso_converged")

__all__ = [
    "predict",
    "mean_loss",
    "reconstruct_images",
    "evaluate",
    "evaluate_baselines",
    "BASELINE_METHODS",
]


# --------------------------------------------------------------------------------------------
# Batches of a map-style data set
# --------------------------------------------------------------------------------------------


def _default_collate():
    from .data import collate_time_major

    return collate_time_major


def _check_dataset(dataset: Any, name: str) -> int:
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(f"{name} must be a map-style dataset (with __len__ and __getitem__), "
                        f"got {type(dataset).__name__}")
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{name} is empty")
    return n


def _batches(dataset, indices: Sequence[int], batch_size: int, collate_fn, dtype, device=None):
    for start in range(0, len(indices), batch_size):
        idx = indices[start:start + batch_size]
        x, y = collate_fn([dataset[int(i)] for i in idx])
        yield x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device), len(idx)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()



@torch.no_grad()
def mean_loss(model: nn.Module, dataset, batch_size: int, collate_fn, dtype) -> float:
    """Mean squared error of ``model`` over ``dataset`` (``eval()`` mode, no gradient)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for x, y, _ in _batches(dataset, list(range(len(dataset))), batch_size, collate_fn, dtype,
                            _model_device(model)):
        total += float(((model(x) - y) ** 2).sum())
        count += y.numel()
    model.train(was_training)
    return total / count



# --------------------------------------------------------------------------------------------
# Prediction and the paper's scoring
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def predict(model: nn.Module, dataset: Any, batch_size: int = 256, *,
            collate_fn: Callable | None = None) -> torch.Tensor:
    r"""The model's estimates :math:`\hat y_t` for every sequence of ``dataset``, in order.

    Parameters
    ----------
    model : nn.Module
        Maps (T, B, M) to (T, B, N); run in ``eval()`` mode without gradients.
    dataset : map-style dataset of ``(x (T, M), y (T, N))`` pairs
    batch_size : int, default 256

    Returns
    -------
    (T, n, N) CPU tensor in the model's dtype (normalised units, like the targets).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    n = _check_dataset(dataset, "dataset")
    batch_size = check_positive_int(batch_size, "batch_size")
    collate_fn = _default_collate() if collate_fn is None else collate_fn
    dtype = _model_dtype(model)
    was_training = model.training
    model.eval()
    try:
        parts = [model(x).cpu() for x, _, _ in _batches(dataset, list(range(n)), batch_size,
                                                        collate_fn, dtype, _model_device(model))]
    finally:
        model.train(was_training)
    return torch.cat(parts, dim=1)


def _check_normalizer(normalizer: Any) -> None:
    from .data import Normalizer

    if not isinstance(normalizer, Normalizer):
        raise TypeError(f"normalizer must be the sista_lib.data.Normalizer fitted on the training "
                        f"images (scores are computed in the original intensity scale), got "
                        f"{type(normalizer).__name__}")


def _check_images(images: Any) -> np.ndarray:
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"images must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ValueError(f"images must have shape (n_images, H, W) with n_images >= 1, "
                         f"got {arr.shape}")
    return arr.astype(np.float64, copy=False)


def reconstruct_images(sequences: Any, normalizer: Any) -> np.ndarray:
    r"""Normalised estimates :math:`\hat y_t` ``(T, n, N)`` back to images ``(n, N, T)`` in the
    original intensity scale (the inverse of the paper's normalisation; not clipped)."""
    from .data import sequences_to_images

    seq = sequences.detach().cpu() if isinstance(sequences, torch.Tensor) else torch.as_tensor(
        np.asarray(sequences))
    return np.asarray(normalizer.inverse_transform(sequences_to_images(seq).double()).numpy())


def _score(images: np.ndarray, sequences: Any, normalizer: Any, return_estimates: bool,
           ssim_convention: str = "skimage"):
    from .metrics import score_images

    estimates = reconstruct_images(sequences, normalizer)
    scores = score_images(images, estimates, ssim_convention=ssim_convention)
    if return_estimates:
        scores["estimates"] = estimates
    return scores


def evaluate(
    model: nn.Module,
    images: Any,
    A: Any,
    normalizer: Any,
    *,
    batch_size: int = 256,
    ssim_convention: str = "skimage",
    return_estimates: bool = False,
) -> dict[str, np.ndarray]:
    r"""Score ``model`` on ``images`` with the paper's protocol.

    Each image (columns :math:`y_t`) is normalised, measured, :math:`x_t = A y_t`, and
    reconstructed by the model; the estimate is de-normalised and compared with the original by
    :func:`sista_lib.metrics.score_images` (clip to [0, 1], quantise to 8 bits, per-image MSE,
    PSNR with peak 255, SSIM).

    Parameters
    ----------
    model : nn.Module
    images : (n, H, W) array in [0, 1]
    A : (M, H) array
        The measurement matrix.
    normalizer : sista_lib.data.Normalizer
        Fitted on the training images.
    batch_size : int, default 256
    ssim_convention : {"skimage", "matlab"}, default "skimage"
        See :func:`sista_lib.metrics.ssim` (``"matlab"``: the authors' scoring).
    return_estimates : bool, default False
        Also return the de-normalised estimates (unclipped) under ``"estimates"``.

    Returns
    -------
    dict with ``"mse"``, ``"psnr"``, ``"ssim"``: (n,) arrays, one value per image.
    """
    from .data import CompressiveSensingDataset

    arr = _check_images(images)
    _check_normalizer(normalizer)
    dataset = CompressiveSensingDataset(arr, A, normalizer, dtype=_model_dtype(model))
    return _score(arr, predict(model, dataset, batch_size), normalizer, return_estimates,
                  ssim_convention)


def evaluate_baselines(
    images: Any,
    A: Any,
    D: Any,
    normalizer: Any,
    *,
    alpha: float = 1.0,
    lam1: float = 0.5,
    lam2: float = 1.0,
    n_iter: int = 3,
    tol: float = 1e-4,
    max_iter: int = 1000,
    lasso_tol: float = 1e-6,
    lasso_max_iter: int = 5000,
    lasso_chunk: int = 256,
    protocol: str = "book",
    ssim_convention: str = "skimage",
    return_estimates: bool = False,
) -> dict[str, dict[str, Any]]:
    r"""Score the unsupervised baselines on ``images``, the same way as :func:`evaluate`.

    All work on the normalised measurements :math:`x_t = A y_t` the networks see, with
    :math:`F = I` and :math:`\hat h_0 = 0`:

    - ``"sista_untrained"``: SISTA with exactly :math:`K` = ``n_iter`` iterations and the
      paper's initial parameters (:math:`\alpha = 1, \lambda_1 = 0.5, \lambda_2 = 1`): the
      untrained SISTA-RNN.
    - ``"sista_converged"``: SISTA iterated at each time step until the relative objective change
      is below ``tol`` (the paper's :math:`10^{-4}`), at most ``max_iter`` iterations, with the
      step :math:`1/\alpha`, :math:`\alpha = L = \lambda_{\max}(D^T(A^TA + \lambda_2 I)D)` (the
      objective then decreases monotonically; the minimiser does not depend on :math:`\alpha`).
    - ``"lasso_converged"``: the per-column Lasso :math:`\min_h \tfrac12\lVert x_t - A D h
      \rVert^2 + \lambda_1 \lVert h\rVert_1` (no temporal term) by FISTA, until every column's
      relative objective change is below ``lasso_tol`` (at most ``lasso_max_iter``), solved
      for ``lasso_chunk`` images at a time (their columns stop together).

    With ``protocol="authors"`` both SISTA baselines follow the authors' MATLAB script
    (``run_baselines_caltech256_v2.m``): the first column is a plain Lasso (no temporal term,
    ISTA from :math:`h = 0` with the same iteration budget), and SISTA to convergence keeps
    :math:`\alpha = 1` (below :math:`L \approx 1.96` but above :math:`L/2`, so each step still
    lowers the objective). The stopping test is applied to the whole batch at once here, so
    every column converges at least as far as the script's per-column test would take it.

    Parameters
    ----------
    images : (n, H, W) array in [0, 1]
    A : (M, H) array
    D : (N, N) array
    normalizer : sista_lib.data.Normalizer
    alpha, lam1, lam2 : float
        SISTA's parameters of the untrained baseline (the paper's initial values).
    n_iter : int, default 3
        :math:`K` of the untrained baseline.
    tol, max_iter : float, int
        Stopping rule of SISTA to convergence.
    lasso_tol, lasso_max_iter : float, int
        Stopping rule of the per-column Lasso.
    lasso_chunk : int, default 256
        Images whose columns one FISTA run solves together: the stopping test waits for the
        slowest column of the chunk (still at least as strict as a per-column test), and the
        objective history FISTA keeps is bounded by the chunk instead of the whole test set.
    protocol : {"book", "authors"}, default "book"
    ssim_convention : {"skimage", "matlab"}, default "skimage"
        See :func:`sista_lib.metrics.ssim`.
    return_estimates : bool, default False

    Returns
    -------
    dict: method name -> ``{"scores": {"mse", "psnr", "ssim"}, "n_iter": ..., ...}`` where the
    scores are (n,) arrays and the other entries describe the iterations used.
    """
    from .data import CompressiveSensingDataset
    from .sista import sista, sista_step_size
    from .sparse import fista, ista

    arr = _check_images(images)
    _check_normalizer(normalizer)
    At = torch.as_tensor(np.asarray(A, dtype=np.float64))
    Dt = torch.as_tensor(np.asarray(D, dtype=np.float64))
    F = torch.eye(Dt.shape[0], dtype=torch.float64)
    dataset = CompressiveSensingDataset(arr, At, normalizer, dtype=torch.float64)
    x = dataset.x.permute(1, 0, 2).contiguous()  # (T, n, M), time-major
    out: dict[str, dict[str, Any]] = {}

    if protocol not in BASELINE_PROTOCOLS:
        raise ValueError(f"protocol must be one of {BASELINE_PROTOCOLS}, got {protocol!r}")
    lasso_chunk = check_positive_int(lasso_chunk, "lasso_chunk")
    authors = protocol == "authors"

    def run_sista(a: float, **kw: Any):
        if not authors:
            return sista(x, At, Dt, F, a, lam1, lam2, **kw)
        # the authors' first column: a plain Lasso by ISTA from zero, same iteration budget
        budget = kw.get("max_iter", 0) if "tol" in kw else kw["n_iter"]
        h1, f1 = ista(At @ Dt, x[0], lam1, n_iter=budget, step=1.0 / a, tol=kw.get("tol"),
                      return_history=True)
        rest = sista(x[1:], At, Dt, F, a, lam1, lam2, h0=h1, **kw)
        if not kw.get("return_history"):
            return torch.cat([h1[None], rest])
        h, hist = rest
        counts = torch.cat([torch.full((1, *hist["n_iter"].shape[1:]), f1.shape[0] - 1,
                                       dtype=hist["n_iter"].dtype), hist["n_iter"]])
        return torch.cat([h1[None], h]), {"n_iter": counts}

    h = run_sista(alpha, n_iter=n_iter)
    out["sista_untrained"] = {
        "scores": _score(arr, h @ Dt.T, normalizer, return_estimates, ssim_convention),
        "n_iter": n_iter, "alpha": alpha, "lam1": lam1, "lam2": lam2, "protocol": protocol,
    }

    L = 1.0 if authors else sista_step_size(At, Dt, lam2)
    h, hist = run_sista(L, tol=tol, max_iter=max_iter, return_history=True)
    counts = hist["n_iter"].double()
    out["sista_converged"] = {
        "scores": _score(arr, h @ Dt.T, normalizer, return_estimates, ssim_convention),
        "iterations_mean": float(counts.mean()), "iterations_max": int(counts.max()),
        "tol": tol, "alpha": L, "lam1": lam1, "lam2": lam2,
    }

    pieces, counts = [], []
    for start in range(0, x.shape[1], lasso_chunk):
        h, hist = fista(At @ Dt, x[:, start:start + lasso_chunk], lam1, n_iter=lasso_max_iter,
                        tol=lasso_tol, return_history=True)
        pieces.append(h)
        counts.append(int(hist.shape[0] - 1))
        del hist
    h = torch.cat(pieces, dim=1)
    out["lasso_converged"] = {
        "scores": _score(arr, h @ Dt.T, normalizer, return_estimates, ssim_convention),
        "n_iter": max(counts), "n_iter_per_chunk": counts, "chunk_images": lasso_chunk,
        "tol": lasso_tol, "lam1": lam1,
    }
    return out
