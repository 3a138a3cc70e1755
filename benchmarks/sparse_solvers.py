#!/usr/bin/env python
r"""Sparse-coding solvers against scikit-learn: time to reach a median relative objective gap.

Every solver minimises, per signal, :math:`F(h) = \tfrac12\lVert y - \Phi h\rVert^2 +
\lambda\lVert h\rVert_1` with the same :math:`\lambda` (scikit-learn's ``Lasso`` gets
``alpha = lam / M``, ``sparse_encode`` gets ``alpha = lam``). Three problems, 1000 signals each
by default:

a. ``paper_cs``: the paper's :math:`\Phi = A D` (32 x 128, Bernoulli :math:`A/3`, db4 wavelet
   :math:`D`), signals :math:`x_t = A y_t` for columns :math:`y_t` of 128 x 128 greyscale crops
   of photos bundled with scikit-image, normalised as in the paper; :math:`\lambda = 0.5`
   (the paper's :math:`\lambda_1`).
b. ``patches``: mean-removed 8 x 8 patches of the same photos, 2-D separable overcomplete DCT
   (the Kronecker product of ``dct_dictionary(8, 16)`` with itself: 64 x 256);
   :math:`\lambda = 0.1\,\operatorname{median}_i \lVert \Phi^T y_i\rVert_\infty`.
c. ``lista``: the LISTA setting, Gaussian :math:`\Phi` (250 x 500, unit-norm columns), codes with
   10 % non-zeros (Bernoulli-Gaussian), noiseless :math:`y = \Phi h`; :math:`\lambda` as in b.

Protocol. The reference optimum :math:`F^*` of every signal comes from scikit-learn's coordinate
descent run to a tiny tolerance, polished by restarted FISTA in float64, and is *certified* by a
duality gap (reported; the run fails if it exceeds 1e-9 relative). Each solver has one knob
that trades time for accuracy (iterations, epochs, or tolerance); the smallest knob whose median
relative gap :math:`(F - F^*)/F^*` over the signals is at most ``--target`` (default 1e-6) is
found by search, then every solver is timed at its knob ``--repeats`` times, interleaved
(A B C, B C A, ...), on one thread. Reported: median time, the median of per-round time ratios
against ``sista_lib.sparse.fista``, the median and worst-signal gap of the timed run, and
FISTA's achieved GFLOP/s against a 1024 x 1024 matmul timed in the same run. float32 runs use
float32 data and are scored in float64.

Usage::

    .venv/bin/python benchmarks/sparse_solvers.py                       # full run, minutes
    .venv/bin/python benchmarks/sparse_solvers.py --n-signals 200 --repeats 3 --cases a
"""

from __future__ import annotations

import _common  # noqa: I001  (first: pins BLAS/OpenMP pools to one thread before NumPy loads)

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from sista_lib import sparse
from sista_lib.dictionaries import dct_dictionary, paper_measurement_matrix, wavelet_dictionary

PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel",
          "coins", "moon", "clock", "hubble_deep_field", "immunohistochemistry", "retina")
PAPER_TARGET_STD = 16.433
CERTIFIED_GAP_MAX = 1e-9
GOALS = {"a": 3.0, "b": 1.0, "c": 1.0}   # sparse_encode(lasso_cd) time / fista time, at least
#: The library's FISTA configurations held to those goals.
FISTA_VARIANTS = ("fista", "fista_restart", "fista_adaptive", "fista_polish")


# ---------------------------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------------------------

def grey_photo(name: str) -> np.ndarray:
    """A scikit-image photo as float64 grey levels in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray

    im = getattr(skimage.data, name)()
    return rgb2gray(im) if im.ndim == 3 else im / 255.0


def square_image(im: np.ndarray, size: int = 128) -> np.ndarray:
    """Centre-crop to a square, resize to ``size`` x ``size`` (cubic)."""
    from skimage.transform import resize

    h, w = im.shape
    s = min(h, w)
    crop = im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return resize(crop, (size, size), order=3, anti_aliasing=True)


def problem_paper_cs(n: int) -> dict[str, Any]:
    images = [square_image(grey_photo(p)) for p in PHOTOS]
    images += [im[::-1] for im in images]                   # upside-down copies: new columns
    columns = np.concatenate([im.T for im in images])       # one row per image column y_t
    if n > len(columns):
        raise SystemExit(f"--n-signals {n} exceeds the {len(columns)} columns available for a")
    Y = columns[:n]
    Y = (Y - Y.mean()) / Y.std(axis=1).mean() * PAPER_TARGET_STD
    A = paper_measurement_matrix()
    Phi = A @ wavelet_dictionary(128)
    return dict(name="paper_cs", Phi=Phi, X=Y @ A.T, lam=0.5,
                description=("Phi = A D (32 x 128, paper_measurement_matrix, db4 level-4 "
                             "wavelet_dictionary(128)); x_t = A y_t, y_t = columns of 128 x 128 "
                             "crops of scikit-image photos (and their upside-down copies), "
                             "paper normalisation (x 16.433)"),
                lam_rule="0.5 (the paper's lambda1)")


def problem_patches(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    photos = [grey_photo(p) for p in PHOTOS[:8]]
    patches = []
    while len(patches) < n:
        im = photos[len(patches) % len(photos)]
        i, j = rng.integers(0, im.shape[0] - 8), rng.integers(0, im.shape[1] - 8)
        p = im[i:i + 8, j:j + 8].ravel()
        p = p - p.mean()
        if np.linalg.norm(p) > 1e-3:                        # skip exactly flat (saturated) patches
            patches.append(p)
    X = np.array(patches)
    D1 = dct_dictionary(8, 16)
    Phi = np.kron(D1, D1)                                   # 2-D separable, unit-norm atoms
    lam = 0.1 * float(np.median(np.abs(X @ Phi).max(axis=1)))
    return dict(name="patches", Phi=Phi, X=X, lam=lam,
                description=("8 x 8 mean-removed patches of 8 scikit-image photos; Phi = "
                             "kron(dct_dictionary(8, 16), dct_dictionary(8, 16)) (64 x 256)"),
                lam_rule="0.1 * median_i ||Phi^T y_i||_inf")


def problem_lista(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((250, 500)) / np.sqrt(250)
    Phi /= np.linalg.norm(Phi, axis=0)
    H = rng.standard_normal((n, 500)) * (rng.random((n, 500)) < 0.1)
    X = H @ Phi.T
    lam = 0.1 * float(np.median(np.abs(X @ Phi).max(axis=1)))
    return dict(name="lista", Phi=Phi, X=X, lam=lam,
                description=("Gaussian Phi (250 x 500, unit-norm columns, seed 0); codes "
                             "Bernoulli(0.1) x N(0, 1); noiseless y = Phi h"),
                lam_rule="0.1 * median_i ||Phi^T y_i||_inf")


PROBLEMS: dict[str, Callable[[int], dict[str, Any]]] = {
    "a": problem_paper_cs, "b": problem_patches, "c": problem_lista,
}


# ---------------------------------------------------------------------------------------------
# reference optimum, certified by a duality gap
# ---------------------------------------------------------------------------------------------

def objective(Phi: np.ndarray, X: np.ndarray, H: np.ndarray, lam: float) -> np.ndarray:
    R = X - H @ Phi.T
    return 0.5 * np.einsum("ij,ij->i", R, R) + lam * np.abs(H).sum(axis=1)


def dual_value(Phi: np.ndarray, X: np.ndarray, H: np.ndarray, lam: float) -> np.ndarray:
    r"""Dual objective at the scaled residual
    :math:`\theta = r \min(1, \lambda/\lVert\Phi^Tr\rVert_\infty)`.

    :math:`D(\theta) = \tfrac12\lVert y\rVert^2 - \tfrac12\lVert y - \theta\rVert^2 \le F^*` for
    any dual-feasible :math:`\theta` (:math:`\lVert\Phi^T\theta\rVert_\infty \le \lambda`).
    """
    R = X - H @ Phi.T
    corr = np.abs(R @ Phi).max(axis=1)
    scale = np.minimum(1.0, lam / np.maximum(corr, 1e-300))
    theta = R * scale[:, None]
    return 0.5 * np.einsum("ij,ij->i", X, X) - 0.5 * np.einsum("ij,ij->i", X - theta, X - theta)


def support_solve(Phi: np.ndarray, X: np.ndarray, H: np.ndarray, lam: float) -> np.ndarray:
    r"""Exact Lasso solutions from approximate ones, where their support and signs are right.

    On the support :math:`S` with signs :math:`s`, the optimality conditions are linear:
    :math:`\Phi_S^T\Phi_S h_S = \Phi_S^T y - \lambda s`. The solution is kept only where it has
    the signs :math:`s` and satisfies :math:`\lVert\Phi^T(y - \Phi h)\rVert_\infty \le \lambda`
    (then it is the optimum, up to rounding); elsewhere the input row is returned unchanged.
    """
    out = H.copy()
    for i, h in enumerate(H):
        S = np.flatnonzero(np.abs(h) > 1e-10 * max(np.abs(h).max(), 1e-300))
        if S.size == 0 or S.size > Phi.shape[0]:
            continue
        PS, signs = Phi[:, S], np.sign(h[S])
        try:
            hS = np.linalg.solve(PS.T @ PS, PS.T @ X[i] - lam * signs)
        except np.linalg.LinAlgError:
            continue
        if np.all(np.sign(hS) == signs):
            r = X[i] - PS @ hS
            if np.abs(Phi.T @ r).max() <= lam * (1 + 1e-10):
                out[i] = 0.0
                out[i, S] = hS
    return out


def reference(Phi: np.ndarray, X: np.ndarray, lam: float) -> dict[str, Any]:
    """Per-signal optimum, certified: the best primal value and the best dual bound found.

    Coordinate descent (scikit-learn, tol 1e-10), then the exact support solve; signals whose
    certified gap is still above ``CERTIFIED_GAP_MAX`` are polished by restarted FISTA from
    there (2000, then 20000 iterations) and support-solved again.
    """
    from sklearn.linear_model import Lasso

    t0 = time.perf_counter()
    M = Phi.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cd = np.atleast_2d(Lasso(alpha=lam / M, fit_intercept=False, precompute=True, tol=1e-10,
                                 max_iter=20_000).fit(Phi, X.T).coef_)
    H = cd.copy()
    F = objective(Phi, X, H, lam)
    D = dual_value(Phi, X, H, lam)

    def consider(rows: np.ndarray, candidate: np.ndarray) -> None:
        f = objective(Phi, X[rows], candidate, lam)
        better = f < F[rows]
        H[rows[better]] = candidate[better]
        F[rows[better]] = f[better]
        D[rows] = np.maximum(D[rows], dual_value(Phi, X[rows], candidate, lam))

    every = np.arange(len(X))
    consider(every, support_solve(Phi, X, cd, lam))
    polished = 0
    for n_iter in (2000, 20000):
        rows = np.flatnonzero((F - D) / F > CERTIFIED_GAP_MAX)
        if rows.size == 0:
            break
        polished += rows.size
        h = sparse.fista(Phi, X[rows], lam, n_iter=n_iter, h0=H[rows], restart=True)
        consider(rows, h)
        consider(rows, support_solve(Phi, X[rows], h, lam))
    certified = (F - D) / F
    return dict(H=H, F=F, time_s=time.perf_counter() - t0,
                max_certified_relative_gap=float(certified.max()),
                median_nonzeros=float(np.median((H != 0).sum(axis=1))),
                signals_polished_by_fista=int(polished),
                method=("per signal, the best of: sklearn Lasso (coordinate descent, tol 1e-10), "
                        "the exact solve on its support and signs, and (where the certified gap "
                        "was still above 1e-9) restarted sista_lib fista from there plus its "
                        "support solve; certified gap = (best primal - best dual) / best primal"))


def relative_gaps(Phi: np.ndarray, X: np.ndarray, H: Any, lam: float, F_star: np.ndarray):
    H = np.asarray(H, dtype=np.float64)
    return (objective(Phi, X, H, lam) - F_star) / F_star


# ---------------------------------------------------------------------------------------------
# solvers and their knobs
# ---------------------------------------------------------------------------------------------

def _sk_encode(algorithm: str):
    from sklearn.decomposition import sparse_encode

    def run(P, PT, X, lam, k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = {"max_iter": int(k)} if k is not None else {}
            return sparse_encode(X, PT, algorithm=algorithm, alpha=lam, **kw)
    return run


def _sk_lasso(P, PT, X, lam, tol):
    from sklearn.linear_model import Lasso

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Lasso(alpha=lam / P.shape[0], fit_intercept=False, precompute=True, tol=tol,
                      max_iter=20_000)
        return model.fit(P, X.T).coef_


# name: (label, knob name, knob kind, runner(P, PT, X, lam, knob))
SOLVERS: dict[str, tuple[str, str, str, Callable]] = {
    "fista": ("sista_lib fista", "n_iter", "iter",
              lambda P, PT, X, lam, k: sparse.fista(P, X, lam, n_iter=k)),
    "fista_restart": ("sista_lib fista(restart=True)", "n_iter", "iter",
                      lambda P, PT, X, lam, k: sparse.fista(P, X, lam, n_iter=k, restart=True)),
    "fista_adaptive": ("sista_lib fista(restart=True, step='adaptive')", "n_iter", "iter",
                       lambda P, PT, X, lam, k: sparse.fista(P, X, lam, n_iter=k, restart=True,
                                                             step="adaptive")),
    "fista_polish": ("sista_lib fista(restart=True, polish=True)", "n_iter", "iter",
                     lambda P, PT, X, lam, k: sparse.fista(P, X, lam, n_iter=k, restart=True,
                                                           polish=True)),
    "ista": ("sista_lib ista", "n_iter", "iter",
             lambda P, PT, X, lam, k: sparse.ista(P, X, lam, n_iter=k)),
    "sparse_encode_cd": ("sklearn sparse_encode lasso_cd", "max_iter", "iter",
                         _sk_encode("lasso_cd")),
    "lasso_cd": ("sklearn Lasso (CD, Gram)", "tol", "tol", _sk_lasso),
    "sparse_encode_lars": ("sklearn sparse_encode lasso_lars", "-", "none",
                           _sk_encode("lasso_lars")),
}


def search_iterations(evaluate: Callable[[int], float], target: float, k_max: int,
                      start: int = 8) -> int | None:
    """Smallest k (to 2 %) with evaluate(k) <= target: doubling, then bisection."""
    k, lo = start, 0
    while evaluate(k) > target:
        if k >= k_max:
            return None
        lo, k = k, min(2 * k, k_max)
    hi = k
    while hi - lo > max(1, hi // 50):
        mid = (lo + hi) // 2
        if evaluate(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def search_tol(evaluate: Callable[[float], float], target: float) -> float | None:
    for e in np.arange(1.0, 12.01, 0.5):
        tol = float(10.0 ** -e)
        if evaluate(tol) <= target:
            return tol
    return None


# ---------------------------------------------------------------------------------------------
# one problem
# ---------------------------------------------------------------------------------------------

def run_case(key: str, args: argparse.Namespace, rates: dict[str, float]) -> dict[str, Any]:
    prob = PROBLEMS[key](args.n_signals)
    Phi, X, lam = prob["Phi"], prob["X"], prob["lam"]
    M, N = Phi.shape
    print(f"\n== case {key} ({prob['name']}): Phi {M} x {N}, {len(X)} signals, lam = {lam:.4g}",
          flush=True)
    ref = reference(Phi, X, lam)
    print(f"   reference: {ref['time_s']:.1f} s, certified max relative gap "
          f"{ref['max_certified_relative_gap']:.2e}, median non-zeros {ref['median_nonzeros']:.0f}",
          flush=True)
    if not ref["max_certified_relative_gap"] <= CERTIFIED_GAP_MAX:
        raise SystemExit(f"reference not certified to {CERTIFIED_GAP_MAX:g}: "
                         f"{ref['max_certified_relative_gap']:.3g}")
    F_star = ref["F"]
    results, checks, probe_rates = [], {}, {}
    for dtype_name in args.dtypes:
        npdt = np.dtype(dtype_name)
        P, Xd = Phi.astype(npdt), X.astype(npdt)
        PT = np.ascontiguousarray(P.T)
        knobs: dict[str, Any] = {}
        stats: dict[str, int] = {}
        for name in args.solvers:
            label, knob_name, kind, runner = SOLVERS[name]

            def evaluate(k, runner=runner, name=name):
                stats[name] = stats.get(name, 0) + 1
                return float(np.median(relative_gaps(Phi, X, runner(P, PT, Xd, lam, k), lam,
                                                     F_star)))
            t0 = time.perf_counter()
            if kind == "iter":
                k_max = args.ista_max_iter if name == "ista" else args.max_iter
                knobs[name] = search_iterations(evaluate, args.target, k_max)
            elif kind == "tol":
                knobs[name] = search_tol(evaluate, args.target)
            else:
                knobs[name] = "n/a"
            shown = f"{knobs[name]:.1e}" if isinstance(knobs[name], float) else knobs[name]
            print(f"   [{dtype_name}] {name:<19} {knob_name} = {shown}  "
                  f"(search: {stats.get(name, 0)} runs, {time.perf_counter() - t0:.1f} s)",
                  flush=True)
        timed = [n for n in args.solvers if knobs[n] is not None]
        runs = {n: (lambda n=n: SOLVERS[n][3](P, PT, Xd, lam, None if knobs[n] == "n/a"
                                               else knobs[n])) for n in timed}
        round_rates: list[float] = []
        runs["_matmul_1024"] = lambda: round_rates.append(
            _common.matmul_gflops(getattr(torch, dtype_name), repeats=2))
        times, last = _common.interleaved(runs, args.repeats)
        times.pop("_matmul_1024")
        round_rates = round_rates[-args.repeats:]        # one probe per timed round
        rows = []
        for name in args.solvers:
            label, knob_name, kind, _ = SOLVERS[name]
            row: dict[str, Any] = dict(dtype=dtype_name, solver=name, label=label,
                                       knob=knob_name, value=knobs[name],
                                       reached=knobs[name] is not None)
            if name in times:
                g = relative_gaps(Phi, X, last[name], lam, F_star)
                row.update(times_s=times[name], time_s=_common.median(times[name]),
                           time_s_min=min(times[name]),
                           median_gap=float(np.median(g)), p90_gap=float(np.quantile(g, 0.9)),
                           max_gap=float(g.max()),
                           search_runs=stats.get(name, 0))
                if "fista" in times:
                    row["time_vs_fista"] = _common.paired_ratio(times[name], times["fista"])
                if name in ("fista", "fista_restart", "fista_adaptive", "ista"):
                    # the products only (the adaptive step never uses the Gram form)
                    per_signal = N * N if N < 2 * M and name != "fista_adaptive" else 2 * M * N
                    flops = 2.0 * len(X) * per_signal * knobs[name]
                    row["gflops"] = flops / row["time_s"] / 1e9
                    # paired with the matmul probe of the same round, so that load cancels
                    row["fraction_of_matmul_rate"] = _common.median(
                        [flops / t_r / 1e9 / r_r for t_r, r_r in zip(times[name], round_rates)])
            rows.append(row)
        results += rows
        probe_rates[dtype_name] = round_rates
        goal = GOALS[key]
        speedups = {}
        for fname in FISTA_VARIANTS:
            if fname in times and "sparse_encode_cd" in times:
                speedup = _common.paired_ratio(times["sparse_encode_cd"], times[fname])
                speedups[fname] = speedup
                checks[f"{dtype_name}: sparse_encode_cd time / {fname} time"] = speedup
                checks[f"{dtype_name}: goal {fname} >= {goal:g}x faster than sparse_encode_cd"] = (
                    "met" if speedup >= goal else "missed")
        if speedups:
            best = max(speedups, key=speedups.get)
            checks[f"{dtype_name}: fastest fista variant"] = best
            checks[f"{dtype_name}: goal met by the fastest fista variant"] = (
                "met" if speedups[best] >= goal else "missed")
        checks.update(dense_product_bound(dtype_name, M, N, len(X), knobs, times, round_rates,
                                          goal))
        print_rows(rows)
    return dict(case=key, name=prob["name"], description=prob["description"], M=M, N=N,
                n_signals=len(X), lam=lam, lam_rule=prob["lam_rule"],
                reference={k: v for k, v in ref.items() if k not in ("H", "F")},
                results=results, checks=checks, matmul_gflops_per_round=probe_rates)


def dense_product_bound(dtype_name: str, M: int, N: int, n_signals: int, knobs: dict[str, Any],
                        times: dict[str, list[float]], round_rates: list[float],
                        goal: float) -> dict[str, Any]:
    """The most any unpolished FISTA configuration could gain over sparse_encode at its
    iteration count, if its iterations cost nothing but their dense products at the
    large-matmul rate of the same round.

    A FISTA iteration with dense products costs at least min(2 M N, N^2) multiply-adds per
    signal (two products with Phi, or one with the Gram matrix). Returns the checks to record;
    nothing when a configuration or sparse_encode was not timed.
    """
    counts = {n: knobs[n] for n in ("fista", "fista_restart", "fista_adaptive")
              if isinstance(knobs.get(n), int)}
    if not counts or "sparse_encode_cd" not in times:
        return {}
    fewest = min(counts, key=counts.get)
    flops = 2.0 * n_signals * min(2 * M * N, N * N) * counts[fewest]
    bounds = [flops / (rate * 1e9) for rate in round_rates]
    ceiling = _common.median([t / b for t, b in zip(times["sparse_encode_cd"], bounds)])
    return {
        f"{dtype_name}: fewest fista iterations (restart, adaptive or plain)": counts[fewest],
        f"{dtype_name}: their dense products at the large-matmul rate, s": _common.median(bounds),
        f"{dtype_name}: sparse_encode_cd time / that bound": ceiling,
        f"{dtype_name}: goal reachable with dense products": "yes" if ceiling >= goal else "no",
    }


def print_rows(rows: list[dict[str, Any]]) -> None:
    body = []
    for r in rows:
        if "time_s" not in r:
            body.append([r["dtype"], r["solver"], f"{r['knob']} = not reached", "", "", "", ""])
            continue
        value = r["value"] if not isinstance(r["value"], float) else f"{r['value']:.0e}"
        body.append([r["dtype"], r["solver"], f"{r['knob']} = {value}",
                     f"{1e3 * r['time_s']:.1f}",
                     f"{r['time_vs_fista']:.2f}" if "time_vs_fista" in r else "",
                     f"{r['median_gap']:.1e}", f"{r['max_gap']:.1e}"])
    print(_common.table(body, ["dtype", "solver", "knob", "median ms", "time / fista",
                               "median gap", "worst gap"]), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-signals", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per solver")
    p.add_argument("--cases", default="a,b,c", help="comma-separated subset of a,b,c")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--solvers", default=",".join(SOLVERS),
                   help=f"comma-separated subset of {','.join(SOLVERS)}")
    p.add_argument("--target", type=float, default=1e-6,
                   help="median relative objective gap to reach")
    p.add_argument("--max-iter", type=int, default=4000,
                   help="largest iteration/epoch count tried by the search")
    p.add_argument("--ista-max-iter", type=int, default=4000)
    p.add_argument("--out", type=Path, default=_common.RESULTS / "sparse_solvers.json")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    for c in args.cases:
        if c not in PROBLEMS:
            p.error(f"unknown case {c!r} (expected a, b or c)")
    for s in args.solvers:
        if s not in SOLVERS:
            p.error(f"unknown solver {s!r}")
    for d in args.dtypes:
        if d not in ("float64", "float32"):
            p.error(f"unknown dtype {d!r}")

    _common.pin_threads(1)
    prov = _common.provenance(threads=1)
    rates = {d: _common.matmul_gflops(getattr(torch, d)) for d in args.dtypes}
    print("large-matmul rate (1024^3, 1 thread): "
          + ", ".join(f"{d} {r:.1f} GFLOP/s" for d, r in rates.items()), flush=True)
    t0 = time.perf_counter()
    cases = [run_case(c, args, rates) for c in args.cases]
    payload = dict(benchmark="sparse_solvers", provenance=prov,
                   settings=dict(n_signals=args.n_signals, repeats=args.repeats,
                                 target_median_relative_gap=args.target, dtypes=args.dtypes,
                                 solvers=args.solvers, max_iter=args.max_iter,
                                 ista_max_iter=args.ista_max_iter),
                   matmul_gflops=rates, goals_speedup_vs_sparse_encode_cd=GOALS,
                   cases=cases, wall_s=time.perf_counter() - t0)
    path = _common.write_json(args.out, payload)
    print(f"\nwrote {path}")
    for c in cases:
        for k, v in c["checks"].items():
            print(f"  [{c['case']}] {k}: {v if isinstance(v, str) else f'{v:.3g}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
