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
    """True when ``x`` is a NumPy array or a NumPy scalar (the caller wants NumPy back)."""
    return isinstance(x, (np.ndarray, np.generic))


def _is_python_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def to_torch(x: Any, name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert ``x`` (ndarray, tensor or Python number) to a real floating tensor.

    Integer and boolean input becomes float64 (NumPy's default float); float16/bfloat16 (and
    NumPy's extended ``longdouble``) are refused rather than silently cast, and complex input is
    refused. The shape is kept exactly (a 0-d array or a NumPy scalar gives a 0-d tensor); NumPy
    input is shared, not copied, unless it is not C-contiguous or not in native byte order.

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
        if arr.dtype.kind == "f" and arr.dtype.itemsize not in (4, 8):
            raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if not arr.flags.c_contiguous:
            # np.ascontiguousarray would turn a 0-d array into shape (1,)
            arr = np.array(arr, order="C")
        t = torch.from_numpy(arr)
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
    """Return ``result`` in the kind of ``reference``.

    A NumPy array gives a NumPy array (0-d stays 0-d); a NumPy scalar or a Python number gives
    a NumPy scalar when ``result`` is 0-d (else an array); a tensor gives the tensor.
    """
    if isinstance(reference, np.ndarray):
        return result.detach().cpu().numpy()
    if isinstance(reference, np.generic) or _is_python_number(reference):
        arr = result.detach().cpu().numpy()
        return arr[()] if arr.ndim == 0 else arr
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
    dtype: torch.dtype | None = None,
) -> float:
    """Validate a real, finite scalar and return it as a Python float.

    Tensors of one element are accepted (their value is read, so no gradient flows through
    the returned float: use tensors directly where gradients matter).

    With ``dtype`` (the floating dtype the value will be computed in), the value must also
    survive the cast: a value that overflows to infinity, or a non-zero value below the
    smallest normal number of that dtype (which would flush towards 0), is refused.
    """
    if isinstance(value, (torch.Tensor, np.ndarray)):
        n_elements = value.size if isinstance(value, np.ndarray) else value.numel()
        if n_elements != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}")
        value = float(value.reshape(()).item())
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float64's range
        raise ValueError(f"{name} must be finite, got an integer too large for a float "
                         f"({_describe(value)})") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if dtype is not None:
        check_representable(value, name, dtype)
    return value


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).replace("torch.", "")


def check_representable(value: float, name: str, dtype: torch.dtype) -> None:
    """Raise ValueError when the finite float ``value`` does not survive a cast to ``dtype``:
    it overflows to infinity, or is non-zero but below the dtype's smallest normal number."""
    if not dtype.is_floating_point:
        return
    info = torch.finfo(dtype)
    magnitude = abs(value)
    if magnitude > info.max:
        raise ValueError(
            f"{name}={value:.4g} overflows {dtype_name(dtype)} (the working dtype; largest "
            f"finite value {info.max:.4g}): use float64 inputs or a smaller {name}"
        )
    if 0 < magnitude < info.tiny:
        raise ValueError(
            f"{name}={value:.4g} underflows in {dtype_name(dtype)} (the working dtype; smallest "
            f"normal value {info.tiny:.4g}): use float64 inputs, 0, or a larger {name}"
        )


def check_bool(value: Any, name: str) -> bool:
    """Validate a flag: ``True``/``False`` (or a NumPy bool); strings and numbers are refused,
    so that ``polish="no"`` is not silently taken as true."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be a bool (True or False), got {_describe(value)}")


def check_seed(value: Any, name: str = "seed", *, below: int | None = None) -> int:
    """Validate a random seed: an integer >= 0 (``numpy.random.default_rng`` refuses negative
    seeds), and < ``below`` when given (``numpy.random.RandomState`` needs < 2**32)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    if value < 0 or (below is not None and value >= below):
        want = ">= 0" if below is None else f"in [0, {below})"
        raise ValueError(f"{name} must be an integer {want}, got {value}")
    return int(value)


def _describe(value: Any) -> str:
    """``type value`` for an error message, the value's repr shortened."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


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
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)
