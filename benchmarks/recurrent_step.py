#!/usr/bin/env python
r"""One training step of the experiment's recurrent models, on one CPU thread.

A step is what training does per batch: ``zero_grad``, forward, MSE loss, backward, the paper's
RMSprop update (:class:`sista_lib.train.RMSprop`), at the paper's sizes: batch 50,
:math:`T = 128`, :math:`N = 128`, :math:`M = 32`, :math:`K = 3`, float32 (the training dtype).
The SISTA-RNNs and the stacked RNN run both implementations of their recurrence: ``fused`` (the
default, :mod:`sista_lib.fused`: one autograd node with a hand-written backward through time)
and ``reference`` (the same loop recorded step by step by autograd, runs named ``*_reference``).

Reported, from medians of ``--repeats`` rounds timed interleaved (every run once per round,
rotating the order):

- the step time of every run and its per-round ratio to the LSTM baseline's;
- the forward FLOPs of each model (analytic count of the multiply-adds the recurrence needs,
  cross-checked by ``torch.utils.flop_counter`` on the real forward and backward), the achieved
  GFLOP/s, and the *lower bound*: 3 x forward FLOPs (forward + backward) at the rate of a
  1024 x 1024 float32 matmul timed in every round; the step / bound ratio is the median over
  rounds of the step time over that round's bound (so that load cancels), the bound printed is
  the one at the best rate of the run;
- the fused SISTA-RNN's matrix products alone (its sequential per-step products and its large
  weight-gradient products, no framework), i.e. what the step would cost with zero overhead at
  this machine's small-matmul speed;
- where the time goes: forward / backward / optimiser phases, and the ``torch.profiler``
  breakdown of one step (per-step and large matmuls, element-wise passes, views, and the
  Python of the loops);
- the projected wall time of the paper's study (4 networks x 3 seeds x 49,000 steps, plus one
  validation pass of 3,060 sequences per epoch), spread over two single-threaded processes;
- a probe of batching the three seeds into one pass (the recurrent loop's products and
  soft-thresholds as batched ``bmm`` over 3 seeds against 3 separate loops);
- optionally (``--compile``) the reference SISTA-RNN step under ``torch.compile``.

Usage::

    .venv/bin/python benchmarks/recurrent_step.py                 # a few minutes
    .venv/bin/python benchmarks/recurrent_step.py --repeats 3 --steps 32 --no-profile
"""

from __future__ import annotations

import _common  # noqa: I001  (first: pins BLAS/OpenMP pools to one thread before NumPy loads)

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn import functional as fnn

from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
from sista_lib.models import build_model, count_parameters
from sista_lib.train import RMSprop

#: (run name, model name for build_model, implementation or None)
RUNS = (
    ("sista_rnn", "sista_rnn", "fused"),
    ("sista_rnn_reference", "sista_rnn", "reference"),
    ("sista_rnn_released", "sista_rnn_released", "fused"),
    ("sista_rnn_released_reference", "sista_rnn_released", "reference"),
    ("stacked_rnn", "stacked_rnn", "fused"),
    ("stacked_rnn_reference", "stacked_rnn", "reference"),
    ("lstm", "lstm", None),
)
RUN_NAMES = tuple(r[0] for r in RUNS)
GOAL_RATIO_TO_LSTM = 0.2
GOAL_TIMES_BOUND = 1.5
GOAL_RUNS = ("sista_rnn", "sista_rnn_released", "stacked_rnn")
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear",
              "aten::baddbmm", "aten::addmv", "aten::mv")
VIEW_OPS = ("aten::select", "aten::as_strided", "aten::unbind", "aten::slice", "aten::view",
            "aten::split", "aten::narrow", "aten::t", "aten::transpose", "aten::reshape",
            "aten::expand", "aten::resolve_conj", "aten::resolve_neg", "aten::unsqueeze",
            "aten::alias", "aten::_reshape_alias", "aten::detach", "aten::empty",
            "aten::empty_strided", "aten::lift_fresh", "aten::item",
            "aten::_local_scalar_dense")
#: The paper's study: networks, seeds, steps per run, validation passes (one per epoch).
STUDY = dict(networks=("sista_rnn", "sista_rnn_released", "stacked_rnn", "lstm"), seeds=3,
             steps=49_000, epochs=100, n_val=3060, processes=2)


def forward_macs(name: str, M: int, N: int, K: int, B: int, T: int, H: int | None = None) -> int:
    r"""Multiply-adds of a forward pass (the recurrence as the paper writes it, shared terms once).

    - SISTA-RNN (both variants, tied): per sample and step :math:`W_1 \hat h_{t-1}` and
      :math:`W_k \hat h_{t-1}` (shared by layers 2..K; the released variant's layer 1 reads
      :math:`h^{(1)}_{t-1}` instead, same count): :math:`2N^2`; :math:`S h^{(k-1)}_t`,
      :math:`k = 2..K`: :math:`(K-1)N^2`; :math:`V x_t` (shared by all layers): :math:`MN`;
      :math:`D \hat h_t`: :math:`N^2`. Plus, once per forward, the weights from
      :math:`A, D, F`: :math:`AD` (:math:`MN^2`), :math:`D^TA^TAD` (:math:`MN^2`), :math:`D^TD`,
      :math:`D^TFD` (2), :math:`SP` (:math:`N^3` each; one more, :math:`D^{-1}FD`, released).
    - Stacked RNN: :math:`MH + K H^2 + (K-1) H^2 + NH`.
    - LSTM (``K`` layers): :math:`4H(M + H) + (K-1)\,4H(2H) + NH`.
    """
    H = N if H is None else H
    if name in ("sista_rnn", "sista_rnn_released"):
        per_step = (K + 2) * N * N + M * N
        once = 2 * M * N * N + 4 * N**3
        return B * T * per_step + once
    if name == "stacked_rnn":
        return B * T * (M * H + K * H * H + (K - 1) * H * H + N * H)
    if name == "lstm":
        return B * T * (4 * H * (M + H) + (K - 1) * 4 * H * 2 * H + N * H)
    raise ValueError(f"unknown model {name!r}")


def matmul_skeleton(B: int, N: int, M: int, K: int, T: int, dtype: torch.dtype):
    """The fused SISTA-RNN step's matrix products alone, as it does them, without autograd.

    Per time step, forward ``hhat [W1; Wk]^T`` (B x N x 2N) and ``K - 1`` products with
    :math:`S^T`; backward ``K - 1`` products with :math:`S` and one with ``[W1; Wk]``. Once per
    step: ``V x`` for all steps, the read-out :math:`D \\hat h_t` and its two gradients, and the
    weight gradients of ``[W1; Wk]``, ``V`` and the ``K - 1`` :math:`S` as one product each
    over the T B rows. Returns ``(sequential, large, flops)``: two callables and the FLOPs of
    both (their time is what the products cost on this machine with no framework overhead).
    """
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    W, S, h, z2, z1 = r(2 * N, N), r(N, N), r(B, N), r(B, 2 * N), r(B, N)
    WT, ST = W.t().contiguous(), S.t().contiguous()
    X, Hs, dZ, U = r(T * B, M), r(T * B, N), r(T * B, 2 * N), r(N, N)
    V = r(2 * N, M)

    def sequential():
        for _ in range(T):
            torch.addmm(z2, h, WT)
            for _ in range(K - 1):
                torch.addmm(z1, h, ST)
            for _ in range(K - 1):
                torch.mm(z1, S)
            torch.addmm(z1, z2, W)

    def large():
        X @ V.t()                                   # V x_t, all t
        Hs @ U.t()                                  # yhat
        Hs @ U, Hs.t() @ Hs                         # its input and weight gradients
        dZ.t() @ Hs, dZ.t() @ X                     # d[W1; Wk], d[V; V]
        for _ in range(K - 1):
            Hs.t() @ Hs                             # dS, one per layer 2..K

    per_step = 2 * B * (2 * N * N + (K - 1) * N * N)
    flops = 2 * T * per_step + 2 * T * B * (2 * N * M + 3 * N * N + 2 * N * N + 2 * N * M
                                            + (K - 1) * N * N)
    return sequential, large, flops


def seed_batching_probe(B: int, N: int, M: int, K: int, T: int, dtype: torch.dtype,
                        seeds: int = 3, repeats: int = 5) -> dict[str, Any]:
    """The recurrent loop of the fused SISTA-RNN (forward and backward, per-step products and
    element-wise passes) for ``seeds`` separate models run one after the other, against the same
    loop with the seeds stacked on a leading dimension (``baddbmm``/``bmm`` and element-wise
    ops over ``(seeds, B, N)``). Only the loop, which is where batching could pay."""
    g = torch.Generator().manual_seed(2)
    r = lambda *s: 0.1 * torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731

    def loop(shape: tuple[int, ...], mm: Callable, addmm: Callable):
        W, S = r(*shape, 2 * N, N), r(*shape, N, N)
        WT, ST = W.transpose(-1, -2), S.transpose(-1, -2)
        XV, G = r(T, *shape, B, 2 * N), r(T, *shape, B, N)
        Hs = [torch.empty(T, *shape, B, N, dtype=dtype) for _ in range(K)]
        dZ = torch.empty(T, *shape, B, 2 * N, dtype=dtype)

        def run():
            hhat = torch.zeros(*shape, B, N, dtype=dtype)
            for t in range(T):
                z = addmm(XV[t], hhat, WT)
                h = torch._C._nn.softshrink(z[..., :N], 0.1, out=Hs[0][t])
                for k in range(1, K):
                    h = torch._C._nn.softshrink(addmm(z[..., N:], h, ST), 0.1, out=Hs[k][t])
                hhat = h
            carry = G[T - 1]
            for t in range(T - 1, -1, -1):
                dh = carry
                for k in range(K - 1, 0, -1):
                    dz = dh * Hs[k][t]
                    dh = mm(dz, S)
                dZ[t][..., :N] = dh * Hs[0][t]
                if t:
                    carry = addmm(G[t - 1], dZ[t], W)
        return run

    separate = [loop((), torch.mm, torch.addmm) for _ in range(seeds)]
    batched = loop((seeds,), torch.bmm, torch.baddbmm)
    times = _common.interleaved({"separate": lambda: [f() for f in separate],
                                 "batched": batched}, repeats)[0]
    sep, bat = _common.median(times["separate"]), _common.median(times["batched"])
    return dict(seeds=seeds, separate_s=sep, batched_s=bat,
                batched_over_separate=_common.paired_ratio(times["batched"], times["separate"]))


def counted_flops(step_fn) -> tuple[int, int]:
    """FLOPs torch's flop counter sees in (forward, forward + backward) of ``step_fn``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fwd:
        loss = step_fn(backward=False)
    with FlopCounterMode(display=False) as both:
        loss = step_fn(backward=False)
        loss.backward()
    return int(fwd.get_total_flops()), int(both.get_total_flops())


def build(args: argparse.Namespace):
    A = paper_measurement_matrix(args.m, args.n)
    D = wavelet_dictionary(args.n)
    dtype = getattr(torch, args.dtype)
    models = {}
    for run, name, _ in RUNS:
        if run not in args.runs:
            continue
        kw: dict[str, Any] = {"dtype": dtype}
        if name != "lstm":
            kw["n_layers"] = args.layers
        models[run] = build_model(name, A, D, **kw)
    g = torch.Generator().manual_seed(0)
    y = torch.randn(args.steps, args.batch, args.n, generator=g, dtype=torch.float64)
    x = y @ torch.from_numpy(A).T
    return models, x.to(dtype), y.to(dtype), (A, D)


def _shape_flops(op: str, shapes: list) -> float:
    """FLOPs of a recorded matmul from its input shapes (0 when they cannot be read)."""
    try:
        if op in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"):
            a, b = (shapes[1], shapes[2]) if op in ("aten::addmm", "aten::baddbmm") \
                else (shapes[0], shapes[1])
            batch = a[0] if len(a) == 3 else 1
            return 2.0 * batch * a[-2] * a[-1] * b[-1]
    except (IndexError, TypeError):
        pass
    return 0.0


def profile_step(step, row_limit: int = 15, small_flops: float = 2e7) -> dict[str, Any]:
    """``torch.profiler`` of one step: self CPU time by operator, grouped.

    Groups: matmuls per time step (under ``small_flops`` each) and large ones, element-wise
    and reduction passes, views and bookkeeping (select, as_strided, ...), and the rest, i.e.
    the self time of the non-operator events: the Python of the fused Functions' loops,
    autograd's engine, the optimiser.
    """
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        step()
        wall = time.perf_counter() - t0
    groups = dict(matmul_per_step_s=0.0, matmul_large_s=0.0, elementwise_s=0.0, views_s=0.0,
                  python_and_framework_s=0.0)
    n_small = n_large = 0
    for e in prof.key_averages(group_by_input_shape=True):
        s = e.self_cpu_time_total / 1e6
        if e.key in MATMUL_OPS:
            per_call = _shape_flops(e.key, e.input_shapes)
            if 0 < per_call < small_flops:
                groups["matmul_per_step_s"] += s
                n_small += e.count
            else:
                groups["matmul_large_s"] += s
                n_large += e.count
        elif e.key in VIEW_OPS:
            groups["views_s"] += s
        elif e.key.startswith("aten::"):
            groups["elementwise_s"] += s
        else:
            groups["python_and_framework_s"] += s
    events = list(prof.key_averages())
    total_self = sum(e.self_cpu_time_total for e in events) / 1e6
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / 1e6
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:row_limit]
    return dict(
        wall_s_under_profiler=wall,
        self_cpu_s_total=total_self,
        matmul_self_cpu_s=matmul,
        matmul_share=matmul / total_self if total_self else None,
        matmul_calls=n_small + n_large, matmul_calls_per_step=n_small,
        matmul_calls_large=n_large,
        aten_calls=sum(e.count for e in events if e.key.startswith("aten::")),
        groups_s=groups,
        groups_share={k: v / total_self for k, v in groups.items()} if total_self else None,
        top_ops=[dict(op=e.key, self_cpu_ms=e.self_cpu_time_total / 1e3, calls=e.count)
                 for e in top],
    )


def makespan(durations: list[float], workers: int) -> float:
    """Longest-processing-time-first schedule of independent jobs on ``workers``: its end."""
    loads = [0.0] * workers
    for d in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += d
    return max(loads)


def project_study(results: dict[str, Any], batch: int, T: int) -> dict[str, Any]:
    """Wall time of the paper's study from the measured step and forward times.

    Per run: ``STUDY['steps']`` training steps plus ``epochs`` validation passes of
    ``ceil(n_val / batch)`` forward passes (timed with gradients on: an upper bound for a
    ``no_grad`` pass), scaled by ``T_paper / T`` when a shorter sequence was timed; 4 networks x
    3 seeds as independent jobs on two single-threaded processes (longest first). Assumes the
    two processes do not slow each other down (they share the memory bus and the L3 cache,
    so expect some) and leaves out data preparation and test scoring.
    """
    scale = 128 / T
    val_batches = math.ceil(STUDY["n_val"] / batch)
    out: dict[str, Any] = {"assumptions": project_study.__doc__.split("\n\n")[1].strip(),
                           **{k: v for k, v in STUDY.items() if k != "networks"},
                           "networks": list(STUDY["networks"])}
    for label, suffix in (("fused", ""), ("reference", "_reference")):
        per_run, jobs = {}, []
        for net in STUDY["networks"]:
            name = net if net == "lstm" else net + suffix
            if name not in results:
                break
            r = results[name]
            run_s = scale * (STUDY["steps"] * r["step_s"]
                             + STUDY["epochs"] * val_batches * r["phases_s"]["forward"])
            per_run[net] = run_s
            jobs += [run_s] * STUDY["seeds"]
        else:
            wall = makespan(jobs, STUDY["processes"])
            out[label] = dict(run_hours=({k: v / 3600 for k, v in per_run.items()}),
                              cpu_hours=sum(jobs) / 3600, wall_hours=wall / 3600)
    if "fused" in out and "reference" in out:
        out["wall_reference_over_fused"] = (out["reference"]["wall_hours"]
                                            / out["fused"]["wall_hours"])
    out["sequence_length_scale"] = scale
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10, help="timed rounds (every run per round)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--steps", type=int, default=128, help="sequence length T")
    p.add_argument("--n", type=int, default=128, help="signal size N (= hidden size)")
    p.add_argument("--m", type=int, default=32, help="measurements M")
    p.add_argument("--layers", type=int, default=3, help="K for the SISTA-RNN and stacked RNN")
    p.add_argument("--runs", default=",".join(RUN_NAMES), help=f"subset of {RUN_NAMES}")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--no-seed-probe", action="store_true")
    p.add_argument("--compile", action="store_true",
                   help="also time the reference SISTA-RNN step under torch.compile")
    p.add_argument("--out", type=Path, default=_common.RESULTS / "recurrent_step.json")
    args = p.parse_args(argv)
    args.runs = [s.strip() for s in args.runs.split(",") if s.strip()]
    for name in args.runs:
        if name not in RUN_NAMES:
            p.error(f"unknown run {name!r}; choose from {RUN_NAMES}")

    _common.pin_threads(1)
    prov = _common.provenance(threads=1)
    dtype = getattr(torch, args.dtype)
    models, x, y, (A, D) = build(args)
    # the paper's RMSprop (TrainConfig's defaults; its cost does not depend on the values)
    optimisers = {n: RMSprop([q for q in m.parameters() if q.requires_grad], lr=1e-4, rho=0.9,
                             eps=1e-8, init=0.0) for n, m in models.items()}
    implementation = {run: impl for run, _, impl in RUNS}

    def make_forward(name: str) -> Callable[[], torch.Tensor]:
        model, impl = models[name], implementation[name]
        if impl is None:
            return lambda: model(x)
        return lambda: model(x, implementation=impl)

    forwards = {n: make_forward(n) for n in models}
    if args.compile:
        compiled_model = build_model("sista_rnn", A, D, n_layers=args.layers, dtype=dtype)
        models["sista_rnn_compiled"] = compiled_model
        optimisers["sista_rnn_compiled"] = RMSprop(list(compiled_model.parameters()), lr=1e-4,
                                                   rho=0.9, eps=1e-8, init=0.0)
        compiled = torch.compile(lambda x_: compiled_model(x_, implementation="reference"))
        forwards["sista_rnn_compiled"] = lambda: compiled(x)

    def make_step(name: str):
        forward, opt = forwards[name], optimisers[name]

        def step(backward: bool = True):
            opt.zero_grad(set_to_none=True)
            loss = fnn.mse_loss(forward(), y)
            if backward:
                loss.backward()
                opt.step()
            return loss
        return step

    steps = {n: make_step(n) for n in forwards}
    compile_s = None
    if args.compile:
        t0 = time.perf_counter()
        steps["sista_rnn_compiled"]()
        compile_s = time.perf_counter() - t0
        print(f"torch.compile of the reference SISTA-RNN: first step {compile_s:.1f} s",
              flush=True)
    rates: list[float] = []

    def matmul_probe():
        rates.append(_common.matmul_gflops(dtype, repeats=3))

    runs = {n: (lambda n=n: steps[n]()) for n in steps}
    runs["_matmul_1024"] = matmul_probe
    sequential, large, skeleton_flops = matmul_skeleton(args.batch, args.n, args.m, args.layers,
                                                        args.steps, dtype)
    runs["_skeleton_sequential"] = sequential
    runs["_skeleton_large"] = large
    print(f"timing {len(steps)} runs x {args.repeats} rounds "
          f"(batch {args.batch}, T {args.steps}, N {args.n}, M {args.m}, K {args.layers}, "
          f"{args.dtype}, 1 thread)", flush=True)
    times, _ = _common.interleaved(runs, args.repeats)
    times.pop("_matmul_1024")
    skeleton_seq, skeleton_large = times.pop("_skeleton_sequential"), times.pop("_skeleton_large")
    rate = max(rates)
    round_rates = rates[-args.repeats:]

    # phases, interleaved the same way
    phase_times: dict[str, dict[str, list[float]]] = {n: {"forward": [], "backward": [],
                                                          "optimiser": []} for n in steps}

    def make_phased(name: str):
        forward, opt = forwards[name], optimisers[name]

        def run():
            opt.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            loss = fnn.mse_loss(forward(), y)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            for key, dt in zip(("forward", "backward", "optimiser"), (t1 - t0, t2 - t1, t3 - t2)):
                phase_times[name][key].append(dt)
        return run

    _common.interleaved({n: make_phased(n) for n in steps}, max(3, args.repeats // 2),
                        warmup=False)

    rows, results = [], {}
    lstm_times = times.get("lstm")
    model_of = {run: name for run, name, _ in RUNS} | {"sista_rnn_compiled": "sista_rnn"}
    for name in steps:
        t = _common.median(times[name])
        base = model_of[name]
        macs = forward_macs(base, args.m, args.n, args.layers if base != "lstm" else 4,
                            args.batch, args.steps)
        fwd_flops = 2 * macs
        counted_fwd, counted_total = ((0, 0) if name == "sista_rnn_compiled"
                                      else counted_flops(steps[name]))
        bound = 3 * fwd_flops / (rate * 1e9)
        # the same bound per round, from that round's matmul probe: load cancels in the ratio
        paired = _common.median([t_r / (3 * fwd_flops / (r_r * 1e9))
                                 for t_r, r_r in zip(times[name], round_rates)])
        res = dict(
            model=base, implementation=implementation.get(name, "torch.compile"),
            parameters=count_parameters(models[name]),
            step_s=t, step_s_min=min(times[name]), step_times_s=times[name],
            phases_s={k: _common.median(v) for k, v in phase_times[name].items()},
            forward_flops_analytic=fwd_flops,
            flop_counter_forward=counted_fwd, flop_counter_forward_backward=counted_total,
            achieved_gflops=3 * fwd_flops / t / 1e9,
            lower_bound_s=bound, step_over_lower_bound=t / bound,
            step_over_lower_bound_paired=paired,
            step_min_over_lower_bound=min(times[name]) / bound,
        )
        if lstm_times is not None:
            res["ratio_to_lstm"] = _common.paired_ratio(times[name], lstm_times)
        for other in ("sista_rnn", "sista_rnn_reference"):
            if name == "sista_rnn_compiled" and other in times:
                res[f"ratio_to_{other}"] = _common.paired_ratio(times[name], times[other])
        ref = name + "_reference"
        if ref in times:
            res["reference_over_fused"] = _common.paired_ratio(times[ref], times[name])
        if name == "sista_rnn_compiled":
            res["compile_first_step_s"] = compile_s
        results[name] = res
        rows.append([name, f"{res['parameters']:,}", f"{1e3 * t:.1f}",
                     f"{res['ratio_to_lstm']:.3f}" if "ratio_to_lstm" in res else "",
                     f"{res['reference_over_fused']:.2f}" if "reference_over_fused" in res
                     else "",
                     f"{fwd_flops / 1e9:.3f}", f"{counted_total / 1e9:.3f}",
                     f"{res['achieved_gflops']:.1f}", f"{1e3 * bound:.1f}",
                     f"{res['step_over_lower_bound_paired']:.2f}",
                     " / ".join(f"{1e3 * res['phases_s'][k]:.0f}"
                                for k in ("forward", "backward", "optimiser"))])
    seq_s, large_s = _common.median(skeleton_seq), _common.median(skeleton_large)
    skeleton = dict(time_s=seq_s + large_s, sequential_s=seq_s, large_s=large_s,
                    flops=skeleton_flops, gflops=skeleton_flops / (seq_s + large_s) / 1e9)
    if "sista_rnn" in times:
        skeleton["share_of_sista_rnn_step"] = _common.median(
            [(a + b) / c for a, b, c in zip(skeleton_seq, skeleton_large, times["sista_rnn"])])
    print(f"\n1024 x 1024 {args.dtype} matmul: best {rate:.1f} GFLOP/s, median "
          f"{_common.median(rates):.1f} over {len(rates)} probes; the fused SISTA-RNN's matmuls "
          f"alone: {1e3 * seq_s:.1f} ms per-step + {1e3 * large_s:.1f} ms large "
          f"({skeleton['gflops']:.1f} GFLOP/s)")
    print(_common.table(rows, ["run", "params", "step ms", "/ LSTM", "reference / fused",
                               "fwd GFLOP", "counted fwd+bwd GFLOP", "achieved GFLOP/s",
                               "bound ms", "step / bound (paired)", "fwd / bwd / opt ms"]))

    profiles = {}
    if not args.no_profile:
        for name in [n for n in ("sista_rnn", "stacked_rnn", "sista_rnn_reference")
                     if n in steps]:
            profiles[name] = prof = profile_step(steps[name])
            g = prof["groups_s"]
            print(f"\ntorch.profiler, one {name} step: {prof['aten_calls']} aten calls, "
                  f"{prof['matmul_calls_per_step']} per-step + {prof['matmul_calls_large']} "
                  f"large matmuls = {100 * prof['matmul_share']:.0f} % of self CPU time "
                  f"({1e3 * prof['self_cpu_s_total']:.0f} ms under the profiler)")
            print("  " + ", ".join(f"{k[:-2].replace('_', ' ')} {1e3 * v:.1f} ms"
                                   for k, v in g.items()))
            print(_common.table([[o["op"], f"{o['self_cpu_ms']:.1f}", o["calls"]]
                                 for o in prof["top_ops"]], ["op", "self ms", "calls"]))

    seed_probe = None
    if not args.no_seed_probe:
        seed_probe = seed_batching_probe(args.batch, args.n, args.m, args.layers, args.steps,
                                         dtype, repeats=max(3, args.repeats // 2))
        print(f"\nthree seeds in one pass (the recurrent loop only): batched / separate "
              f"{seed_probe['batched_over_separate']:.2f} "
              f"({1e3 * seed_probe['batched_s']:.1f} vs {1e3 * seed_probe['separate_s']:.1f} ms)")

    study = project_study(results, args.batch, args.steps)
    for label in ("fused", "reference"):
        if label in study:
            s = study[label]
            print(f"the paper's study ({label}): {s['wall_hours']:.1f} h wall on "
                  f"{STUDY['processes']} processes ({s['cpu_hours']:.1f} CPU hours; per run "
                  + ", ".join(f"{k} {v:.2f} h" for k, v in s["run_hours"].items()) + ")")

    goals = {}
    for name in GOAL_RUNS:
        if name in results:
            r = results[name]
            if "ratio_to_lstm" in r:
                goals[f"{name}: step <= {GOAL_RATIO_TO_LSTM} x LSTM"] = (
                    "met" if r["ratio_to_lstm"] <= GOAL_RATIO_TO_LSTM else "missed")
            goals[f"{name}: step <= {GOAL_TIMES_BOUND:g} x lower bound"] = (
                "met" if r["step_over_lower_bound_paired"] <= GOAL_TIMES_BOUND else "missed")
    payload = dict(
        benchmark="recurrent_step", provenance=prov,
        settings=dict(repeats=args.repeats, batch=args.batch, T=args.steps, N=args.n, M=args.m,
                      K=args.layers, lstm_layers=4, dtype=args.dtype,
                      optimiser="sista_lib.train.RMSprop(lr=1e-4, rho=0.9, eps=1e-8, init=0)",
                      load_average_at_end=list(_loadavg()), niceness=_niceness()),
        matmul_gflops_best=rate, matmul_gflops_probes=rates,
        sista_rnn_matmul_skeleton=skeleton,
        results=results, profiles=profiles, seed_batching_probe=seed_probe,
        study_projection=study, goals=goals,
    )
    path = _common.write_json(args.out, payload)
    print(f"\nwrote {path}")
    for k, v in goals.items():
        print(f"  {k}: {v}")
    return 0


def _niceness() -> int | None:
    """This process's scheduling niceness (a run may be given priority over a busy machine)."""
    import os

    try:
        return os.nice(0)
    except OSError:
        return None


def _loadavg() -> tuple[float, ...]:
    try:
        import os

        return os.getloadavg()
    except OSError:
        return ()


if __name__ == "__main__":
    sys.exit(main())
