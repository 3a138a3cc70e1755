r"""Provenance: where, when and how a result was computed.

:func:`provenance` records the command, the git commit and whether tracked files differ from it,
the library versions, the CPU (and GPU), the thread settings and the start time;
:func:`finish_provenance` adds the end and the wall time. Every results file of the book carries
one.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["provenance", "finish_provenance"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


#: The repository the library is imported from (its git commit is the code's provenance).
_ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_ROOT), *args], capture_output=True, text=True,
                             timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("sista_lib", "torch", "numpy", "scipy", "PyWavelets", "scikit-image",
                 "safetensors"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def _outside(output: str | os.PathLike | None) -> list[str]:
    """The git pathspec that leaves ``output`` out of the dirty check, when it lies inside
    the repository (a study committed while in progress is rewritten by the runs that
    continue it: that is not a change to the code that computes it)."""
    if output is None:
        return []
    try:
        relative = Path(output).resolve().relative_to(_ROOT.resolve())
    except ValueError:
        return []
    return ["--", ".", f":(exclude){relative.as_posix()}"] if relative.parts else []


def provenance(command: str | None = None, *,
               output: str | os.PathLike | None = None) -> dict[str, Any]:
    """Where and how a result is computed: the command, git commit and dirty flag (tracked
    files), library versions, CPU/GPU, threads, torch's determinism settings and the start
    time. ``finish_provenance``
    adds the end and wall time.

    Parameters
    ----------
    command : str, optional
        The command line; default ``sys.argv`` as one shell-quoted string.
    output : path, optional
        The folder the result is written to: changes to tracked files inside it do not count
        as dirty.
    """
    status = _git("status", "--porcelain", "--untracked-files=no", *_outside(output))
    return {
        "command": shlex.join(sys.argv) if command is None else command,
        "cwd": os.getcwd(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "versions": _versions(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "deterministic": {
            "torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        },
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "start": _now(),
        "_t0": time.perf_counter(),
    }


def finish_provenance(prov: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``prov`` with ``end`` and ``wall_time_s``."""
    out = {k: v for k, v in prov.items() if k != "_t0"}
    out["end"] = _now()
    out["wall_time_s"] = time.perf_counter() - prov["_t0"]
    return out
