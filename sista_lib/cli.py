r"""The command line of the study: ``python -m sista_lib.experiment`` (see :mod:`sista_lib.experiment`).

:func:`main` parses the arguments, builds an :class:`~sista_lib.experiment.ExperimentConfig` from
a preset and the overrides, runs :func:`~sista_lib.experiment.run_experiment` (or only
:func:`~sista_lib.experiment.merge`) and prints the results table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Sequence

import numpy as np
import torch

from .experiment import PRESETS, ExperimentConfig, merge, results_table, run_experiment
from .models import MODEL_NAMES

__all__ = ["main"]


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def _pos_int(text: str) -> int:
    v = _nonneg_int(text)
    if v == 0:
        raise argparse.ArgumentTypeError("expected an integer >= 1, got 0")
    return v


def _pos_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and np.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sista_lib.experiment",
        description="Train the SISTA-RNN and its baselines on sequential compressive sensing "
                    "of images, score them with the paper's protocol, write results.json.",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                   help="starting values (default: quick)")
    p.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                   metavar="MODEL", help=f"models to train, among {', '.join(MODEL_NAMES)} "
                                         "(default: all)")
    p.add_argument("--seeds", nargs="+", type=_nonneg_int, default=None,
                   help="seeds (default: the preset's)")
    p.add_argument("--out", required=True, help="output folder, e.g. results/paper")
    p.add_argument("--epochs", type=_nonneg_int, help="override the preset's epochs")
    p.add_argument("--n-train", type=_pos_int, help="override the number of training images")
    p.add_argument("--n-val", type=_pos_int, help="override the number of validation images")
    p.add_argument("--n-test", type=_pos_int, help="override the number of test images")
    p.add_argument("--batch-size", type=_pos_int, help="override the batch size")
    p.add_argument("--lr", type=_pos_float, help="override the learning rate")
    p.add_argument("--clip-grad-norm", type=_pos_float,
                   help="clip the global gradient norm (default: no clipping)")
    p.add_argument("--source", choices=("bundled", "caltech256"),
                   help="image source (default: bundled photos; caltech256 needs --caltech-root)")
    p.add_argument("--caltech-root", help="folder of a local Caltech-256 copy (the paper's data)")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="parameter precision of the networks (default float32)")
    p.add_argument("--resume", action="store_true",
                   help="skip finished runs, continue unfinished ones from their last epoch")
    p.add_argument("--merge", action="store_true",
                   help="only merge the finished runs of --out into results.json")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not score the unsupervised baselines in this process")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=_pos_int, default=1,
                   help="torch threads (default 1: run one process per core)")
    return p


_OVERRIDES = ("epochs", "n_train", "n_val", "n_test", "batch_size", "lr", "clip_grad_norm",
              "dtype", "source", "caltech_root")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sista_lib.experiment``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    command = shlex.join(["python", "-m", "sista_lib.experiment", *argv])
    torch.set_num_threads(args.threads)
    if args.merge:
        results = merge(args.out, command=command)
        print(results_table(results))
        return 0
    preset = PRESETS[args.preset]
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    values = {**preset["config"].to_dict(), **overrides}
    config = ExperimentConfig.from_dict(values)
    seeds = preset["seeds"] if args.seeds is None else args.seeds
    results = run_experiment(config, args.out, models=args.models, seeds=seeds,
                             baselines=not args.no_baselines, resume=args.resume,
                             progress=not args.no_progress, command=command)
    print(results_table(results))
    return 0
