r"""The study: train the SISTA-RNN and its baselines on sequential compressive sensing of images.

Command line (``python -m sista_lib.experiment --help``)::

    python -m sista_lib.experiment --preset quick --out results/quick
    python -m sista_lib.experiment --preset paper --out results/paper \
        [--models sista_rnn sista_rnn_released stacked_rnn lstm] [--seeds 0 1 2] \
        [--epochs N --n-train N --n-val N --n-test N --batch-size N --lr X] [--resume]

Each (model, seed) run trains with :func:`sista_lib.train.train` on the images of
:func:`sista_lib.data.make_splits`, measured with the paper's :math:`A` (``M = 32``,
:math:`N = 128`, divided by 3) and scored on the test images with the paper's protocol
(:func:`sista_lib.evaluate.evaluate`). The unsupervised baselines (untrained SISTA with
:math:`K = 3`, SISTA and the per-column Lasso run to convergence) are scored the same way.

Layout of ``--out`` (every file is written atomically)::

    experiment.json             the shared configuration (a second process must match it)
    runs/MODEL_seedS.json       one finished run: scores, curves, snapshots, provenance
    runs/baselines.json         the unsupervised baselines
    checkpoints/MODEL_seedS.safetensors   the best parameters of each run (small, committed)
    train_state/MODEL_seedS.safetensors   resumable training state (large, git-ignored)
    results.json                everything merged (what the chapters load: load_results)

Runs are independent, so several processes can share one ``--out`` (one core each), e.g.::

    python -m sista_lib.experiment --preset paper --out results/paper --models lstm &
    python -m sista_lib.experiment --preset paper --out results/paper --no-baselines \
        --models sista_rnn sista_rnn_released stacked_rnn &
    wait; python -m sista_lib.experiment --merge --out results/paper

Each process merges what is finished when it ends; the final ``--merge`` sees every run.
An interrupted process restarted with ``--resume`` skips finished runs and continues the
others from their last epoch (bit-identically).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ._checks import check_positive_int, check_scalar, dataclass_from_dict
from .checkpoints import atomic_write_text, jsonable, save_parameters
from .data import STUDY_TEST_PHOTOS
from .evaluate import BASELINE_PROTOCOLS, evaluate, evaluate_baselines
from .metrics import SSIM_CONVENTIONS
from .models import LSTM_GATES, LSTM_INITS, MODEL_NAMES, STACKED_INITS
from .provenance import finish_provenance, provenance
from .train import TrainConfig, TrainingDivergedError, parameter_snapshot, train

__all__ = [
    "LEGACY_PROTOCOL",
    "MODEL_NAMES",
    "PRESETS",
    "ExperimentConfig",
    "run_experiment",
    "run_one",
    "run_baselines",
    "divergence_record",
    "build_network",
    "merge",
    "load_results",
    "results_table",
    "learning_curves",
    "plateaued",
    "tail_improvement",
    "study_status",
    "load_sweep",
    "learning_rate_sweep",
    "sweep_table",
    "status_table",
    "protocol_table",
    "AUTHORS_PROTOCOL",
    "FIXED_DIFFERENCES",
    "PROTOCOL_CHOICES",
]

SCHEMA = "sista_lib.experiment/1"
MODEL_LABELS = {
    "sista_rnn": "SISTA-RNN (paper)",
    "sista_rnn_released": "SISTA-RNN (released code)",
    "stacked_rnn": "generic stacked RNN",
    "lstm": "LSTM",
    "sista_untrained": "SISTA, K = 3, untrained",
    "sista_converged": "SISTA to convergence",
    "lasso_converged": "per-column Lasso (FISTA) to convergence",
}
LAYERS = {"sista_rnn": 3, "sista_rnn_released": 3, "stacked_rnn": 3, "lstm": 4}
METRICS = ("psnr", "ssim", "mse")
_METRIC_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "mse": "MSE (8-bit)"}


#: Values of the protocol fields for a configuration written before they existed (an
#: ``experiment.json`` or run record without them was made with these settings).
LEGACY_PROTOCOL: dict[str, Any] = {
    "rms_eps": 1e-8, "rms_init": 0.0, "lstm_rms_eps": 1e-8, "lstm_rms_init": 0.0,
    "lstm_clip_grad_norm": None, "lstm_keep_best": True, "select_last_epoch": True,
    "stacked_init": "scaled", "lstm_init": "torch", "lstm_gate": "sigmoid",
    "ssim": "skimage", "baselines": "book", "test_photos": ("china", "flower", "aero", "ascent"),
}


@dataclass(frozen=True)
class ExperimentConfig:
    r"""Everything the runs of one study share (the model and the seed excepted).

    The defaults are the authors' protocol, read line by line from their released code
    (stwisdom/sista-rnn: ``python/train_rnn.py``, ``python/optimizations.py``, the MATLAB
    scoring and baselines); the data are the bundled photos instead of Caltech-256.

    Attributes
    ----------
    preset : str
        Name of the preset these values started from (``"quick"``, ``"paper"`` or ``"custom"``).
    n_train, n_val, n_test : int
        Number of 128 x 128 images in each split (:func:`sista_lib.data.make_splits`).
    epochs, batch_size, lr :
        Training (:class:`sista_lib.train.TrainConfig`), shared by every network.
    clip_grad_norm : float, optional
        Global gradient-norm clipping of the soft-threshold RNNs (the authors': none).
    rms_eps, rms_init : float
        RMSprop's :math:`\epsilon` and initial accumulator for the soft-threshold RNNs; the
        authors' Theano RMSprop: 0 and :math:`10^{-3}` (:math:`\rho = 0.9` throughout).
    lstm_rms_eps, lstm_rms_init, lstm_clip_grad_norm : float
        The LSTM's Keras 1 ``RMSprop(lr, clipnorm=1.0)``: :math:`10^{-8}`, 0 and 1.
    lstm_keep_best : bool, default False
        The authors scored their LSTM's last epoch (``True``: the best validation epoch).
    select_last_epoch : bool, default False
        Whether the final epoch may be selected as the best (the authors validate before each
        epoch, never after the last; :class:`sista_lib.train.TrainConfig`).
    stacked_init : {"authors", "scaled"}
        :class:`sista_lib.models.StackedRNN`'s initialisation.
    lstm_init : {"keras1", "torch"}, lstm_gate : {"sigmoid", "hard_sigmoid"}
        :class:`sista_lib.models.LSTMBaseline`'s initialisation and gates. Keras 1's default
        gate is the hard sigmoid; the default here is the sigmoid, 1.7 times faster on a CPU
        (torch's fused LSTM).
    ssim : {"matlab", "skimage"}
        SSIM convention of the scoring (:func:`sista_lib.metrics.ssim`).
    baselines : {"authors", "book"}
        Protocol of the unsupervised baselines (:func:`sista_lib.evaluate.evaluate_baselines`).
    test_photos : tuple of str
        The photos of the test split (bundled source).
    data_seed : int, default 2013
        Seed of the image shuffle and split (the paper's).
    source : {"bundled", "caltech256"}, default "bundled"
        Image source of :func:`sista_lib.data.make_splits`.
    caltech_root : str, optional
        Folder of a local Caltech-256 copy; required when ``source="caltech256"``.
    skip_bad_images : bool, default False
        Caltech-256 only: skip unreadable files with a warning instead of stopping.
    m, a_seed : int
        Measurements per column (32) and the seed of :func:`~sista_lib.dictionaries.paper_measurement_matrix`.
    wavelet, level : str, int
        The dictionary :math:`D` (``db4``, 4 levels).
    dtype : {"float32", "float64"}
        Parameter precision of the networks.
    """

    preset: str = "custom"
    n_train: int = 750
    n_val: int = 100
    n_test: int = 100
    epochs: int = 100
    batch_size: int = 50
    lr: float = 1e-4
    clip_grad_norm: float | None = None
    data_seed: int = 2013
    source: str = "bundled"
    m: int = 32
    a_seed: int = 0
    wavelet: str = "db4"
    level: int = 4
    dtype: str = "float32"
    caltech_root: str | None = None
    rms_eps: float = 0.0
    rms_init: float = 1e-3
    lstm_rms_eps: float = 1e-8
    lstm_rms_init: float = 0.0
    lstm_clip_grad_norm: float | None = 1.0
    lstm_keep_best: bool = False
    select_last_epoch: bool = False
    stacked_init: str = "authors"
    lstm_init: str = "keras1"
    lstm_gate: str = "sigmoid"
    ssim: str = "matlab"
    baselines: str = "authors"
    test_photos: tuple[str, ...] = STUDY_TEST_PHOTOS
    skip_bad_images: bool = False

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test", "batch_size", "m", "level"):
            check_positive_int(getattr(self, name), name)
        for name in ("epochs", "data_seed", "a_seed"):
            check_positive_int(getattr(self, name), name, minimum=0)
        if self.m > 128:
            raise ValueError(f"m must be at most N = 128 (measurements per 128-pixel column), "
                             f"got {self.m}")
        check_scalar(self.lr, "lr", positive=True)
        for name in ("clip_grad_norm", "lstm_clip_grad_norm"):
            if getattr(self, name) is not None:
                check_scalar(getattr(self, name), name, positive=True)
        for name in ("rms_eps", "rms_init", "lstm_rms_eps", "lstm_rms_init"):
            check_scalar(getattr(self, name), name, nonnegative=True)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.source not in ("bundled", "caltech256"):
            raise ValueError(f"source must be 'bundled' or 'caltech256', got {self.source!r}")
        if self.source == "caltech256" and self.caltech_root is None:
            raise ValueError("source='caltech256' needs caltech_root (the Caltech-256 folder)")
        if self.source == "bundled" and self.caltech_root is not None:
            raise ValueError("caltech_root is only used with source='caltech256', got "
                             f"caltech_root={self.caltech_root!r} with source='bundled'")
        for name in ("preset", "source", "wavelet"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a str, got {type(getattr(self, name)).__name__}")
        for name, allowed in (("stacked_init", STACKED_INITS), ("lstm_init", LSTM_INITS),
                              ("lstm_gate", LSTM_GATES), ("ssim", SSIM_CONVENTIONS),
                              ("baselines", BASELINE_PROTOCOLS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("lstm_keep_best", "select_last_epoch", "skip_bad_images"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        if isinstance(self.test_photos, str) or not all(
                isinstance(n, str) for n in self.test_photos):
            raise TypeError(f"test_photos must be a sequence of photo names, got "
                            f"{self.test_photos!r}")
        object.__setattr__(self, "test_photos", tuple(self.test_photos))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, legacy: bool = False) -> "ExperimentConfig":
        """Inverse of ``to_dict``. With ``legacy``, protocol fields missing from ``d`` take
        the values of ``LEGACY_PROTOCOL`` (the settings of a study written before they
        existed) instead of the defaults."""
        if legacy:
            d = {**LEGACY_PROTOCOL, **d}
        return dataclass_from_dict(cls, d)

    def train_config(self, seed: int, model: str = "sista_rnn", *,
                     device: str = "cpu") -> TrainConfig:
        """The :class:`~sista_lib.train.TrainConfig` of one run: the LSTM gets its Keras 1
        optimiser settings, the soft-threshold RNNs the authors' Theano RMSprop."""
        lstm = model == "lstm"
        return TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed,
            eps=self.lstm_rms_eps if lstm else self.rms_eps,
            rms_init=self.lstm_rms_init if lstm else self.rms_init,
            clip_grad_norm=self.lstm_clip_grad_norm if lstm else self.clip_grad_norm,
            keep_best=self.lstm_keep_best if lstm else True,
            select_last_epoch=self.select_last_epoch, device=device,
        )

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


#: What the authors' released code does, item by item, beside the field of
#: :class:`ExperimentConfig` that reproduces it (see :func:`protocol_table`).
AUTHORS_PROTOCOL: tuple[tuple[str, str, Any, str], ...] = (
    ("optimiser of the soft-threshold RNNs", "rms_eps", 0.0,
     "Theano RMSprop, rho 0.9, no epsilon"),
    ("initial RMSprop accumulator (soft-threshold RNNs)", "rms_init", 1e-3,
     "accumulator initialised to 1e-3"),
    ("gradient clipping (soft-threshold RNNs)", "clip_grad_norm", None, "none"),
    ("optimiser of the LSTM", "lstm_rms_eps", 1e-8, "Keras 1 RMSprop, rho 0.9, epsilon 1e-8"),
    ("gradient clipping (LSTM)", "lstm_clip_grad_norm", 1.0, "global norm clipped at 1"),
    ("LSTM parameters scored", "lstm_keep_best", False, "the last epoch's"),
    ("model selection", "select_last_epoch", False,
     "validation before each epoch (epoch 0 included, never after the last), strict <"),
    ("generic RNN initialisation", "stacked_init", "authors",
     "Gaussian, std sqrt(2/(n_in n_out)); thresholds N(0, 2/H); layers 2..K one shared draw"),
    ("LSTM initialisation", "lstm_init", "keras1",
     "Glorot-uniform input, 1.1 x orthogonal recurrent weights, forget bias 1, one bias per "
     "gate"),
    ("LSTM gates", "lstm_gate", "hard_sigmoid", "Keras 1's hard sigmoid"),
    ("SSIM", "ssim", "matlab", "MATLAB's ssim: the mean of the whole map"),
    ("unsupervised baselines", "baselines", "authors",
     "plain Lasso for the first column; converged SISTA with alpha = 1"),
    ("learning rate, batch, epochs", "lr", 1e-4, "1e-4, 50, 100 (49,000 steps)"),
)

#: Why the ``paper`` preset departs from an item of :data:`AUTHORS_PROTOCOL`, by field; the
#: item's flag gives the authors' setting.
PROTOCOL_CHOICES: dict[str, str] = {
    "lstm_gate": "torch's fused LSTM kernel has sigmoid gates only; a hard-sigmoid LSTM runs a "
                 "step-by-step loop, slower on a CPU (--lstm-gate hard_sigmoid gives the authors')",
}

#: What differs from the authors' study whatever the configuration, and why.
FIXED_DIFFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("images", "Caltech-256, 30,607 photos, shuffled with seed 2013, split 80/10/10",
     "random 128 x 128 crops of photos bundled with Python packages, split by photo",
     "Caltech-256 cannot be downloaded where the book is built; `--source caltech256` loads a "
     "local copy"),
    ("normalisation statistics", "computed on all images before the split",
     "fitted on the training split only", "test images must not inform training"),
    ("first layer of the released SISTA-RNN", "complex-valued scaffold, imaginary parts zero",
     "real arithmetic", "the same function (checked to 1e-14 in float64)"),
    ("soft threshold", "z max(|z| + b, 0) / sqrt(z^2 + 1e-9)", "sign(z) max(|z| - b, 0)",
     "equal to about 1e-8; the exact form has the exact gradient"),
    ("baselines' stopping test", "per column",
     "the whole batch of columns of one time step", "every column converges at least as far"),
    ("generic RNN's random draws", "one fixed RandomState(4299) for every run",
     "seeded by the run's seed", "seeds must differ for the spread over seeds to mean anything"),
    ("a non-finite gradient", "not tested: training goes on with non-finite parameters, and the "
     "best validated ones are scored", "the run stops and is recorded as diverged, with the "
     "scores of its best validated parameters", "a divergence is a result to report, not to hide "
     "in a mean; the record keeps what the authors' code would score"),
)


def protocol_table(config: "ExperimentConfig") -> list[dict[str, Any]]:
    """Each item of the authors' protocol: what they did, what ``config`` does, whether the
    two agree (rows for a table in the book; see :data:`AUTHORS_PROTOCOL`)."""
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    rows = []
    for item, field, authors_value, authors_text in AUTHORS_PROTOCOL:
        value = getattr(config, field)
        if field == "lr":
            same = (config.lr, config.batch_size, config.epochs) == (1e-4, 50, 100)
            value = f"{config.lr:g}, {config.batch_size}, {config.epochs}"
        else:
            same = value == authors_value
        rows.append({"item": item, "field": field, "authors": authors_text, "here": value,
                     "same": same})
    return rows


PRESETS: dict[str, dict[str, Any]] = {
    # The whole study (4 models, 1 seed, baselines) in about a minute on 2 CPU cores.
    "quick": {"config": ExperimentConfig(preset="quick", n_train=30, n_val=10, n_test=12,
                                         epochs=3, batch_size=10),
              "seeds": (0,)},
    # The paper's study: its protocol (the defaults) at its scale, 24,500 training, 3,060
    # validation and 3,060 test images (490 steps per epoch, 100 epochs: 49,000 steps per run),
    # 3 seeds. Hours of CPU per run: see results/README.md for the cost and how to shard it.
    "paper": {"config": ExperimentConfig(preset="paper", n_train=24500, n_val=3060,
                                         n_test=3060, epochs=100, batch_size=50),
              "seeds": (0, 1, 2)},
    # The learning-rate sweep: the paper's data and protocol, one seed, 5 epochs (2,450 steps);
    # run once per --lr into its own folder (results/README.md).
    "lr-sweep": {"config": ExperimentConfig(preset="lr-sweep", n_train=24500, n_val=3060,
                                            n_test=3060, epochs=5, batch_size=50),
                 "seeds": (0,)},
    # The book's first, smaller study (kept reproducible): 750 training images and the
    # earlier protocol (Keras-style RMSprop for every network, variance-scaled stacked RNN,
    # torch's LSTM initialisation, best epoch of every network, scikit-image's SSIM).
    "small-v1": {"config": ExperimentConfig.from_dict(
        {"preset": "small-v1", "n_train": 750, "n_val": 100, "n_test": 100}, legacy=True),
        "seeds": (0, 1, 2)},
}


# --------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    A: np.ndarray
    D: np.ndarray
    splits: Any
    normalizer: Any
    train_set: Any
    val_set: Any
    record: dict[str, Any] | None = None


def _problem(config: ExperimentConfig) -> _Problem:
    from . import data
    from .dictionaries import paper_measurement_matrix, wavelet_dictionary

    A = paper_measurement_matrix(config.m, 128, seed=config.a_seed)
    D = wavelet_dictionary(128, config.wavelet, config.level)
    splits = data.make_splits(
        config.n_train, config.n_val, config.n_test, seed=config.data_seed,
        source=config.source, caltech_root=config.caltech_root,
        test_photos=config.test_photos if config.source == "bundled" else None,
        **({"skip_bad": True} if config.skip_bad_images else {}))
    normalizer = splits.fit_normalizer()
    dtype = config.torch_dtype
    problem = _Problem(
        A=A, D=D, splits=splits, normalizer=normalizer,
        train_set=data.CompressiveSensingDataset(splits.train, A, normalizer, dtype=dtype),
        val_set=data.CompressiveSensingDataset(splits.val, A, normalizer, dtype=dtype),
    )
    problem.record = _data_record(problem)
    # The float64 training and validation images are no longer needed (the data sets hold
    # them normalised, in the networks' precision): at the paper's scale they are 3.6 GB.
    splits.train, splits.val = splits.train[:0], splits.val[:0]
    return problem


def _data_record(problem: _Problem) -> dict[str, Any]:
    return {
        "source": problem.splits.source,
        "sizes": problem.splits.sizes(),
        "photos": problem.splits.photos,
        "normalizer": problem.normalizer.to_dict(),
    }


# --------------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------------


def _run_id(model: str, seed: int) -> str:
    return f"{model}_seed{seed}"


def _check_models(models: Sequence[str]) -> tuple[str, ...]:
    if isinstance(models, str):
        models = (models,)
    models = tuple(models)
    if not models:
        raise ValueError("models must name at least one model")
    for m in models:
        if m not in MODEL_NAMES:
            raise ValueError(f"unknown model {m!r}; models must be among {MODEL_NAMES}")
    if len(set(models)) != len(models):
        raise ValueError(f"models must not repeat a model (it would train the same run twice), "
                         f"got {list(models)}")
    return models


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    seeds = tuple(check_positive_int(s, "seeds", minimum=0) for s in seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat a seed (it would train the same run twice), "
                         f"got {list(seeds)}")
    return seeds


def _check_out(out: Any) -> Path:
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out).strip():
        raise ValueError(f"out must name a folder, got {out!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, but {out} is a file")
    return out


def _check_memory(config: ExperimentConfig) -> None:
    """Refuse a data set that cannot fit in this machine's memory, before anything is written."""
    n = config.n_train + config.n_val + config.n_test
    side = 128
    # float64 images while they are made, then the float32 sequences x and y of train and val
    need = n * side * side * 8 + (config.n_train + config.n_val) * side * (side + config.m) * 4
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    if need > 0.8 * total:
        raise ValueError(
            f"n_train + n_val + n_test = {n} images need about {need / 2**30:.1f} GiB, more "
            f"than 80 % of this machine's {total / 2**30:.1f} GiB; use fewer images")


def _probe_writable(out: Path) -> None:
    for sub in ("runs", "checkpoints", "train_state"):
        folder = out / sub
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-probe"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise PermissionError(f"cannot write in {folder}: {exc.strerror}") from None


def _scores_record(scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
    from .metrics import summarize

    return {
        "summary": summarize(scores),
        "per_image": {k: [float(v) for v in np.asarray(scores[k])] for k in scores},
    }


def build_network(name: str, A: Any, D: Any, config: ExperimentConfig | Mapping[str, Any],
                  seed: int) -> torch.nn.Module:
    """The network ``name`` of run ``seed`` as a study builds it before training: the model
    factory (:func:`sista_lib.models.build_model`) with the study's precision, initialisation
    of the black boxes (``stacked_init``, ``lstm_init``) and LSTM gate, seeded with ``seed``.

    Parameters
    ----------
    name : str
        One of ``sista_lib.models.MODEL_NAMES``.
    A, D : arrays
        The study's measurement matrix :math:`A_0` and dictionary :math:`D_0`.
    config : ExperimentConfig, or its dict as a study records it (``results["config"]``; fields
        it lacks take the values of :data:`LEGACY_PROTOCOL`, as for the study that wrote it)
    seed : int

    Notes
    -----
    Seeds torch's global generator with ``seed`` (as training did, which drew from it next).
    """
    from .models import build_model

    if not isinstance(config, ExperimentConfig):
        config = ExperimentConfig.from_dict(config, legacy=True)
    kw: dict[str, Any] = {"dtype": config.torch_dtype}
    if name in ("stacked_rnn", "lstm"):
        kw["seed"] = seed
    if name == "stacked_rnn":
        kw["init"] = config.stacked_init
    if name == "lstm":
        kw.update(init=config.lstm_init, gate=config.lstm_gate)
    torch.manual_seed(seed)
    return build_model(name, A, D, **kw)


#: What each process that trains a run records of itself (``record["train"]["segments"]``):
#: a run resumed in several sessions names every commit and machine it was trained from.
_SEGMENT_FIELDS = ("git_commit", "git_dirty", "cpu", "gpu", "start", "command")


def run_one(
    name: str,
    seed: int,
    config: ExperimentConfig,
    out: str | os.PathLike,
    *,
    problem: _Problem | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train and score one (model, seed); write ``runs/MODEL_seedS.json`` and the best parameters.

    The scores are those of the parameters training ends with: the best validation epoch, or
    for the LSTM under the authors' protocol (``lstm_keep_best=False``) the last epoch.

    Returns the run record (what the JSON file holds).
    """
    from .models import count_parameters

    _check_models([name])
    seed = check_positive_int(seed, "seed", minimum=0)
    out = Path(out)
    problem = _problem(config) if problem is None else problem
    prov = provenance(command, output=out)
    rid = _run_id(name, seed)

    model = build_network(name, problem.A, problem.D, config, seed)
    splits = problem.splits
    initial = evaluate(model, splits.test, problem.A, problem.normalizer,
                       ssim_convention=config.ssim)
    result = train(
        model, problem.train_set, problem.val_set,
        config.train_config(seed, name, device=device),
        checkpoint_path=out / "train_state" / f"{rid}.safetensors", resume=resume,
        progress=progress, callback=parameter_snapshot,
        segment={key: prov[key] for key in _SEGMENT_FIELDS},
    )
    scores = evaluate(model, splits.test, problem.A, problem.normalizer,
                      ssim_convention=config.ssim)
    ckpt = out / "checkpoints" / f"{rid}.safetensors"
    scored_epoch = result.best_epoch if result.config.keep_best else result.epochs
    save_parameters(ckpt, model.state_dict(), {
        "model": name, "seed": seed, "best_epoch": result.best_epoch,
        "scored_epoch": scored_epoch, "config": config.to_dict(),
    })
    record = {
        "schema": SCHEMA,
        "kind": "run",
        "model": name,
        "seed": seed,
        "config": config.to_dict(),
        "n_parameters": count_parameters(model),
        "layers": LAYERS[name],
        "test": _scores_record(scores),
        "test_initial": _scores_record(initial),
        "train": result.history(),
        "train_wall_time_s": float(sum(result.epoch_seconds)),
        "scored_epoch": scored_epoch,
        "device": device,
        "checkpoint": str(ckpt.relative_to(out)),
        "data": problem.record,
        "provenance": finish_provenance(prov),
    }
    atomic_write_text(out / "runs" / f"{rid}.json", json.dumps(record, indent=1))
    return record


def run_baselines(
    config: ExperimentConfig,
    out: str | os.PathLike,
    *,
    problem: _Problem | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Score the unsupervised baselines on the test images; write ``runs/baselines.json``."""
    out = Path(out)
    problem = _problem(config) if problem is None else problem
    prov = provenance(command, output=out)
    base = evaluate_baselines(problem.splits.test, problem.A, problem.D, problem.normalizer,
                              protocol=config.baselines, ssim_convention=config.ssim)
    methods = {}
    for key, entry in base.items():
        rec = {k: v for k, v in entry.items() if k != "scores"}
        rec.update(_scores_record(entry["scores"]))
        methods[key] = jsonable(rec)
    record = {
        "schema": SCHEMA,
        "kind": "baselines",
        "config": config.to_dict(),
        "methods": methods,
        "data": problem.record,
        "provenance": finish_provenance(prov),
    }
    atomic_write_text(out / "runs" / "baselines.json", json.dumps(record, indent=1))
    return record


def _check_folder(out: Path, config: ExperimentConfig) -> bool:
    """Whether ``out`` already holds this study; raises if it holds another one. Writes nothing."""
    manifest = out / "experiment.json"
    if not manifest.exists():
        return False
    saved = _read_json(manifest, "the study's experiment.json (use another --out)")
    # Protocol fields added after a study started take the values it was run with.
    saved_config = ExperimentConfig.from_dict(saved.get("config", {}), legacy=True).to_dict()
    if saved_config != config.to_dict():
        diff = {k: (saved_config.get(k), v) for k, v in config.to_dict().items()
                if saved_config.get(k) != v}
        raise ValueError(
            f"{out} holds a study with another configuration (saved, requested): {diff}; "
            "use another --out"
        )
    return True


def _claim_folder(out: Path, config: ExperimentConfig) -> None:
    """Write ``experiment.json`` or check that the folder was started with the same config."""
    manifest = out / "experiment.json"
    if _check_folder(out, config):
        return
    atomic_write_text(manifest, json.dumps({"schema": SCHEMA, "config": config.to_dict()},
                                           indent=1))
    gitignore = out / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, "# resumable training states: large, not committed\n"
                                     "train_state/\n")


def divergence_record(name: str, seed: int, config: ExperimentConfig, out: str | os.PathLike,
                      exc: TrainingDivergedError, *,
                      problem: _Problem | None = None) -> dict[str, Any]:
    """What is known of a run that diverged: where it did, and how far it had got.

    Besides the model, seed, error, epoch and optimiser step of the divergence, the record
    reads the run's last training state (``train_state/MODEL_seedS.safetensors``, written after
    every finished epoch), when there is one: the epochs trained, the training and validation
    losses, the best validation epoch, and the test scores of the parameters of that epoch
    (``best_test``), saved to ``failed/MODEL_seedS.safetensors`` (``checkpoint``). Those are the
    parameters the authors' code reports for such a run: it trains on with non-finite
    parameters, whose validation error is never below the best, and reloads the best validated
    parameters at the end.
    """
    from .checkpoints import load_checkpoint

    out = Path(out)
    rid = _run_id(name, seed)
    record: dict[str, Any] = {"model": name, "seed": seed, "error": str(exc),
                              "epoch": exc.epoch, "step": exc.step}
    state = out / "train_state" / f"{rid}.safetensors"
    if not state.exists():
        return record
    problem = _problem(config) if problem is None else problem
    ckpt = load_checkpoint(state)
    hist = ckpt["history"]
    model = build_network(name, problem.A, problem.D, config, seed)
    model.load_state_dict(ckpt["best"])
    scores = evaluate(model, problem.splits.test, problem.A, problem.normalizer,
                      ssim_convention=config.ssim)
    path = out / "failed" / f"{rid}.safetensors"
    save_parameters(path, model.state_dict(), {
        "model": name, "seed": seed, "best_epoch": hist["best_epoch"],
        "scored_epoch": hist["best_epoch"], "config": config.to_dict(),
    })
    return record | {
        "epochs_trained": hist["epoch"], "steps_trained": hist["steps"],
        "initial_val_loss": hist["initial_val_loss"], "train_loss": hist["train_loss"],
        "val_loss": hist["val_loss"], "best_epoch": hist["best_epoch"],
        "best_val_loss": hist["best_val_loss"], "best_test": _scores_record(scores),
        "checkpoint": str(path.relative_to(out)),
    }


def run_experiment(
    config: ExperimentConfig,
    out: str | os.PathLike,
    *,
    models: Sequence[str] = MODEL_NAMES,
    seeds: Sequence[int] = (0,),
    baselines: bool = True,
    resume: bool = False,
    progress: bool = True,
    do_merge: bool = True,
    command: str | None = None,
    device: str = "cpu",
) -> dict[str, Any] | None:
    """Run every (model, seed) of the study into ``out``, the baselines, then :func:`merge`.

    With ``resume``, finished runs (their JSON exists) are skipped and unfinished ones continue
    from their training state. A run that diverges (:class:`~sista_lib.train.TrainingDivergedError`)
    is reported with its model and seed, recorded in ``out/failed/MODEL_seedS.json``
    (:func:`divergence_record`), and the other runs go on; ``results["failed_runs"]`` lists
    them. Returns the merged results (``None`` when ``do_merge`` is off).
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    models = _check_models(models)
    seeds = _check_seeds(seeds)
    out = _check_out(out)
    # Everything that can fail is checked before the folder is claimed, so that a failed
    # command never leaves a folder that the corrected command would refuse.
    config.train_config(0, device=device)          # a bad device name fails here
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device is {device!r} but torch sees no CUDA device")
    _check_folder(out, config)
    _check_memory(config)
    problem = _problem(config)
    out.mkdir(parents=True, exist_ok=True)
    _probe_writable(out)
    _claim_folder(out, config)
    failed: list[str] = []
    if baselines and not (resume and (out / "runs" / "baselines.json").exists()):
        run_baselines(config, out, problem=problem, command=command)
    for seed in seeds:
        for name in models:
            if resume and (out / "runs" / f"{_run_id(name, seed)}.json").exists():
                continue
            try:
                run_one(name, seed, config, out, problem=problem, resume=resume,
                        progress=progress, command=command, device=device)
            except TrainingDivergedError as exc:
                rid = _run_id(name, seed)
                print(f"run {rid} diverged ({exc}); the other runs go on", file=sys.stderr)
                failed.append(rid)
                atomic_write_text(out / "failed" / f"{rid}.json", json.dumps(
                    divergence_record(name, seed, config, out, exc, problem=problem), indent=1))
    if not do_merge:
        return None
    results = merge(out, command=command)
    results["failed_runs"] = failed
    return results


# --------------------------------------------------------------------------------------------
# merge and load
# --------------------------------------------------------------------------------------------


def tail_improvement(val_losses: Sequence[float], initial: float | None = None, *,
                     tail: float = 0.2) -> float:
    r"""How much the last epochs of a validation curve improve on the epochs before them.

    With the curve :math:`v_0, v_1, \dots, v_E` (``initial`` is :math:`v_0`; without it the
    curve starts at epoch 1), the last :math:`\lceil \text{tail}\cdot E \rceil` epochs form the
    tail, and the relative improvement of the tail's best value on the best value before it is

    .. math::

        g = \frac{\min_{e < E_0} v_e - \min_{e \ge E_0} v_e}{\min_{e < E_0} v_e},
        \qquad E_0 = E - \lceil \text{tail}\cdot E \rceil + 1 .

    :math:`g = 0.02` says that the last 20 % of the epochs (``tail=0.2``) still lowered the best
    validation error by 2 %; :math:`g \le 0` that they did not lower it at all.

    Parameters
    ----------
    val_losses : sequence of float
        Validation loss after each epoch (``TrainResult.val_loss``).
    initial : float, optional
        Validation loss of the initial parameters (epoch 0).
    tail : float in (0, 1), default 0.2

    Raises
    ------
    ValueError
        If ``tail`` is not in (0, 1) or the curve is too short to have a tail and epochs before it.
    """
    curve = ([] if initial is None else [float(initial)]) + [float(v) for v in val_losses]
    check_scalar(tail, "tail", positive=True)
    if not 0 < tail < 1:
        raise ValueError(f"tail must be in (0, 1), got {tail}")
    n_tail = int(np.ceil(tail * len(val_losses)))
    if n_tail < 1 or len(curve) - n_tail < 1:
        raise ValueError(f"the curve is too short to judge a plateau: {len(curve)} values")
    before, last = min(curve[:-n_tail]), min(curve[-n_tail:])
    return float((before - last) / abs(before))


def plateaued(val_losses: Sequence[float], initial: float | None = None, *,
              tail: float = 0.2, tol: float = 0.01) -> bool:
    r"""Whether a validation curve has levelled off by the end of training.

    The curve has plateaued when its tail improves on the epochs before it by less than ``tol``,
    :math:`g < \text{tol}` with :math:`g` the relative improvement of :func:`tail_improvement`
    (the last :math:`\lceil \text{tail}\cdot E \rceil` of the :math:`E` epochs form the tail).

    Parameters
    ----------
    val_losses : sequence of float
        Validation loss after each epoch (``TrainResult.val_loss``).
    initial : float, optional
        Validation loss of the initial parameters (epoch 0).
    tail : float in (0, 1), default 0.2
    tol : float > 0, default 0.01
    """
    check_scalar(tol, "tol", positive=True)
    return bool(tail_improvement(val_losses, initial, tail=tail) < tol)


def _tail_improvements(runs: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """:func:`tail_improvement` of each seed's validation curve (seeds with at least 2 epochs)."""
    return [tail_improvement(r["train"]["val_loss"], r["train"]["initial_val_loss"])
            for r in runs.values() if len(r["train"]["val_loss"]) >= 2]


def _plateau_count(runs: Mapping[str, Mapping[str, Any]]) -> tuple[int, int] | None:
    """(seeds whose validation curve plateaued, seeds) for one model's runs."""
    flags = [plateaued(r["train"]["val_loss"], r["train"]["initial_val_loss"])
             for r in runs.values() if len(r["train"]["val_loss"]) >= 2]
    return (sum(flags), len(flags)) if flags else None


def _seed_summary(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    seeds = sorted(runs, key=int)
    out: dict[str, Any] = {"seeds": [int(s) for s in seeds]}
    for metric in METRICS:
        per_seed = [runs[s]["test"]["summary"][metric]["mean"] for s in seeds]
        initial = [runs[s]["test_initial"]["summary"][metric]["mean"] for s in seeds]
        out[metric] = {"mean": float(np.mean(per_seed)), "std": float(np.std(per_seed)),
                       "per_seed": per_seed, "initial_mean": float(np.mean(initial))}
    first = runs[seeds[0]]
    out["n_parameters"] = first["n_parameters"]
    out["layers"] = first["layers"]
    out["best_epoch"] = [runs[s]["train"]["best_epoch"] for s in seeds]
    out["train_wall_time_s"] = [runs[s]["train_wall_time_s"] for s in seeds]
    out["best_val_loss"] = [runs[s]["train"]["best_val_loss"] for s in seeds]
    out["steps"] = [runs[s]["train"]["steps"] for s in seeds]
    out["plateaued"] = [plateaued(runs[s]["train"]["val_loss"], runs[s]["train"]["initial_val_loss"])
                        if len(runs[s]["train"]["val_loss"]) >= 2 else None for s in seeds]
    return out


def merge(out: str | os.PathLike, *, command: str | None = None) -> dict[str, Any]:
    """Merge ``out/runs/*.json`` into ``out/results.json`` (atomically) and return it.

    Raises
    ------
    FileNotFoundError
        If ``out/runs`` holds no run.
    ValueError
        If the runs were made with different configurations.
    """
    out = Path(out)
    prov = provenance(command, output=out)
    files = sorted((out / "runs").glob("*.json")) if (out / "runs").is_dir() else []
    failed = _failed_runs(out)
    if not files and not (failed and (out / "experiment.json").exists()):
        raise FileNotFoundError(f"no runs to merge in {out / 'runs'}")
    config = data_info = None
    if not files:   # every run diverged: the study's configuration is its manifest's
        config = _read_json(out / "experiment.json", "the study's experiment.json")["config"]
    runs: dict[str, dict[str, Any]] = {}
    baselines = None
    run_prov: dict[str, Any] = {}
    for f in files:
        rec = _read_json(f, f"a {SCHEMA} run record")
        if rec.get("schema") != SCHEMA:
            raise ValueError(f"{f} is not a {SCHEMA} record")
        _require(rec, ("kind", "config", "provenance"), f)
        _require(rec, ("methods",) if rec["kind"] == "baselines" else _RUN_FIELDS, f)
        if config is None:
            config = rec["config"]
        elif rec["config"] != config:
            raise ValueError(f"{f} was made with another configuration than {files[0]}; "
                             "runs of one study must share it")
        data_info = data_info or rec.get("data")
        if rec["kind"] == "baselines":
            baselines = rec["methods"]
            run_prov["baselines"] = rec["provenance"]
        else:
            runs.setdefault(rec["model"], {})[str(rec["seed"])] = rec
            run_prov[_run_id(rec["model"], rec["seed"])] = rec["provenance"]
    order = [m for m in MODEL_NAMES if m in runs]
    results = {
        "schema": SCHEMA,
        "name": out.name,
        "config": config,
        "data": data_info,
        "models": order,
        "seeds": sorted({int(s) for m in runs.values() for s in m}),
        "summary": {m: _seed_summary(runs[m]) for m in order},
        "baselines": baselines,
        "runs": {m: dict(sorted(runs[m].items(), key=lambda kv: int(kv[0]))) for m in order},
        "failed": failed,
        "provenance": {"merge": finish_provenance(prov), "runs": run_prov},
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=1))
    return results


def _failed_runs(out: Path) -> dict[str, dict[str, Any]]:
    """The records of ``out/failed/*.json`` (runs that diverged), by run id."""
    failed = {}
    for f in sorted((out / "failed").glob("*.json")) if (out / "failed").is_dir() else []:
        rec = _read_json(f, "a record of a diverged run")
        _require(rec, ("model", "seed", "error", "epoch", "step"), f)
        failed[f.stem] = rec
    return failed


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; errors name the file."""
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}); it should be {what}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file; it should be {what}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, not {what}")
    return value


def _require(record: Mapping[str, Any], fields: Sequence[str], path: Path) -> None:
    missing = [f for f in fields if f not in record]
    if missing:
        raise ValueError(f"{path} lacks the field(s) {', '.join(missing)}: it is incomplete or "
                         "was not written by sista_lib.experiment")


_RUN_FIELDS = ("schema", "kind", "model", "seed", "config", "n_parameters", "layers", "test",
               "test_initial", "train", "train_wall_time_s", "provenance")


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Load a study's ``results.json`` (``path`` is the file or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the experiment (and --merge) first")
    results = _read_json(path, f"a {SCHEMA} results file")
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} results file")
    _require(results, ("config", "models", "seeds", "summary", "runs", "provenance"), path)
    return results


# --------------------------------------------------------------------------------------------
# a study in progress
# --------------------------------------------------------------------------------------------


#: A run's record or training state: ``MODEL_seedS.json`` or ``MODEL_seedS.safetensors``.
_RUN_FILE = re.compile(r"[a-z0-9_]+_seed(\d+)\.(?:json|safetensors)")


def study_status(out: str | os.PathLike, *, models: Sequence[str] | None = None,
                 seeds: Sequence[int] | None = None) -> dict[str, Any]:
    r"""Where a study folder stands: each run finished, failed, training or not started.

    Reads ``out/experiment.json``, ``out/runs/``, ``out/failed/`` and the resumable states in
    ``out/train_state/`` (each verified on load); writes nothing. A run in training reports its
    epoch :math:`e` of :math:`E`, the mean wall time of its epochs :math:`\bar s` and the
    estimate :math:`(E - e)\,\bar s` of the time it still needs (on the same machine).

    Parameters
    ----------
    out : path
        The study folder.
    models : sequence of str, optional
        Default: every model of ``MODEL_NAMES``.
    seeds : sequence of int, optional
        Default: the seeds of the study's preset (``config["preset"]`` in ``PRESETS``), or,
        for another preset, those of the runs found.

    Returns
    -------
    dict
        ``config``; ``runs``: one dict per (model, seed) with ``model``, ``seed``, ``state``
        (``"finished"``, ``"failed"``, ``"training"`` or ``"not started"``), ``epoch`` (for a
        failed run, the epochs it finished before it diverged), ``epochs``, ``mean_epoch_s``,
        ``remaining_s``, ``test_psnr`` (finished runs) and ``segments`` (the processes that
        trained it); ``baselines``: whether they are scored;
        ``remaining_s``: the sum over runs in training or not started (a run not started is
        estimated from the finished or training runs of the same model, else ``None``).

    Raises
    ------
    FileNotFoundError
        If ``out`` holds no ``experiment.json``.
    """
    from .checkpoints import load_checkpoint

    out = _check_out(out)
    manifest = out / "experiment.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} does not exist: {out} is not a study folder")
    saved = _read_json(manifest, "the study's experiment.json")
    config = ExperimentConfig.from_dict(saved.get("config", {}), legacy=True)
    models = _check_models(MODEL_NAMES if models is None else models)
    if seeds is None:
        names = [f.name for folder in ("runs", "train_state") for f in (out / folder).glob("*")]
        found = {int(m.group(1)) for m in map(_RUN_FILE.fullmatch, names) if m}
        seeds = PRESETS[config.preset]["seeds"] if config.preset in PRESETS else sorted(found)
    seeds = _check_seeds(seeds)
    runs = []
    for seed in seeds:
        for name in models:
            rid = _run_id(name, seed)
            row: dict[str, Any] = {"model": name, "seed": seed, "state": "not started",
                                   "epoch": 0, "epochs": config.epochs, "mean_epoch_s": None,
                                   "remaining_s": None, "test_psnr": None, "segments": []}
            record, state = out / "runs" / f"{rid}.json", out / "train_state" / f"{rid}.safetensors"
            if record.exists():
                rec = _read_json(record, f"a {SCHEMA} run record")
                _require(rec, _RUN_FIELDS, record)
                seconds = rec["train"]["epoch_seconds"]
                row.update(state="finished", epoch=len(seconds), remaining_s=0.0,
                           mean_epoch_s=float(np.mean(seconds)) if seconds else None,
                           test_psnr=float(rec["test"]["summary"]["psnr"]["mean"]),
                           segments=rec["train"].get("segments", []))
            elif (out / "failed" / f"{rid}.json").exists():
                rec = _read_json(out / "failed" / f"{rid}.json", "a record of a diverged run")
                row.update(state="failed", epoch=int(rec.get("epochs_trained", 0)))
            elif state.exists():
                hist = load_checkpoint(state)["history"]
                seconds = hist["epoch_seconds"]
                mean = float(np.mean(seconds)) if seconds else None
                row.update(state="training", epoch=int(hist["epoch"]), mean_epoch_s=mean,
                           segments=hist.get("segments", []),
                           remaining_s=None if mean is None
                           else (config.epochs - int(hist["epoch"])) * mean)
            runs.append(row)
    per_model: dict[str, list[float]] = {}
    for row in runs:
        if row["mean_epoch_s"] is not None:
            per_model.setdefault(row["model"], []).append(row["mean_epoch_s"])
    for row in runs:
        if row["state"] == "not started" and row["model"] in per_model:
            row["remaining_s"] = config.epochs * float(np.mean(per_model[row["model"]]))
    pending = [row["remaining_s"] for row in runs if row["state"] in ("training", "not started")]
    return {
        "config": config.to_dict(),
        "runs": runs,
        "baselines": (out / "runs" / "baselines.json").exists(),
        "remaining_s": None if any(r is None for r in pending) else float(sum(pending)),
    }


def status_table(status: Mapping[str, Any]) -> str:
    """:func:`study_status` as a Markdown table, one row per run, then a line of totals."""
    def hours(seconds: float | None) -> str:
        return "?" if seconds is None else f"{seconds / 3600:.1f} h"

    lines = ["| run | state | epoch | s / epoch | left | test PSNR (dB) |",
             "|---|---|---|---|---|---|"]
    for row in status["runs"]:
        mean = "" if row["mean_epoch_s"] is None else f"{row['mean_epoch_s']:.0f}"
        psnr = "" if row["test_psnr"] is None else f"{row['test_psnr']:.2f}"
        left = "" if row["state"] in ("finished", "failed") else hours(row["remaining_s"])
        lines.append(f"| {_run_id(row['model'], row['seed'])} | {row['state']} | "
                     f"{row['epoch']}/{row['epochs']} | {mean} | {left} | {psnr} |")
    done = sum(row["state"] == "finished" for row in status["runs"])
    lines.append("")
    lines.append(f"{done} of {len(status['runs'])} runs finished; baselines "
                 f"{'scored' if status['baselines'] else 'not scored'}; about "
                 f"{hours(status['remaining_s'])} of single-core training left.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the book's table and curves
# --------------------------------------------------------------------------------------------


def load_sweep(path: str | os.PathLike) -> dict[float, dict[str, Any]]:
    """The studies of a learning-rate sweep: every ``path/*/results.json``, by learning rate.

    Raises
    ------
    FileNotFoundError
        If ``path`` holds no study.
    ValueError
        If two studies have the same learning rate.
    """
    path = Path(path)
    folders = sorted(f.parent for f in path.glob("*/results.json"))
    if not folders:
        raise FileNotFoundError(f"{path} holds no study (no */results.json)")
    studies: dict[float, dict[str, Any]] = {}
    for folder in folders:
        results = load_results(folder)
        lr = float(results["config"]["lr"])
        if lr in studies:
            raise ValueError(f"two studies in {path} have the learning rate {lr:g}")
        studies[lr] = results
    return dict(sorted(studies.items()))


def learning_rate_sweep(studies: Mapping[float, Mapping[str, Any]], *,
                        metric: str = "psnr") -> dict[str, Any]:
    r"""Compare the networks across the studies of a learning-rate sweep (:func:`load_sweep`).

    The studies must differ only in their learning rate :math:`\eta`. For each network and
    :math:`\eta`: the test score (mean over the test images and seeds) and the best validation
    MSE, or the optimiser step at which the run diverged; per :math:`\eta`, the ranking of the networks
    that trained (best first); per network, the :math:`\eta` of its best score.

    Parameters
    ----------
    studies : mapping from learning rate to results (:func:`load_results`)
    metric : {"psnr", "ssim", "mse"}
        The score that ranks the networks (higher is better, lower for ``"mse"``).

    Returns
    -------
    dict
        ``lrs`` (ascending), ``models``, ``score[model][lr]`` and ``best_val[model][lr]``
        (``None`` where the run diverged or is missing), ``diverged[model][lr]`` (the optimiser step at
        which the run diverged, or ``None``), ``initial[model]`` (the score of the initial
        parameters, which do not depend on the rate), ``ranking[lr]``, ``best_lr[model]``, and ``same_ranking``: whether every
        :math:`\eta` at which all networks trained ranks them alike.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be among {METRICS}, got {metric!r}")
    if not isinstance(studies, Mapping) or not studies:
        raise ValueError(f"studies must be a non-empty mapping from learning rate to results, "
                         f"got {type(studies).__name__} of length {len(studies or ())}")
    lrs = sorted(float(lr) for lr in studies)
    by_lr = {float(lr): res for lr, res in studies.items()}
    first = by_lr[lrs[0]]
    shared = {k: v for k, v in first["config"].items() if k != "lr"}
    for lr in lrs:
        config = by_lr[lr]["config"]
        if float(config["lr"]) != lr:
            raise ValueError(f"the study given for lr={lr:g} was run with lr={config['lr']:g}")
        other = {k: v for k, v in config.items() if k != "lr"}
        if other != shared:
            keys = sorted(k for k in set(other) | set(shared) if other.get(k) != shared.get(k))
            raise ValueError(f"the studies of a sweep may differ only in lr; the study at "
                             f"lr={lr:g} also differs in {keys}")
    seen = {m for res in by_lr.values() for m in res["models"]} | {
        rec["model"] for res in by_lr.values() for rec in (res.get("failed") or {}).values()}
    models = [m for m in MODEL_NAMES if m in seen]
    score = {m: {} for m in models}
    initial: dict[str, float | None] = {m: None for m in models}
    best_val = {m: {} for m in models}
    diverged = {m: {} for m in models}
    for lr in lrs:
        res = by_lr[lr]
        failed = {rec["model"]: int(rec["step"]) for rec in (res.get("failed") or {}).values()}
        for m in models:
            if m in res["models"]:
                score[m][lr] = float(res["summary"][m][metric]["mean"])
                initial[m] = float(res["summary"][m][metric]["initial_mean"])
                best_val[m][lr] = float(np.mean(
                    [r["train"]["best_val_loss"] for r in res["runs"][m].values()]))
            else:
                score[m][lr] = best_val[m][lr] = None
            diverged[m][lr] = failed.get(m)
    sign = 1.0 if metric == "mse" else -1.0
    ranking = {lr: sorted((m for m in models if score[m][lr] is not None),
                          key=lambda m: sign * score[m][lr]) for lr in lrs}
    best_lr = {}
    for m in models:
        done = [lr for lr in lrs if score[m][lr] is not None]
        best_lr[m] = min(done, key=lambda lr: sign * score[m][lr]) if done else None
    complete = [ranking[lr] for lr in lrs if len(ranking[lr]) == len(models)]
    return {"lrs": lrs, "models": models, "metric": metric, "score": score,
            "initial": initial, "best_val": best_val, "diverged": diverged, "ranking": ranking,
            "best_lr": best_lr, "same_ranking": all(r == complete[0] for r in complete)}


def sweep_table(sweep: Mapping[str, Any], *, fmt: str = "html", digits: int = 2) -> str:
    """:func:`learning_rate_sweep` as a table: one row per network, one column per learning
    rate (its score, or the optimiser step at which it diverged), the best of each row in bold."""
    if fmt not in ("markdown", "html"):
        raise ValueError(f"fmt must be 'markdown' or 'html', got {fmt!r}")
    check_positive_int(digits, "digits", minimum=0)
    d = digits + 2 if sweep["metric"] == "ssim" else digits
    header = ["network"] + [f"lr = {lr:g}" for lr in sweep["lrs"]]
    body = []
    for m in sweep["models"]:
        row = [MODEL_LABELS.get(m, m)]
        for lr in sweep["lrs"]:
            value, step = sweep["score"][m][lr], sweep["diverged"][m][lr]
            if value is None:
                row.append("missing" if step is None else f"diverged (step {step})")
            else:
                text = f"{value:.{d}f}"
                best = lr == sweep["best_lr"][m]
                row.append(f"**{text}**" if best and fmt == "markdown" else
                           f"<b>{text}</b>" if best else text)
        body.append(row)
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(sweep["lrs"]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(
        f"<td>{c if c.startswith('<b>') else html.escape(c)}</td>" for c in r) + "</tr>"
        for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def results_table(
    results: Mapping[str, Any],
    *,
    metrics: Sequence[str] = METRICS,
    fmt: str = "markdown",
    digits: int = 2,
    convergence: bool = False,
) -> list[dict[str, Any]] | str:
    """The book's results table: baselines, then trained models.

    Each score is the mean over the test images; for a trained model, the mean over seeds of
    that, ``±`` the standard deviation across seeds (``ddof=0``; shown with two seeds or more).

    Parameters
    ----------
    results : dict from :func:`load_results`
    metrics : subset of ("psnr", "ssim", "mse")
    fmt : {"rows", "markdown", "html"}
        ``"rows"``: a list of dicts with numbers (for ``glue``); otherwise a table string.
    digits : int
        Decimals of PSNR and MSE (SSIM gets two more).
    convergence : bool, default False
        Add the columns "steps" and "plateaued" (how many seeds' validation curves levelled
        off, :func:`plateaued`) to the table strings; the rows always carry them.

    Returns
    -------
    list of dict or str
    """
    metrics = tuple(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics must be among {METRICS}, got {m!r}")
    if fmt not in ("rows", "markdown", "html"):
        raise ValueError(f"fmt must be 'rows', 'markdown' or 'html', got {fmt!r}")
    check_positive_int(digits, "digits", minimum=0)
    rows: list[dict[str, Any]] = []
    for key, entry in (results.get("baselines") or {}).items():
        row = {"method": key, "label": MODEL_LABELS.get(key, key), "trained": False,
               "layers": entry.get("iterations_mean", entry.get("n_iter")),
               "n_parameters": None, "n_seeds": None, "best_epoch_mean": None,
               "train_time_s_mean": None, "steps": None, "plateaued": None,
               "tail_improvement_mean": None}
        for m in metrics:
            row[m] = entry["summary"][m]["mean"]
            row[m + "_std"] = None
        rows.append(row)
    for key in results["models"]:
        s = results["summary"][key]
        row = {"method": key, "label": MODEL_LABELS.get(key, key), "trained": True,
               "layers": s["layers"], "n_parameters": s["n_parameters"],
               "n_seeds": len(s["seeds"]), "best_epoch_mean": float(np.mean(s["best_epoch"])),
               "train_time_s_mean": float(np.mean(s["train_wall_time_s"])),
               "steps": int(np.mean([r["train"]["steps"] for r in results["runs"][key].values()])),
               "plateaued": _plateau_count(results["runs"][key]),
               "tail_improvement_mean": (float(np.mean(gains)) if (gains := _tail_improvements(
                   results["runs"][key])) else None)}
        for m in metrics:
            row[m] = s[m]["mean"]
            row[m + "_std"] = s[m]["std"] if len(s["seeds"]) > 1 else None
        rows.append(row)
    if fmt == "rows":
        return rows

    def cell(row, m):
        d = digits + 2 if m == "ssim" else digits
        text = f"{row[m]:.{d}f}"
        if row[m + "_std"] is not None:
            text += f" ± {row[m + '_std']:.{d}f}"
        return text

    def layers(row):
        v = row["layers"]
        if v is None:
            return ""
        return f"{v:.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"

    header = ["method", "layers / iterations", "parameters"] + [_METRIC_LABELS[m] for m in metrics]
    body = [[r["label"], layers(r), "" if r["n_parameters"] is None else f"{r['n_parameters']:,}"]
            + [cell(r, m) for m in metrics] for r in rows]
    if convergence:
        header += ["steps", "plateaued"]
        for r, line in zip(rows, body):
            line += ["" if r["steps"] is None else f"{r['steps']:,}",
                     "" if r["plateaued"] is None else f"{r['plateaued'][0]} of {r['plateaued'][1]}"]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                  for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def learning_curves(
    results: Mapping[str, Any], *, split: str = "val"
) -> tuple[dict[str, list[float]], dict[str, tuple[list[float], list[float]]]]:
    """Per model, the mean over seeds of the per-epoch loss and its (min, max) band.

    Returns ``(curves, bands)`` ready for
    ``sista_lib.plot.plot_learning_curves(curves, bands=bands)``.
    """
    if split not in ("val", "train"):
        raise ValueError(f"split must be 'val' or 'train', got {split!r}")
    curves, bands = {}, {}
    for key in results["models"]:
        stack = np.array([run["train"][f"{split}_loss"] for run in results["runs"][key].values()])
        label = MODEL_LABELS.get(key, key)
        curves[label] = stack.mean(axis=0).tolist()
        bands[label] = (stack.min(axis=0).tolist(), stack.max(axis=0).tolist())
    return curves, bands


if __name__ == "__main__":  # ``python -m sista_lib.experiment``: the command line lives in cli
    from .cli import main

    sys.exit(main())
