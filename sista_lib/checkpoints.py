r"""Files that must never be half-written: atomic writes, safetensors parameters and resumable
training checkpoints.

Every file is written to a temporary file in the destination folder, flushed, ``fsync``-ed and
renamed over the target, and the folder is ``fsync``-ed after the rename
(:func:`atomic_write_bytes`), so a crash leaves either the old file or the new one. Temporary
files left by a writer that was killed (``.NAME.xxxxxxxx.tmp``) are removed by the next
successful write to the same path. Tensors are stored as safetensors (no pickle: loading a
file never executes code); what is not a tensor (losses, configuration, optimiser
hyper-parameters, RNG states) travels as JSON in the safetensors header.

Integrity: the header's metadata also holds ``sha256``, the SHA-256 of the payload (every
tensor's name, dtype, shape and bytes, in name order, then the JSON metadata), checked on
load: a flipped byte raises ValueError naming the file. Files written before the field
existed (the format strings are unchanged) still load, unchecked.

- :func:`save_parameters` / :func:`load_parameters`: a model's parameters plus metadata.
- :func:`save_checkpoint` / :func:`load_checkpoint`: everything :func:`sista_lib.train.train`
  needs to resume a run exactly (model, best state, optimiser state, RNG states, history).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import struct
import tempfile
import time
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
#: The metadata fields of a sista_lib safetensors file (``sha256`` is absent from older files).
_META_FIELDS = frozenset({"format", "json", "sha256"})

#: A temporary file is removed as stale only when no writer holds its lock and it is older than
#: this many seconds (the lock is taken just after the file is created: the age closes that gap).
_STALE_AFTER_S = 10.0
#: Where locks cannot be taken (no ``fcntl``, or a file system without them): age alone decides.
_STALE_UNLOCKED_AFTER_S = 3600.0


def _check_path(path: Any, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{name} must be a non-empty path, got {path!r}")
    return path


def _lock(fd: int) -> bool:
    """Take an exclusive advisory lock on ``fd`` (released when it is closed or the process
    dies); False where locks are unavailable."""
    try:
        import fcntl
    except ImportError:  # Windows
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _temporary_pattern(base: str) -> re.Pattern[str]:
    # tempfile.mkstemp(prefix=".BASE.", suffix=".tmp") names: 8 characters of [a-z0-9_]
    return re.compile(r"\." + re.escape(base) + r"\.[a-z0-9_]{8}\.tmp")


def _remove_stale_temporaries(folder: str, base: str) -> list[str]:
    """Remove the ``.BASE.xxxxxxxx.tmp`` files of ``folder`` that a killed writer left: no live
    writer holds their lock, and they are older than :data:`_STALE_AFTER_S`. Best effort (never
    raises); returns the paths removed."""
    pattern = _temporary_pattern(base)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not pattern.fullmatch(name):
            continue
        tmp = os.path.join(folder, name)
        try:
            age = now - os.stat(tmp).st_mtime
            if age < _STALE_AFTER_S:
                continue
            fd = os.open(tmp, os.O_RDONLY)
            try:
                if not _lock(fd) and age < _STALE_UNLOCKED_AFTER_S:
                    continue  # a live writer holds it, or locks are unavailable and it is recent
                os.unlink(tmp)
                removed.append(tmp)
            finally:
                os.close(fd)
        except OSError:
            continue
    return removed


def _fsync_folder(folder: str) -> None:
    """``fsync`` a folder, so that a rename in it survives a power loss (POSIX only)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a folder
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file ``.NAME.xxxxxxxx.tmp`` in the
    same folder (flushed and ``fsync``-ed), ``os.replace`` over ``path``, then an ``fsync`` of
    the folder. If anything fails, ``path`` keeps its previous content (or stays absent) and
    the temporary file is removed. After a successful write, temporary files of ``path`` that
    a killed writer left behind are removed (those no live writer holds, older than 10 s)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    path = _check_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"path {path!r} is a folder; expected a file path")
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # held until closed: tells the clean-up of other writers that this file is live
            locked = _lock(f.fileno())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
            if locked:
                os.replace(tmp, path)
        if not locked:  # (Windows cannot rename an open file)
            os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _remove_stale_temporaries(folder, base)


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


def _payload_sha256(tensors: Mapping[str, torch.Tensor], json_text: str) -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes (in name order), then of the JSON
    metadata: what the ``sha256`` metadata field holds."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode("utf-8") + b"\n")
        flat = t.detach().cpu().contiguous().reshape(-1)
        if flat.numel():
            digest.update(flat.view(torch.uint8).numpy())
    digest.update(b"json\n" + json_text.encode("utf-8"))
    return digest.hexdigest()


def _read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file (one read; no code execution).

    Raises ValueError naming the file when it is not a valid safetensors file."""
    from safetensors.torch import load as st_load

    path = _check_path(path)
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path!r} is not a safetensors file (too short)")
    (n_header,) = struct.unpack("<Q", blob[:8])
    if n_header > len(blob) - 8:
        raise ValueError(f"{path!r} is not a valid safetensors file (bad header)")
    try:
        header = json.loads(blob[8:8 + n_header])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r} is not a valid safetensors file: its header is not valid "
                         f"JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path!r} is not a valid safetensors file: its header is not a JSON "
                         f"object")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f"{path!r} is not a valid safetensors file: its '__metadata__' is not "
                         f"a mapping of strings")
    try:
        tensors = st_load(blob)
    except Exception as exc:  # corrupt or foreign file
        raise ValueError(f"{path!r} is not a valid safetensors file: {exc}") from exc
    return tensors, dict(meta)


def _read_sista_file(path: str | os.PathLike, fmt: str, what: str
                     ) -> tuple[dict[str, torch.Tensor], Any]:
    """Read a file written by this module: check its format and its ``sha256`` (when present),
    and parse its JSON metadata. Returns ``(tensors, metadata)``; every failure is a ValueError
    naming the file and the field."""
    path = _check_path(path)
    tensors, meta = _read_safetensors(path)
    if meta.get("format") != fmt:
        found = f"format {meta['format']!r}" if "format" in meta else "no 'format' field"
        raise ValueError(f"{path!r} is not a sista_lib {what} (its metadata has {found}, "
                         f"expected {fmt!r})")
    unknown = set(meta) - _META_FIELDS
    if unknown:
        raise ValueError(f"{path!r}: unexpected metadata field(s) {sorted(unknown)} (expected "
                         f"{sorted(_META_FIELDS)}): the file is corrupt")
    if "json" not in meta:
        raise ValueError(f"{path!r}: the metadata field 'json' is missing: the file is corrupt")
    if "sha256" in meta:
        computed = _payload_sha256(tensors, meta["json"])
        if computed != meta["sha256"]:
            raise ValueError(
                f"{path!r} is corrupt: the SHA-256 of its tensors and metadata is {computed}, "
                f"but the file's metadata field 'sha256' says {meta['sha256']!r}"
            )
    try:
        payload = json.loads(meta["json"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r}: the metadata field 'json' is not valid JSON ({exc})") from exc
    return tensors, payload


def _field(container: Any, key: str, where: str, path: str, kind: type | tuple[type, ...]) -> Any:
    """``container[key]``, which must exist and be of ``kind``; else a ValueError naming the
    file and the field (``where`` is the field's parent, e.g. ``"json['optimizer']"``)."""
    if not isinstance(container, Mapping):
        raise ValueError(f"{path!r}: the field {where} must be a JSON object, got "
                         f"{type(container).__name__}")
    if key not in container:
        raise ValueError(f"{path!r}: the field {where}[{key!r}] is missing")
    value = container[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{path!r}: the field {where}[{key!r}] must be a {names}, got "
                         f"{type(value).__name__}")
    return value


def _safetensors_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    """The safetensors file of ``tensors`` and ``metadata``; with a ``json`` field, the
    ``sha256`` of the payload is added."""
    from safetensors.torch import save as st_save

    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"tensor names must be str, got {key!r}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{key!r} must be a torch tensor, got {type(value).__name__}")
    # clone: safetensors refuses tensors sharing memory (tied weights, views)
    flat = {k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}
    meta = dict(metadata)
    if "json" in meta:
        meta["sha256"] = _payload_sha256(flat, meta["json"])
    return st_save(flat, metadata=meta)


def _json_text(value: Any, name: str) -> str:
    try:
        return json.dumps(jsonable(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be JSON-serialisable: {exc}") from exc


def save_parameters(path: str | os.PathLike, state: nn.Module | Mapping[str, torch.Tensor],
                    metadata: Mapping[str, Any] | None = None) -> None:
    """Save a model's parameters (or a state dict) as a safetensors file, atomically.

    ``metadata`` (JSON-serialisable) is stored in the file's header and returned by
    :func:`load_parameters`, with the ``sha256`` of the whole payload.
    """
    path = _check_path(path)
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be an nn.Module or a state dict, got {type(state).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    meta = {"format": PARAMETERS_FORMAT, "json": _json_text(metadata or {}, "metadata")}
    atomic_write_bytes(path, _safetensors_bytes(state, meta))


def load_parameters(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of :func:`save_parameters`: ``(state_dict, metadata)``; no pickle involved.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the file: not a safetensors file, not a sista_lib parameters file, a ``sha256``
        mismatch (a corrupt file), or metadata that is missing or not valid JSON.
    """
    path = _check_path(path)
    tensors, payload = _read_sista_file(path, PARAMETERS_FORMAT, "parameters file")
    if not isinstance(payload, dict):
        raise ValueError(f"{path!r}: the metadata field 'json' must hold a JSON object, got "
                         f"{type(payload).__name__}")
    return tensors, payload


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


def _optimizer_from_flat(tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any],
                         path: str = "<checkpoint>") -> dict:
    where = "json['optimizer']"
    groups = _field(info, "param_groups", where, path, list)
    scalars = _field(info, "scalars", where, path, dict)
    state: dict[int, dict[str, Any]] = {}

    def index(name: str, what: str) -> tuple[int, str]:
        idx, sep, key = name.partition("/")
        if not sep or not key or not idx.isdigit():
            raise ValueError(f"{path!r}: {what} {name!r} is not named 'INDEX/KEY'")
        return int(idx), key

    for name, val in tensors.items():
        idx, key = index(name.partition("/")[2], "the optimiser tensor")
        state.setdefault(idx, {})[key] = val
    for name, val in scalars.items():
        idx, key = index(name, f"the field {where}['scalars'] entry")
        state.setdefault(idx, {})[key] = val
    return {"state": state, "param_groups": groups}


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
    """Restore torch's, NumPy's and Python's global RNG states from ``load_checkpoint(...)["rng"]``.

    Every state is checked before any is restored: a bad one raises ValueError naming it and
    leaves all three generators as they were."""
    if not isinstance(tensors, Mapping) or not isinstance(tensors.get("rng/torch"), torch.Tensor):
        raise ValueError("the RNG state has no tensor 'rng/torch' (torch's generator state)")
    if not isinstance(info, Mapping):
        raise ValueError(f"the RNG state info must be a dict, got {type(info).__name__}")
    n, p = info.get("numpy"), info.get("python")
    if not (isinstance(n, (list, tuple)) and len(n) == 5):
        raise ValueError(f"the RNG state field 'numpy' must be a list of 5 items, got {n!r:.60}")
    if not (isinstance(p, (list, tuple)) and len(p) == 3):
        raise ValueError(f"the RNG state field 'python' must be a list of 3 items, got {p!r:.60}")
    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        torch.set_rng_state(tensors["rng/torch"])
        np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
        random.setstate((p[0], tuple(p[1]), p[2]))
    except Exception as exc:  # noqa: BLE001 - a malformed state, whatever the generator says
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])
        raise ValueError(f"the RNG state cannot be restored: {exc}") from exc


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
    config...), the optimiser's hyper-parameters and the NumPy/Python RNG states, with the
    ``sha256`` of the whole payload.
    """
    path = _check_path(path)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    if not isinstance(best_state, Mapping):
        raise TypeError(f"best_state must be a state dict, got {type(best_state).__name__}")
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict, got {type(history).__name__}")
    tensors: dict[str, torch.Tensor] = {}
    tensors.update({f"model/{k}": v for k, v in model.state_dict().items()})
    tensors.update({f"best/{k}": v for k, v in best_state.items()})
    opt_tensors, opt_info = _optimizer_to_flat(optimizer)
    tensors.update(opt_tensors)
    rng_tensors, rng_info = _rng_state()
    tensors.update(rng_tensors)
    payload = {"history": jsonable(history), "optimizer": jsonable(opt_info), "rng": rng_info}
    meta = {"format": CHECKPOINT_FORMAT, "json": _json_text(payload, "history")}
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
        Naming the file (and the field): not a sista_lib training checkpoint, a ``sha256``
        mismatch (a corrupt file), metadata that is not valid JSON, or a missing field.
    """
    path = _check_path(path)
    tensors, payload = _read_sista_file(path, CHECKPOINT_FORMAT, "training checkpoint")
    if not isinstance(payload, dict):
        raise ValueError(f"{path!r}: the metadata field 'json' must hold a JSON object, got "
                         f"{type(payload).__name__}")
    history = _field(payload, "history", "json", path, dict)
    optimizer_info = _field(payload, "optimizer", "json", path, dict)
    rng_info = _field(payload, "rng", "json", path, dict)
    _field(rng_info, "numpy", "json['rng']", path, list)
    _field(rng_info, "python", "json['rng']", path, list)
    if "rng/torch" not in tensors:
        raise ValueError(f"{path!r}: the tensor 'rng/torch' (torch's RNG state) is missing")
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
        "optimizer": _optimizer_from_flat(groups["optim"], optimizer_info, path),
        "history": history,
        "rng": (groups["rng"], rng_info),
    }
