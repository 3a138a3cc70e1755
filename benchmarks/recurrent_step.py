#!/usr/bin/env python
r"""One training step of the experiment's recurrent models, on one CPU thread.

A step is what :func:`sista_lib.train.train` does per batch: ``zero_grad``, forward, MSE loss,
backward, optimiser step (the paper's RMSprop, :func:`sista_lib.train.make_optimizer` with the
default :class:`~sista_lib.train.TrainConfig`), at the paper's sizes: batch 50, :math:`T = 128`,
:math:`N = 128`, :math:`M = 32`, :math:`K = 3`, float32 (the training dtype).

Reported, from medians of ``--repeats`` rounds timed interleaved (every model once per round,
rotating the order):

- the step time of every model and its per-round ratio to the LSTM baseline's
  (``sista_rnn_soft_v0`` is the SISTA-RNN run with the soft-threshold the library had before
  the performance work, to measure what that change gained);
- the forward FLOPs of each model (analytic count of the multiply-adds the recurrence needs,
  cross-checked by ``torch.utils.flop_counter`` on the real forward and backward), the
  achieved GFLOP/s, and the SISTA-RNN's *lower bound*: 3 x forward FLOPs (forward + backward)
  at the rate of a 1024 x 1024 float32 matmul timed in every round; the step / bound ratio is
  the median over rounds of the step time over that round's bound (so that load cancels), the
  bound printed is the one at the best rate of the run;
- where the time goes: forward / backward / optimiser phases, and the ``torch.profiler`` table
  of one SISTA-RNN step (self CPU time by operator, grouped into matmuls and the rest).

Usage::

    .venv/bin/python benchmarks/recurrent_step.py                 # about a minute
    .venv/bin/python benchmarks/recurrent_step.py --repeats 3 --steps 32
"""

from __future__ import annotations

import _common  # noqa: I001  (first: pins BLAS/OpenMP pools to one thread before NumPy loads)

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as fnn

from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
import sista_lib.models as sista_models
from sista_lib.models import build_model, count_parameters
from sista_lib.train import TrainConfig, make_optimizer

MODELS = ("sista_rnn", "sista_rnn_released", "stacked_rnn", "lstm", "sista_rnn_soft_v0")


def soft_v0(z: torch.Tensor, b: Any) -> torch.Tensor:
    """``sista_lib.sparse._soft`` before the performance work (five autograd-recorded ops)."""
    return torch.sign(z) * torch.clamp(z.abs() - b, min=0.0)
GOAL_RATIO_TO_LSTM = 0.35
GOAL_TIMES_BOUND = 3.0
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear",
              "aten::baddbmm", "aten::addmv", "aten::mv")


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


def matmul_skeleton(B: int, N: int, K: int, T: int, dtype: torch.dtype):
    """The SISTA-RNN step's sequential matmuls alone, as implemented, without autograd.

    Per time step: forward ``hhat [W1; Wk]^T`` (B x N x 2N) and ``K - 1`` products with
    :math:`S^T` (B x N x N); backward the same shapes for the input gradients and, as autograd
    does them, one weight-gradient product per forward product. Returns the callable and its
    FLOPs (the time it takes is what batch-``B`` matmuls cost on this machine, with no
    framework overhead).
    """
    g = torch.Generator().manual_seed(1)
    W = torch.randn(N, 2 * N, generator=g, dtype=dtype)
    S = torch.randn(N, N, generator=g, dtype=dtype)
    h = torch.randn(B, N, generator=g, dtype=dtype)
    z2 = torch.randn(B, 2 * N, generator=g, dtype=dtype)
    z1 = torch.randn(B, N, generator=g, dtype=dtype)

    def run():
        for _ in range(T):
            torch.addmm(z2, h, W)
            for _ in range(K - 1):
                torch.addmm(z1, h, S)
            z2 @ W.T                                  # input gradients
            for _ in range(K - 1):
                z1 @ S.T
            z2.T @ h                                  # weight gradients
            for _ in range(K - 1):
                z1.T @ h
    flops = 3 * T * 2 * (B * N * 2 * N + (K - 1) * B * N * N)
    return run, flops


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
    for name in args.models:
        kw: dict[str, Any] = {"dtype": dtype}
        if name != "lstm":
            kw["n_layers"] = args.layers
        models[name] = build_model(name.replace("_soft_v0", ""), A, D, **kw)
    g = torch.Generator().manual_seed(0)
    y = torch.randn(args.steps, args.batch, args.n, generator=g, dtype=torch.float64)
    x = y @ torch.from_numpy(A).T
    return models, x.to(dtype), y.to(dtype)


def profile_step(step, row_limit: int = 15) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        step()
        wall = time.perf_counter() - t0
    events = [e for e in prof.key_averages() if not e.key.startswith("autograd::engine")]
    total_self = sum(e.self_cpu_time_total for e in events) / 1e6
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / 1e6
    n_matmul = sum(e.count for e in events if e.key in MATMUL_OPS)
    n_ops = sum(e.count for e in events if e.key.startswith("aten::"))
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:row_limit]
    return dict(
        wall_s_under_profiler=wall,
        self_cpu_s_total=total_self,
        matmul_self_cpu_s=matmul,
        matmul_share=matmul / total_self if total_self else None,
        matmul_calls=n_matmul,
        aten_calls=n_ops,
        top_ops=[dict(op=e.key, self_cpu_ms=e.self_cpu_time_total / 1e3, calls=e.count)
                 for e in top],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10, help="timed rounds (every model per round)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--steps", type=int, default=128, help="sequence length T")
    p.add_argument("--n", type=int, default=128, help="signal size N (= hidden size)")
    p.add_argument("--m", type=int, default=32, help="measurements M")
    p.add_argument("--layers", type=int, default=3, help="K for the SISTA-RNN and stacked RNN")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--out", type=Path, default=_common.RESULTS / "recurrent_step.json")
    args = p.parse_args(argv)
    args.models = [s.strip() for s in args.models.split(",") if s.strip()]
    for name in args.models:
        if name not in MODELS:
            p.error(f"unknown model {name!r}")

    _common.pin_threads(1)
    prov = _common.provenance(threads=1)
    dtype = getattr(torch, args.dtype)
    models, x, y = build(args)
    config = TrainConfig()
    optimisers = {n: make_optimizer(m, config) for n, m in models.items()}

    def make_step(name: str):
        model, opt = models[name], optimisers[name]

        def step(backward: bool = True):
            opt.zero_grad(set_to_none=True)
            loss = fnn.mse_loss(model(x), y)
            if backward:
                loss.backward()
                opt.step()
            return loss

        if not name.endswith("_soft_v0"):
            return step

        def step_soft_v0(backward: bool = True):
            # the same model with the soft-threshold of before the optimisation
            saved, sista_models._soft = sista_models._soft, soft_v0
            try:
                return step(backward)
            finally:
                sista_models._soft = saved
        return step_soft_v0

    steps = {n: make_step(n) for n in args.models}
    rates: list[float] = []

    def matmul_probe():
        rates.append(_common.matmul_gflops(dtype, repeats=3))

    runs = {n: (lambda n=n: steps[n]()) for n in args.models}
    runs["_matmul_1024"] = matmul_probe
    skeleton, skeleton_flops = matmul_skeleton(args.batch, args.n, args.layers, args.steps, dtype)
    runs["_sista_matmul_skeleton"] = skeleton
    print(f"timing {len(args.models)} models x {args.repeats} rounds "
          f"(batch {args.batch}, T {args.steps}, N {args.n}, M {args.m}, K {args.layers}, "
          f"{args.dtype}, 1 thread)", flush=True)
    times, _ = _common.interleaved(runs, args.repeats)
    times.pop("_matmul_1024")
    skeleton_times = times.pop("_sista_matmul_skeleton")
    rate = max(rates)

    # phases, interleaved the same way
    phase_times: dict[str, dict[str, list[float]]] = {n: {"forward": [], "backward": [],
                                                          "optimiser": []} for n in args.models}

    def make_phased(name: str):
        model, opt = models[name], optimisers[name]

        def run():
            if name.endswith("_soft_v0"):
                saved, sista_models._soft = sista_models._soft, soft_v0
                try:
                    return run_phases()
                finally:
                    sista_models._soft = saved
            return run_phases()

        def run_phases():
            opt.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            loss = fnn.mse_loss(model(x), y)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            for key, dt in zip(("forward", "backward", "optimiser"), (t1 - t0, t2 - t1, t3 - t2)):
                phase_times[name][key].append(dt)
        return run

    _common.interleaved({n: make_phased(n) for n in args.models}, max(3, args.repeats // 2),
                        warmup=False)

    rows, results = [], {}
    lstm_times = times.get("lstm")
    for name in args.models:
        t = _common.median(times[name])
        macs = forward_macs(name.replace("_soft_v0", ""), args.m, args.n,
                            args.layers if name != "lstm" else 4, args.batch, args.steps)
        fwd_flops = 2 * macs
        counted_fwd, counted_total = counted_flops(steps[name])
        bound = 3 * fwd_flops / (rate * 1e9)
        # the same bound per round, from that round's matmul probe: load cancels in the ratio
        round_rates = rates[-len(times[name]):]
        paired = _common.median([t_r / (3 * fwd_flops / (r_r * 1e9))
                                 for t_r, r_r in zip(times[name], round_rates)])
        res = dict(
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
        if name.endswith("_soft_v0") and "sista_rnn" in times:
            res["ratio_to_sista_rnn"] = _common.paired_ratio(times[name], times["sista_rnn"])
        results[name] = res
        rows.append([name, f"{res['parameters']:,}", f"{1e3 * t:.1f}",
                     f"{res['ratio_to_lstm']:.3f}" if "ratio_to_lstm" in res else "",
                     f"{fwd_flops / 1e9:.3f}", f"{counted_total / 1e9:.3f}",
                     f"{res['achieved_gflops']:.1f}", f"{1e3 * bound:.1f}",
                     f"{res['step_over_lower_bound_paired']:.2f}",
                     " / ".join(f"{1e3 * res['phases_s'][k]:.0f}"
                                for k in ("forward", "backward", "optimiser"))])
    skeleton_s = _common.median(skeleton_times)
    skeleton = dict(time_s=skeleton_s, flops=skeleton_flops,
                    gflops=skeleton_flops / skeleton_s / 1e9)
    if "sista_rnn" in times:
        skeleton["share_of_sista_rnn_step"] = _common.paired_ratio(skeleton_times,
                                                                    times["sista_rnn"])
    print(f"\n1024 x 1024 {args.dtype} matmul: best {rate:.1f} GFLOP/s, median "
          f"{_common.median(rates):.1f} over {len(rates)} probes; the SISTA-RNN's sequential "
          f"batch-{args.batch} matmuls alone: {1e3 * skeleton_s:.1f} ms "
          f"({skeleton['gflops']:.1f} GFLOP/s)")
    print(_common.table(rows, ["model", "params", "step ms", "/ LSTM", "fwd GFLOP",
                               "counted fwd+bwd GFLOP", "achieved GFLOP/s", "bound ms",
                               "step / bound (paired)", "fwd / bwd / opt ms"]))

    profiles = {}
    if not args.no_profile:
        for name in [n for n in ("sista_rnn", "sista_rnn_released") if n in args.models]:
            profiles[name] = prof = profile_step(steps[name])
            print(f"\ntorch.profiler, one {name} step: {prof['aten_calls']} aten calls, "
                  f"{prof['matmul_calls']} matmuls = {100 * prof['matmul_share']:.0f} % of self "
                  f"CPU time ({1e3 * prof['self_cpu_s_total']:.0f} ms under the profiler)")
            print(_common.table([[o["op"], f"{o['self_cpu_ms']:.1f}", o["calls"]]
                                 for o in prof["top_ops"]], ["op", "self ms", "calls"]))

    goals = {}
    for name in ("sista_rnn", "sista_rnn_released"):
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
                      optimiser="sista_lib.train.make_optimizer(model, TrainConfig())"),
        matmul_gflops_best=rate, matmul_gflops_probes=rates,
        sista_rnn_matmul_skeleton=skeleton,
        results=results, profiles=profiles, goals=goals,
    )
    path = _common.write_json(args.out, payload)
    print(f"\nwrote {path}")
    for k, v in goals.items():
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
