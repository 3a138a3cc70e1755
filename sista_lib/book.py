r"""What a chapter shows besides its figures: tables, and the numbers its prose quotes.

- Tables: :func:`format_cell` writes one cell, :func:`html_table` a whole table as HTML and
  :func:`show_table` displays it in a notebook.
- Chapter 5's two tables of a study, built from its results dict
  (:func:`sista_lib.experiment.load_results`): :func:`results_rows` (every method's test
  scores) and :func:`claims_rows` (the paper's claims, :func:`sista_lib.claims.claims_table`);
  and :func:`provenance_report`, where, when and with which code the study ran.
- Numbers in the prose: :func:`study_values` and :func:`sweep_values` compute, by name, what
  the prose says about a study and a learning-rate sweep; :func:`glue_values` rounds them,
  :func:`glue_all` hands them to MyST-NB's ``glue``, so that a sentence quotes the value
  computed above it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._checks import check_positive_int
from .claims import (claims_table, seconds_per_step, speed_claim, study_processes,
                     training_budget)
from .experiment import (FIXED_DIFFERENCES, MODEL_LABELS, ExperimentConfig, protocol_table,
                         results_table)

__all__ = [
    "RESULT_ORDER",
    "RESULT_LABELS",
    "format_cell",
    "html_table",
    "show_table",
    "results_rows",
    "claims_rows",
    "protocol_rows",
    "difference_rows",
    "comparison_rows",
    "level_rows",
    "training_rows",
    "study_report",
    "provenance_report",
    "training_commits",
    "study_values",
    "sweep_values",
    "glue_values",
    "glue_all",
]

#: The rows of the results table, top to bottom: the algorithms, the black boxes, the SISTA-RNNs.
RESULT_ORDER = ("sista_untrained", "sista_converged", "lasso_converged", "stacked_rnn", "lstm",
                "sista_rnn", "sista_rnn_released")
#: How the results table names each method (``sista_lib.experiment.MODEL_LABELS`` otherwise).
RESULT_LABELS = {**MODEL_LABELS, "sista_rnn": "SISTA-RNN, paper",
                 "sista_rnn_released": "SISTA-RNN, released code",
                 "sista_untrained": "SISTA, K = 3, untrained",
                 "lasso_converged": "per-column Lasso, converged"}


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def format_cell(value: Any, digits: int = 2) -> str:
    """One table cell: None as "never", a boolean as "yes" or "no", a float with ``digits``
    decimals, anything else as ``str`` gives it.

    Raises
    ------
    TypeError
        If ``digits`` is not an integer.
    ValueError
        If ``digits`` is negative.
    """
    digits = check_positive_int(digits, "digits", minimum=0)
    if value is None or isinstance(value, (bool, np.bool_)):
        return {None: "never", True: "yes", False: "no"}[None if value is None else bool(value)]
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _check_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> tuple[list, list]:
    if isinstance(header, str) or not isinstance(header, Sequence):
        raise TypeError(f"header must be a sequence of column titles, got {type(header).__name__}")
    header = list(header)
    if not header:
        raise ValueError("header must name at least one column, got an empty sequence")
    body = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence):
            raise TypeError(f"rows[{i}] must be a sequence of cells, got {type(row).__name__}")
        if len(row) != len(header):
            raise ValueError(f"rows[{i}] must have {len(header)} cells (one per column of "
                             f"header), got {len(row)}")
        body.append(list(row))
    return header, body


def html_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], *,
               left: int | None = 1) -> str:
    """A table as HTML: a head row of ``header``, then one row per entry of ``rows``.

    Cells are written as ``str`` gives them and are not escaped: a cell may hold markup such as
    ``<em>``.

    Parameters
    ----------
    header : sequence
        The column titles.
    rows : sequence of sequences
        The cells, as many per row as ``header`` has titles.
    left : int or None, default 1
        Left-align the first ``left`` columns (the names of the rows) and right-align the others
        (numbers); None: no alignment, the page's own.

    Returns
    -------
    str
        ``<table><thead>...</thead><tbody>...</tbody></table>``.

    Raises
    ------
    ValueError
        If a row has another number of cells than ``header``, or ``left`` is negative.
    """
    header, body = _check_table(header, rows)
    if left is not None:
        left = check_positive_int(left, "left", minimum=0)

    def cell(tag: str, i: int, content: Any) -> str:
        align = "" if left is None or i < left else " align='right'"
        return f"<{tag}{align}>{content}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    trs = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
                  for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>"


def show_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], *,
               left: int | None = 1) -> None:
    """Display :func:`html_table` ``(header, rows, left=left)`` in a notebook."""
    from IPython.display import HTML, display

    display(HTML(html_table(header, rows, left=left)))


#: Decimals of each score in the tables (as in :func:`results_rows`).
_DIGITS = {"mse": 1, "psnr": 2, "ssim": 4}


def _score(row: Mapping[str, Any], key: str, digits: int) -> str:
    text = f"{row[key]:.{digits}f}"
    return text if row[key + "_std"] is None else text + f" ± {row[key + '_std']:.{digits}f}"


def _iterations(entry: Mapping[str, Any]) -> str:
    if "iterations_mean" in entry:
        return (f"{entry['iterations_mean']:.1f} iterations (mean), "
                f"{entry['iterations_max']} (max)")
    return f"{entry['n_iter']} iterations"


_PARTS = ("all", "scores", "training")


def results_rows(results: Mapping[str, Any], *, order: Sequence[str] = RESULT_ORDER,
                 labels: Mapping[str, str] | None = None,
                 part: str = "all") -> tuple[list[str], list[list[str]]]:
    r"""The table of every method's test scores in a study, as ``(header, rows)``.

    One row per method of ``order`` that the study has. ``part`` chooses the columns:

    - ``"scores"``: the method, its number of trained parameters ("none" for an algorithm), its
      layers (a network) or iterations (an algorithm; the mean and the largest number when it
      runs to convergence), and its test MSE, PSNR (dB) and SSIM (for a trained network the
      mean over seeds :math:`\pm` the standard deviation across seeds);
    - ``"training"``, trained networks only: the network, its best epoch and training time per
      run in minutes (means over seeds), the optimiser steps of one run, how much the last 20 %
      of the epochs lowered the best validation MSE (:func:`sista_lib.experiment.tail_improvement`,
      mean over seeds, in percent), and on how many seeds that is under 1 %, i.e. the validation
      curve has levelled off (:func:`sista_lib.experiment.plateaued`), e.g. "2 of 3", both over
      the runs that finished; when a run of the study diverged, a last column names each
      network's diverged seeds with the optimiser step of the divergence, e.g.
      "seed 2 (step 42,005)";
    - ``"all"``: the scores, then the best epoch and the minutes per run.

    Parameters
    ----------
    results : dict from :func:`sista_lib.experiment.load_results`
    order : sequence of str
        Methods (models and baselines of the study), top to bottom.
    labels : mapping, optional
        Names of the methods; default :data:`RESULT_LABELS`.
    part : {"all", "scores", "training"}

    Raises
    ------
    ValueError
        If ``order`` names no method of the study, or ``part`` is not one of the above.
    """
    if part not in _PARTS:
        raise ValueError(f"part must be one of {_PARTS}, got {part!r}")
    labels = RESULT_LABELS if labels is None else {**RESULT_LABELS, **labels}
    rows = {r["method"]: r for r in results_table(results, fmt="rows")}
    keys = [k for k in order if k in rows and (part != "training" or rows[k]["trained"])]
    if not keys:
        raise ValueError(f"order must name methods of the study {sorted(rows)}, got {list(order)}")
    base = results.get("baselines") or {}
    if part == "training":
        header = ["network", "best epoch", "minutes per run", "steps",
                  "gain in the last 20 % of epochs", "plateaued"]
        body = [[labels.get(k, k), f"{rows[k]['best_epoch_mean']:.1f}",
                 f"{rows[k]['train_time_s_mean'] / 60:.1f}", f"{rows[k]['steps']:,}",
                 "" if rows[k]["tail_improvement_mean"] is None
                 else f"{100 * rows[k]['tail_improvement_mean']:.1f} %",
                 "" if rows[k]["plateaued"] is None
                 else f"{rows[k]['plateaued'][0]} of {rows[k]['plateaued'][1]}"] for k in keys]
        diverged: dict[str, list[str]] = {}
        for rec in sorted((results.get("failed") or {}).values(), key=lambda r: int(r["seed"])):
            diverged.setdefault(rec["model"], []).append(
                f"seed {rec['seed']} (step {rec['step']:,})")
        if diverged:
            header.append("diverged")
            for k, line in zip(keys, body):
                line.append(", ".join(diverged.get(k, [])) or "none")
        return header, body
    header = ["method", "parameters", "layers / iterations", "test MSE", "test PSNR (dB)",
              "test SSIM"]
    if part == "all":
        header += ["best epoch", "minutes per run"]
    body = []
    for k in keys:
        r = rows[k]
        line = [labels.get(k, k), f"{r['n_parameters']:,}" if r["trained"] else "none",
                _iterations(base[k]) if k in base else f"{r['layers']} layers",
                _score(r, "mse", 1), _score(r, "psnr", 2), _score(r, "ssim", 4)]
        if part == "all":
            line += ([f"{r['best_epoch_mean']:.1f}", f"{r['train_time_s_mean'] / 60:.1f}"]
                     if r["trained"] else ["", ""])
        body.append(line)
    return header, body


def comparison_rows(studies: Mapping[str, Mapping[str, Any]], *, metric: str = "psnr",
                    order: Sequence[str] = RESULT_ORDER,
                    labels: Mapping[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    r"""One score of every method in several studies, side by side, as ``(header, rows)``.

    One column per study (named by its key and its optimiser steps per run,
    :func:`sista_lib.claims.training_budget`), one row per method of ``order`` that every study
    has: its mean test ``metric`` (over images, then seeds; :math:`\pm` the standard deviation
    across seeds for a trained network with more than one seed), as in :func:`results_rows`.

    Raises
    ------
    ValueError
        If ``studies`` is empty, ``metric`` is not a metric of the studies, or no method of
        ``order`` is in every study.
    """
    from .claims import training_budget

    if not isinstance(studies, Mapping) or not studies:
        raise ValueError(f"studies must be a non-empty mapping of names to results, got {studies!r}")
    if metric not in _DIGITS:
        raise ValueError(f"metric must be one of {tuple(_DIGITS)}, got {metric!r}")
    labels = RESULT_LABELS if labels is None else {**RESULT_LABELS, **labels}
    tables = {name: {r["method"]: r for r in results_table(res, metrics=(metric,), fmt="rows")}
              for name, res in studies.items()}
    keys = [k for k in order if all(k in t for t in tables.values())]
    if not keys:
        raise ValueError(f"order must name methods that every study has, got {list(order)}")
    header = ["method"] + [f"{name} ({training_budget(res)['steps']:,} steps)"
                           for name, res in studies.items()]
    body = [[labels.get(k, k)] + [_score(t[k], metric, _DIGITS[metric]) for t in tables.values()]
            for k in keys]
    return header, body


def level_rows(results: Mapping[str, Any], level: float, *,
               models: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    r"""When each network first reaches a validation MSE ``level``, as ``(header, rows)``.

    One row per model (default: every model of the study): the first epoch at which its
    seed-mean validation MSE is :math:`\le` ``level`` and the seed-mean training time then, in
    minutes (:func:`sista_lib.claims.time_to_level`), or "never" for both when it does not
    within the run.
    """
    from .claims import time_to_level

    models = list(results["models"] if models is None else models)
    unknown = [m for m in models if m not in results["models"]]
    if unknown:
        raise ValueError(f"models must be models of the study {results['models']}, got {unknown}")
    header = ["network", f"first epoch at validation MSE ≤ {level:.2f}", "training time then (min)"]
    body = []
    for m in models:
        epoch, minutes = time_to_level(results, m, level)
        body.append([MODEL_LABELS.get(m, m), format_cell(epoch), format_cell(minutes)])
    return header, body


def training_rows(results: Mapping[str, Any], *,
                  models: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    r"""How each network trained, as ``(header, rows)``.

    One row per model (default: every model of the study): its seed-mean cost of one optimiser
    step in milliseconds, validation included (:func:`sista_lib.claims.seconds_per_step`), and
    its seed-mean validation MSE at epoch 0 (the initial parameters), after epoch 1, and at its
    best epoch (:func:`sista_lib.claims.mean_curve`).

    Raises
    ------
    ValueError
        If ``models`` names a model the study did not train.
    """
    from .claims import mean_curve

    models = list(results["models"] if models is None else models)
    unknown = [m for m in models if m not in results.get("runs", {})]
    if unknown:
        raise ValueError(f"models must be trained models of the study "
                         f"{list(results.get('runs', {}))}, got {unknown}")
    header = ["network", "ms per step", "validation MSE, epoch 0", "after epoch 1", "best"]
    body = []
    for m in models:
        initial = float(np.mean([r["train"]["initial_val_loss"] for r in results["runs"][m].values()]))
        curve = mean_curve(results, m)
        body.append([MODEL_LABELS.get(m, m), f"{1000 * seconds_per_step(results, m):.0f}",
                     format_cell(initial), format_cell(float(curve[0])),
                     format_cell(float(curve.min()))])
    return header, body


def claims_rows(rows: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """The claims table, as ``(header, rows)``: one row per :class:`sista_lib.claims.ClaimRow`.

    Columns: the claim with what is measured (in italics), the SISTA-RNN's value, the value it
    is compared with, their difference, the verdict, and the further numbers of the measurement
    that the row has (SSIM difference, the share of test images on which the SISTA-RNN is better,
    whether the seeds of the two networks are separated). Values never reached read "never".

    Raises
    ------
    TypeError
        If an entry of ``rows`` is not a claim row.
    """
    details = (("ssim_difference", lambda v: f"SSIM difference {v:+.4f}"),
               ("win_fraction", lambda v: f"better on {100 * v:.0f} % of the test images"),
               ("seeds_separated", lambda v: f"seeds separated: {format_cell(v)}"))
    header = ["claim, and what is measured", "SISTA-RNN (paper)", "compared with", "difference",
              "verdict", "details"]
    body = []
    for i, r in enumerate(rows):
        if not all(hasattr(r, a) for a in ("statement", "quantity", "value", "other", "details")):
            raise TypeError(f"rows[{i}] must be a sista_lib.claims.ClaimRow, got "
                            f"{type(r).__name__}")
        difference = "" if r.difference is None else format_cell(r.difference)
        body.append([f"{r.statement}<br><em>{r.quantity}</em>", format_cell(r.value),
                     format_cell(r.other), difference, r.verdict,
                     "; ".join(f(r.details[k]) for k, f in details if k in r.details)])
    return header, body


def _clipping(norm: float | None) -> str:
    return "none" if norm is None else f"global norm clipped at {norm:g}"


#: How a protocol table names a setting that is not the authors', by field of the config.
_SETTINGS: dict[str, Any] = {
    "rms_eps": lambda v: f"epsilon {v:g}", "lstm_rms_eps": lambda v: f"epsilon {v:g}",
    "rms_init": lambda v: f"accumulator initialised to {v:g}",
    "clip_grad_norm": _clipping, "lstm_clip_grad_norm": _clipping,
    "lstm_keep_best": lambda v: "the best validation epoch's" if v else "the last epoch's",
    "select_last_epoch": lambda v: ("validation after each epoch, the final one included" if v
                                    else "validation before each epoch"),
    "stacked_init": {"scaled": "variance-preserving Gaussians, about 8 x larger; thresholds 0.5",
                     "authors": "the authors'"},
    "lstm_init": {"torch": "torch's uniform(±1/sqrt(H)), two bias vectors",
                  "keras1": "Keras 1's"},
    "lstm_gate": {"sigmoid": "sigmoid", "hard_sigmoid": "hard sigmoid"},
    "ssim": {"skimage": "scikit-image's: the map without a 5-pixel border", "matlab": "MATLAB's"},
    "baselines": {"book": "SISTA from the first column; converged SISTA with alpha = L",
                  "authors": "the authors'"},
}


def _setting(field: str, value: Any) -> str:
    text = _SETTINGS.get(field)
    if callable(text):
        return text(value)
    return text.get(value, str(value)) if isinstance(text, dict) else str(value)


def protocol_rows(configs: Mapping[str, ExperimentConfig]) -> tuple[list[str], list[list[str]]]:
    """The authors' protocol item by item beside some configurations, as ``(header, rows)``.

    One row per item of :data:`sista_lib.experiment.AUTHORS_PROTOCOL`
    (:func:`sista_lib.experiment.protocol_table`): the item, what the authors' code does, then
    for each configuration "same" or the setting it uses instead. Why the ``paper`` preset departs
    where it does is :data:`sista_lib.experiment.PROTOCOL_CHOICES`.

    Raises
    ------
    TypeError
        If a value of ``configs`` is not an :class:`~sista_lib.experiment.ExperimentConfig`.
    ValueError
        If ``configs`` is empty.
    """
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError(f"configs must be a non-empty mapping of names to ExperimentConfig, "
                         f"got {configs!r}")
    for name, config in configs.items():
        if not isinstance(config, ExperimentConfig):
            raise TypeError(f"configs[{name!r}] must be an ExperimentConfig, got "
                            f"{type(config).__name__}")
    tables = {name: protocol_table(config) for name, config in configs.items()}
    header = ["item", "the authors' code", *configs]
    body = []
    for i, row in enumerate(next(iter(tables.values()))):
        cells = ["same" if t[i]["same"] else _setting(row["field"], t[i]["here"])
                 for t in tables.values()]
        body.append([row["item"], row["authors"], *cells])
    return header, body


def difference_rows() -> tuple[list[str], list[list[str]]]:
    """What differs from the authors' study whatever the configuration, as ``(header, rows)``:
    one row per item of :data:`sista_lib.experiment.FIXED_DIFFERENCES` (the item, the authors'
    code, this book, and why)."""
    return (["item", "the authors' code", "this book", "why"],
            [list(row) for row in FIXED_DIFFERENCES])


def study_report(results: Mapping[str, Any]) -> str:
    """What a study trained and on what, as lines of text: its models and seeds, the sizes and
    source of its splits, its training settings, and its optimiser steps per run beside the
    paper's protocol on Caltech-256 (:func:`sista_lib.claims.training_budget`).

    Raises
    ------
    ValueError
        If ``results`` lacks its configuration or its data record.
    """

    try:
        cfg, sizes, source = results["config"], results["data"]["sizes"], results["data"]["source"]
    except (KeyError, TypeError):
        raise ValueError("results must hold config and data (sizes, source): pass what "
                         "sista_lib.experiment.load_results returns") from None
    budget = training_budget(results)
    return "\n".join([
        f"models: {results['models']}; seeds: {results['seeds']}",
        f"images: {sizes['train']} training, {sizes['val']} validation, {sizes['test']} test "
        f"({source} photos)",
        f"training: {cfg['epochs']} epochs, batch {cfg['batch_size']}, lr {cfg['lr']}, "
        f"gradient clipping {cfg['clip_grad_norm']}, {cfg['dtype']}",
        f"optimiser steps per run: ours {budget['steps_per_epoch']} x {cfg['epochs']} = "
        f"{budget['steps']:,}; the paper's protocol on Caltech-256: "
        f"{budget['paper_steps_per_epoch']} x 100 = {budget['paper_steps']:,} "
        f"({budget['ratio']:.1f} times more)",
    ])


def provenance_report(results: Mapping[str, Any]) -> str:
    """Where, when and with which code a study ran, as lines of text.

    The git commit, machine and package versions recorded by its first run; then each process
    (:func:`sista_lib.claims.study_processes`): its command line, when it ran, its runs and their
    wall times; the runs that more than one process trained (interrupted and resumed), with the
    commit, processor and start of each segment; then the span of the whole study, its merge,
    and the commits of the library that the processes ran (each the commit of its first run,
    shortened to 10 characters) and, for a resumed study, that every training segment ran
    (:func:`training_commits`).

    Raises
    ------
    ValueError
        If ``results`` holds no provenance of its runs or of its merge.
    """
    processes = study_processes(results)
    merge = results["provenance"].get("merge")
    if not merge:
        raise ValueError("results must hold provenance.merge, the record of the study's merge")
    first = next(iter(results["provenance"]["runs"].values()))
    lines = [f"git commit {first['git_commit']} (uncommitted changes to tracked files: "
             f"{first['git_dirty']})",
             f"machine: {first['cpu']}, {first['cpu_count']} cores, GPU: {first['gpu']}; "
             f"torch threads per process: {first['torch_threads']}",
             "versions: " + ", ".join(f"{k} {v}" for k, v in first["versions"].items())]
    for p in processes:
        lines.append(f"\n$ {p['command']}\n  {p['start']} -> {p['end']}; {len(p['runs'])} runs, "
                     f"{p['wall_time_s'] / 60:.1f} min of wall time in total")
        lines += [f"    {run_id:26s} {seconds / 60:6.1f} min" for run_id, seconds in p["runs"]]
    resumed = _resumed_runs(results)
    first_start = min([p["start"] for p in processes]
                      + [seg["start"] for _, segs in resumed for seg in segs if seg.get("start")])
    lines.append(f"\nstudy: {first_start} -> "
                 f"{max(p['end'] for p in processes)}; merged at {merge['end']} by "
                 f"'{merge['command']}'")
    if resumed:
        lines.append("\nruns trained by more than one process (epochs: commit, processor, start):")
        lines += [f"    {run_id:26s} " + "; ".join(
            f"{seg['from_epoch']}-{seg['to_epoch']}: {str(seg.get('git_commit'))[:10]}, "
            f"{seg.get('cpu')}, {seg.get('start')}" for seg in segs) for run_id, segs in resumed]
    lines.append("library code of every process: commit "
                 + ", ".join(sorted({p["commit"][:10] for p in processes})))
    if resumed:
        lines.append("library code of every training segment: commit "
                     + ", ".join(c[:10] for c in training_commits(results)))
    return "\n".join(lines)


def _resumed_runs(results: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """``(run id, segments)`` of every run that more than one process trained, by run id."""
    out = []
    for model, by_seed in (results.get("runs") or {}).items():
        for seed, run in by_seed.items():
            segs = (run.get("train") or {}).get("segments") or []
            if len(segs) > 1:
                out.append((f"{model}_seed{seed}", list(segs)))
    return sorted(out, key=lambda item: item[0])


def training_commits(results: Mapping[str, Any]) -> list[str]:
    """The git commits of the library that trained a study's runs, sorted.

    The commit of every training segment of every run (``run["train"]["segments"]``: a run
    interrupted and resumed is trained by several processes, perhaps at several commits) and
    of every process (:func:`sista_lib.claims.study_processes`, which also scored the runs).
    """
    commits = {p["commit"] for p in study_processes(results)}
    for by_seed in (results.get("runs") or {}).values():
        for run in by_seed.values():
            commits |= {seg["git_commit"] for seg in (run.get("train") or {}).get("segments") or []
                        if seg.get("git_commit")}
    return sorted(commits)


# --------------------------------------------------------------------------------------------
# glued values
# --------------------------------------------------------------------------------------------


def _thousands(n: int) -> str:
    return f"{int(n):,}"


def study_values(results: Mapping[str, Any], *, model: str = "sista_rnn",
                 initial_scalars: Mapping[str, float] | None = None) -> dict[str, Any]:
    r"""The numbers the prose quotes about a study, by the names it glues them under.

    - **Data and budget** (:func:`sista_lib.claims.training_budget`): ``n_train``, ``n_val``,
      ``n_test`` (images), ``n_train_photos``, ``n_val_photos``, ``n_test_photos`` (the photos
      they are cut from), ``n_seeds``, ``epochs``; ``steps``, ``paper_steps`` and
      ``paper_train`` with thousands separators, and ``steps_ratio``, the paper's steps over ours.
    - **Scores** (:func:`sista_lib.experiment.results_table`): ``psnr_<method>`` (dB, two
      decimals) and ``ssim_<method>`` (four) for every method of the table, and
      ``params_<network>``, its trained parameters with thousands separators.
    - **Claims** (:func:`sista_lib.claims.claims_table`): ``claim_<black box>``, the verdict of
      "better than that black box", with ``gap_<black box>``, the absolute PSNR difference (dB);
      ``claim_faster`` and ``claim_faster_time``, the verdicts of "trains faster" in epochs and in
      minutes.
    - **Speed** (:func:`sista_lib.claims.speed_claim`): ``best_bb_label`` (the better black box
      on the validation images), ``bb_level`` (its best validation MSE :math:`v^\star`),
      ``bb_epoch`` (when it gets there), ``sista_reach_epoch`` (when ``model`` first does, or
      "never") and ``lead_epochs``; ``lstm_step_ratio``, the seconds per optimiser step of the
      LSTM over those of ``model``; ``paper_hours_<network>``, the hours one run of the paper's
      steps would take at the network's measured cost per step.
    - **Drift**: ``max_drift`` :math:`= \eta s`, how far :math:`s` RMSprop steps of size
      :math:`\eta` move a parameter whose gradient keeps its sign; given ``initial_scalars``
      (name to initial value, e.g. :func:`sista_lib.interpret.sista_reading` of the initial
      network), ``drift_pct_<name>`` :math:`= 100\,\eta s / |\text{value}|`.
    - **Convergence**: ``n_runs``, the trained runs that finished, ``n_diverged``, those that
      diverged, and ``n_plateaued``, those whose validation curve has levelled off
      (:func:`sista_lib.experiment.plateaued`);
      ``tail_gain_<network>``, how much the last 20 % of the epochs lowered its best validation
      MSE (:func:`sista_lib.experiment.tail_improvement`, mean over seeds, percent).
    - ``git_commit``: the library commits that trained and scored the study
      (:func:`training_commits`), 10 characters each.

    Floats are rounded to the decimals the prose shows (scores 2, SSIM 4, ratios, hours and
    percentages 1).

    Raises
    ------
    ValueError
        If the study lacks ``model``, or ``initial_scalars`` holds a zero value.
    """
    if model not in results.get("runs", {}):
        raise ValueError(f"model must be a trained network of the study {list(results.get('runs', {}))}, "
                         f"got {model!r}")
    cfg, data = results["config"], results["data"]
    budget = training_budget(results)
    rows = {r["method"]: r for r in results_table(results, fmt="rows")}
    trained = [m for m in results["models"] if m in results["runs"]]
    values: dict[str, Any] = {f"n_{k}": v for k, v in data["sizes"].items()}
    values |= {f"n_{k}_photos": len(v) for k, v in data["photos"].items()}
    values |= {"n_seeds": len(results["seeds"]), "epochs": cfg["epochs"],
               "steps_ratio": round(budget["ratio"], 1)}
    values |= {k: _thousands(budget[k]) for k in ("steps", "paper_steps", "paper_train")}
    for k, r in rows.items():
        values[f"psnr_{k}"] = round(r["psnr"], 2)
        values[f"ssim_{k}"] = round(r["ssim"], 4)
        if r["trained"]:
            values[f"params_{k}"] = _thousands(r["n_parameters"])
    by_claim = {r.claim: r for r in claims_table(results, model=model)}
    for claim, row in by_claim.items():
        if claim.startswith("better_than_") and row.other is not None:
            other = claim[len("better_than_"):]
            values[f"claim_{other}"] = row.verdict
            values[f"gap_{other}"] = round(abs(row.difference), 2)
    if "faster_epochs" in by_claim:
        faster = by_claim["faster_epochs"].details
        values |= {"claim_faster": by_claim["faster_epochs"].verdict,
                   "claim_faster_time": by_claim["faster_minutes"].verdict,
                   "best_bb_label": MODEL_LABELS.get(faster["black_box"], faster["black_box"]),
                   "bb_level": round(faster["level"], 2), "bb_epoch": faster["other_epoch"],
                   "sista_reach_epoch": "never" if faster["epoch"] is None else faster["epoch"],
                   "lead_epochs": faster["lead_epochs"]}
    per_step = {m: seconds_per_step(results, m) for m in trained}
    if "lstm" in per_step:
        values["lstm_step_ratio"] = round(per_step["lstm"] / per_step[model], 1)
    values |= {f"paper_hours_{m}": round(budget["paper_steps"] * s / 3600, 1)
               for m, s in per_step.items()}
    drift = cfg["lr"] * budget["steps"]
    values["max_drift"] = round(drift, 4)
    for name, initial in (initial_scalars or {}).items():
        if float(initial) == 0.0:
            raise ValueError(f"initial_scalars[{name!r}] must be non-zero (a drift is quoted "
                             f"relative to it), got {initial}")
        values[f"drift_pct_{name}"] = round(100 * drift / abs(float(initial)), 1)
    counts = [r["plateaued"] for r in rows.values() if r["trained"] and r["plateaued"]]
    values |= {"n_plateaued": sum(c[0] for c in counts), "n_runs": sum(c[1] for c in counts),
               "n_diverged": len(results.get("failed") or {})}
    values |= {f"tail_gain_{k}": round(100 * r["tail_improvement_mean"], 1) for k, r in rows.items()
               if r["trained"] and r["tail_improvement_mean"] is not None}
    values["git_commit"] = ", ".join(c[:10] for c in training_commits(results))
    return values


def sweep_values(sweep: Mapping[str, Any], studies: Mapping[float, Mapping[str, Any]], *,
                 reference_lr: float = 1e-4, model: str = "sista_rnn",
                 rho: float = 0.9) -> dict[str, Any]:
    r"""The numbers the prose quotes about a learning-rate sweep, by the names it glues them under.

    ``sweep`` is :func:`sista_lib.experiment.learning_rate_sweep` of ``studies``
    (:func:`sista_lib.experiment.load_sweep`).

    - **Design**: ``sweep_n_lrs``, ``sweep_lrs`` (the rates, ascending), ``sweep_n_train`` and
      ``sweep_n_test`` (images), ``sweep_epochs`` and ``sweep_steps`` (optimiser steps per run).
    - **Scores** (dB, two decimals, as text): ``sweep_paper_<network>`` at ``reference_lr``,
      the paper's rate; ``sweep_best_<network>`` at the network's best rate
      ``sweep_best_lr_<network>``; ``sweep_winner``, the network with the highest best score.
    - **Divergence**: ``sweep_div_lr``, the smallest rate at which ``model`` diverged;
      ``sweep_div_<network>``, the optimiser step at which each network that diverged there did;
      ``sweep_step_bound`` :math:`= \eta/\sqrt{1-\rho}`, the largest move of one RMSprop step with
      the authors' optimiser at that rate. Absent when ``model`` never diverged.

    Raises
    ------
    ValueError
        If ``reference_lr`` is not a rate of the sweep, or ``rho`` is not in [0, 1).
    """
    lrs = [float(lr) for lr in sweep["lrs"]]
    if float(reference_lr) not in lrs:
        raise ValueError(f"reference_lr must be a rate of the sweep {lrs}, got {reference_lr:g}")
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    by_lr = {float(lr): res for lr, res in studies.items()}
    reference = by_lr[float(reference_lr)]
    cfg = reference["config"]
    models = list(sweep["models"])
    best = {m: sweep["score"][m][sweep["best_lr"][m]] for m in models
            if sweep["best_lr"][m] is not None}
    values: dict[str, Any] = {
        "sweep_n_lrs": len(lrs), "sweep_lrs": ", ".join(f"{lr:g}" for lr in lrs),
        "sweep_n_train": _thousands(cfg["n_train"]), "sweep_n_test": _thousands(cfg["n_test"]),
        "sweep_epochs": cfg["epochs"], "sweep_steps": _thousands(training_budget(reference)["steps"]),
        "sweep_winner": MODEL_LABELS.get(max(best, key=best.get), max(best, key=best.get))}
    for m in models:
        if sweep["score"][m].get(float(reference_lr)) is not None:
            values[f"sweep_paper_{m}"] = f"{sweep['score'][m][float(reference_lr)]:.2f}"
        if m in best:
            values[f"sweep_best_lr_{m}"] = f"{sweep['best_lr'][m]:g}"
            values[f"sweep_best_{m}"] = f"{best[m]:.2f}"
    diverging = [lr for lr in lrs if sweep["diverged"].get(model, {}).get(lr) is not None]
    if diverging:
        div_lr = min(diverging)
        values |= {"sweep_div_lr": f"{div_lr:g}",
                   "sweep_step_bound": f"{div_lr / np.sqrt(1 - rho):.2g}"}
        values |= {f"sweep_div_{m}": sweep["diverged"][m][div_lr] for m in models
                   if sweep["diverged"][m].get(div_lr) is not None}
    return values


def glue_values(values: Mapping[str, Any], digits: int = 4) -> dict[str, Any]:
    """The values as :func:`glue_all` glues them: floats (NumPy's included) rounded to ``digits``
    decimals, NumPy integers as ``int``, anything else (labels, formatted numbers) as it is.

    Raises
    ------
    TypeError
        If ``values`` is not a mapping with string keys, or ``digits`` is not an integer.
    ValueError
        If ``digits`` is negative.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of names to values, got {type(values).__name__}")
    digits = check_positive_int(digits, "digits", minimum=0)
    out = {}
    for name, value in values.items():
        if not isinstance(name, str):
            raise TypeError(f"values must have string keys (the glued names), got {name!r}")
        if isinstance(value, (float, np.floating)):
            value = round(float(value), digits)
        out[name] = int(value) if isinstance(value, np.integer) else value
    return out


def glue_all(values: Mapping[str, Any], digits: int = 4) -> None:
    """Glue every value of ``values`` under its name, without displaying it (MyST-NB's
    ``glue(name, value, display=False)``), as :func:`glue_values` rounds it. The prose then
    quotes each by its name, with MyST-NB's ``glue:text`` role.
    """
    from myst_nb import glue

    for name, value in glue_values(values, digits).items():
        glue(name, value, display=False)
