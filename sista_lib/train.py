r"""The training loop: configuration, optimiser, the loop itself and its result.

Every model of :mod:`sista_lib.models` maps measurements :math:`x_{1:T}` (time-major,
``(T, B, M)``) to estimates :math:`\hat y_{1:T}` (``(T, B, N)``). Training minimises the mean
squared error on normalised pixels,

.. math::

    \mathcal L(\theta) = \frac{1}{T B N}\sum_{t,b,n} \big(\hat y_{t,b,n}(\theta) - y_{t,b,n}\big)^2 ,

with RMSprop (learning rate :math:`10^{-4}`, batches of 50, 100 epochs) and keeps the parameters
with the lowest validation loss: the paper's protocol (see :class:`TrainConfig`).

:func:`train` is deterministic given ``TrainConfig.seed`` (the order of the batches of epoch
:math:`e` is drawn from a generator seeded with ``(seed, e)``), writes a checkpoint after every
epoch (:func:`sista_lib.checkpoints.save_checkpoint`: one safetensors file, written atomically,
no pickle) and can resume from it exactly. A non-finite loss or gradient raises
:class:`TrainingDivergedError`. Scoring lives in :mod:`sista_lib.evaluate`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ._checks import check_positive_int, check_scalar, dataclass_from_dict
from .checkpoints import jsonable, load_checkpoint, restore_rng_state, save_checkpoint
from .evaluate import _batches, _check_dataset, _default_collate, _model_dtype, mean_loss

__all__ = [
    "TrainingDivergedError",
    "TrainConfig",
    "TrainResult",
    "RMSprop",
    "make_optimizer",
    "train",
    "parameter_snapshot",
]


# --------------------------------------------------------------------------------------------
# Configuration and result
# --------------------------------------------------------------------------------------------


class TrainingDivergedError(RuntimeError):
    """Raised when the training or validation loss (or the gradient norm) is not finite.

    Attributes
    ----------
    epoch : int
        1-based epoch in which it happened.
    step : int
        1-based optimiser step counted from the start of training (0: during validation).
    loss : float
        The offending value (NaN or infinity).
    """

    def __init__(self, epoch: int, step: int, loss: float, what: str = "training loss"):
        self.epoch, self.step, self.loss, self.what = int(epoch), int(step), float(loss), what
        where = f"epoch {self.epoch}, step {self.step}" if step else f"epoch {self.epoch}"
        super().__init__(
            f"training diverged: {what} is {self.loss} at {where}; lower the learning rate "
            "or enable gradient clipping (TrainConfig.clip_grad_norm)"
        )


_OPTIMIZERS = ("rmsprop", "adam")


@dataclass(frozen=True)
class TrainConfig:
    r"""Hyper-parameters of :func:`train`; the defaults are the paper's preset.

    The paper trains with RMSprop, learning rate :math:`10^{-4}`, batches of 50 sequences, for
    100 epochs, on the MSE of normalised pixels, and keeps the parameters of the epoch with the
    best validation MSE (the released code also considers the initial parameters, epoch 0).

    RMSprop, per parameter tensor :math:`\theta` with gradient :math:`g`:

    .. math::

        v \leftarrow \rho\, v + (1 - \rho)\, g^2, \qquad
        \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{v} + \epsilon},
        \qquad v_0 = \texttt{rms\_init}.

    Defaults: :math:`\rho = 0.9`, :math:`\epsilon = 10^{-8}`, :math:`v_0 = 0`. This is Keras 1's
    ``RMSprop`` (the paper's LSTM baseline) and equals ``torch.optim.RMSprop(alpha=0.9,
    eps=1e-8)``; torch's own default :math:`\rho` (``alpha``) is 0.99. The authors' Theano
    RMSprop (used for the SISTA-RNN and the stacked RNN) has :math:`\rho = 0.9`, no
    :math:`\epsilon` and :math:`v_0 = 10^{-3}`: ``TrainConfig(eps=0.0, rms_init=1e-3)``
    reproduces it.

    Attributes
    ----------
    epochs : int, default 100
        Passes over the training set (0 only evaluates the initial parameters).
    batch_size : int, default 50
        Sequences per optimiser step; the last batch of an epoch may be smaller.
    lr : float, default 1e-4
        Learning rate :math:`\eta`.
    optimizer : {"rmsprop", "adam"}, default "rmsprop"
    rho, eps, rms_init : float
        RMSprop's decay :math:`\rho \in [0, 1)`, :math:`\epsilon \ge 0` and initial
        accumulator :math:`v_0 \ge 0` (``eps`` and ``rms_init`` cannot both be 0).
    clip_grad_norm : float or None, default None
        Rescale the gradient to at most this global 2-norm before each step (the paper's LSTM
        run used 1.0); ``None`` disables clipping.
    keep_best : bool, default True
        Load the parameters of the best validation epoch at the end (``False``: keep the last,
        as the authors did for their LSTM).
    select_last_epoch : bool, default True
        Whether the final epoch's parameters may be chosen as the best. The authors' code
        validates *before* each epoch's steps (epoch 0 included) and never after the last one,
        so its candidates are epochs :math:`0, \dots, E-1`: ``select_last_epoch=False``
        reproduces that (the final validation loss is still recorded for the curve).
    device : str, default "cpu"
        Where the model and the batches live (``"cuda"`` on a GPU); the model is moved there.
        Checkpoints are written on the CPU, so a run trained on a GPU loads and scores on a
        CPU. Resuming on a GPU is deterministic only as far as its kernels are.
    seed : int, default 0
        Seeds the batch order (and torch's global generator at the start of training).
    eval_batch_size : int, default 256
        Batch size for validation and prediction (no effect on the result beyond rounding).
    """

    epochs: int = 100
    batch_size: int = 50
    lr: float = 1e-4
    optimizer: str = "rmsprop"
    rho: float = 0.9
    eps: float = 1e-8
    rms_init: float = 0.0
    clip_grad_norm: float | None = None
    keep_best: bool = True
    seed: int = 0
    eval_batch_size: int = 256
    select_last_epoch: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.eval_batch_size, "eval_batch_size")
        check_positive_int(self.seed, "seed", minimum=0)
        check_scalar(self.lr, "lr", positive=True)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        rho = check_scalar(self.rho, "rho", nonnegative=True)
        if rho >= 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        eps = check_scalar(self.eps, "eps", nonnegative=True)
        rms_init = check_scalar(self.rms_init, "rms_init", nonnegative=True)
        if self.optimizer == "rmsprop" and eps == 0.0 and rms_init == 0.0:
            raise ValueError("eps and rms_init cannot both be 0 (division by zero in RMSprop)")
        if self.clip_grad_norm is not None:
            check_scalar(self.clip_grad_norm, "clip_grad_norm", positive=True)
        for name in ("keep_best", "select_last_epoch"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a str such as 'cpu' or 'cuda', got "
                            f"{type(self.device).__name__}")
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError):
            raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', "
                             f"got {self.device!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        return dataclass_from_dict(cls, d)


@dataclass
class TrainResult:
    """What :func:`train` returns (epochs are 1-based; index 0 of the lists is epoch 1).

    Attributes
    ----------
    train_loss : list of float
        Mean training MSE over the batches of each epoch (weighted by batch size).
    val_loss : list of float
        Validation MSE after each epoch.
    initial_val_loss : float
        Validation MSE of the initial parameters (epoch 0).
    epoch_seconds : list of float
        Wall time of each epoch (training and validation).
    best_epoch : int
        Epoch with the lowest validation loss (0: the initial parameters).
    best_val_loss : float
    best_state : dict
        Copy of ``model.state_dict()`` at ``best_epoch``.
    steps : int
        Optimiser steps taken in total.
    snapshots : list
        ``callback(model, epoch)`` for epoch 0, 1, ..., ``epochs`` (empty without a callback).
    config : TrainConfig
    resumed_from_epoch : int
        Epochs already done in the checkpoint this run resumed from (0: fresh start).
    segments : list of dict
        One entry per process that trained this run (a run interrupted and resumed has
        several): ``from_epoch``, ``to_epoch`` and the ``segment`` mapping passed to
        :func:`train` (for example the commit it ran from).
    """

    train_loss: list[float]
    val_loss: list[float]
    initial_val_loss: float
    epoch_seconds: list[float]
    best_epoch: int
    best_val_loss: float
    best_state: dict[str, torch.Tensor]
    steps: int
    snapshots: list[Any]
    config: TrainConfig
    resumed_from_epoch: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs completed."""
        return len(self.train_loss)

    def history(self) -> dict[str, Any]:
        """Everything but the tensors, JSON-serialisable."""
        return {
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "initial_val_loss": self.initial_val_loss,
            "epoch_seconds": list(self.epoch_seconds),
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val_loss,
            "steps": self.steps,
            "snapshots": list(self.snapshots),
            "config": self.config.to_dict(),
            "resumed_from_epoch": self.resumed_from_epoch,
            "segments": [dict(seg) for seg in self.segments],
        }


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------


class RMSprop(torch.optim.Optimizer):
    r"""RMSprop with an explicit initial accumulator (see :class:`TrainConfig`).

    .. math::

        v \leftarrow \rho v + (1-\rho) g^2,\qquad
        \theta \leftarrow \theta - \eta\, g / (\sqrt{v} + \epsilon),\qquad v_0 = \texttt{init}.

    With ``init=0`` this is ``torch.optim.RMSprop(lr, alpha=rho, eps=eps)``; with
    ``eps=0, init=1e-3, rho=0.9`` it is the Theano RMSprop of the authors' released code.
    """

    def __init__(self, params, lr: float = 1e-4, rho: float = 0.9, eps: float = 1e-8,
                 init: float = 0.0):
        lr = check_scalar(lr, "lr", positive=True)
        rho = check_scalar(rho, "rho", nonnegative=True)
        if rho >= 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        eps = check_scalar(eps, "eps", nonnegative=True)
        init = check_scalar(init, "init", nonnegative=True)
        if eps == 0.0 and init == 0.0:
            raise ValueError("eps and init cannot both be 0 (division by zero)")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, init=init))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, rho, eps, init = group["lr"], group["rho"], group["eps"], group["init"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["square_avg"] = torch.full_like(p, init)
                v = state["square_avg"]
                v.mul_(rho).addcmul_(g, g, value=1.0 - rho)
                state["step"] += 1
                p.addcdiv_(g, v.sqrt().add_(eps), value=-lr)
        return loss


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` asks for, over ``model``'s trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    if config.optimizer == "rmsprop":
        return RMSprop(params, lr=config.lr, rho=config.rho, eps=config.eps,
                       init=config.rms_init)
    return torch.optim.Adam(params, lr=config.lr)


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def _epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g).tolist()


def _on_device(collate_fn: Callable, device: torch.device) -> Callable:
    if device.type == "cpu":
        return collate_fn

    def collate(items):
        return tuple(t.to(device) for t in collate_fn(items))

    return collate


def _clone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _grad_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


_RESUMABLE_FIELDS = ("batch_size", "lr", "optimizer", "rho", "eps", "rms_init",
                     "clip_grad_norm", "seed", "select_last_epoch")


def train(
    model: nn.Module,
    train_set: Any,
    val_set: Any,
    config: TrainConfig | None = None,
    *,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[nn.Module, int], Any] | None = None,
    collate_fn: Callable | None = None,
    segment: Mapping[str, Any] | None = None,
) -> TrainResult:
    r"""Train ``model`` on ``train_set`` by RMSprop on the MSE, keeping the best validation epoch.

    Each epoch visits the training sequences in the order ``torch.randperm`` draws from a
    generator seeded with ``(config.seed, epoch)``, in batches of ``config.batch_size``; each
    step minimises :math:`\frac{1}{TBN}\lVert \hat y - y \rVert_F^2`. After each epoch the
    validation MSE is computed (``model.eval()``, no gradient); the state with the lowest value
    (initial parameters included, as epoch 0) is kept and loaded at the end when
    ``config.keep_best``.

    Parameters
    ----------
    model : nn.Module
        Maps ``x`` of shape (T, B, M) to ``yhat`` of shape (T, B, N). Trained in place; batches
        are cast to the dtype of its parameters.
    train_set, val_set : map-style datasets
        Item ``i`` is ``(x, y)`` with ``x`` (T, M) and ``y`` (T, N)
        (:class:`sista_lib.data.CompressiveSensingDataset`).
    config : TrainConfig, optional
        Default ``TrainConfig()`` (the paper's preset).
    checkpoint_path : path, optional
        Write a checkpoint (:func:`sista_lib.checkpoints.save_checkpoint`) there after every epoch.
    resume : bool, default False
        Continue from ``checkpoint_path`` if the file exists (model, optimiser, RNG states,
        history, best state): the result is identical to an uninterrupted run. ``config.epochs``
        may be larger than in the interrupted run; the other fields must match.
    progress : bool, default True
        Show a tqdm progress bar over the steps.
    callback : callable, optional
        ``callback(model, epoch)`` is called for epoch 0 (before training) and after each
        epoch; its JSON-serialisable return values (tensors are converted to lists) are
        collected in ``TrainResult.snapshots``, e.g. to plot :math:`\alpha, \lambda_1,
        \lambda_2` over training.
    collate_fn : callable, optional
        Turns a list of items into a time-major batch ``(x (T, B, M), y (T, B, N))``; default
        :func:`sista_lib.data.collate_time_major`.
    segment : mapping, optional
        JSON-serialisable facts about this process (commit, machine, start time), kept with the
        epochs it trains in ``TrainResult.segments`` and in the checkpoint, so that a run
        resumed by other processes records each of them.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDivergedError
        If a training loss, gradient norm or validation loss is NaN or infinite.
    ValueError, TypeError
        On bad arguments, or a checkpoint written with a different configuration.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    n_train = _check_dataset(train_set, "train_set")
    _check_dataset(val_set, "val_set")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path")
    if segment is not None and not isinstance(segment, Mapping):
        raise TypeError(f"segment must be a dict or None, got {type(segment).__name__}")
    if segment is not None and {"from_epoch", "to_epoch"} & set(segment):
        raise ValueError("segment must not hold 'from_epoch' or 'to_epoch' (train sets them), "
                         f"got keys {sorted(segment)}")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    collate_fn = _default_collate() if collate_fn is None else collate_fn
    dtype = _model_dtype(model)
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("config.device is 'cuda' but torch sees no CUDA device")
    model.to(device)
    collate_fn = _on_device(collate_fn, device)

    optimizer = make_optimizer(model, config)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    batches_per_epoch = math.ceil(n_train / config.batch_size)

    def val_loss_of(epoch: int) -> float:
        v = mean_loss(model, val_set, config.eval_batch_size, collate_fn, dtype)
        if not math.isfinite(v):
            raise TrainingDivergedError(epoch, 0, v, "validation loss")
        return v

    def snapshot(epoch: int) -> None:
        if callback is not None:
            snapshots.append(jsonable(callback(model, epoch)))

    start_epoch = 0
    if resume and os.path.exists(checkpoint_path):
        ckpt = load_checkpoint(checkpoint_path)
        hist = ckpt["history"]
        saved = TrainConfig.from_dict(hist["config"])
        for name in _RESUMABLE_FIELDS:
            if getattr(saved, name) != getattr(config, name):
                raise ValueError(
                    f"cannot resume: checkpoint has {name}={getattr(saved, name)!r}, "
                    f"config has {getattr(config, name)!r}"
                )
        if hist["epoch"] > config.epochs:
            raise ValueError(f"cannot resume: checkpoint is at epoch {hist['epoch']}, "
                             f"beyond config.epochs={config.epochs}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        restore_rng_state(*ckpt["rng"])
        best_state = ckpt["best"]
        start_epoch = int(hist["epoch"])
        train_losses, val_losses = list(hist["train_loss"]), list(hist["val_loss"])
        epoch_seconds, snapshots = list(hist["epoch_seconds"]), list(hist["snapshots"])
        initial_val = float(hist["initial_val_loss"])
        best_epoch, best_val, steps = int(hist["best_epoch"]), float(hist["best_val_loss"]), \
            int(hist["steps"])
        segments = [dict(seg) for seg in hist.get("segments", [])]
        if (not config.select_last_epoch and start_epoch == saved.epochs < config.epochs
                and val_losses and val_losses[-1] < best_val):
            # that run's final epoch was no candidate; in this longer run it is one
            best_epoch, best_val, best_state = start_epoch, val_losses[-1], _clone_state(model)
    else:
        torch.manual_seed(config.seed)
        train_losses, val_losses, epoch_seconds, snapshots = [], [], [], []
        initial_val = val_loss_of(0)
        best_epoch, best_val, best_state, steps = 0, initial_val, _clone_state(model), 0
        segments = []
        snapshot(0)
    segments.append({"from_epoch": start_epoch, "to_epoch": start_epoch, **jsonable(dict(segment or {}))})

    def write_checkpoint(epoch: int) -> None:
        if checkpoint_path is None:
            return
        history = {
            "epoch": epoch, "train_loss": train_losses, "val_loss": val_losses,
            "epoch_seconds": epoch_seconds, "snapshots": snapshots,
            "initial_val_loss": initial_val, "best_epoch": best_epoch,
            "best_val_loss": best_val, "steps": steps, "config": config.to_dict(),
            "segments": segments,
        }
        save_checkpoint(checkpoint_path, model, optimizer, best_state, history)

    if start_epoch == 0 and checkpoint_path is not None:
        write_checkpoint(0)

    from tqdm.auto import tqdm

    bar = tqdm(total=config.epochs * batches_per_epoch, initial=start_epoch * batches_per_epoch,
               disable=not progress, desc="train", unit="step", leave=False)
    try:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            order = _epoch_permutation(n_train, config.seed, epoch)
            total, count = 0.0, 0
            for x, y, b in _batches(train_set, order, config.batch_size, collate_fn, dtype):
                optimizer.zero_grad(set_to_none=True)
                loss = torch.mean((model(x) - y) ** 2)
                steps += 1
                value = loss.detach().item()
                if not math.isfinite(value):
                    raise TrainingDivergedError(epoch, steps, value)
                loss.backward()
                gnorm = _grad_norm(params)
                if not bool(torch.isfinite(gnorm)):
                    raise TrainingDivergedError(epoch, steps, float(gnorm), "gradient norm")
                if config.clip_grad_norm is not None:
                    torch.nn.utils.clip_grads_with_norm_(params, config.clip_grad_norm, gnorm)
                optimizer.step()
                total += value * b
                count += b
                bar.update(1)
            train_losses.append(total / count)
            val = val_loss_of(epoch)
            val_losses.append(val)
            if val < best_val and (config.select_last_epoch or epoch < config.epochs):
                best_epoch, best_val, best_state = epoch, val, _clone_state(model)
            epoch_seconds.append(time.perf_counter() - t0)
            segments[-1]["to_epoch"] = epoch
            snapshot(epoch)
            bar.set_postfix(train=f"{train_losses[-1]:.4g}", val=f"{val:.4g}", best=best_epoch)
            write_checkpoint(epoch)
    finally:
        bar.close()

    if config.keep_best:
        model.load_state_dict(best_state)
    return TrainResult(
        train_loss=train_losses, val_loss=val_losses, initial_val_loss=initial_val,
        epoch_seconds=epoch_seconds, best_epoch=best_epoch, best_val_loss=best_val,
        best_state=best_state, steps=steps, snapshots=snapshots, config=config,
        resumed_from_epoch=start_epoch, segments=segments,
    )


def parameter_snapshot(model: nn.Module, epoch: int | None = None) -> dict[str, Any]:
    r"""A small per-epoch record of ``model``'s parameters (a ready-made ``callback``).

    ``epoch`` is accepted (and ignored) so that the function can be passed as
    ``train(..., callback=parameter_snapshot)``.

    Scalar parameters (e.g. :math:`\alpha, \lambda_1, \lambda_2` of the SISTA-RNN) are recorded
    by value, every other parameter by its Frobenius norm.

    Returns
    -------
    dict ``{"scalars": {name: value}, "norms": {name: norm}}``
    """
    scalars, norms = {}, {}
    for name, p in model.named_parameters():
        if p.numel() == 1:
            scalars[name] = float(p.detach().reshape(()))
        else:
            norms[name] = float(torch.linalg.vector_norm(p.detach()))
    return {"scalars": scalars, "norms": norms}
