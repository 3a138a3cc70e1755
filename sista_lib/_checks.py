"""Argument checking and NumPy/torch interoperability shared by every module.

Every public function of :mod:`sista_lib` accepts NumPy arrays or torch tensors and returns the
kind it was given. Internally the computation runs in torch (so one code path serves both and
autograd works), and :func:`to_torch` / :func:`like` convert at the boundary.
"""

from __future__ import annotations

import math
from typing import Any, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

_FLOAT_TYPES = (torch.float32, torch.float64)


def is_numpy(x: Any) -> bool:
    """True when ``x`` is a NumPy array (the caller wants NumPy back)."""
    return isinstance(x, np.ndarray)


def to_torch(x: Any, name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert ``x`` (ndarray, tensor or Python number) to a real floating tensor.

    Integer and boolean input becomes float64 (NumPy's default float); float16/bfloat16 are
    refused rather than silently up-cast, and complex input is refused.

    Raises
    ------
    TypeError
        If ``x`` is not numeric, or is complex.
    """
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, (np.ndarray, np.generic, int, float)) and not isinstance(x, bool):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        raise TypeError(
            f"{name} must be a NumPy array or a torch tensor, got {type(x).__name__}"
        )
    if t.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {t.dtype}")
    if dtype is not None:
        return t.to(dtype)
    if t.dtype in _FLOAT_TYPES:
        return t
    if t.is_floating_point():
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    return t.to(torch.float64)


def common_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The floating dtype that keeps every input's precision (float64 wins)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def like(result: torch.Tensor, reference: Any) -> ArrayLike:
    """Return ``result`` as a NumPy array when ``reference`` was one, else as a tensor."""
    if is_numpy(reference):
        return result.detach().cpu().numpy()
    return result


def check_ndim(t: torch.Tensor, name: str, ndim: int | tuple[int, ...]) -> None:
    """Raise ValueError unless ``t.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if t.ndim not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(t.shape)}")


def check_min_ndim(t: torch.Tensor, name: str, ndim: int) -> None:
    """Raise ValueError when ``t`` has fewer than ``ndim`` dimensions."""
    if t.ndim < ndim:
        raise ValueError(
            f"{name} must have at least {ndim} dimension(s), got shape {tuple(t.shape)}"
        )


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ValueError if ``t`` holds NaN or infinity."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def check_scalar(
    value: Any,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
    """Validate a real, finite scalar and return it as a Python float.

    Tensors of one element are accepted (their value is read, so no gradient flows through
    the returned float: use tensors directly where gradients matter).
    """
    if isinstance(value, (torch.Tensor, np.ndarray)):
        n_elements = value.size if isinstance(value, np.ndarray) else value.numel()
        if n_elements != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}")
        value = float(value.reshape(()).item())
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def dataclass_from_dict(cls: type, d: Any) -> Any:
    """Build dataclass ``cls`` from a mapping, refusing keys that are not fields of it."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
    return cls(**dict(d))


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Validate an integer >= ``minimum`` (booleans are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)
