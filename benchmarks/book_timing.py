#!/usr/bin/env python
r"""How long the book takes: every chapter notebook, and the test suite, on this machine.

1. Each notebook (``chapters/*.ipynb`` by default) is executed top to bottom in a fresh
   kernel with ``nbclient`` (what ``jupyter nbconvert --execute`` does), working directory
   ``chapters/``, on an in-memory copy: the committed file is never rewritten. Reported: wall
   time (kernel start included), the slowest cells, the committed file's size, and whether it
   stays within CONTRIBUTING.md's budgets (under 60 s on 2 CPU cores, under 3 MB).
2. The test suite is run once as CI runs it (``python -m pytest`` from the repository root:
   the library tests and every notebook under nbval, per ``pyproject.toml``), with a JUnit XML
   report from which the time per test file (per notebook for nbval) is summed.

Both run with ``OMP_NUM_THREADS=1`` (and the MKL/OpenBLAS equivalents) unless
``--inherit-thread-env`` is given; the machine's CPU count is recorded.

Usage::

    .venv/bin/python benchmarks/book_timing.py                      # everything (many minutes)
    .venv/bin/python benchmarks/book_timing.py --notebooks chapters/01_sparse_coding.ipynb \
        --pytest-args tests/test_sparse.py                          # a quick check of the script
"""

from __future__ import annotations

import _common  # noqa: I001  (first: pins BLAS/OpenMP pools to one thread)

import argparse
import datetime as dt
import glob
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

NOTEBOOK_BUDGET_S = 60.0
NOTEBOOK_BUDGET_MB = 3.0
THREAD_VARS = _common.THREAD_VARS


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def time_notebook(path: Path, timeout: int, n_slowest: int = 5) -> dict[str, Any]:
    """Execute ``path`` in a fresh kernel (in memory) and time it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    status, error = "ok", None
    t0 = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # noqa: BLE001  (report any failure, keep timing the others)
        status, error = "error", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
    wall = time.perf_counter() - t0
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        timing = cell.get("metadata", {}).get("execution", {})
        seconds = _seconds_between(timing.get("iopub.execute_input"),
                                   timing.get("shell.execute_reply"))
        if seconds is not None:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            cells.append(dict(index=i, seconds=seconds, first_line=first[:80]))
    in_cells = sum(c["seconds"] for c in cells)
    size_mb = path.stat().st_size / 2**20
    return dict(
        notebook=str(path.relative_to(_common.REPO)) if path.is_relative_to(_common.REPO)
        else str(path),
        status=status, error=error, wall_s=wall, cells_s=in_cells,
        kernel_and_overhead_s=wall - in_cells, n_code_cells=len(cells),
        slowest_cells=sorted(cells, key=lambda c: c["seconds"], reverse=True)[:n_slowest],
        size_mb=size_mb,
        within_time_budget=wall < NOTEBOOK_BUDGET_S,
        within_size_budget=size_mb < NOTEBOOK_BUDGET_MB,
    )


def time_test_suite(pytest_args: list[str], env: dict[str, str], timeout: int) -> dict[str, Any]:
    """Run pytest once (as CI does) with a JUnit report; sum the time per file."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", *pytest_args]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=_common.REPO, env=env, capture_output=True,
                                  text=True, timeout=timeout)
            returncode, tail = proc.returncode, (proc.stdout + proc.stderr).strip()[-2000:]
        except subprocess.TimeoutExpired:
            returncode, tail = None, f"timed out after {timeout} s"
        wall = time.perf_counter() - t0
        per_file: dict[str, float] = defaultdict(float)
        counts = dict(tests=0, failures=0, errors=0, skipped=0)
        slowest = []
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                seconds = float(case.get("time", 0.0))
                name = case.get("classname", "") or case.get("file", "")
                # nbval cells: classname "chapters.NAME"; library tests: "tests.test_x"
                key = name.split("::")[0]
                per_file[key] += seconds
                counts["tests"] += 1
                for tag in ("failure", "error", "skipped"):
                    if case.find(tag) is not None:
                        counts[tag + ("s" if tag != "skipped" else "")] += 1
                slowest.append(dict(test=f"{name}::{case.get('name')}", seconds=seconds))
    return dict(
        command=" ".join(["python"] + [a for a in cmd[1:] if not a.startswith("--junitxml")]),
        wall_s=wall, returncode=returncode, counts=counts,
        per_file_s=dict(sorted(per_file.items(), key=lambda kv: -kv[1])),
        slowest_tests=sorted(slowest, key=lambda c: c["seconds"], reverse=True)[:15],
        output_tail=tail[-600:],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notebooks", nargs="*", default=None,
                   help="notebooks to execute (default: chapters/*.ipynb)")
    p.add_argument("--skip-notebooks", action="store_true")
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[],
                   help="arguments for pytest (default: none, i.e. the whole configured suite); "
                        "must come last")
    p.add_argument("--cell-timeout", type=int, default=600)
    p.add_argument("--suite-timeout", type=int, default=3 * 3600)
    p.add_argument("--inherit-thread-env", action="store_true",
                   help="keep the caller's OMP/MKL/OpenBLAS thread variables")
    p.add_argument("--out", type=Path, default=_common.RESULTS / "book_timing.json")
    args = p.parse_args(argv)

    if args.inherit_thread_env:      # undo _common's pinning (the notebook kernels inherit it)
        for k, v in _common.ORIGINAL_THREAD_ENV.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    env = dict(os.environ)
    prov = _common.provenance(threads=int(env.get("OMP_NUM_THREADS", "0") or 0))
    prov["thread_env"] = {k: env.get(k) for k in THREAD_VARS}

    notebooks: list[dict[str, Any]] = []
    if not args.skip_notebooks:
        paths = args.notebooks if args.notebooks is not None else sorted(
            glob.glob(str(_common.REPO / "chapters" / "*.ipynb")))
        for raw in paths:
            path = Path(raw).resolve()
            print(f"executing {path.name} ...", flush=True)
            res = time_notebook(path, args.cell_timeout)
            notebooks.append(res)
            print(f"   {res['status']}, {res['wall_s']:.1f} s"
                  + (f" ({res['error']})" if res["error"] else ""), flush=True)
        rows = [[r["notebook"], r["status"], f"{r['wall_s']:.1f}", f"{r['cells_s']:.1f}",
                 (f"{r['slowest_cells'][0]['seconds']:.1f} (cell {r['slowest_cells'][0]['index']})"
                  if r["slowest_cells"] else ""),
                 f"{r['size_mb']:.2f}",
                 "yes" if r["within_time_budget"] and r["within_size_budget"] else "NO"]
                for r in notebooks]
        if notebooks:
            total = sum(r["wall_s"] for r in notebooks)
            rows.append(["total", "", f"{total:.1f}", "", "", "", ""])
        print(_common.table(rows, ["notebook", "status", "wall s", "in cells s", "slowest cell s",
                                   "MB", f"within {NOTEBOOK_BUDGET_S:.0f} s / "
                                         f"{NOTEBOOK_BUDGET_MB:.0f} MB"]))

    suite = None
    if not args.skip_tests:
        print(f"\nrunning pytest {' '.join(args.pytest_args) or '(whole configured suite)'} ...",
              flush=True)
        suite = time_test_suite(args.pytest_args, env, args.suite_timeout)
        print(f"   exit code {suite['returncode']}, {suite['wall_s']:.1f} s, "
              f"{suite['counts']}")
        print(_common.table([[k, f"{v:.1f}"] for k, v in suite["per_file_s"].items()],
                            ["test file / notebook", "seconds"]))

    payload = dict(benchmark="book_timing", provenance=prov,
                   budgets=dict(notebook_s=NOTEBOOK_BUDGET_S, notebook_mb=NOTEBOOK_BUDGET_MB),
                   notebooks=notebooks,
                   notebooks_total_s=sum(r["wall_s"] for r in notebooks) if notebooks else None,
                   test_suite=suite)
    path = _common.write_json(args.out, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
