r"""The paper's claims, measured on a study's results.

Wisdom et al. (2016) claim that on sequential compressive sensing the SISTA-RNN **trains faster**
and **reaches better performance** than black-box RNNs, LSTMs included. This module turns each
claim into a measured quantity, a comparison and a verdict on a results dict
(:func:`sista_lib.experiment.load_results`), and returns rows of numbers (:class:`ClaimRow`) for a
chapter to render; it writes no sentences.

- Performance (:func:`performance_claim`): the mean test score (PSNR by default; for trained
  networks the mean over seeds of the mean over test images) of the SISTA-RNN against a black
  box; holds when the SISTA-RNN's is higher.
- Speed (:func:`speed_claim`): the level :math:`v^\star` is the lowest validation MSE of the
  better black box (per-epoch curves averaged over seeds, :func:`mean_curve`); the claim holds
  when the SISTA-RNN reaches :math:`v^\star` in fewer epochs (``unit="epochs"``) or in less
  training time (``unit="minutes"``) than that black box needs to reach it.
- The premise (:func:`improvement_claims`): training improves on the algorithm the network was
  built from (SISTA with the same :math:`K`, SISTA and the per-column Lasso run to convergence).
- The variants (:func:`variant_claim`): the authors' released code and the paper's equations
  score alike (difference below the seed-to-seed standard deviation).

:func:`claims_table` gathers them; :func:`training_budget` compares the study's number of
optimiser steps with the paper's protocol, the scope every verdict carries, and
:func:`study_processes` tells which processes computed the runs, when, and with which code.
:data:`LE2019_PSNR` holds an independent comparison published elsewhere, and
:func:`reference_margins` reads it the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ._checks import check_positive_int, check_scalar
from .experiment import MODEL_LABELS

__all__ = [
    "ClaimRow",
    "mean_curve",
    "cumulative_minutes",
    "seconds_per_step",
    "per_image_mean",
    "first_epoch_at_or_below",
    "time_to_level",
    "lead_epochs",
    "training_budget",
    "study_processes",
    "performance_claim",
    "speed_claim",
    "improvement_claims",
    "variant_claim",
    "claims_table",
    "LE2019_PSNR",
    "reference_margins",
]

BLACK_BOXES = ("stacked_rnn", "lstm")
ALGORITHMS = ("sista_untrained", "sista_converged", "lasso_converged")
_METRICS = ("psnr", "ssim", "mse")
_UNITS = {"psnr": "dB", "ssim": "", "mse": "8-bit"}


@dataclass(frozen=True)
class ClaimRow:
    r"""One claim measured on a study.

    Attributes
    ----------
    claim : str
        Identifier, e.g. ``"better_than_lstm"``, ``"faster_epochs"``.
    statement : str
        The claim, short (e.g. ``"better than the LSTM"``).
    quantity : str
        What is measured (e.g. ``"mean test PSNR (dB)"``).
    comparison : str
        The comparison that decides it (e.g. ``"SISTA-RNN (paper) > LSTM"``).
    value : float or None
        The measured quantity for the SISTA-RNN (None: never reached).
    other : float or None
        The same quantity for what it is compared with.
    holds : bool
    details : dict
        Further numbers of the measurement (see the function that made the row).
    """

    claim: str
    statement: str
    quantity: str
    comparison: str
    value: float | None
    other: float | None
    holds: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def difference(self) -> float | None:
        """``value - other`` (None when either is None)."""
        return None if self.value is None or self.other is None else self.value - self.other

    @property
    def verdict(self) -> str:
        """``"holds"`` or ``"does not hold"``."""
        return "holds" if self.holds else "does not hold"


# --------------------------------------------------------------------------------------------
# reading a results dict
# --------------------------------------------------------------------------------------------


def _runs(results: Mapping[str, Any], model: str) -> list[Mapping[str, Any]]:
    if not isinstance(results, Mapping) or "runs" not in results:
        raise TypeError("results must be a results dict from sista_lib.experiment.load_results")
    if model not in results["runs"]:
        raise ValueError(f"model must be a model of the study {list(results['runs'])}, "
                         f"got {model!r}")
    runs = list(results["runs"][model].values())
    if not runs:
        raise ValueError(f"the study has no run of {model!r}")
    return runs


def _label(key: str) -> str:
    return MODEL_LABELS.get(key, key)


def _quantity(metric: str) -> str:
    unit = f" ({_UNITS[metric]})" if _UNITS[metric] else ""
    return f"mean test {metric.upper()}{unit}"


def _score(results: Mapping[str, Any], key: str, metric: str) -> float:
    """Mean test score: over seeds of the mean over images (models), or a baseline's mean."""
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
    if key in results.get("summary", {}):
        return float(results["summary"][key][metric]["mean"])
    if key in (results.get("baselines") or {}):
        return float(results["baselines"][key]["summary"][metric]["mean"])
    raise ValueError(f"{key!r} is neither a model nor a baseline of the study")


def mean_curve(results: Mapping[str, Any], model: str, key: str = "val_loss") -> np.ndarray:
    """Per-epoch ``run["train"][key]`` (e.g. the validation MSE), mean over the model's seeds."""
    if key not in ("val_loss", "train_loss", "epoch_seconds"):
        raise ValueError(f"key must be 'val_loss', 'train_loss' or 'epoch_seconds', got {key!r}")
    return np.mean([np.asarray(r["train"][key], dtype=float) for r in _runs(results, model)], axis=0)


def cumulative_minutes(results: Mapping[str, Any], model: str) -> np.ndarray:
    """Training time in minutes at the end of each epoch, mean over seeds."""
    return np.mean([np.cumsum(r["train"]["epoch_seconds"]) / 60 for r in _runs(results, model)],
                   axis=0)


def seconds_per_step(results: Mapping[str, Any], model: str) -> float:
    """Mean over seeds of the training time per optimiser step (validation included)."""
    return float(np.mean([np.sum(r["train"]["epoch_seconds"]) / r["train"]["steps"]
                          for r in _runs(results, model)]))


def per_image_mean(results: Mapping[str, Any], model: str, metric: str = "psnr") -> np.ndarray:
    """Per test image, the model's score averaged over seeds."""
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
    return np.mean([r["test"]["per_image"][metric] for r in _runs(results, model)], axis=0)


def first_epoch_at_or_below(curve: Sequence[float], level: float) -> int | None:
    """First epoch (1-based: ``curve[0]`` is epoch 1) whose value is ``<= level``, or None."""
    level = check_scalar(level, "level")
    hits = np.flatnonzero(np.asarray(curve, dtype=float) <= level)
    return int(hits[0]) + 1 if hits.size else None


def time_to_level(results: Mapping[str, Any], model: str, level: float,
                  ) -> tuple[int | None, float | None]:
    """When a model first reaches a validation MSE ``level``: the first epoch whose seed-mean
    validation MSE (:func:`mean_curve`) is ``<= level``, and the seed-mean training time in
    minutes at its end (:func:`cumulative_minutes`); ``(None, None)`` if not within the run."""
    epoch = first_epoch_at_or_below(mean_curve(results, model), level)
    if epoch is None:
        return None, None
    return epoch, float(cumulative_minutes(results, model)[epoch - 1])


def lead_epochs(curve: Sequence[float], reference: Sequence[float]) -> int:
    """Number of leading epochs during which ``curve`` is strictly below ``reference``."""
    a, b = np.asarray(curve, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"curve and reference must be 1-d of the same length, got {a.shape} "
                         f"and {b.shape}")
    ahead = a < b
    return len(ahead) if ahead.all() else int(np.argmin(ahead))


def training_budget(results: Mapping[str, Any], *, paper_images: int = 30607,
                    paper_train_fraction: float = 0.8, paper_batch: int = 50,
                    paper_epochs: int = 100) -> dict[str, float]:
    r"""Optimiser steps per run in the study and in the paper's protocol.

    The paper trained on 80 % of Caltech-256's 30,607 images (clutter included), batches of 50,
    100 epochs: :math:`\lceil 24485 / 50\rceil \times 100 = 49000` steps.

    Returns
    -------
    dict with ``steps_per_epoch``, ``steps``, ``paper_train``, ``paper_steps_per_epoch``,
    ``paper_steps`` and ``ratio`` (paper steps / study steps).
    """
    try:
        cfg = results["config"]
        n_train, batch, epochs = cfg["n_train"], cfg["batch_size"], cfg["epochs"]
    except (KeyError, TypeError):
        raise ValueError("results must hold config with n_train, batch_size and epochs") from None
    paper_images = check_positive_int(paper_images, "paper_images")
    paper_batch = check_positive_int(paper_batch, "paper_batch")
    paper_epochs = check_positive_int(paper_epochs, "paper_epochs")
    fraction = check_scalar(paper_train_fraction, "paper_train_fraction", positive=True)
    steps_per_epoch = math.ceil(n_train / batch)
    steps = steps_per_epoch * epochs
    paper_train = int(fraction * paper_images)
    paper_per_epoch = math.ceil(paper_train / paper_batch)
    paper_steps = paper_per_epoch * paper_epochs
    return {"steps_per_epoch": steps_per_epoch, "steps": steps, "paper_train": paper_train,
            "paper_steps_per_epoch": paper_per_epoch, "paper_steps": paper_steps,
            "ratio": paper_steps / steps if steps else math.inf}


def study_processes(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    r"""The processes that computed a study's runs, from their provenance records.

    Runs recorded with the same command line belong to one process. A process imports the
    library once, when it starts: the git commit recorded by its first run is the code all its
    runs used (later runs record the commit checked out when they start, which may have moved on).

    Returns
    -------
    list of dict, in the order of the records
        One per process: ``command``; ``start`` and ``end`` (the earliest start and the latest
        end of its runs); ``runs``, its ``(run id, wall time in s)`` sorted by run id;
        ``wall_time_s``, their sum; ``commit``, the git commit of its first run.

    Raises
    ------
    ValueError
        If ``results`` holds no provenance of its runs.
    """
    try:
        records = results["provenance"]["runs"]
    except (KeyError, TypeError):
        raise ValueError("results must hold provenance.runs, as load_results returns "
                         "them") from None
    if not isinstance(records, Mapping) or not records:
        raise ValueError("results must hold the provenance of at least one run, got none")
    groups: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for run_id, p in records.items():
        groups.setdefault(p["command"], []).append((run_id, p))
    return [{"command": command,
             "start": min(p["start"] for _, p in items),
             "end": max(p["end"] for _, p in items),
             "runs": [(run_id, float(p["wall_time_s"]))
                      for run_id, p in sorted(items, key=lambda item: item[0])],
             "wall_time_s": float(sum(p["wall_time_s"] for _, p in items)),
             "commit": min(items, key=lambda item: item[1]["start"])[1]["git_commit"]}
            for command, items in groups.items()]


# --------------------------------------------------------------------------------------------
# the claims
# --------------------------------------------------------------------------------------------


def performance_claim(results: Mapping[str, Any], other: str, *, model: str = "sista_rnn",
                      metric: str = "psnr") -> ClaimRow:
    r""""The SISTA-RNN reaches better performance than ``other``": mean test ``metric``.

    Holds when the model's score is better (higher PSNR/SSIM, lower MSE).

    ``details``: ``ssim_difference`` (model minus other), ``win_fraction`` (fraction of test
    images on which the model's seed-mean score is better) and ``seeds_separated`` (every seed
    of one network scores better than every seed of the other).
    """
    value, ref = _score(results, model, metric), _score(results, other, metric)
    better = (lambda a, b: a < b) if metric == "mse" else (lambda a, b: a > b)
    mine, theirs = per_image_mean(results, model, metric), per_image_mean(results, other, metric)
    a = np.asarray(results["summary"][model][metric]["per_seed"])
    b = np.asarray(results["summary"][other][metric]["per_seed"])
    return ClaimRow(
        claim=f"better_than_{other}", statement=f"better than the {_label(other)}",
        quantity=_quantity(metric),
        comparison=f"{_label(model)} {'<' if metric == 'mse' else '>'} {_label(other)}",
        value=value, other=ref, holds=bool(better(value, ref)),
        details={"ssim_difference": _score(results, model, "ssim") - _score(results, other, "ssim"),
                 "win_fraction": float(np.mean(better(mine, theirs))),
                 "seeds_separated": bool(a.min() > b.max() or a.max() < b.min())})


def speed_claim(results: Mapping[str, Any], *, model: str = "sista_rnn",
                black_boxes: Sequence[str] = BLACK_BOXES, unit: str = "epochs") -> ClaimRow:
    r""""The SISTA-RNN trains faster than the black boxes", in epochs or in minutes.

    The target :math:`v^\star` is the lowest seed-mean validation MSE of the better black box
    over the whole run. ``value``: the epochs (or minutes) the model needs to reach
    :math:`v^\star` (None: not within the run); ``other``: those the black box needs.

    ``details``: ``black_box``, ``level`` :math:`v^\star`, ``epoch`` and ``other_epoch``,
    ``minutes`` and ``other_minutes`` (None when not reached), ``speedup`` (other minutes over
    the model's) and ``lead_epochs`` (how many first epochs the model is ahead of the black box).
    """
    if unit not in ("epochs", "minutes"):
        raise ValueError(f"unit must be 'epochs' or 'minutes', got {unit!r}")
    black_boxes = list(black_boxes)
    if not black_boxes:
        raise ValueError("black_boxes must name at least one model")
    curves = {m: mean_curve(results, m) for m in [model, *black_boxes]}
    best = min(black_boxes, key=lambda m: curves[m].min())
    level = float(curves[best].min())
    epoch = first_epoch_at_or_below(curves[model], level)
    other_epoch = int(np.argmin(curves[best])) + 1
    other_minutes = float(cumulative_minutes(results, best)[other_epoch - 1])
    minutes = None if epoch is None else float(cumulative_minutes(results, model)[epoch - 1])
    value, ref = (epoch, other_epoch) if unit == "epochs" else (minutes, other_minutes)
    return ClaimRow(
        claim=f"faster_{unit}", statement=f"trains faster than the {_label(best)} ({unit})",
        quantity=f"{unit} to the best validation MSE of the {_label(best)}",
        comparison=f"{_label(model)} < {_label(best)}", value=value, other=ref,
        holds=value is not None and value < ref,
        details={"black_box": best, "level": level, "epoch": epoch, "other_epoch": other_epoch,
                 "minutes": minutes, "other_minutes": other_minutes,
                 "speedup": None if minutes is None else other_minutes / minutes,
                 "lead_epochs": lead_epochs(curves[model], curves[best])})


def improvement_claims(results: Mapping[str, Any], *, model: str = "sista_rnn",
                       algorithms: Sequence[str] = ALGORITHMS, metric: str = "psnr") -> list[ClaimRow]:
    r"""The premise: the trained SISTA-RNN scores better than the unsupervised algorithms
    (untrained SISTA with the same :math:`K`, SISTA and the Lasso run to convergence).

    One row per algorithm present in the study's baselines, id ``"improves_on_<algorithm>"``.
    """
    rows = []
    for key in algorithms:
        if key not in (results.get("baselines") or {}):
            continue
        value, ref = _score(results, model, metric), _score(results, key, metric)
        sign = "<" if metric == "mse" else ">"            # a lower MSE, a higher PSNR or SSIM
        rows.append(ClaimRow(
            claim=f"improves_on_{key}", statement=f"training improves on {_label(key)}",
            quantity=_quantity(metric), comparison=f"{_label(model)} {sign} {_label(key)}",
            value=value, other=ref, holds=bool(value < ref if metric == "mse" else value > ref)))
    return rows


def variant_claim(results: Mapping[str, Any], *, model: str = "sista_rnn",
                  other: str = "sista_rnn_released", metric: str = "psnr") -> ClaimRow:
    r"""The released code and the paper's equations score alike: :math:`|\Delta|` of the mean
    test ``metric`` below the larger of the two seed-to-seed standard deviations.

    ``details``: ``std`` and ``other_std`` (across seeds), ``ssim_difference``.
    """
    value, ref = _score(results, model, metric), _score(results, other, metric)
    stds = (float(results["summary"][model][metric]["std"]),
            float(results["summary"][other][metric]["std"]))
    return ClaimRow(
        claim=f"{other}_matches_{model}", statement=f"the {_label(other)} scores like the {_label(model)}",
        quantity=_quantity(metric), comparison="|difference| < seed std",
        value=value, other=ref, holds=abs(value - ref) < max(stds),
        details={"std": stds[0], "other_std": stds[1],
                 "ssim_difference": _score(results, model, "ssim") - _score(results, other, "ssim")})


def claims_table(results: Mapping[str, Any], *, model: str = "sista_rnn",
                 black_boxes: Sequence[str] = BLACK_BOXES) -> list[ClaimRow]:
    r"""Every claim measured on ``results``: better than each black box present, faster (in
    epochs, then in minutes), the improvement over each algorithm, and the released variant when
    the study has it."""
    present = [m for m in black_boxes if m in results.get("runs", {})]
    rows = [performance_claim(results, m, model=model) for m in present]
    if present:
        rows += [speed_claim(results, model=model, black_boxes=present, unit=u)
                 for u in ("epochs", "minutes")]
    rows += improvement_claims(results, model=model)
    if model == "sista_rnn" and "sista_rnn_released" in results.get("runs", {}):
        rows.append(variant_claim(results, model=model))
    return rows


#: Test PSNR (dB) of video-frame reconstruction from compressive measurements, by measurement
#: rate, as published by Le, Luong and Deligiannis (2019, arXiv:1902.06522): an independent
#: re-implementation of the SISTA-RNN beside stacked black-box networks. Quoted, not computed.
LE2019_PSNR: dict[str, tuple[float, ...]] = {
    "rate": (0.50, 0.33, 0.25, 0.20),
    "stacked_rnn": (38.56, 35.82, 33.12, 30.78),
    "lstm": (37.02, 34.06, 31.55, 29.60),
    "gru": (40.30, 37.31, 33.98, 31.09),
    "sista_rnn": (42.52, 37.20, 33.85, 30.91),
}


def reference_margins(table: Mapping[str, Sequence[float]] = LE2019_PSNR, *,
                      model: str = "sista_rnn") -> dict[str, dict[str, Any]]:
    r"""How far ``model`` is ahead of each other network of a published table of scores.

    For each network :math:`n` other than ``model``: ``margins``, the score of ``model`` minus
    that of :math:`n` at each rate; ``min`` and ``max`` of them; ``ahead_at``, the rates at
    which :math:`n` scores higher than ``model``.

    Parameters
    ----------
    table : mapping
        ``"rate"``: the measurement rates; every other key: a network's scores, one per rate.
    model : str
        The network compared with the others.

    Raises
    ------
    ValueError
        If ``model`` or ``"rate"`` is missing, or a row does not have one score per rate.
    """
    if "rate" not in table or model not in table:
        raise ValueError(f"table must have the keys 'rate' and {model!r}, got {list(table)}")
    rates = tuple(float(r) for r in table["rate"])
    for name, scores in table.items():
        if len(scores) != len(rates):
            raise ValueError(f"table[{name!r}] must have one score per rate ({len(rates)}), "
                             f"got {len(scores)}")
    ours = np.asarray(table[model], dtype=float)
    out = {}
    for name, scores in table.items():
        if name in ("rate", model):
            continue
        margins = ours - np.asarray(scores, dtype=float)
        out[name] = {"margins": margins, "min": float(margins.min()), "max": float(margins.max()),
                     "ahead_at": [r for r, d in zip(rates, margins) if d < 0]}
    return out
