r"""Reading a trained SISTA-RNN (and what can be read from the black-box baselines).

A SISTA-RNN's weights are functions of the interpretable parameters
:math:`\theta = \{A, D, F, \alpha, \lambda_1, \lambda_2, \hat h_0\}`, so a trained network can be
read parameter by parameter. This module computes the numbers such a reading rests on; it returns
small dataclasses and dicts of numbers (and a few short categorical labels), never sentences, and
the tables of such numbers as formatted cells.

- Loading and checking: :func:`study_data`, :func:`load_run`, :func:`load_runs`,
  :func:`rescore_run`, :func:`snapshot_mismatch`, :func:`reproduction_gaps`,
  :func:`psnr_scorer`.
- How far parameters moved: :func:`parameter_drift`, :func:`pooled_relative_change`,
  :func:`scalar_trajectories`, :func:`monotone_fraction`, :func:`lstm_role`.
- SISTA's scalars and the step-size regime: :func:`sista_reading`, :func:`step_regime`,
  :func:`common_regime`, :func:`iteration_eigenvalue_range`, :func:`sista_equivalence_gap`.
- All of a run's numbers at once: :func:`read_sista_rnn`, combined over seeds by
  :func:`combine_readings`.
- What the learned parameters do: :func:`rebuild_sista_rnn`, :func:`depth_sweep`,
  :func:`depth_sweep_kind`, :func:`reset_parameters`, :func:`ablation_losses`.
- The dictionary: :func:`wavelet_bands`, :func:`band_of`, :func:`atom_changes`,
  :func:`dictionary_spectrum`, :func:`atom_recognition`, :func:`change_structure`,
  :func:`inverse_defects`.
- :math:`A`, :math:`F` and the codes: :func:`measurement_alignment`, :func:`diagonal_means`,
  :func:`dynamics_change`, :func:`code_sparsity`.
- The black boxes: :func:`spectral_radius`, :func:`spectrum_change`, :func:`lstm_forget_bias`,
  :func:`lstm_recurrent_weights`, :func:`signed_permutation`, :func:`permute_stacked_rnn`,
  :func:`relative_gap`, :func:`order_of_magnitude`.
- The tables of a reading, as ``(header, rows)`` of formatted cells for
  :func:`sista_lib.book.show_table`: :func:`score_rows`, :func:`scalar_rows`,
  :func:`ablation_rows`, :func:`drift_rows`, :func:`band_rows`, :func:`sparsity_rows`,
  :func:`change_rows`.
- The numbers the prose quotes, as dicts of named values rounded as the prose shows them (for
  :func:`sista_lib.book.glue_all`): :func:`score_values`, :func:`initial_values`,
  :func:`reading_values`, :func:`ablation_values`, :func:`depth_sweep_values`,
  :func:`sparsity_values`, :func:`change_values`, :func:`spectrum_change_values`.

The step-size regime (:func:`step_regime`) rests on the descent lemma of the proximal-gradient
step. With :math:`f(h) = \tfrac12\lVert x_t - ADh\rVert^2 + \tfrac{\lambda_2}{2}\lVert Dh -
FD\hat h_{t-1}\rVert^2`, whose gradient is :math:`L`-Lipschitz with
:math:`L = \lambda_{\max}(D^T(A^TA + \lambda_2 I)D)`, :math:`g = \lambda_1\lVert\cdot\rVert_1`
and one SISTA iteration :math:`h^+ = \operatorname{soft}_{\lambda_1/\alpha}(h - \nabla f(h)/\alpha)`,

.. math::

    \mathcal F(h^+) \le \mathcal F(h) - \big(\alpha - \tfrac{L}{2}\big)\lVert h^+ - h\rVert_2^2,
    \qquad \mathcal F = f + g .

(Proof: :math:`f(h^+) \le f(h) + \langle\nabla f(h), h^+ - h\rangle + \tfrac L2\lVert h^+ -
h\rVert^2`; the prox optimality condition :math:`\alpha(h - h^+) - \nabla f(h) \in \partial
g(h^+)` and convexity of :math:`g` give :math:`g(h^+) \le g(h) - \alpha\lVert h^+ - h\rVert^2 +
\langle\nabla f(h), h - h^+\rangle`; add the two.) So every iteration lowers the objective
whenever :math:`\alpha > L/2`, and the iterates converge for any step :math:`1/\alpha < 2/L`
(Combettes and Wajs 2005). :math:`\alpha \ge L` adds that each iteration minimises a quadratic
majoriser of :math:`\mathcal F`, which gives the :math:`O(1/k)` bound on the objective gap
(Beck and Teboulle 2009).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ._checks import ArrayLike, check_positive_int, check_scalar
from .checkpoints import load_parameters
from .evaluate import reconstruct_images
from .experiment import MODEL_LABELS
from .metrics import psnr, quantize_8bit
from .models import SISTARNN, LSTMBaseline, StackedRNN, build_model
from .sista import sista, sista_step_size

__all__ = [
    "REGIMES",
    "ParameterDrift",
    "GroupChange",
    "DictionarySpectrum",
    "Band",
    "StudyData",
    "study_data",
    "load_run",
    "load_runs",
    "load_diverged_run",
    "rescore_run",
    "reconstructions",
    "snapshot_mismatch",
    "reproduction_gaps",
    "psnr_scorer",
    "parameter_drift",
    "pooled_relative_change",
    "lstm_role",
    "scalar_trajectories",
    "monotone_fraction",
    "sista_reading",
    "read_sista_rnn",
    "combine_readings",
    "step_regime",
    "common_regime",
    "iteration_eigenvalue_range",
    "sista_equivalence_gap",
    "rebuild_sista_rnn",
    "depth_sweep",
    "depth_sweep_kind",
    "reset_parameters",
    "ablation_losses",
    "wavelet_bands",
    "band_of",
    "atom_changes",
    "dictionary_spectrum",
    "atom_recognition",
    "change_structure",
    "inverse_defects",
    "measurement_alignment",
    "diagonal_means",
    "dynamics_change",
    "code_sparsity",
    "spectral_radius",
    "spectrum_change",
    "lstm_forget_bias",
    "lstm_recurrent_weights",
    "signed_permutation",
    "permute_stacked_rnn",
    "relative_gap",
    "order_of_magnitude",
    "score_rows",
    "scalar_rows",
    "ablation_rows",
    "drift_rows",
    "band_rows",
    "sparsity_rows",
    "change_rows",
    "score_values",
    "initial_values",
    "reading_values",
    "ablation_values",
    "depth_sweep_values",
    "sparsity_values",
    "change_values",
    "spectrum_change_values",
]

#: The step-size regimes of :func:`step_regime`, from the strongest guarantee to none.
REGIMES = ("α ≥ L", "L/2 < α < L", "α ≤ L/2")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _np64(x: Any, name: str) -> np.ndarray:
    """``x`` (array, tensor, number) as a float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _matrix(x: Any, name: str, square: bool = False) -> np.ndarray:
    arr = _np64(x, name)
    if arr.ndim != 2 or (square and arr.shape[0] != arr.shape[1]):
        want = "a square (n, n)" if square else "an (m, n)"
        raise ValueError(f"{name} must be {want} matrix, got shape {arr.shape}")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {a.shape} and {b.shape}")


def _named_tensors(x: Any, name: str) -> dict[str, torch.Tensor]:
    """The named parameters of a module, or a mapping of names to arrays, as tensors."""
    if isinstance(x, nn.Module):
        return {k: p.detach() for k, p in x.named_parameters()}
    if isinstance(x, Mapping):
        return {k: v.detach() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))
                for k, v in x.items()}
    raise TypeError(f"{name} must be a torch.nn.Module or a mapping of parameter names to "
                    f"arrays, got {type(x).__name__}")


def _check_sista_rnn(model: Any, name: str = "model") -> SISTARNN:
    if not isinstance(model, SISTARNN):
        raise TypeError(f"{name} must be a sista_lib.models.SISTARNN, got {type(model).__name__}")
    return model


# --------------------------------------------------------------------------------------------
# loading and checking a study's networks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyData:
    r"""What a study's networks were trained and scored on (:func:`study_data`).

    Attributes
    ----------
    A : (M, N) ndarray
        The measurement matrix :math:`A_0` that measured the data (the initial :math:`A`).
    D : (N, N) ndarray
        The initial dictionary :math:`D_0`.
    normalizer : sista_lib.data.Normalizer
        Fitted on the study's training images.
    test : (n_test, N, T) ndarray
        The test images, grey levels in [0, 1].
    test_provenance : tuple of str
        Where each test image comes from, e.g. ``"ascent[245:398,273:426] flip hv"``.
    test_index : tuple of int, optional
        The index of each test image in the study's test set, which its per-image scores
        follow (:meth:`StudyData.spread`); default: all of them, in order.
    """

    A: np.ndarray
    D: np.ndarray
    normalizer: Any
    test: np.ndarray
    test_provenance: tuple[str, ...]
    test_index: tuple[int, ...] | None = None

    @property
    def indices(self) -> list[int]:
        """The index of each test image in the study's test set."""
        return list(range(len(self.test))) if self.test_index is None else list(self.test_index)

    def spread(self, n: int) -> "StudyData":
        r"""``n`` of the test images, evenly spaced through the test set (which lists the crops
        photo by photo, so every photo keeps about its share): indices
        :math:`\mathrm{round}(i (n_\text{test} - 1) / (n - 1))`, :math:`i = 0..n-1`.

        A reading that runs networks many times (ablations, depth sweeps) can afford a few
        hundred images where a study scores thousands; their per-image scores in the study's
        records are those at :attr:`StudyData.indices`.

        Raises
        ------
        ValueError
            If ``n`` is not between 1 and the number of test images.
        """
        n = check_positive_int(n, "n")
        if n > len(self.test):
            raise ValueError(f"n must be at most the {len(self.test)} test images, got {n}")
        picked = np.unique(np.round(np.linspace(0, len(self.test) - 1, n)).astype(int))
        index = [self.indices[i] for i in picked]
        return dataclasses.replace(self, test=self.test[picked],
                                   test_provenance=tuple(self.test_provenance[i] for i in picked),
                                   test_index=tuple(index))

    @property
    def test_photos(self) -> tuple[str, ...]:
        """The photo each test image is a crop of (its provenance up to ``[``)."""
        return tuple(p.split("[")[0] for p in self.test_provenance)

    @property
    def first_of_each_photo(self) -> list[int]:
        """Indices of the first test image of each photo, in the order the photos first appear."""
        photos = self.test_photos
        return [photos.index(name) for name in dict.fromkeys(photos)]

    def test_measurements(self) -> torch.Tensor:
        r"""The measurements :math:`x_t = A_0 y_t` of the normalised test columns :math:`y_t`, as
        the networks read them: a (T, n_test, M) tensor in float64."""
        from .data import images_to_sequences, measure

        return torch.as_tensor(measure(images_to_sequences(self.normalizer.transform(self.test)),
                                       self.A))


def study_data(results: Mapping[str, Any], n: int = 128) -> StudyData:
    r"""The measurement matrix, dictionary, normaliser and test images of a study, rebuilt from
    its configuration as the study built them (:func:`sista_lib.data.make_splits` with its
    data seed and source; the normaliser as recorded).

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    n : int
        Image size :math:`N` (the rows of an image, the length of a column).

    Raises
    ------
    ValueError
        If ``results`` lacks the configuration or the normaliser.
    """
    from .data import Normalizer, make_splits
    from .dictionaries import paper_measurement_matrix, wavelet_dictionary

    try:
        cfg, record = results["config"], results["data"]["normalizer"]
        m, a_seed, wavelet, level = cfg["m"], cfg["a_seed"], cfg["wavelet"], cfg["level"]
        n_test, data_seed, source = cfg["n_test"], cfg["data_seed"], cfg["source"]
    except (KeyError, TypeError):
        raise ValueError("results must hold config (m, a_seed, wavelet, level, n_test, data_seed, "
                         "source) and data.normalizer, as load_results returns them") from None
    n = check_positive_int(n, "n")
    extra: dict[str, Any] = {}
    if source == "bundled" and cfg.get("test_photos"):
        extra["test_photos"] = tuple(cfg["test_photos"])
    elif source == "caltech256":
        extra["caltech_root"] = cfg.get("caltech_root")
    split = make_splits(0, 0, n_test, seed=data_seed, source=source, **extra)
    return StudyData(A=paper_measurement_matrix(m, n, seed=a_seed),
                     D=wavelet_dictionary(n, wavelet, level),
                     normalizer=Normalizer.from_dict(record), test=split.test,
                     test_provenance=tuple(split.provenance["test"]))


def load_run(
    results: Mapping[str, Any],
    results_dir: str | Path,
    name: str,
    seed: int,
    A: ArrayLike,
    D: ArrayLike,
) -> tuple[nn.Module, nn.Module]:
    r"""The trained and the initial network of one run of a study, both in ``eval()`` mode.

    The initial network is rebuilt as the study built it
    (:func:`sista_lib.experiment.build_network`: the study's dtype and initialisations, the
    baselines seeded with the run's seed; torch's global generator is left as it was), so that
    :math:`\theta_0` is the value training started from; the trained one holds the parameters
    of the best validation epoch, read from the run's checkpoint.

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    results_dir : path of the study's folder (checkpoint paths are relative to it)
    name : str
        A model of the study, e.g. ``"sista_rnn"``.
    seed : int
    A, D : arrays
        The study's measurement matrix :math:`A_0` and dictionary :math:`D_0` (initial values).

    Returns
    -------
    (trained, initial) : two ``nn.Module``
    """
    runs = results.get("runs", {})
    if name not in runs:
        raise ValueError(f"name must be a model of the study {sorted(runs)}, got {name!r}")
    if str(seed) not in runs[name]:
        raise ValueError(f"seed must be one of the study's seeds {sorted(runs[name], key=int)}, "
                         f"got {seed!r}")
    return _trained_and_initial(results, Path(results_dir) / runs[name][str(seed)]["checkpoint"],
                                name, seed, A, D)


def _trained_and_initial(results: Mapping[str, Any], checkpoint: Path, name: str, seed: int,
                         A: ArrayLike, D: ArrayLike) -> tuple[nn.Module, nn.Module]:
    """The network ``name`` as the study built it for ``seed``, and a copy holding the
    parameters saved in ``checkpoint``; both in ``eval()`` mode."""
    from .experiment import build_network

    with torch.random.fork_rng(devices=[]):      # leave the caller's random stream alone
        initial = build_network(name, A, D, results.get("config", {}), int(seed)).eval()
    trained = copy.deepcopy(initial).train()
    state, _ = load_parameters(checkpoint)
    trained.load_state_dict(state)
    return trained.eval(), initial


def load_diverged_run(
    results: Mapping[str, Any],
    results_dir: str | Path,
    name: str,
    seed: int,
    A: ArrayLike,
    D: ArrayLike,
) -> tuple[nn.Module, nn.Module]:
    r"""The best validated and the initial network of a run that diverged, both in ``eval()`` mode.

    A diverged run has no checkpoint in ``results["runs"]``; its record in ``results["failed"]``
    (:func:`sista_lib.experiment.divergence_record`) saves the parameters of its best validation
    epoch before the divergence, which this loads as :func:`load_run` loads a finished run's.

    Raises
    ------
    ValueError
        If the study records no divergence of ``name`` with ``seed``, or its record saved no
        parameters (the run diverged before its first training state was written).
    """
    failed = {(rec["model"], int(rec["seed"])): rec
              for rec in (results.get("failed") or {}).values()}
    rec = failed.get((name, int(seed)))
    if rec is None:
        raise ValueError(f"name and seed must be a run that diverged in the study, one of "
                         f"{sorted(failed)}, got {(name, seed)!r}")
    if "checkpoint" not in rec:
        raise ValueError(f"the run {name} seed {seed} diverged before its first training state "
                         "was written: no parameters were saved")
    return _trained_and_initial(results, Path(results_dir) / rec["checkpoint"], name, seed, A, D)


def load_runs(
    results: Mapping[str, Any],
    results_dir: str | Path,
    A: ArrayLike,
    D: ArrayLike,
    models: Sequence[str] | None = None,
) -> dict[str, dict[int, tuple[nn.Module, nn.Module]]]:
    r""":func:`load_run` for every seed of every model (default: all the study's models).

    Returns
    -------
    dict model -> seed (int) -> (trained, initial)
    """
    models = list(results.get("models", [])) if models is None else list(models)
    runs = results.get("runs", {})
    missing = [m for m in models if m not in runs]
    if missing:
        raise ValueError(f"models must be models of the study {sorted(runs)}, got {missing}")
    return {m: {int(s): load_run(results, results_dir, m, int(s), A, D) for s in runs[m]}
            for m in models}


def rescore_run(
    results: Mapping[str, Any],
    results_dir: str | Path,
    name: str,
    seed: int,
    data: StudyData,
    images: Sequence[int] | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    r"""Score the checkpoint of one run again on the study's test images, and compare.

    The trained network (:func:`load_run`) is scored by :func:`sista_lib.evaluate.evaluate`
    with the study's SSIM convention, its estimates kept. Rescoring some images is enough to
    check a checkpoint, and far cheaper on a study of thousands of test images.

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    results_dir : path of the study's folder
    name : str
        A model of the study.
    seed : int
    data : StudyData
        The study's data (:func:`study_data`).
    images : sequence of int, optional
        Indices of the test images to score, in this order (default: all).

    Returns
    -------
    (scores, gap)
        ``scores``: per-image ``"mse"``, ``"psnr"``, ``"ssim"`` and the de-normalised
        ``"estimates"`` of the scored images; ``gap``:
        :math:`\max |\text{recomputed} - \text{recorded}|` of their per-image PSNR (dB),
        0 when the checkpoint reproduces its recorded scores.

    Raises
    ------
    ValueError
        If the run records another number of test scores than the study has test images, or
        ``images`` is empty or out of range.
    """
    from .evaluate import evaluate

    if not isinstance(data, StudyData):
        raise TypeError(f"data must be a StudyData (study_data(results)), got "
                        f"{type(data).__name__}")
    recorded = np.asarray(results["runs"][name][str(seed)]["test"]["per_image"]["psnr"])
    if recorded.shape != (len(data.test),):
        raise ValueError(f"the run records {recorded.size} test scores, the study's data have "
                         f"{len(data.test)} test images")
    chosen = _test_indices(images, len(data.test))
    model, _ = load_run(results, results_dir, name, seed, data.A, data.D)
    scores = evaluate(model, data.test[chosen], data.A, data.normalizer, return_estimates=True,
                      ssim_convention=results.get("config", {}).get("ssim", "skimage"))
    return scores, float(np.abs(scores["psnr"] - recorded[chosen]).max())


def _test_indices(images: Sequence[int] | None, n_test: int) -> list[int]:
    """``images`` as a list of test-image indices (all of them for None), checked."""
    if images is None:
        return list(range(n_test))
    chosen = [int(i) for i in images]
    if not chosen or min(chosen) < 0 or max(chosen) >= n_test:
        raise ValueError(f"images must be indices of the {n_test} test images, got {list(images)}")
    return chosen


def reconstructions(
    results: Mapping[str, Any],
    results_dir: str | Path,
    data: StudyData,
    images: Sequence[int],
    methods: Sequence[str],
    *,
    seed: int = 0,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    r"""Every method's estimates of some test images of a study, with their PSNR.

    An algorithm (a baseline of :func:`sista_lib.evaluate.evaluate_baselines`) runs on the
    chosen images with its initial parameters; a trained network is the checkpoint of its run
    ``seed``, scored again on the chosen images (:func:`rescore_run`).

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    results_dir : path of the study's folder
    data : StudyData
        The study's data (:func:`study_data`).
    images : sequence of int
        Indices of test images, in the order they are shown.
    methods : sequence of str
        Baselines and trained networks of the study, in the order they are shown.
    seed : int
        The run whose checkpoint stands for each network.

    Returns
    -------
    (shown, gaps)
        ``shown[method]``: ``"estimates"`` (de-normalised, one per chosen image) and ``"psnr"``
        (dB); ``gaps[network]``: the largest difference between a rescored and a recorded
        PSNR of the chosen images (:func:`rescore_run`; 0 when the checkpoint reproduces its
        record).

    Raises
    ------
    ValueError
        If ``images`` is empty or out of range, or a method is neither a baseline nor a network
        of the study.
    """
    from .evaluate import BASELINE_METHODS, evaluate_baselines

    images = _test_indices(images, len(data.test))
    networks = [m for m in methods if m in results.get("runs", {})]
    unknown = [m for m in methods if m not in networks and m not in BASELINE_METHODS]
    if unknown:
        raise ValueError(f"methods must be baselines {list(BASELINE_METHODS)} or networks of the "
                         f"study {list(results.get('runs', {}))}, got {unknown}")
    cfg = results.get("config", {})
    base = (evaluate_baselines(data.test[images], data.A, data.D, data.normalizer,
                               protocol=cfg.get("baselines", "book"),
                               ssim_convention=cfg.get("ssim", "skimage"), return_estimates=True)
            if len(networks) < len(methods) else {})
    shown, gaps = {}, {}
    for m in methods:
        if m in base:
            scores = base[m]["scores"]
            shown[m] = {"estimates": scores["estimates"], "psnr": scores["psnr"]}
        else:
            scores, gaps[m] = rescore_run(results, results_dir, m, seed, data, images)
            shown[m] = {"estimates": scores["estimates"], "psnr": scores["psnr"]}
    return shown, gaps


def snapshot_mismatch(model: nn.Module, snapshot: Mapping[str, Mapping[str, float]]) -> float:
    r"""Largest difference between ``model``'s parameters and a per-epoch snapshot of them.

    A snapshot (:func:`sista_lib.train.parameter_snapshot`) records scalars by value and other
    parameters by their Frobenius norm :math:`\lVert\theta\rVert_F`; both are recomputed here in
    the parameter's own precision, as the snapshot was, so a faithful rebuild gives exactly 0.

    Returns
    -------
    float
        :math:`\max |\text{recomputed} - \text{recorded}|` over the recorded parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(snapshot, Mapping) or not {"scalars", "norms"} <= set(snapshot):
        raise ValueError("snapshot must be a mapping with 'scalars' and 'norms' "
                         "(a parameter_snapshot record)")
    params = dict(model.named_parameters())
    unknown = (set(snapshot["scalars"]) | set(snapshot["norms"])) - set(params)
    if unknown:
        raise ValueError(f"snapshot records parameters the model does not have: {sorted(unknown)}")
    gap = 0.0
    for pname, value in snapshot["norms"].items():
        gap = max(gap, abs(float(torch.linalg.vector_norm(params[pname].detach())) - value))
    for pname, value in snapshot["scalars"].items():
        gap = max(gap, abs(float(params[pname].detach().reshape(())) - value))
    return gap


def reproduction_gaps(
    results: Mapping[str, Any],
    pairs: Mapping[str, Mapping[int, tuple[nn.Module, nn.Module]]],
    score: Callable[[nn.Module], float],
    images: Sequence[int] | None = None,
) -> tuple[float, float]:
    r"""How exactly loaded networks reproduce what their study recorded, over the runs of ``pairs``.

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    pairs : dict model -> seed -> (trained, initial)
        As :func:`load_runs` returns it.
    score : callable
        ``model -> mean test PSNR`` (dB), e.g. :func:`psnr_scorer`.
    images : sequence of int, optional
        The study's indices of the test images ``score`` scores (:attr:`StudyData.indices`);
        the recorded mean is then that of their recorded per-image PSNR. Default: all.

    Returns
    -------
    (psnr_gap, norm_gap)
        The largest :math:`|` ``score(trained)`` :math:`-` recorded mean test PSNR :math:`|`, and
        the largest :func:`snapshot_mismatch` of an initial network against the run's epoch-0
        snapshot; both 0 when the checkpoints and the rebuilt initial networks are those the study
        trained and scored.

    Raises
    ------
    ValueError
        If ``pairs`` is empty or holds a run the study does not have.
    """
    runs = results.get("runs", {})
    found = [(m, s, p) for m, seeds in pairs.items() for s, p in seeds.items()]
    if not found:
        raise ValueError("pairs must hold at least one run (load_runs(results, ...)), got none")
    unknown = [f"{m} seed {s}" for m, s, _ in found if str(s) not in runs.get(m, {})]
    if unknown:
        raise ValueError(f"pairs must hold runs of the study, got {unknown}")
    def recorded(test: Mapping[str, Any]) -> float:
        if images is None:
            return test["summary"]["psnr"]["mean"]
        per_image = np.asarray(test["per_image"]["psnr"])
        return float(per_image[_test_indices(images, per_image.size)].mean())

    psnr_gap = max(abs(score(trained) - recorded(runs[m][str(s)]["test"]))
                   for m, s, (trained, _) in found)
    norm_gap = max(snapshot_mismatch(initial, runs[m][str(s)]["train"]["snapshots"][0])
                   for m, s, (_, initial) in found)
    return float(psnr_gap), float(norm_gap)


def psnr_scorer(x: ArrayLike, images: ArrayLike, normalizer: Any) -> Callable[[nn.Module], float]:
    r"""A function ``model -> mean test PSNR`` (dB) on fixed measurements, the paper's protocol.

    The measurements :math:`x_t` and the quantised references are computed once; each call runs
    the model on ``x``, de-normalises its estimates :math:`\hat y_t`, clips them to [0, 1],
    quantises to 8 bits and averages :math:`10\log_{10}(255^2/\mathrm{MSE})` over the images.
    A model whose output is not finite everywhere (an iteration that diverged, e.g. learned
    parameters run for more layers than they were trained with) scores NaN: no image of it can
    be scored, and clipping would hide the overflow.

    Parameters
    ----------
    x : (T, n, M) tensor
        The measurements of the images (normalised columns times :math:`A`).
    images : (n, N, T) array in [0, 1]
        The original images.
    normalizer : sista_lib.data.Normalizer
    """
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if xt.ndim != 3:
        raise ValueError(f"x must have shape (T, n, M), got {tuple(xt.shape)}")
    reference = quantize_8bit(images)
    if reference.ndim != 3 or reference.shape[0] != xt.shape[1]:
        raise ValueError(f"images must have shape (n, N, T) with n = {xt.shape[1]} images, "
                         f"got {reference.shape}")

    @torch.no_grad()
    def score(model: nn.Module) -> float:
        y_hat = model(xt)
        if not bool(torch.isfinite(y_hat).all()):
            return float("nan")
        estimates = quantize_8bit(reconstruct_images(y_hat, normalizer))
        return float(psnr(reference, estimates, data_range=255.0, axis=(-2, -1)).mean())

    return score


# --------------------------------------------------------------------------------------------
# how far parameters moved
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterDrift:
    r"""How far one parameter tensor moved from its initial value :math:`\theta_0`.

    Attributes
    ----------
    shape : tuple of int
    change_norm : float
        :math:`\lVert\theta - \theta_0\rVert_F`.
    initial_norm : float
        :math:`\lVert\theta_0\rVert_F`.
    mean_abs_change : float
        Mean over entries of :math:`|\theta - \theta_0|`.
    """

    shape: tuple[int, ...]
    change_norm: float
    initial_norm: float
    mean_abs_change: float

    @property
    def relative(self) -> float:
        r""":math:`\lVert\theta - \theta_0\rVert_F / \lVert\theta_0\rVert_F` (NaN when
        :math:`\theta_0 = 0`: a tensor that starts at zero has no relative change)."""
        return self.change_norm / self.initial_norm if self.initial_norm > 0 else math.nan

    def speed(self, lr: float, steps: int) -> float:
        r"""Mean absolute change per entry over the RMSprop reach :math:`\eta s`.

        RMSprop moves each entry by about :math:`\eta` per step whatever its gradient, so a
        ratio near 1 means an entry pushed in one direction at every one of the :math:`s`
        steps. NaN when ``steps`` is 0 (nothing could move).
        """
        lr = check_scalar(lr, "lr", positive=True)
        steps = check_positive_int(steps, "steps", minimum=0)
        return self.mean_abs_change / (lr * steps) if steps else math.nan


def parameter_drift(trained: Any, initial: Any) -> dict[str, ParameterDrift]:
    r"""Per named parameter, how far ``trained`` moved from ``initial`` (float64).

    Parameters
    ----------
    trained, initial : nn.Module or mapping name -> array
        The same architecture (the same names and shapes).

    Returns
    -------
    dict name -> :class:`ParameterDrift`, in ``trained``'s order.
    """
    t, t0 = _named_tensors(trained, "trained"), _named_tensors(initial, "initial")
    if set(t) != set(t0):
        raise ValueError(f"trained and initial must have the same parameters, got "
                         f"{sorted(set(t) ^ set(t0))} in only one of them")
    out = {}
    for name, value in t.items():
        v, v0 = value.double(), t0[name].double()
        if v.shape != v0.shape:
            raise ValueError(f"parameter {name!r} has shape {tuple(v.shape)} in trained and "
                             f"{tuple(v0.shape)} in initial")
        out[name] = ParameterDrift(tuple(v.shape), float((v - v0).norm()), float(v0.norm()),
                                   float((v - v0).abs().mean()))
    return out


@dataclass(frozen=True)
class GroupChange:
    r"""The pooled relative change of a group of tensors over several runs.

    Attributes
    ----------
    relative : float
        :math:`\sqrt{\sum \lVert\theta - \theta_0\rVert_F^2 / \sum \lVert\theta_0\rVert_F^2}`,
        sums over the group's tensors and the runs (NaN when every :math:`\theta_0` is zero).
    shapes : dict shape -> count
        The shapes of the group's tensors (in the first run) and how many have each.
    """

    relative: float
    shapes: dict[tuple[int, ...], int]

    @property
    def shape_label(self) -> str:
        """The shapes as text, e.g. ``"128 × 32"`` or ``"3 × (512 × 128)"``."""
        text = {s: " × ".join(map(str, s)) for s in self.shapes}
        return ", ".join(f"{c} × ({text[s]})" if c > 1 else text[s] for s, c in self.shapes.items())


def pooled_relative_change(
    pairs: Sequence[tuple[nn.Module, nn.Module]],
    group: Callable[[str], str] | None = None,
) -> dict[str, GroupChange]:
    r"""Relative change of each group of parameters, pooled over runs (e.g. seeds).

    .. math::

        \rho_G = \sqrt{\frac{\frac1R\sum_r \sum_{\theta \in G} \lVert\theta_r -
        \theta_{r,0}\rVert_F^2}{\frac1R\sum_r \sum_{\theta \in G}\lVert\theta_{r,0}\rVert_F^2}}

    Parameters
    ----------
    pairs : sequence of (trained, initial) modules, one per run
    group : callable name -> group label, optional
        Default: every tensor is its own group (e.g. :func:`lstm_role` groups an LSTM's).

    Returns
    -------
    dict label -> :class:`GroupChange`, in the order the groups first appear.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must hold at least one (trained, initial) pair")
    group = (lambda n: n) if group is None else group
    acc: dict[str, list[float]] = {}
    shapes: dict[str, dict[tuple[int, ...], int]] = {}
    for r, (trained, initial) in enumerate(pairs):
        for name, d in parameter_drift(trained, initial).items():
            entry = acc.setdefault(group(name), [0.0, 0.0])
            entry[0] += d.change_norm ** 2 / len(pairs)
            entry[1] += d.initial_norm ** 2 / len(pairs)
            if r == 0:
                count = shapes.setdefault(group(name), {})
                count[d.shape] = count.get(d.shape, 0) + 1
    return {g: GroupChange(math.sqrt(d / n) if n > 0 else math.nan, shapes[g])
            for g, (d, n) in acc.items()}


def lstm_role(name: str, n_layers: int = 4) -> str:
    r"""The role of a :class:`~sista_lib.models.LSTMBaseline` parameter, a label for grouping.

    The first layer's input weights read :math:`x_t`; the other layers' read the layer below;
    ``weight_hh`` are the recurrent matrices; biases are pooled. Other names are returned as
    they are (e.g. ``readout.weight``).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    n_layers = check_positive_int(n_layers, "n_layers")
    if name.startswith("lstm.weight_ih_l0"):
        return "weight_ih, layer 1 (input x_t)"
    if name.startswith("lstm.weight_ih"):
        return f"weight_ih, layers 2-{n_layers}"
    if name.startswith("lstm.weight_hh"):
        return f"weight_hh, layers 1-{n_layers} (recurrent)"
    if name.startswith("lstm.bias"):
        return f"bias_ih, bias_hh, layers 1-{n_layers}"
    return name


def scalar_trajectories(run: Mapping[str, Any]) -> dict[str, np.ndarray]:
    r"""Per-epoch values of a run's scalar parameters, from its snapshots (epoch 0 first).

    With :math:`\alpha, \lambda_1, \lambda_2` recorded, the derived threshold
    :math:`b = \lambda_1/\alpha` and pull :math:`\lambda_2/\alpha` are added as ``"b"`` and
    ``"pull"``.

    Parameters
    ----------
    run : one run of a results dict (``results["runs"][model][seed]``)

    Returns
    -------
    dict name -> (epochs + 1,) float64 array
    """
    try:
        snaps = run["train"]["snapshots"]
    except (KeyError, TypeError):
        raise ValueError("run must be a run record with run['train']['snapshots']") from None
    if not snaps:
        raise ValueError("run has no snapshots")
    out = {k: np.array([s["scalars"][k] for s in snaps], dtype=float) for k in snaps[0]["scalars"]}
    if {"alpha", "lam1", "lam2"} <= set(out):
        out["b"] = out["lam1"] / out["alpha"]
        out["pull"] = out["lam2"] / out["alpha"]
    return out


def monotone_fraction(trajectory: ArrayLike, end: int) -> float:
    r"""Fraction of the epoch-to-epoch moves, up to epoch ``end``, in the direction of the total.

    .. math::

        \frac1e \#\{i < e : \operatorname{sign}(\theta_{i+1} - \theta_i)
        = \operatorname{sign}(\theta_e - \theta_0)\}, \qquad e = \texttt{end}

    1 for a trajectory that never turned back; a move of exactly zero counts as not in the
    direction. NaN when ``end`` is 0.
    """
    traj = _np64(trajectory, "trajectory")
    if traj.ndim != 1:
        raise ValueError(f"trajectory must be one-dimensional, got shape {traj.shape}")
    end = check_positive_int(end, "end", minimum=0)
    if end >= len(traj):
        raise ValueError(f"end must be < len(trajectory) = {len(traj)}, got {end}")
    if end == 0:
        return math.nan
    moves = np.sign(np.diff(traj[:end + 1]))
    return float(np.mean(moves == np.sign(traj[end] - traj[0])))


# --------------------------------------------------------------------------------------------
# SISTA's scalars and the step-size regime
# --------------------------------------------------------------------------------------------


def step_regime(alpha: float, L: float) -> str:
    r"""The convergence regime of SISTA's step :math:`1/\alpha` against the Lipschitz constant
    :math:`L` (module docstring), one of :data:`REGIMES`.

    - ``"α ≥ L"``: each iteration minimises a quadratic majoriser of the objective; the
      objective decreases and its gap is :math:`O(1/k)`.
    - ``"L/2 < α < L"``: the objective still decreases at every iteration, by at least
      :math:`(\alpha - L/2)\lVert h^+ - h\rVert^2`, and the iterates converge.
    - ``"α ≤ L/2"``: neither is guaranteed.
    """
    alpha = check_scalar(alpha, "alpha", positive=True)
    L = check_scalar(L, "L", positive=True)
    if alpha >= L:
        return REGIMES[0]
    if 2.0 * alpha > L:          # exact: doubling a float does not round
        return REGIMES[1]
    return REGIMES[2]


def common_regime(regimes: Sequence[str]) -> str:
    """The regime all of ``regimes`` share, or ``"mixed"`` when they differ."""
    regimes = list(regimes)
    if not regimes:
        raise ValueError("regimes must hold at least one regime")
    bad = [r for r in regimes if r not in REGIMES]
    if bad:
        raise ValueError(f"regimes must be among {REGIMES}, got {bad[0]!r}")
    return regimes[0] if len(set(regimes)) == 1 else "mixed"


def sista_reading(model: SISTARNN) -> dict[str, Any]:
    r"""SISTA's parameters of a tied SISTA-RNN (float64) and the quantities they imply.

    .. math::

        b = \frac{\lambda_1}{\alpha}, \qquad \text{pull} = \frac{\lambda_2}{\alpha},

        L = \lambda_{\max}\big(D^T(A^TA + \lambda_2 I)D\big), \qquad \text{ratio} = \alpha/L

    Returns
    -------
    dict with ``A, D, F, h0`` (and ``Dinv`` for the released variant) as float64 arrays,
    ``alpha, lam1, lam2, b, pull, L, ratio`` as floats, ``regime`` (:func:`step_regime`),
    ``convex`` (:math:`\lambda_2 \ge 0`: training does not constrain :math:`\lambda_2`, and
    below 0 the objective the network unfolds is nonconvex; :math:`L` is then
    :func:`~sista_lib.sista.sista_step_size`'s for an indefinite Hessian), and ``s_lo, s_hi``,
    the smallest and largest eigenvalue of the iteration matrix
    :math:`S = I - \tfrac1\alpha D^T(A^TA + \lambda_2 I)D` (:func:`iteration_eigenvalue_range`).
    """
    model = _check_sista_rnn(model)
    if not model.tie_layers:
        raise ValueError("model must have tied layers (tie_layers=True): untied layers have "
                         "one set of scalars per layer")
    p = {k: v.detach().cpu().double().numpy() for k, v in model.sista_parameters().items()}
    alpha, lam1, lam2 = (float(p[k]) for k in ("alpha", "lam1", "lam2"))
    L = sista_step_size(p["A"], p["D"], lam2, allow_nonconvex=True)
    s_lo, s_hi = iteration_eigenvalue_range(p["A"], p["D"], alpha, lam2)
    return {**p, "alpha": alpha, "lam1": lam1, "lam2": lam2, "b": lam1 / alpha,
            "pull": lam2 / alpha, "L": L, "ratio": alpha / L, "regime": step_regime(alpha, L),
            "convex": lam2 >= 0, "s_lo": s_lo, "s_hi": s_hi}


def read_sista_rnn(
    trained: SISTARNN,
    initial: SISTARNN,
    A0: ArrayLike,
    D0: ArrayLike,
    *,
    lr: float,
    steps: int,
    bands: Sequence["Band"] | None = None,
) -> dict[str, Any]:
    r"""Every number of the reading of one trained SISTA-RNN, in one flat dict.

    Parameters
    ----------
    trained, initial : SISTARNN
        The trained network and the one training started from (tied layers).
    A0, D0 : arrays
        The true measurement matrix and the initial dictionary.
    lr, steps : float, int
        RMSprop's learning rate :math:`\eta` and the number of steps :math:`s` to the kept
        parameters (for the ``speed_*`` ratios, :meth:`ParameterDrift.speed`).
    bands : sequence of :class:`Band`, optional
        Atom bands (:func:`wavelet_bands`); adds per-band means of :math:`\delta_j` and
        :math:`\lVert d_j\rVert`, and restricts ``outside_support`` to the last (finest) band.

    Returns
    -------
    dict with
    - ``alpha, lam1, lam2, b, pull, L, ratio, regime``: :func:`sista_reading`;
    - ``rel_<name>``, ``speed_<name>`` for every parameter: :func:`parameter_drift`;
    - ``s_lo, s_hi``: :func:`iteration_eigenvalue_range` (from :func:`sista_reading`);
    - ``ortho`` (:math:`\lVert D^TD - I\rVert_2`), ``sv_min``, ``sv_max``:
      :func:`dictionary_spectrum`; ``atom_cos``, ``atom_own``: :func:`atom_recognition`;
    - ``outside_support, leading, row_space``: :func:`change_structure`;
    - ``cos_A, normA``: :func:`measurement_alignment`; ``F_<key>``: :func:`dynamics_change`;
      ``h0_norm``: :math:`\lVert\hat h_0\rVert_2`;
    - released variant: ``Dinv_<key>``: :func:`inverse_defects`;
    - with ``bands``: ``delta_<short>``, ``norm_<short>`` (band means, e.g. ``norm_s``).
    """
    p = sista_reading(trained)
    out: dict[str, Any] = {k: p[k] for k in ("alpha", "lam1", "lam2", "b", "pull", "L", "ratio",
                                             "regime")}
    for name, d in parameter_drift(trained, initial).items():
        out[f"rel_{name}"], out[f"speed_{name}"] = d.relative, d.speed(lr, steps)
    out["s_lo"], out["s_hi"] = p["s_lo"], p["s_hi"]
    spectrum = dictionary_spectrum(p["D"])
    out.update(ortho=spectrum.orthonormality_defect, sv_min=spectrum.min, sv_max=spectrum.max)
    out["atom_cos"], out["atom_own"] = atom_recognition(p["D"], D0)
    finest = None if not bands else range(bands[-1].start, bands[-1].stop)
    out.update(change_structure(p["D"], D0, A0, atoms=finest))
    out["cos_A"], out["normA"] = measurement_alignment(p["A"], A0)
    out.update({f"F_{k}": v for k, v in dynamics_change(p["F"]).items()})
    out["h0_norm"] = float(np.linalg.norm(p["h0"]))
    if "Dinv" in p:
        out.update({f"Dinv_{k}": v for k, v in inverse_defects(p["Dinv"], p["D"]).items()})
    if bands:
        delta, norms = atom_changes(p["D"], D0)
        for band in bands:
            out[f"delta_{band.short}"] = float(delta[band.start:band.stop].mean())
            out[f"norm_{band.short}"] = float(norms[band.start:band.stop].mean())
    return out


def combine_readings(readings: Sequence[Mapping[str, Any]],
                     how: Mapping[str, str] | None = None) -> dict[str, Any]:
    r"""Combine the readings of several runs (e.g. seeds) key by key.

    Numbers are averaged unless ``how`` names ``"min"`` or ``"max"`` for their key (e.g. the
    smallest singular value over seeds); labels give their common value, or ``"mixed"``.
    """
    readings = list(readings)
    if not readings:
        raise ValueError("readings must hold at least one reading")
    how = dict(how or {})
    bad = {k: v for k, v in how.items() if v not in ("mean", "min", "max")}
    if bad:
        raise ValueError(f"how must map keys to 'mean', 'min' or 'max', got {bad}")
    keys = list(readings[0])
    if any(list(r) != keys for r in readings[1:]):
        raise ValueError("readings must all have the same keys")
    out: dict[str, Any] = {}
    for k in keys:
        values = [r[k] for r in readings]
        if isinstance(values[0], str):
            out[k] = values[0] if len(set(values)) == 1 else "mixed"
        else:
            out[k] = float(getattr(np, how.get(k, "mean"))(values))
    return out


def iteration_eigenvalue_range(A: ArrayLike, D: ArrayLike, alpha: float,
                               lam2: float) -> tuple[float, float]:
    r"""Smallest and largest eigenvalue of SISTA's iteration matrix
    :math:`S = I - \tfrac1\alpha D^T(A^TA + \lambda_2 I)D`.

    They are :math:`1 - \mu/\alpha` for the eigenvalues :math:`\mu` of the symmetric
    :math:`D^T(A^TA + \lambda_2 I)D`; the smallest is :math:`1 - L/\alpha`, which is
    :math:`> -1` exactly when :math:`\alpha > L/2`. A negative :math:`\lambda_2` (which
    training does not forbid) gives :math:`\mu < 0` when :math:`M < N`, and a largest
    eigenvalue above 1: along those directions the iteration expands.
    """
    A, D = _matrix(A, "A"), _matrix(D, "D", square=True)
    if A.shape[1] != D.shape[0]:
        raise ValueError(f"A must have {D.shape[0]} columns to multiply D, got shape {A.shape}")
    alpha = check_scalar(alpha, "alpha", positive=True)
    lam2 = check_scalar(lam2, "lam2")                 # any sign: a trained lambda_2 may be < 0
    mu = np.linalg.eigvalsh(D.T @ (A.T @ A + lam2 * np.eye(A.shape[1])) @ D)
    return float(1 - mu.max() / alpha), float(1 - mu.min() / alpha)


def sista_equivalence_gap(model: SISTARNN, x: ArrayLike) -> tuple[float, tuple[str, ...]]:
    r"""How far a paper-variant SISTA-RNN is from :math:`K` SISTA iterations with its parameters.

    Runs the network in float64 on ``x`` and :func:`sista_lib.sista.sista` with the learned
    :math:`A, D, F, \alpha, \lambda_1, \lambda_2, \hat h_0` and ``n_iter`` :math:`= K`.

    Returns
    -------
    gap : float
        :math:`\max|\hat h^{\text{net}} - \hat h^{\text{SISTA}}| / \max|\hat h^{\text{SISTA}}|`.
    warnings : tuple of str
        Class names of the warnings SISTA raised (e.g. about its step size), sorted, unique.
    """
    model = _check_sista_rnn(model)
    if model.variant != "paper":
        raise ValueError("model must be the paper variant: the released variant is not "
                         "unfolded SISTA")
    p = sista_reading(model)
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        _, codes = net(x, return_codes=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = sista(x, p["A"], p["D"], p["F"], p["alpha"], p["lam1"], p["lam2"],
                  n_iter=model.n_layers, h0=p["h0"], allow_nonconvex=True)
    codes, h = torch.as_tensor(codes), torch.as_tensor(h)
    gap = float((codes - h).abs().max() / h.abs().max())
    return gap, tuple(sorted({type(w.message).__name__ for w in caught}))


# --------------------------------------------------------------------------------------------
# what the learned parameters do
# --------------------------------------------------------------------------------------------


def rebuild_sista_rnn(params: Mapping[str, Any], n_layers: int, variant: str | None = None,
                      dtype: torch.dtype = torch.float32) -> SISTARNN:
    r"""A SISTA-RNN with ``n_layers`` layers (:math:`K`) built from read parameters.

    Parameters
    ----------
    params : mapping with ``A, D, F, alpha, lam1, lam2, h0`` (and ``Dinv``), e.g.
        :func:`sista_reading`
    n_layers : int
        For the paper variant: ``n_layers`` iterations of SISTA with these parameters.
    variant : {"paper", "released"}, optional
        Default: ``"released"`` when ``params`` holds ``Dinv``, else ``"paper"``.
    dtype : torch.dtype, default float32 (the study's precision)
    """
    missing = {"A", "D", "F", "alpha", "lam1", "lam2", "h0"} - set(params)
    if missing:
        raise ValueError(f"params is missing {sorted(missing)}")
    if variant is None:
        variant = "released" if "Dinv" in params else "paper"
    lams = {k: check_scalar(params[k], k) for k in ("lam1", "lam2")}
    net = SISTARNN(params["A"], params["D"], params["F"], params["alpha"],
                   *(max(v, 0.0) for v in lams.values()), n_layers=n_layers, variant=variant,
                   h0=params["h0"], Dinv=params.get("Dinv") if variant == "released" else None,
                   dtype=dtype)
    with torch.no_grad():   # training does not constrain the lambdas: a learned one may be < 0
        for k, v in lams.items():
            getattr(net, k).fill_(v)
    return net


def depth_sweep(params: Sequence[Mapping[str, Any]] | Mapping[str, Any], k_values: Sequence[int],
                score: Callable[[nn.Module], float]) -> np.ndarray:
    r"""Score the same parameters run with different depths :math:`K`, mean over runs.

    For the paper variant, depth :math:`K` is :math:`K` iterations of SISTA with the learned
    parameters, so the curve tests whether training produced a better problem (more iterations
    keep the gain) or a better :math:`K`-step procedure (:func:`depth_sweep_kind`).

    Parameters
    ----------
    params : a mapping for :func:`rebuild_sista_rnn`, or a sequence of them (one per run)
    k_values : sequence of int
    score : callable model -> float (e.g. :func:`psnr_scorer`)

    Returns
    -------
    (len(k_values),) array: the mean over runs of ``score(rebuild_sista_rnn(p, k))``; NaN at a
    depth where a run scores NaN (:func:`psnr_scorer`: its output diverged).
    """
    runs = [params] if isinstance(params, Mapping) else list(params)
    if not runs:
        raise ValueError("params must hold at least one set of parameters")
    ks = [check_positive_int(k, "k_values") for k in k_values]
    return np.mean([[score(rebuild_sista_rnn(p, k)) for k in ks] for p in runs], axis=0)


def depth_sweep_kind(k_values: Sequence[int], scores: ArrayLike, trained_k: int, *,
                     tolerance: float = 1.0) -> str:
    r"""What a sweep of the depth :math:`K` says the training produced: a label.

    ``scores[i]`` is the score (e.g. mean PSNR in dB) of the learned parameters run with
    ``k_values[i]`` layers; the network was trained with ``trained_k``.

    - ``"problem"``: the deepest network scores at least as well as the trained depth (more
      iterations of the learned algorithm keep or improve the reconstruction: the learned
      objective is better);
    - ``"procedure"``: the trained depth scores best and the deepest network more than
      ``tolerance`` below it (a fixed number of iterations tuned to stop at the right moment);
    - ``"mixed"``: anything else (more iterations lose part of the gain).

    A NaN score (the output diverged at that depth, :func:`psnr_scorer`) counts as worse than
    any other; the trained depth itself must have a score.
    """
    ks = [check_positive_int(k, "k_values") for k in k_values]
    if any(b <= a for a, b in zip(ks, ks[1:])):
        raise ValueError(f"k_values must be strictly increasing, got {ks}")
    s = _np64(scores, "scores")
    if s.shape != (len(ks),):
        raise ValueError(f"scores must hold one value per k_value ({len(ks)}), got shape {s.shape}")
    if trained_k not in ks:
        raise ValueError(f"trained_k must be one of k_values {ks}, got {trained_k!r}")
    tolerance = check_scalar(tolerance, "tolerance", nonnegative=True)
    i = ks.index(trained_k)
    if np.isnan(s[i]):
        raise ValueError(f"scores must hold a score at the trained depth K = {trained_k}, got NaN")
    s = np.where(np.isnan(s), -np.inf, s)     # a diverged depth is worse than any other
    if int(np.argmax(s)) == i and s[-1] < s[i] - tolerance:
        return "procedure"
    if s[-1] >= s[i]:
        return "problem"
    return "mixed"


def reset_parameters(trained: nn.Module, initial: nn.Module, names: Sequence[str]) -> nn.Module:
    r"""A copy of ``trained`` with the parameters ``names`` put back to their ``initial`` values."""
    if not isinstance(trained, nn.Module) or not isinstance(initial, nn.Module):
        raise TypeError("trained and initial must be torch.nn.Module instances")
    start = dict(initial.named_parameters())
    net = copy.deepcopy(trained)
    params = dict(net.named_parameters())
    unknown = [n for n in names if n not in params or n not in start]
    if unknown:
        raise ValueError(f"names must be parameters of both networks, got {unknown}")
    with torch.no_grad():
        for n in names:
            params[n].copy_(start[n])
    return net


def ablation_losses(
    pairs: Sequence[tuple[nn.Module, nn.Module]],
    groups: Mapping[str, Sequence[str]],
    score: Callable[[nn.Module], float],
    *,
    full: float | None = None,
) -> dict[str, float]:
    r"""Score lost when one group of parameters is reset to its initial value, mean over runs.

    .. math::

        \Delta_G = \overline{s(\theta)} - \overline{s(\theta \text{ with } G \leftarrow G_0)}

    Parameters
    ----------
    pairs : sequence of (trained, initial) modules, one per run (seed)
    groups : mapping label -> parameter names; groups whose names are not all parameters of the
        networks are skipped (e.g. ``Dinv`` of the released variant only)
    score : callable model -> float, higher is better (e.g. :func:`psnr_scorer`)
    full : float, optional
        :math:`\overline{s(\theta)}`, the mean score of the trained networks (computed if omitted).

    Returns
    -------
    dict label -> :math:`\Delta_G`; NaN where a network with :math:`G` reset scores NaN on
    some run (:func:`psnr_scorer`: its output is not finite, the reset network diverges).
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must hold at least one (trained, initial) pair")
    if full is None:
        full = float(np.mean([score(t) for t, _ in pairs]))
    present = set(dict(pairs[0][0].named_parameters()))
    out = {}
    for label, names in groups.items():
        if not set(names) <= present:
            continue
        out[label] = full - float(np.mean([score(reset_parameters(t, t0, names))
                                           for t, t0 in pairs]))
    return out


# --------------------------------------------------------------------------------------------
# the dictionary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A band of wavelet atoms: ``D[:, start:stop]``; ``name`` e.g. ``"detail 4"``, ``short`` ``"d4"``."""

    name: str
    short: str
    start: int
    stop: int


def wavelet_bands(n: int, wavelet: str = "db4", level: int = 4) -> list[Band]:
    r"""The scale bands of the atoms of :func:`sista_lib.dictionaries.wavelet_dictionary`.

    PyWavelets' order: the scaling (coarsest) atoms, then the details of levels
    ``level, ..., 1`` (finest).
    """
    import pywt

    n = check_positive_int(n, "n")
    level = check_positive_int(level, "level")
    sizes = [len(c) for c in pywt.wavedec(np.zeros(n), wavelet, mode="periodization", level=level)]
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    names = [("scaling", "s")] + [(f"detail {lv}", f"d{lv}") for lv in range(level, 0, -1)]
    return [Band(name, short, int(a), int(b))
            for (name, short), a, b in zip(names, edges[:-1], edges[1:])]


def band_of(j: int, bands: Sequence[Band]) -> Band:
    """The band of ``bands`` (:func:`wavelet_bands`) that holds atom ``j``.

    Raises
    ------
    ValueError
        If no band holds ``j``.
    """
    j = check_positive_int(j, "j", minimum=0)
    for band in bands:
        if band.start <= j < band.stop:
            return band
    raise ValueError(f"j must be the index of an atom of the bands (0 to "
                     f"{max((b.stop for b in bands), default=0) - 1}), got {j}")


def atom_changes(D: ArrayLike, D0: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Per atom (column) :math:`j`: its relative change and its norm.

    .. math::

        \delta_j = \frac{\lVert d_j - d_j^0\rVert_2}{\lVert d_j^0\rVert_2}, \qquad \lVert d_j\rVert_2

    Returns
    -------
    (delta, norms) : two (N,) float64 arrays
    """
    D, D0 = _matrix(D, "D"), _matrix(D0, "D0")
    _same_shape(D, D0, "D and D0")
    return np.linalg.norm(D - D0, axis=0) / np.linalg.norm(D0, axis=0), np.linalg.norm(D, axis=0)


@dataclass(frozen=True)
class DictionarySpectrum:
    r"""Singular values :math:`\sigma_i(D)` (descending) and the orthonormality defect
    :math:`\lVert D^TD - I\rVert_2 = \max_i |\sigma_i^2 - 1|` (0 for an orthonormal :math:`D`)."""

    singular_values: np.ndarray
    orthonormality_defect: float

    @property
    def min(self) -> float:
        return float(self.singular_values.min())

    @property
    def max(self) -> float:
        return float(self.singular_values.max())


def dictionary_spectrum(D: ArrayLike) -> DictionarySpectrum:
    r"""The singular values of a square dictionary :math:`D` and how far it is from orthonormal."""
    D = _matrix(D, "D", square=True)
    sv = np.linalg.svd(D, compute_uv=False)
    return DictionarySpectrum(sv, float(np.max(np.abs(sv ** 2 - 1))))


def atom_recognition(D: ArrayLike, D0: ArrayLike) -> tuple[float, float]:
    r"""Are the learned atoms still their initial atoms?

    With unit-norm atoms :math:`u_j = d_j / \lVert d_j\rVert` and :math:`u_j^0`, the cosines
    :math:`c_{ij} = |\langle u_i^0, u_j\rangle|`.

    Returns
    -------
    (min_own_cosine, own_fraction) :
        :math:`\min_j c_{jj}`, and the fraction of atoms :math:`j` whose closest initial atom
        (largest :math:`c_{ij}`) is their own, :math:`i = j`.
    """
    D, D0 = _matrix(D, "D", square=True), _matrix(D0, "D0", square=True)
    _same_shape(D, D0, "D and D0")
    cos = np.abs((D0 / np.linalg.norm(D0, axis=0)).T @ (D / np.linalg.norm(D, axis=0)))
    return float(np.diag(cos).min()), float(np.mean(cos.argmax(axis=0) == np.arange(D.shape[1])))


def change_structure(D: ArrayLike, D0: ArrayLike, A0: ArrayLike, *, atoms: Sequence[int] | None = None,
                     n_components: int = 5, support_tol: float = 1e-12) -> dict[str, float]:
    r"""Where the change :math:`\Delta = D - D_0` of a dictionary lies.

    Returns
    -------
    dict with
    ``outside_support``
        mean over ``atoms`` (default all; those that did not move are left out) of the fraction
        of :math:`\lVert d_j - d_j^0\rVert^2` on the samples where :math:`|d_j^0| \le`
        ``support_tol``;
    ``leading``
        the fraction of :math:`\lVert\Delta\rVert_F^2` in its ``n_components`` leading singular
        components, :math:`\sum_{i \le n} \sigma_i^2 / \sum_i \sigma_i^2`;
    ``row_space``
        the fraction of :math:`\lVert\Delta\rVert_F^2` in the row space of :math:`A_0` (the only
        signal directions the measurements :math:`x_t = A_0 y_t` see),
        :math:`\lVert Q^T\Delta\rVert_F^2 / \lVert\Delta\rVert_F^2` with :math:`Q` an orthonormal
        basis of :math:`\operatorname{range}(A_0^T)`; a change in a random direction has
        :math:`M/N`.

    All three are NaN when there is no change to locate (:math:`D = D_0`).
    """
    D, D0, A0 = _matrix(D, "D", square=True), _matrix(D0, "D0", square=True), _matrix(A0, "A0")
    _same_shape(D, D0, "D and D0")
    if A0.shape[1] != D.shape[0]:
        raise ValueError(f"A0 must have {D.shape[0]} columns, got shape {A0.shape}")
    n_components = check_positive_int(n_components, "n_components")
    support_tol = check_scalar(support_tol, "support_tol", nonnegative=True)
    atoms = range(D.shape[1]) if atoms is None else list(atoms)
    dD = D - D0
    support = np.abs(D0) > support_tol
    energy = np.sum(dD ** 2, axis=0)
    moved = [j for j in atoms if energy[j] > 0]          # an atom that did not move has no shape
    outside = (float(np.mean([np.sum(dD[~support[:, j], j] ** 2) / energy[j] for j in moved]))
               if moved else math.nan)
    total = float(energy.sum())
    if total == 0:
        return {"outside_support": math.nan, "leading": math.nan, "row_space": math.nan}
    sv = np.linalg.svd(dD, compute_uv=False)
    Q, _ = np.linalg.qr(A0.T)
    return {"outside_support": outside,
            "leading": float(np.sum(sv[:n_components] ** 2) / np.sum(sv ** 2)),
            "row_space": float(np.sum((Q.T @ dD) ** 2) / total)}


def inverse_defects(Dinv: ArrayLike, D: ArrayLike) -> dict[str, float]:
    r"""How well a separately learned :math:`D^{-1}` (released variant) inverts :math:`D`.

    Returns
    -------
    dict with ``to_transpose`` :math:`\lVert D^{-1} - D^T\rVert_F / \lVert D^T\rVert_F`,
    ``inverse`` :math:`\lVert D^{-1}D - I\rVert_2` and ``transpose`` :math:`\lVert D^TD - I\rVert_2`
    (what :math:`D^T` achieves as an inverse).
    """
    Dinv, D = _matrix(Dinv, "Dinv", square=True), _matrix(D, "D", square=True)
    _same_shape(Dinv, D, "Dinv and D")
    eye = np.eye(D.shape[0])
    return {"to_transpose": float(np.linalg.norm(Dinv - D.T) / np.linalg.norm(D.T)),
            "inverse": float(np.linalg.norm(Dinv @ D - eye, 2)),
            "transpose": float(np.linalg.norm(D.T @ D - eye, 2))}


# --------------------------------------------------------------------------------------------
# A, F and the codes
# --------------------------------------------------------------------------------------------


def measurement_alignment(A: ArrayLike, A0: ArrayLike) -> tuple[float, float]:
    r"""Direction and size of a learned measurement matrix against the true one.

    Returns
    -------
    (cosine, spectral_norm) :
        :math:`\langle A, A_0\rangle_F / (\lVert A\rVert_F \lVert A_0\rVert_F)` and
        :math:`\lVert A\rVert_2`.
    """
    A, A0 = _matrix(A, "A"), _matrix(A0, "A0")
    _same_shape(A, A0, "A and A0")
    return (float(np.sum(A * A0) / np.linalg.norm(A) / np.linalg.norm(A0)),
            float(np.linalg.norm(A, 2)))


def diagonal_means(F: ArrayLike, offsets: Sequence[int]) -> np.ndarray:
    r"""Mean of the diagonal :math:`k` of :math:`F` (:math:`k = 0` the main one, :math:`k > 0`
    above it) for each ``k`` in ``offsets``."""
    F = _matrix(F, "F", square=True)
    n = F.shape[0]
    bad = [k for k in offsets if not -n < int(k) < n]
    if bad:
        raise ValueError(f"offsets must lie in ({-n}, {n}), got {bad}")
    return np.array([np.diag(F, int(k)).mean() for k in offsets])


def dynamics_change(F: ArrayLike, band: int = 2) -> dict[str, float]:
    r"""How learned dynamics :math:`F` differ from :math:`F_0 = I` (:math:`E = F - I`).

    Returns
    -------
    dict with ``diagonal_mean`` (mean of :math:`F`'s main diagonal), ``off_diagonal_mean``
    (mean off-diagonal entry of :math:`E`), ``band_energy`` (fraction of
    :math:`\lVert E\rVert_F^2` on the diagonals :math:`|k| \le` ``band``), ``outside_band``
    (1 minus it) and ``uniform_band`` (the fraction those diagonals hold of the entries,
    :math:`\sum_{|k|\le b}(N - |k|)/N^2`: what an evenly spread change would put there).
    """
    F = _matrix(F, "F", square=True)
    band = check_positive_int(band, "band", minimum=0)
    n = F.shape[0]
    if band >= n:
        raise ValueError(f"band must be < N = {n}, got {band}")
    E = F - np.eye(n)
    total = np.sum(E ** 2)
    near = sum(np.sum(np.diag(E, k) ** 2) for k in range(-band, band + 1))
    energy = near / total if total > 0 else math.nan          # F = I has no change to locate
    return {"diagonal_mean": float(np.diag(F).mean()),
            "off_diagonal_mean": float((E.sum() - np.trace(E)) / (n * n - n)),
            "band_energy": float(energy), "outside_band": float(1 - energy),
            "uniform_band": float(sum(n - abs(k) for k in range(-band, band + 1)) / n ** 2)}


def code_sparsity(h: ArrayLike, k: int = 16, bands: Sequence["Band"] | None = None) -> dict[str, Any]:
    r"""How sparse and how concentrated codes :math:`\hat h_t` are, over all leading axes.

    Parameters
    ----------
    h : (..., N) array
        Codes, e.g. (seeds, T, images, N); each vector along the last axis is one column's code.
    k : int, default 16
        Number of largest entries for the energy share
        (:func:`sista_lib.analysis.energy_compaction`).

    Returns
    -------
    dict with ``nonzero_fraction`` (of all entries), ``nonzero_per_column`` (mean count),
    ``energy_top_k`` (mean share of a code's energy in its ``k`` largest entries),
    ``few_fraction`` (fraction of codes with fewer than :math:`N/2` non-zeros), and the arrays
    ``counts`` (non-zeros of every code, flattened) and ``atom_usage`` ((N,): fraction of codes
    in which each atom is non-zero); with ``bands``, ``usage_<short>``: the mean of
    ``atom_usage`` over each band (e.g. ``usage_s`` for the scaling atoms).
    """
    from .analysis import energy_compaction

    h = _np64(h, "h")
    if h.ndim < 1 or h.shape[-1] == 0:
        raise ValueError(f"h must have a non-empty last axis (atoms), got shape {h.shape}")
    N = h.shape[-1]
    k = check_positive_int(k, "k")
    if k > N:
        raise ValueError(f"k must be <= N = {N}, got {k}")
    nonzero = h != 0
    counts = nonzero.sum(-1).ravel()
    usage = nonzero.reshape(-1, N).mean(axis=0)
    out = {"nonzero_fraction": float(nonzero.mean()), "nonzero_per_column": float(counts.mean()),
           "energy_top_k": float(energy_compaction(h)[..., k].mean()),
           "few_fraction": float(np.mean(counts < N // 2)), "counts": counts, "atom_usage": usage}
    for band in bands or ():
        out[f"usage_{band.short}"] = float(usage[band.start:band.stop].mean())
    return out


# --------------------------------------------------------------------------------------------
# the black boxes
# --------------------------------------------------------------------------------------------


def spectral_radius(W: ArrayLike) -> float:
    r"""Largest modulus of an eigenvalue of a square matrix, :math:`\max_i |\lambda_i(W)|`."""
    return float(np.abs(np.linalg.eigvals(_matrix(W, "W", square=True))).max())


def spectrum_change(W0: ArrayLike, W: ArrayLike, *, skip: int = 10) -> dict[str, float]:
    r"""How training changed the singular values of a matrix, :math:`\sigma_i(W_0) \to \sigma_i(W)`.

    Returns
    -------
    dict with ``top_initial`` :math:`\sigma_1(W_0)`, ``top`` :math:`\sigma_1(W)`, ``n_above``
    (how many :math:`\sigma_i(W)` exceed :math:`\sigma_1(W_0)`) and ``bulk_change``
    (the median of :math:`|\sigma_i(W)/\sigma_i(W_0) - 1|` over :math:`i >` ``skip``, the bulk
    below the few leading directions).
    """
    W0, W = _matrix(W0, "W0"), _matrix(W, "W")
    _same_shape(W0, W, "W0 and W")
    skip = check_positive_int(skip, "skip", minimum=0)
    s0, s = (np.linalg.svd(m, compute_uv=False) for m in (W0, W))
    if skip >= len(s):
        raise ValueError(f"skip must be < the number of singular values {len(s)}, got {skip}")
    return {"top_initial": float(s0[0]), "top": float(s[0]), "n_above": int(np.sum(s > s0[0])),
            "bulk_change": float(np.median(np.abs(s[skip:] / s0[skip:] - 1)))}


def lstm_forget_bias(model: LSTMBaseline | nn.LSTM, layer: int) -> np.ndarray:
    r"""The total forget-gate bias ``bias_ih + bias_hh`` of one layer (torch's gate order
    input, forget, cell, output), in the parameters' precision: (H,) array."""
    lstm = model.lstm if isinstance(model, LSTMBaseline) else model
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"model must be an LSTMBaseline or torch.nn.LSTM, got {type(model).__name__}")
    layer = check_positive_int(layer, "layer", minimum=0)
    if layer >= lstm.num_layers:
        raise ValueError(f"layer must be < {lstm.num_layers}, got {layer}")
    H = lstm.hidden_size
    total = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
    return total[H:2 * H].detach().cpu().numpy()


def lstm_recurrent_weights(initial: LSTMBaseline | nn.LSTM,
                           trained: LSTMBaseline | nn.LSTM) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""The recurrent matrices ``weight_hh_l<k>`` (:math:`4H \times H`, the gates stacked as torch
    stores them) of every layer of an LSTM before and after training, in the parameters'
    precision.

    Returns
    -------
    list of (initial, trained) arrays, one pair per layer
    """
    lstms = []
    for name, model in (("initial", initial), ("trained", trained)):
        lstm = model.lstm if isinstance(model, LSTMBaseline) else model
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"{name} must be an LSTMBaseline or torch.nn.LSTM, got "
                            f"{type(model).__name__}")
        lstms.append(lstm)
    if lstms[0].num_layers != lstms[1].num_layers:
        raise ValueError(f"initial and trained must have the same number of layers, got "
                         f"{lstms[0].num_layers} and {lstms[1].num_layers}")
    return [tuple(getattr(lstm, f"weight_hh_l{k}").detach().cpu().numpy() for lstm in lstms)
            for k in range(lstms[0].num_layers)]


def signed_permutation(n: int, rng: np.random.Generator) -> np.ndarray:
    r"""A random signed permutation matrix :math:`Q` (one :math:`\pm 1` per row and column),
    :math:`Q^TQ = I`. Draws the permutation, then the signs, from ``rng``."""
    n = check_positive_int(n, "n")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    Q = np.zeros((n, n))
    Q[np.arange(n), rng.permutation(n)] = rng.choice([-1.0, 1.0], n)
    return Q


def permute_stacked_rnn(net: StackedRNN, Q: Sequence[ArrayLike]) -> StackedRNN:
    r"""The stacked RNN with its hidden units permuted and sign-flipped, layer by layer.

    With one signed permutation :math:`Q_k` per layer, and :math:`S_k` carrying layer
    :math:`k-1` into layer :math:`k`,

    .. math::

        V' = Q_1 V, \quad W_k' = Q_k W_k Q_k^T, \quad S_k' = Q_k S_k Q_{k-1}^T\ (k \ge 2),

        b_k' = |Q_k| b_k, \quad h_0'^{(k)} = Q_k h_0^{(k)}, \quad U' = U Q_K^T, \quad c' = c .

    Soft-thresholding is odd and acts entry by entry, so
    :math:`\operatorname{soft}_{|Q|b}(Qz) = Q\operatorname{soft}_b(z)` and the copy computes
    the same outputs :math:`\hat y_t` with the hidden states :math:`Q_k h_t^{(k)}`.
    """
    if not isinstance(net, StackedRNN):
        raise TypeError(f"net must be a sista_lib.models.StackedRNN, got {type(net).__name__}")
    H, K = net.hidden_size, net.n_layers
    if len(Q) != K:
        raise ValueError(f"Q must hold one matrix per layer ({K}), got {len(Q)}")
    dtype = net.V.dtype
    Qt = [torch.as_tensor(_matrix(q, f"Q[{k}]", square=True), dtype=dtype) for k, q in enumerate(Q)]
    if any(q.shape[0] != H for q in Qt):
        raise ValueError(f"every Q[k] must be {H} x {H} (hidden_size)")
    twin = copy.deepcopy(net)
    with torch.no_grad():
        twin.V.copy_(Qt[0] @ net.V)
        twin.U.copy_(net.U @ Qt[-1].T)
        for k in range(K):
            twin.W[k].copy_(Qt[k] @ net.W[k] @ Qt[k].T)
            twin.b[k].copy_(Qt[k].abs() @ net.b[k])
            twin.h0[k].copy_(Qt[k] @ net.h0[k])
        for k in range(1, K):          # net.S[k - 1] carries layer k - 1 into layer k (0-based)
            twin.S[k - 1].copy_(Qt[k] @ net.S[k - 1] @ Qt[k - 1].T)
    return twin


def relative_gap(reference: ArrayLike, other: ArrayLike) -> float:
    r""":math:`\max|a - b| / \max|a|`, the largest difference relative to the largest entry of
    the reference :math:`a`."""
    a, b = _np64(reference, "reference"), _np64(other, "other")
    _same_shape(a, b, "reference and other")
    scale = np.abs(a).max()
    if scale == 0:
        raise ValueError("reference must not be all zeros")
    return float(np.abs(a - b).max() / scale)


def order_of_magnitude(x: float) -> float:
    r"""The smallest power of ten :math:`\ge x`, :math:`10^{\lceil\log_{10} x\rceil}` (for
    stating a rounding-level agreement as "to 1e-14"); :math:`10^{-300}` for 0."""
    x = check_scalar(x, "x", nonnegative=True)
    return 10.0 ** math.ceil(math.log10(max(x, 1e-300)))


# --------------------------------------------------------------------------------------------
# the tables of a reading: (header, rows) of formatted cells
# --------------------------------------------------------------------------------------------


def _check_keyed(x: Any, name: str, what: str) -> list[str]:
    """The keys (models, variants, labels) of ``x``, a non-empty mapping of ``what``."""
    if isinstance(x, Mapping) and x:
        return list(x)
    got = "an empty mapping" if isinstance(x, Mapping) else type(x).__name__
    raise (ValueError if isinstance(x, Mapping) else TypeError)(
        f"{name} must be a non-empty mapping of {what}, got {got}")


def _relative_cell(relative: float) -> str:
    """A relative change as a table cell; "(from 0)" for a tensor that started at zero (NaN)."""
    return "(from 0)" if math.isnan(relative) else f"{relative:.4f}"


def score_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    r"""The trained networks' test scores: per network, the mean :math:`\pm` standard deviation of
    the mean test PSNR over seeds (dB), its value at initialisation, and the best validation epoch
    of each seed (whose parameters were kept), in the study's order of seeds; "diverged" for a
    seed whose run diverged (``results["failed"]``), which the mean leaves out.

    Raises
    ------
    ValueError
        If a model of the study has no summary, or neither a run nor a divergence for one of
        its seeds.
    """
    models, seeds = list(results.get("models", [])), list(results.get("seeds", []))
    if not models or not seeds:
        raise ValueError("results must list its models and seeds, as load_results returns them")
    header = ["network", "test PSNR (dB), mean ± std over seeds", "at initialisation",
              "best epoch per seed"]
    diverged = {(rec["model"], int(rec["seed"])) for rec in (results.get("failed") or {}).values()}
    rows = []
    for m in models:
        try:
            p = results["summary"][m]["psnr"]
            best = ["diverged" if (m, int(s)) in diverged and str(s) not in results["runs"][m]
                    else results["runs"][m][str(s)]["train"]["best_epoch"] for s in seeds]
        except KeyError as missing:
            raise ValueError(f"results must hold the summary and every seed's run of model {m!r}, "
                             f"got none for {missing}") from None
        rows.append([MODEL_LABELS.get(m, m), f"{p['mean']:.2f} ± {p['std']:.2f}",
                     f"{p['initial_mean']:.2f}", ", ".join(map(str, best))])
    return header, rows


#: The columns of :func:`scalar_rows`: keys of :func:`sista_reading` and their titles.
_SCALAR_COLUMNS = {"alpha": "α", "lam1": "λ1", "lam2": "λ2", "b": "b = λ1/α", "pull": "λ2/α",
                   "L": "L", "ratio": "α/L"}


def scalar_rows(
    initial: Mapping[str, Any],
    readings: Mapping[str, Mapping[int, Mapping[str, Any]]],
    best: Mapping[str, Mapping[int, int]],
    *,
    initial_label: str = "initial (both variants)",
) -> tuple[list[str], list[list[Any]]]:
    r"""SISTA's scalars :math:`\alpha, \lambda_1, \lambda_2`, the ratios
    :math:`b = \lambda_1/\alpha` and :math:`\lambda_2/\alpha`, :math:`L` and :math:`\alpha/L`: the
    initial values, then one row per run (four decimals).

    Parameters
    ----------
    initial : mapping
        :func:`sista_reading` of the initial network.
    readings : mapping label -> (seed -> reading)
        :func:`read_sista_rnn` (or :func:`sista_reading`) of each run, per network label.
    best : mapping label -> (seed -> int)
        The best validation epoch of each run.

    Raises
    ------
    ValueError
        If a reading lacks a column, or a run has no best epoch.
    """
    labels = _check_keyed(readings, "readings", "labels to per-seed readings")
    header = ["network", "seed", "best epoch", *_SCALAR_COLUMNS.values()]

    def cells(reading: Mapping[str, Any], where: str) -> list[str]:
        missing = [c for c in _SCALAR_COLUMNS if c not in reading]
        if missing:
            raise ValueError(f"{where} must hold {list(_SCALAR_COLUMNS)}, got none for {missing}")
        return [f"{reading[c]:.4f}" for c in _SCALAR_COLUMNS]

    rows = [[initial_label, "", "", *cells(initial, "initial")]]
    for label in labels:
        for s, r in readings[label].items():
            if s not in best.get(label, {}):
                raise ValueError(f"best must hold the best epoch of {label!r} seed {s}, got none")
            rows.append([label, s, best[label][s], *cells(r, f"readings[{label!r}][{s}]")])
    return header, rows


def ablation_rows(losses: Mapping[str, Mapping[str, float]], gains: Mapping[str, float],
                  groups: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    r"""PSNR lost (dB, two decimals) when one group of parameters is reset to its initial value,
    one column per variant (:func:`ablation_losses`), and a last row with everything reset: the
    whole gain of training, :math:`\overline{s(\theta)} - s(\theta_0)`. A reset whose network
    diverges (a NaN loss) reads "diverges".

    Parameters
    ----------
    losses : mapping variant -> (group -> loss)
    gains : mapping variant -> float
        The whole gain of training of each variant.
    groups : sequence of str
        The rows, in order; a group a variant does not have gets an empty cell.

    Raises
    ------
    ValueError
        If a variant has no gain.
    """
    variants = _check_keyed(losses, "losses", "variants to losses per group")
    missing = [v for v in variants if v not in gains]
    if missing:
        raise ValueError(f"gains must hold the gain of every variant of losses, got none for "
                         f"{missing}")
    header = ["parameter reset to its initial value"]
    header += [f"PSNR lost (dB), {v} variant" for v in variants]
    cell = lambda x: "diverges" if np.isnan(x) else f"{x:.2f}"
    rows = [[g] + [cell(losses[v][g]) if g in losses[v] else "" for v in variants]
            for g in groups]
    return header, rows + [["all (the untrained network)"] + [f"{gains[v]:.2f}" for v in variants]]


def drift_rows(readings: Mapping[str, Mapping[str, Any]],
               names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    r"""How far each parameter tensor moved, two columns per variant: its relative change
    :math:`\lVert\theta - \theta_0\rVert_F / \lVert\theta_0\rVert_F` (four decimals, "(from 0)"
    for a tensor that started at zero) and its mean absolute change per entry over
    :math:`\eta s` (two decimals, :meth:`ParameterDrift.speed`).

    Parameters
    ----------
    readings : mapping variant -> reading
        With ``rel_<name>`` and ``speed_<name>`` (:func:`read_sista_rnn`, e.g. combined over
        seeds by :func:`combine_readings`).
    names : sequence of str
        The tensors, one row each; a tensor a variant does not have gets empty cells.
    """
    variants = _check_keyed(readings, "readings", "variants to readings")
    header = ["tensor"] + [t for v in variants
                           for t in (f"relative change, {v}", f"mean |Δ| / (η s), {v}")]

    def cells(r: Mapping[str, Any], name: str) -> list[str]:
        if f"rel_{name}" not in r:
            return ["", ""]
        return [_relative_cell(r[f"rel_{name}"]), f"{r[f'speed_{name}']:.2f}"]

    return header, [[n] + [c for v in variants for c in cells(readings[v], n)] for n in names]


def band_rows(readings: Mapping[str, Mapping[str, Any]],
              bands: Sequence[Band]) -> tuple[list[str], list[list[Any]]]:
    r"""Per band of atoms (:func:`wavelet_bands`): its number of atoms and, per variant, the mean
    relative change :math:`\delta_j` and the mean norm :math:`\lVert d_j\rVert` of its atoms (four
    decimals).

    Parameters
    ----------
    readings : mapping variant -> reading
        With ``delta_<short>`` and ``norm_<short>`` for every band (:func:`read_sista_rnn` with
        ``bands``).

    Raises
    ------
    ValueError
        If a reading lacks a band.
    """
    variants = _check_keyed(readings, "readings", "variants to readings")
    for v in variants:
        missing = [b.short for b in bands if f"delta_{b.short}" not in readings[v]]
        if missing:
            raise ValueError(f"readings[{v!r}] must hold the band means of every band "
                             f"(read_sista_rnn with bands), got none for {missing}")
    header = ["band", "atoms"]
    header += [t for v in variants for t in (f"mean δ_j, {v}", f"mean ‖d_j‖, {v}")]
    return header, [[b.name, b.stop - b.start]
                    + [f"{readings[v][f'{q}_{b.short}']:.4f}" for v in variants
                       for q in ("delta", "norm")] for b in bands]


def sparsity_rows(sparsity: Mapping[str, Mapping[str, Any]], *,
                  k: int = 16) -> tuple[list[str], list[list[str]]]:
    r"""How sparse codes are, one row per label (:func:`code_sparsity` computed with ``k``): the
    fraction of non-zero entries, their mean number per column, the fraction of columns using
    fewer than half the atoms, and the share of a code's energy in its ``k`` largest entries.

    Raises
    ------
    ValueError
        If a result lacks one of these numbers.
    """
    labels = _check_keyed(sparsity, "sparsity", "labels to code_sparsity results")
    k = check_positive_int(k, "k")
    columns = {"nonzero_fraction": "non-zero fraction",
               "nonzero_per_column": "non-zero entries per column",
               "few_fraction": "columns using fewer than half the atoms",
               "energy_top_k": f"energy in the {k} largest"}
    rows = []
    for label in labels:
        sp = sparsity[label]
        missing = [c for c in columns if c not in sp]
        if missing:
            raise ValueError(f"sparsity[{label!r}] must be a code_sparsity result, got none for "
                             f"{missing}")
        rows.append([label] + [f"{sp[c]:.1f}" if c == "nonzero_per_column" else f"{sp[c]:.4f}"
                               for c in columns])
    return ["codes", *columns.values()], rows


def change_rows(changes: Mapping[str, Mapping[str, GroupChange]],
                ) -> tuple[list[str], list[list[str]]]:
    r"""The pooled relative change of every group of tensors of some networks
    (:func:`pooled_relative_change`), one row per group: the network's label, the group, its
    shapes and its change (four decimals, "(from 0)" for tensors that started at zero).

    Parameters
    ----------
    changes : mapping model -> (group -> :class:`GroupChange`)
        Models by their names in the study (``"stacked_rnn"``, ``"lstm"``), shown by their labels.
    """
    models = _check_keyed(changes, "changes", "models to pooled relative changes")
    return (["network", "tensor", "shape", "relative change"],
            [[MODEL_LABELS.get(m, m), name, c.shape_label, _relative_cell(c.relative)]
             for m in models for name, c in changes[m].items()])


# --------------------------------------------------------------------------------------------
# the numbers the prose quotes, by the names it glues them under
# --------------------------------------------------------------------------------------------


def _round(x: Any, digits: int) -> float:
    """A number as the prose shows it: a Python float with ``digits`` decimals (NaN stays NaN)."""
    return round(float(x), digits)


def score_values(results: Mapping[str, Any]) -> dict[str, Any]:
    r"""The study's scores as the prose quotes them.

    - ``psnr_<model>``: the mean test PSNR of every trained network, mean over seeds (dB, two
      decimals); ``best_model``: the label of the network with the highest.
    - ``psnr_lasso_conv``, ``psnr_sista_conv``: the per-column Lasso and SISTA
      (:math:`\lambda_2 = 1, F = I`) run to convergence; ``temporal_verdict``, what SISTA's
      temporal prior does against the Lasso at its initial weight: ``"helps"`` when SISTA scores
      at least as well, else ``"costs more than it brings"``. Absent when the study ran no
      baselines.
    - ``n_test`` (test images) and ``n_seeds``.

    Raises
    ------
    ValueError
        If ``results`` lacks its configuration, seeds, models or their summaries.
    """
    try:
        n_test, seeds = results["config"]["n_test"], results["seeds"]
        models = list(results["models"])
        psnr = {m: results["summary"][m]["psnr"]["mean"] for m in models}
    except (KeyError, TypeError):
        raise ValueError("results must hold config.n_test, seeds, models and a PSNR summary of "
                         "every model, as load_results returns them") from None
    if not models:
        raise ValueError("results must hold at least one trained model, got none")
    values: dict[str, Any] = {f"psnr_{m}": _round(p, 2) for m, p in psnr.items()}
    base = results.get("baselines", {})
    if {"lasso_converged", "sista_converged"} <= set(base):
        lasso, temporal = (base[k]["summary"]["psnr"]["mean"]
                           for k in ("lasso_converged", "sista_converged"))
        values |= {"psnr_lasso_conv": _round(lasso, 2), "psnr_sista_conv": _round(temporal, 2),
                   "temporal_verdict": "costs more than it brings" if lasso > temporal else "helps"}
    best = max(models, key=psnr.get)
    return values | {"n_test": int(n_test), "n_seeds": len(seeds),
                     "best_model": MODEL_LABELS.get(best, best)}


def initial_values(initial: Mapping[str, Any], bands: Sequence[Band]) -> dict[str, Any]:
    r"""The numbers the prose quotes about the initial SISTA-RNN and the data's :math:`A_0, D_0`.

    - ``L_init``, ``ratio_init`` (:math:`\alpha/L`), ``regime_init``; ``s_lo_init`` and
      ``s_hi_init``, the smallest eigenvalue of the iteration matrix :math:`S` and the magnitude of
      its largest (0 up to rounding at the paper's initialisation, shown without a sign);
    - ``a_entry``: the mean magnitude of an entry of :math:`A_0` (:math:`1/(3\sqrt M)` for the
      paper's matrix); ``normA0``: :math:`\lVert A_0\rVert_2`; ``rowspace_random``:
      :math:`\operatorname{rank}(A_0)/N` (:math:`M/N`), the expected fraction of a random
      direction's energy in the row space of :math:`A_0`;
    - ``finest_support``: the most samples on which an atom of the finest band of :math:`D_0` is
      non-zero (:math:`|d^0_{ij}| > 10^{-12}`).

    Floats have four decimals.

    Parameters
    ----------
    initial : mapping
        :func:`sista_reading` of the initial network (its ``A`` is :math:`A_0`, its ``D`` is
        :math:`D_0`).
    bands : sequence of :class:`Band`
        The bands of the atoms of :math:`D_0` (:func:`wavelet_bands`), the finest last.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``initial`` lacks a key of :func:`sista_reading`, or ``bands`` is empty or does not fit
        :math:`D_0`.
    """
    missing = [k for k in ("A", "D", "L", "ratio", "regime", "s_lo", "s_hi") if k not in initial]
    if missing:
        raise ValueError(f"initial must be sista_reading of the initial network, got none for "
                         f"{missing}")
    A0 = _matrix(initial["A"], "initial['A']")
    D0 = _matrix(initial["D"], "initial['D']", square=True)
    if not bands or bands[-1].stop != D0.shape[1]:
        raise ValueError(f"bands must be the bands of the {D0.shape[1]} atoms of D0 "
                         f"(wavelet_bands), got {[b.short for b in bands]}")
    finest = D0[:, bands[-1].start:bands[-1].stop]
    values = {"L_init": initial["L"], "ratio_init": initial["ratio"], "s_lo_init": initial["s_lo"],
              "s_hi_init": abs(initial["s_hi"]), "a_entry": np.abs(A0).mean(),
              "normA0": np.linalg.norm(A0, 2),
              "rowspace_random": np.linalg.matrix_rank(A0) / A0.shape[1]}
    return {k: _round(v, 4) for k, v in values.items()} | {
        "regime_init": initial["regime"],
        "finest_support": int((np.abs(finest) > 1e-12).sum(0).max())}


def _runs(readings: Any, where: str) -> list[Mapping[str, Any]]:
    """The readings of one variant: a sequence of them, or a mapping seed -> reading."""
    runs = list(readings.values()) if isinstance(readings, Mapping) else list(readings)
    if not runs:
        raise ValueError(f"{where} must hold at least one reading, got none")
    return runs


def reading_values(
    readings: Mapping[str, Sequence[Mapping[str, Any]] | Mapping[int, Mapping[str, Any]]],
    how: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    r"""The readings of the trained SISTA-RNNs as the prose quotes them.

    Parameters
    ----------
    readings : mapping variant -> readings
        Per variant (e.g. ``"paper"``, ``"released"``), the :func:`read_sista_rnn` of each run: a
        sequence, or a mapping seed -> reading.
    how : mapping, optional
        How to combine each key over the runs (:func:`combine_readings`; default the mean).

    Returns
    -------
    dict with
    - ``<key>_<variant>``: every key of the combined reading of the variant, e.g. ``alpha_paper``,
      ``rel_A_paper``, ``norm_s_released``: labels as they are, ``speed_*`` with two decimals,
      other numbers with four;
    - over every run of every variant: ``scalar_change_pct``, the largest relative change of
      :math:`\alpha, \lambda_1, \lambda_2` in percent (one decimal); ``regime_trained``, the
      regime the runs share (:func:`common_regime`); ``atom_cos_min`` and ``atom_own_min``, the
      smallest of :func:`atom_recognition`'s two numbers (the worst run).

    Raises
    ------
    ValueError
        If ``readings`` is empty or a variant has no run.
    """
    variants = _check_keyed(readings, "readings", "variants to readings of runs")
    runs = {v: _runs(readings[v], f"readings[{v!r}]") for v in variants}
    values: dict[str, Any] = {}
    for v in variants:
        combined = combine_readings(runs[v], how)
        values |= {f"{k}_{v}": x if isinstance(x, str) else _round(x, 4)
                   for k, x in combined.items() if not k.startswith("speed_")}
        values |= {f"{k}_{v}": _round(x, 2) for k, x in combined.items() if k.startswith("speed_")}
    every = [r for v in variants for r in runs[v]]
    scalar_change = max(r[f"rel_{k}"] for r in every for k in ("alpha", "lam1", "lam2"))
    return values | {
        "scalar_change_pct": _round(100 * scalar_change, 1),
        "regime_trained": common_regime([r["regime"] for r in every]),
        "atom_cos_min": _round(min(r["atom_cos"] for r in every), 4),
        "atom_own_min": _round(min(r["atom_own"] for r in every), 4)}


def ablation_values(losses: Mapping[str, Mapping[str, float]],
                    gains: Mapping[str, float]) -> dict[str, Any]:
    r"""What resetting parameters costs, per variant, as the prose quotes it
    (:func:`ablation_losses`).

    Parameters
    ----------
    losses : mapping variant -> (group -> PSNR lost, dB)
    gains : mapping variant -> float
        The whole gain of training, :math:`\overline{s(\theta)} - s(\theta_0)` (dB).

    Returns
    -------
    dict with, for each variant ``v``: ``ablate_top_v`` and ``ablate_second_v``, the groups whose
    reset costs most and second most (a reset that diverges, a NaN loss, costs more than any
    other); ``ablate_top_loss_v``, the largest loss; ``ablate_all_v``, the gain;
    ``ablate_sum_v``, the sum of the single-group losses (dB, two decimals; NaN if a reset
    diverges); ``ablate_n_diverged_v``, how many resets diverge, and ``ablate_diverged_v``, which
    (comma-separated, or ``"none"``).

    Raises
    ------
    ValueError
        If a variant has fewer than two groups, or no gain.
    """
    values: dict[str, Any] = {}
    for v in _check_keyed(losses, "losses", "variants to losses per group"):
        loss = losses[v]
        if len(loss) < 2:
            raise ValueError(f"losses[{v!r}] must hold at least two groups (a largest and a "
                             f"second), got {list(loss)}")
        if v not in gains:
            raise ValueError(f"gains must hold the gain of every variant of losses, got none for "
                             f"{v!r}")
        cost = {g: np.inf if np.isnan(x) else x for g, x in loss.items()}
        order = sorted(loss, key=cost.get, reverse=True)
        diverged = [g for g in loss if np.isnan(loss[g])]
        values |= {f"ablate_top_{v}": order[0], f"ablate_second_{v}": order[1],
                   f"ablate_top_loss_{v}": _round(loss[order[0]], 2),
                   f"ablate_all_{v}": _round(gains[v], 2),
                   f"ablate_sum_{v}": _round(sum(loss.values()), 2),
                   f"ablate_n_diverged_{v}": len(diverged),
                   f"ablate_diverged_{v}": ", ".join(diverged) or "none"}
    return values


def depth_sweep_values(k_values: Sequence[int], sweeps: Mapping[str, ArrayLike], trained_k: int,
                       *, untrained: str | None = "untrained") -> dict[str, Any]:
    r"""Depth sweeps (:func:`depth_sweep`) as the prose quotes them.

    Parameters
    ----------
    k_values : sequence of int
        The depths :math:`K`, increasing.
    sweeps : mapping label -> scores
        One score (dB) per depth, e.g. ``"untrained"``, ``"paper"``, ``"released"``.
    trained_k : int
        The depth the networks were trained with.
    untrained : str or None
        The label of the sweep of the initial parameters, which gets no verdict.

    Returns
    -------
    dict with ``k_max``, the deepest :math:`K`, and per label ``l``: ``sweep_k<K>_l`` for every
    depth, ``sweep_kmax_l`` (the deepest), ``sweep_min_l``, ``sweep_max_l`` (dB, two decimals;
    NaN where the output diverged, ignored by the minimum and maximum), ``sweep_diverged_l``
    (the smallest depth whose output diverged, or ``"none"``) and, but for ``untrained``,
    ``sweep_verdict_l`` (:func:`depth_sweep_kind`).

    Raises
    ------
    ValueError
        If a sweep does not hold one score per depth (or as :func:`depth_sweep_kind` raises).
    """
    ks = [check_positive_int(k, "k_values") for k in k_values]
    if not ks:
        raise ValueError("k_values must hold at least one depth, got none")
    values: dict[str, Any] = {"k_max": ks[-1]}
    for label in _check_keyed(sweeps, "sweeps", "labels to scores per depth"):
        c = _np64(sweeps[label], f"sweeps[{label!r}]")
        if c.shape != (len(ks),):
            raise ValueError(f"sweeps[{label!r}] must hold one score per depth ({len(ks)}), got "
                             f"shape {c.shape}")
        values |= {f"sweep_k{k}_{label}": _round(x, 2) for k, x in zip(ks, c)}
        diverged = [k for k, x in zip(ks, c) if np.isnan(x)]
        finite = c[~np.isnan(c)]
        values |= {f"sweep_kmax_{label}": _round(c[-1], 2),
                   f"sweep_min_{label}": _round(finite.min(), 2) if finite.size else np.nan,
                   f"sweep_max_{label}": _round(finite.max(), 2) if finite.size else np.nan,
                   f"sweep_diverged_{label}": diverged[0] if diverged else "none"}
        if label != untrained:
            values[f"sweep_verdict_{label}"] = depth_sweep_kind(ks, c, trained_k)
    return values


def sparsity_values(sparsity: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    r"""Code sparsity (:func:`code_sparsity`) as the prose quotes it: ``<name>_<key>`` for every
    number (not the arrays) of each key's result, e.g. ``nonzero_fraction_paper`` or
    ``usage_s_untrained`` (four decimals)."""
    return {f"{name}_{key}": _round(x, 4)
            for key in _check_keyed(sparsity, "sparsity", "keys to code_sparsity results")
            for name, x in sparsity[key].items() if np.isscalar(x)}


def change_values(changes: Mapping[str, Mapping[str, GroupChange]]) -> dict[str, Any]:
    r"""How far the black boxes' tensors moved (:func:`pooled_relative_change`), per model ``m``:
    ``change_max_m`` and ``change_min_m``, the largest and smallest relative change (four
    decimals), and ``change_argmax_m``, the group with the largest; groups that started at zero
    are left out.

    Raises
    ------
    ValueError
        If every group of a model started at zero.
    """
    values: dict[str, Any] = {}
    for m in _check_keyed(changes, "changes", "models to pooled relative changes"):
        finite = {name: c.relative for name, c in changes[m].items() if not math.isnan(c.relative)}
        if not finite:
            raise ValueError(f"changes[{m!r}] must hold a group that did not start at zero, got "
                             f"{list(changes[m])}")
        values |= {f"change_max_{m}": _round(max(finite.values()), 4),
                   f"change_min_{m}": _round(min(finite.values()), 4),
                   f"change_argmax_{m}": max(finite, key=finite.get)}
    return values


def spectrum_change_values(changes: Sequence[Mapping[str, float]], *,
                           prefix: str = "lstm") -> dict[str, Any]:
    r"""How training changed the singular values of several matrices (e.g. one recurrent matrix per
    layer, :func:`spectrum_change`), as the prose quotes it: ``<prefix>_top0`` and
    ``<prefix>_top1``, the mean over the matrices of the largest singular value before and after;
    ``<prefix>_above_max``, the most trained singular values above the initial largest in one
    matrix; ``<prefix>_bulk``, the largest median relative change of the bulk (four decimals).

    Raises
    ------
    ValueError
        If ``changes`` is empty.
    """
    changes = list(changes)
    if not changes:
        raise ValueError("changes must hold at least one spectrum_change result, got none")
    return {f"{prefix}_top0": _round(np.mean([c["top_initial"] for c in changes]), 4),
            f"{prefix}_top1": _round(np.mean([c["top"] for c in changes]), 4),
            f"{prefix}_above_max": int(max(c["n_above"] for c in changes)),
            f"{prefix}_bulk": _round(max(c["bulk_change"] for c in changes), 4)}
