r"""Files that must never be half-written: atomic writes, safetensors parameters and resumable
training checkpoints.

Every file is written to a temporary file in the destination folder, flushed, ``fsync``-ed and
renamed over the target (:func:`atomic_write_bytes`), so a crash leaves either the old file or
the new one. Tensors are stored as safetensors (no pickle: loading a file never executes code);
what is not a tensor (losses, configuration, optimiser hyper-parameters, RNG states) travels as
JSON in the safetensors header.

- :func:`save_parameters` / :func:`load_parameters`: a model's parameters plus metadata.
- :func:`save_checkpoint` / :func:`load_checkpoint`: everything :func:`sista_lib.train.train`
  needs to resume a run exactly (model, best state, optimiser state, RNG states, history).
"""

from __future__ import annotations

import json
import os
import random
import struct
import tempfile
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "jsonable",
    "save_parameters",
    "load_parameters",
    "save_checkpoint",
    "load_checkpoint",
    "restore_rng_state",
]

# The format strings predate this module (files written by earlier versions keep loading).
CHECKPOINT_FORMAT = "sista_lib.train.checkpoint/1"
PARAMETERS_FORMAT = "sista_lib.train.parameters/1"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``. If anything fails, ``path`` keeps its previous content (or stays absent)
    and the temporary file is removed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(x: Any) -> Any:
    """Tensors/arrays to (nested) lists, NumPy scalars to Python numbers, recursively."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.item() if x.numel() == 1 and x.ndim == 0 else x.tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def _read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file (one read; no code execution)."""
    from safetensors.torch import load as st_load

    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{os.fspath(path)!r} is not a safetensors file (too short)")
    (n_header,) = struct.unpack("<Q", blob[:8])
    if n_header > len(blob) - 8:
        raise ValueError(f"{os.fspath(path)!r} is not a valid safetensors file (bad header)")
    try:
        header = json.loads(blob[8:8 + n_header])
        tensors = st_load(blob)
    except Exception as exc:  # corrupt or foreign file
        raise ValueError(f"{os.fspath(path)!r} is not a valid safetensors file: {exc}") from exc
    return tensors, dict(header.get("__metadata__") or {})


def _safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    from safetensors.torch import save as st_save

    # clone: safetensors refuses tensors sharing memory (tied weights, views)
    flat = {k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}
    return st_save(flat, metadata=dict(metadata))


def save_parameters(path: str | os.PathLike, state: nn.Module | Mapping[str, torch.Tensor],
                    metadata: Mapping[str, Any] | None = None) -> None:
    """Save a model's parameters (or a state dict) as a safetensors file, atomically.

    ``metadata`` (JSON-serialisable) is stored in the file's header and returned by
    :func:`load_parameters`.
    """
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be an nn.Module or a state dict, got {type(state).__name__}")
    meta = {"format": PARAMETERS_FORMAT, "json": json.dumps(jsonable(metadata or {}))}
    atomic_write_bytes(path, _safetensors_bytes(state, meta))


def load_parameters(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of :func:`save_parameters`: ``(state_dict, metadata)``; no pickle involved."""
    tensors, meta = _read_safetensors(path)
    if meta.get("format") != PARAMETERS_FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a sista_lib parameters file")
    return tensors, json.loads(meta.get("json", "{}"))


def _optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"optim/{idx}/{key}"] = val
            else:
                scalars[f"{idx}/{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_flat(tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        _, idx, key = name.split("/", 2)
        state.setdefault(int(idx), {})[key] = val
    for name, val in info["scalars"].items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": info["param_groups"]}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return (
        {"rng/torch": torch.get_rng_state()},
        {
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                      float(np_state[4])],
            "python": [py_state[0], list(py_state[1]), py_state[2]],
        },
    )


def restore_rng_state(tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> None:
    """Restore torch's, NumPy's and Python's global RNG states from ``load_checkpoint(...)["rng"]``."""
    torch.set_rng_state(tensors["rng/torch"])
    n = info["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = info["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    best_state: Mapping[str, torch.Tensor],
    history: Mapping[str, Any],
) -> None:
    """Write a resumable training checkpoint: one safetensors file, atomically.

    Tensors: the model's state, the best state, the optimiser's state tensors and torch's RNG
    state. The header's metadata holds, as JSON, ``history`` (losses, epoch, best epoch,
    config...), the optimiser's hyper-parameters and the NumPy/Python RNG states.
    """
    tensors: dict[str, torch.Tensor] = {}
    tensors.update({f"model/{k}": v for k, v in model.state_dict().items()})
    tensors.update({f"best/{k}": v for k, v in best_state.items()})
    opt_tensors, opt_info = _optimizer_to_flat(optimizer)
    tensors.update(opt_tensors)
    rng_tensors, rng_info = _rng_state()
    tensors.update(rng_tensors)
    payload = {"history": jsonable(history), "optimizer": jsonable(opt_info), "rng": rng_info}
    meta = {"format": CHECKPOINT_FORMAT, "json": json.dumps(payload)}
    atomic_write_bytes(path, _safetensors_bytes(tensors, meta))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (safetensors + JSON; no pickle).

    Returns
    -------
    dict with keys ``"model"`` and ``"best"`` (state dicts), ``"optimizer"`` (an optimiser
    state dict), ``"history"`` (dict) and ``"rng"`` (what :func:`sista_lib.train.train` restores with
    :func:`restore_rng_state`).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a sista_lib training checkpoint.
    """
    tensors, meta = _read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a sista_lib training checkpoint")
    payload = json.loads(meta["json"])
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "best": {}, "optim": {}, "rng": {}}
    for name, val in tensors.items():
        head, _, rest = name.partition("/")
        if head in ("model", "best"):
            groups[head][rest] = val
        else:
            groups["optim" if head == "optim" else "rng"][name] = val
    return {
        "model": groups["model"],
        "best": groups["best"],
        "optimizer": _optimizer_from_flat(groups["optim"], payload["optimizer"]),
        "history": payload["history"],
        "rng": (groups["rng"], payload["rng"]),
    }
