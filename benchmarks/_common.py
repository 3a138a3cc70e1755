"""Shared helpers of the benchmark scripts: one thread, provenance, interleaved timing, tables.

Import this module *before* NumPy or torch: it pins every BLAS/OpenMP pool to one thread
(``OMP_NUM_THREADS=1`` and friends) unless ``--threads`` of the calling script asks otherwise
through :func:`pin_threads`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
#: The thread variables as the caller set them, before this module pinned them to 1.
ORIGINAL_THREAD_ENV = {_var: os.environ.get(_var) for _var in THREAD_VARS}
for _var in THREAD_VARS:
    os.environ[_var] = "1"

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def pin_threads(n: int = 1) -> None:
    """Use ``n`` threads in torch and in every BLAS pool NumPy/SciPy/scikit-learn load."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance(threads: int) -> dict[str, Any]:
    """Command, commit, library versions, CPU, threads and date of this run."""
    import numpy
    import scipy
    import sklearn
    import torch

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }
    try:
        import pywt

        versions["PyWavelets"] = pywt.__version__
    except ImportError:
        pass
    import sista_lib

    versions["sista_lib"] = sista_lib.__version__
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    try:
        loadavg = list(os.getloadavg())
    except OSError:
        loadavg = None
    return {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_tracked_files_modified": bool(dirty),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "load_average_at_start": loadavg,
        "platform": platform.platform(),
        "versions": versions,
    }


def interleaved(
    runs: dict[str, Callable[[], Any]], repeats: int, *, warmup: bool = True
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Time every callable ``repeats`` times, interleaved: A B C, B C A, C A B, ...

    Rotating the order each round spreads slow spells of a shared machine over all of them,
    so that per-round ratios (:func:`paired_ratio`) cancel most of the noise.

    Returns
    -------
    times : dict name -> list of seconds (round r at index r)
    last : dict name -> the last return value (for the correctness checks)
    """
    names = list(runs)
    last: dict[str, Any] = {}
    if warmup:
        for name in names:
            last[name] = runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            last[name] = runs[name]()
            times[name].append(time.perf_counter() - t0)
    return times, last


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of ``numerator[r] / denominator[r]`` (rounds timed back to back)."""
    return median([a / b for a, b in zip(numerator, denominator)])


def matmul_gflops(dtype: Any, n: int = 1024, repeats: int = 5) -> float:
    """Best-of-``repeats`` GFLOP/s of an ``n x n`` torch matmul (the machine's practical peak)."""
    import torch

    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table (Markdown pipe syntax) of already formatted cells."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(cells[0]), sep] + [fmt(r) for r in cells[1:]])


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON (creating the folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=False, default=_jsonable) + "\n")
    return path


def _jsonable(x: Any) -> Any:
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:
        pass
    return str(x)
