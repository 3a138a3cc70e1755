r"""Image-quality metrics and the paper's scoring protocol.

``mse``, ``psnr`` and ``ssim`` work on images in any range given ``data_range``.
:func:`score_images` implements the paper's protocol: clip to [0, 1], quantise to 8 bits,
then per-image MSE, PSNR (peak 255) and SSIM against the equally processed original.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ._checks import check_scalar

__all__ = ["mse", "psnr", "ssim", "quantize_8bit", "score_images", "summarize"]


def _as_pair(reference: Any, estimate: Any, min_ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    ref = _as_numpy(reference, "reference")
    est = _as_numpy(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(
            f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}"
        )
    if ref.ndim < min_ndim:
        raise ValueError(f"reference must have at least {min_ndim} dimensions, got shape {ref.shape}")
    if ref.size == 0:
        raise ValueError(f"reference and estimate are empty (shape {ref.shape}): there is nothing "
                         f"to score")
    for name, arr in (("reference", ref), ("estimate", est)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return ref, est


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _axes(ndim: int, axis: Any) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple of ints) as a tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
    out = []
    for a in items:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for arrays of {ndim} dimensions "
                             f"(axis={axis!r})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis has repeated entries: {axis!r}")
    return tuple(out)


def mse(reference: Any, estimate: Any, axis: Any = None) -> np.ndarray | float:
    r"""Mean squared error :math:`\frac1n\sum_i (r_i - e_i)^2` over ``axis`` (all by default).

    Raises ValueError on arrays of different shapes, empty arrays, NaN/infinite values or a bad
    ``axis`` (TypeError for a non-integer one)."""
    ref, est = _as_pair(reference, estimate)
    out = np.mean((ref - est) ** 2, axis=_axes(ref.ndim, axis))
    return float(out) if np.ndim(out) == 0 else out


def psnr(reference: Any, estimate: Any, data_range: float = 1.0, axis: Any = None) -> np.ndarray | float:
    r"""Peak signal-to-noise ratio :math:`10\log_{10}(\text{data\_range}^2/\mathrm{MSE})` in dB.

    Parameters
    ----------
    reference, estimate : arrays of the same shape
    data_range : float, default 1.0
        The peak value (1 for images in [0, 1], 255 for 8-bit images).
    axis : int or tuple, optional
        Axes to average the squared error over (default: all, one number). Use
        ``axis=(-2, -1)`` for one PSNR per image of a stack.

    Returns
    -------
    float or ndarray. A perfect estimate gives ``inf``.
    """
    data_range = check_scalar(data_range, "data_range", positive=True)
    err = np.asarray(mse(reference, estimate, axis=axis))
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(data_range**2 / err)
    return float(out) if out.ndim == 0 else out


SSIM_CONVENTIONS = ("skimage", "matlab")


def _ssim_matlab(ref: np.ndarray, est: np.ndarray, data_range: float) -> np.ndarray:
    """MATLAB's ``ssim`` map, averaged over every pixel, for a stack (n, H, W)."""
    from scipy.ndimage import gaussian_filter

    # imgaussfilt(X, 1.5, 'FilterSize', 2*ceil(3*1.5)+1, 'Padding', 'replicate'): an 11 x 11
    # normalised Gaussian, edges replicated (scipy's "nearest"); truncate=3 gives radius 5.
    def blur(img: np.ndarray) -> np.ndarray:
        return gaussian_filter(img, sigma=1.5, mode="nearest", truncate=3.0, axes=(-2, -1))

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_r, mu_e = blur(ref), blur(est)
    var_r = blur(ref * ref) - mu_r ** 2
    var_e = blur(est * est) - mu_e ** 2
    cov = blur(ref * est) - mu_r * mu_e
    ssim_map = ((2 * mu_r * mu_e + c1) * (2 * cov + c2)) / (
        (mu_r ** 2 + mu_e ** 2 + c1) * (var_r + var_e + c2))
    return ssim_map.mean(axis=(-2, -1))


def ssim(reference: Any, estimate: Any, data_range: float = 1.0, *,
         convention: str = "skimage") -> np.ndarray | float:
    r"""Structural similarity (Wang et al. 2004) of 2-D images, batched over leading axes.

    .. math::

        \operatorname{SSIM}(r, e) = \operatorname{mean}_{p}
        \frac{(2\mu_r\mu_e + C_1)(2\sigma_{re} + C_2)}
             {(\mu_r^2 + \mu_e^2 + C_1)(\sigma_r^2 + \sigma_e^2 + C_2)},

    with local means, variances and covariance under a Gaussian window of
    :math:`\sigma = 1.5` (population moments), :math:`C_1 = (0.01\,R)^2`,
    :math:`C_2 = (0.03\,R)^2` and :math:`R` = ``data_range``. The two conventions differ only
    at the border:

    - ``"skimage"``: :func:`skimage.metrics.structural_similarity` (reflected edges; the map's
      5-pixel border is dropped before averaging);
    - ``"matlab"``: MATLAB's ``ssim`` with its defaults, which the authors scored with (an
      :math:`11 \times 11` window, replicated edges, the mean of the *whole* map).

    Parameters
    ----------
    reference, estimate : arrays of shape (..., H, W)
    data_range : float, default 1.0
    convention : {"skimage", "matlab"}, default "skimage"

    Returns
    -------
    float for a single image, else an ndarray of shape ``(...)``.
    """
    from skimage.metrics import structural_similarity

    data_range = check_scalar(data_range, "data_range", positive=True)
    if not isinstance(convention, str) or convention not in SSIM_CONVENTIONS:
        raise ValueError(f"convention must be one of {SSIM_CONVENTIONS}, got {convention!r}")
    ref, est = _as_pair(reference, estimate, min_ndim=2)
    if min(ref.shape[-2:]) < 7:
        raise ValueError(f"ssim needs images of at least 7x7 pixels, got {ref.shape[-2:]}")
    flat_ref = ref.reshape(-1, *ref.shape[-2:]).astype(np.float64, copy=False)
    flat_est = est.reshape(-1, *est.shape[-2:]).astype(np.float64, copy=False)
    if convention == "matlab":
        values = _ssim_matlab(flat_ref, flat_est, data_range)
    else:
        values = np.array([
            structural_similarity(
                r, e, data_range=data_range, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False,
            )
            for r, e in zip(flat_ref, flat_est)
        ])
    return float(values[0]) if ref.ndim == 2 else values.reshape(ref.shape[:-2])


def quantize_8bit(images: Any) -> np.ndarray:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit image; returns float64 in [0, 255]."""
    arr = _as_numpy(images, "images")
    if arr.size == 0:
        raise ValueError(f"images is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError("images contains NaN or infinite values")
    return np.round(np.clip(arr, 0.0, 1.0) * 255.0)


def score_images(reference: Any, estimate: Any, *,
                 ssim_convention: str = "skimage") -> dict[str, np.ndarray]:
    r"""The paper's scoring protocol, per image.

    Both stacks are in the original intensity scale (de-normalised, nominally [0, 1]). Each is
    clipped to [0, 1] and quantised to 8 bits (:func:`quantize_8bit`); then, per image,
    MSE (in 8-bit units), PSNR with peak 255 and SSIM are computed.

    Parameters
    ----------
    reference, estimate : arrays of shape (n_images, H, W) or (H, W)
    ssim_convention : {"skimage", "matlab"}, default "skimage"
        Border convention of :func:`ssim` (``"matlab"``: the authors' scoring).

    Returns
    -------
    dict with keys ``"mse"``, ``"psnr"``, ``"ssim"``, each an ndarray of shape (n_images,).
    """
    ref, est = _as_pair(reference, estimate, min_ndim=2)
    if ref.ndim == 2:
        ref, est = ref[None], est[None]
    if ref.ndim != 3:
        raise ValueError(f"reference must have shape (n_images, H, W) or (H, W), got {ref.shape}")
    ref8, est8 = quantize_8bit(ref), quantize_8bit(est)
    return {
        "mse": np.atleast_1d(mse(ref8, est8, axis=(-2, -1))),
        "psnr": np.atleast_1d(psnr(ref8, est8, data_range=255.0, axis=(-2, -1))),
        "ssim": np.atleast_1d(ssim(ref8, est8, data_range=255.0,
                                    convention=ssim_convention)),
    }


def summarize(scores: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof=0) of each per-image score array.

    Raises ValueError on an empty score array or one holding NaN (an infinite PSNR, from a
    perfect estimate, is kept: its mean is infinite)."""
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must be a dict of score arrays, got {type(scores).__name__}")
    out = {}
    for k, v in scores.items():
        arr = _as_numpy(v, f"scores[{k!r}]")
        if arr.size == 0:
            raise ValueError(f"scores[{k!r}] is empty: there is nothing to summarise")
        if np.isnan(arr).any():
            raise ValueError(f"scores[{k!r}] contains NaN")
        with np.errstate(invalid="ignore"):  # the std of values with an inf among them: NaN
            out[k] = {"mean": float(np.mean(arr)), "std": float(np.std(arr)), "n": int(arr.size)}
    return out
