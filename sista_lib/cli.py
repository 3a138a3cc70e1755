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

from .evaluate import BASELINE_PROTOCOLS
from .experiment import (PRESETS, ExperimentConfig, merge, results_table, run_experiment,
                         status_table, study_status)
from .metrics import SSIM_CONVENTIONS
from .models import LSTM_GATES, LSTM_INITS, MODEL_NAMES, STACKED_INITS

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


_RESUME_HELP = """\
resuming: every epoch of every run is checkpointed in OUT/train_state/. After an interruption
(Ctrl-C, a lost machine), run the same command again with --resume: finished runs are skipped
and each unfinished one continues from its last epoch, bit-identically. The configuration must
be the same (OUT/experiment.json records it). Runs are independent, so several processes (one
per core or GPU: --models/--seeds) can share one OUT; --merge then gathers them."""


def _presets_help() -> str:
    lines = ["presets (every field can be overridden by its flag):"]
    for name, preset in PRESETS.items():
        c = preset["config"]
        lines.append(f"  {name:9s} n_train={c.n_train} n_val={c.n_val} n_test={c.n_test} "
                     f"epochs={c.epochs} batch_size={c.batch_size} lr={c.lr:g} "
                     f"seeds={list(preset['seeds'])}")
        if name == "small-v1":
            lines.append(" " * 12 + "(the earlier protocol: see ExperimentConfig.from_dict's "
                         "legacy values)")
    lines.append("  every preset but small-v1 follows the authors' protocol (see the protocol "
                 "flags)")
    return "\n".join(lines)


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v >= 0 and np.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return v


def _bool(text: str) -> bool:
    if text not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return text == "yes"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sista_lib.experiment",
        description="Train the SISTA-RNN and its baselines on sequential compressive sensing "
                    "of images, score them with the paper's protocol, write results.json.",
        epilog=_presets_help() + "\n\n" + _RESUME_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    p.add_argument("--skip-bad-images", action="store_const", const=True, default=None,
                   help="with caltech256: skip unreadable image files (with a warning and a "
                        "count) instead of stopping")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="parameter precision of the networks (default float32)")
    p.add_argument("--resume", action="store_true",
                   help="skip finished runs, continue unfinished ones from their last epoch "
                        "(see below)")
    p.add_argument("--debug", action="store_true",
                   help="on an error, print the whole traceback instead of one line")
    p.add_argument("--merge", action="store_true",
                   help="only merge the finished runs of --out into results.json")
    p.add_argument("--status", action="store_true",
                   help="only report where the study in --out stands (each run finished, "
                        "training at epoch e, or not started, and the time left); writes nothing")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not score the unsupervised baselines in this process")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=_pos_int, default=1,
                   help="torch threads (default 1: run one process per core)")
    p.add_argument("--device", default="cpu",
                   help="torch device of the training, e.g. cpu (default) or cuda; results and "
                        "checkpoints are the same files either way")
    proto = p.add_argument_group(
        "protocol", "the authors' protocol is the default of every preset but small-v1; these "
                    "flags change one item of it")
    proto.add_argument("--rms-eps", type=_nonneg_float,
                       help="RMSprop epsilon of the soft-threshold RNNs (authors: 0)")
    proto.add_argument("--rms-init", type=_nonneg_float,
                       help="initial RMSprop accumulator of the soft-threshold RNNs (authors: 1e-3)")
    proto.add_argument("--lstm-clip-grad-norm", type=_pos_float,
                       help="the LSTM's gradient-norm clipping (authors: 1.0)")
    proto.add_argument("--lstm-keep-best", type=_bool, metavar="{yes,no}",
                       help="score the LSTM's best validation epoch instead of its last (authors: no)")
    proto.add_argument("--select-last-epoch", type=_bool, metavar="{yes,no}",
                       help="let the final epoch be selected as the best (authors: no)")
    proto.add_argument("--stacked-init", choices=STACKED_INITS,
                       help="the generic stacked RNN's initialisation (authors: authors)")
    proto.add_argument("--lstm-init", choices=LSTM_INITS,
                       help="the LSTM's initialisation (authors: keras1)")
    proto.add_argument("--lstm-gate", choices=LSTM_GATES,
                       help="the LSTM's gates (Keras 1: hard_sigmoid; default: sigmoid)")
    proto.add_argument("--ssim", choices=SSIM_CONVENTIONS,
                       help="SSIM convention of the scoring (authors: matlab)")
    proto.add_argument("--baselines", choices=BASELINE_PROTOCOLS,
                       help="protocol of the unsupervised baselines (authors: authors)")
    return p


_OVERRIDES = ("epochs", "n_train", "n_val", "n_test", "batch_size", "lr", "clip_grad_norm",
              "dtype", "source", "caltech_root", "rms_eps", "rms_init", "lstm_clip_grad_norm",
              "lstm_keep_best", "select_last_epoch", "stacked_init", "lstm_init", "lstm_gate",
              "ssim", "baselines", "skip_bad_images")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sista_lib.experiment``; returns the exit status.

    0: done; 1: a run failed (diverged, or an error while running); 2: a usage error (bad
    flags or values, a missing data folder; nothing was written); 130: interrupted (the message says how to resume).
    Errors print one line; ``--debug`` prints the traceback instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "sista_lib.experiment", *argv])
    try:
        return _run(args, command)
    except KeyboardInterrupt:
        again = command if args.resume else command + " --resume"
        print(f"\ninterrupted; every finished epoch is saved. To continue: {again}",
              file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError) as exc:   # what the user asked for
        if args.debug:
            raise
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as exc:                      # what happened while running
        if args.debug:
            raise
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, command: str) -> int:
    torch.set_num_threads(args.threads)
    if args.status:
        seeds = None if args.seeds is None else args.seeds
        models = None if args.models == list(MODEL_NAMES) else args.models
        print(status_table(study_status(args.out, models=models, seeds=seeds)))
        return 0
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
                             progress=not args.no_progress, command=command,
                             device=args.device)
    print(results_table(results))
    if results.get("failed_runs"):
        print(f"diverged: {', '.join(results['failed_runs'])} (see {args.out}/failed/)",
              file=sys.stderr)
        return 1
    return 0
